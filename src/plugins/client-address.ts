/**
 * The real client address, and IP/CIDR lists to match it against.
 *
 * Kong believes X-Forwarded-For only from its `trusted_ips` (nginx's realip module with
 * `real_ip_recursive on`); we do the same with the node's `--trusted-ips`: when the socket peer is
 * trusted, X-Forwarded-For is walked right to left, trusted hops are skipped, and the first
 * untrusted address is the client. A peer that is not trusted is the client, whatever it sends.
 *
 * Parsing and matching go through ipaddr.js. Addresses are normalized so one rule matches every
 * spelling: an IPv4-mapped IPv6 address (::ffff:1.2.3.4, as a dual-stack socket reports IPv4
 * peers) is the IPv4 address, an IPv6 zone id (fe80::1%eth0) is dropped, and the brackets and port
 * of "[::1]:8080" or "1.2.3.4:5678" (seen in some X-Forwarded-For chains) are removed. IPv4 must be
 * four-part decimal: ipaddr.js would otherwise read "010.1" or "0x7f.1" in classful/octal/hex
 * forms, which a client could use to dodge a literal rule.
 */
import ipaddr from 'ipaddr.js';
import type { RequestHead } from './api';

export type IpAddress = ipaddr.IPv4 | ipaddr.IPv6;

const PORT = /^\d{1,5}$/;

/**
 * Parse one address as a peer or a proxy writes it; `null` for anything else. `text` must already
 * be trimmed. IPv4-mapped IPv6 comes back as IPv4; a zone id is dropped.
 */
export function parseAddress(text: string): IpAddress | null {
  let s = text;
  if (s.charCodeAt(0) === 91 /* [ */) {
    const close = s.indexOf(']');
    if (close === -1) return null;
    const rest = s.slice(close + 1);
    if (rest !== '' && !(rest.charCodeAt(0) === 58 /* : */ && PORT.test(rest.slice(1)))) return null;
    s = s.slice(1, close);
    if (s.indexOf(':') === -1) return null; // brackets are for IPv6 only
  } else {
    const colon = s.indexOf(':');
    if (colon !== -1 && s.indexOf(':', colon + 1) === -1) {
      // Exactly one colon: "1.2.3.4:5678". (IPv6 always has at least two.)
      if (!PORT.test(s.slice(colon + 1))) return null;
      s = s.slice(0, colon);
    }
  }
  if (s.indexOf(':') === -1) {
    return ipaddr.IPv4.isValidFourPartDecimal(s) ? ipaddr.IPv4.parse(s) : null;
  }
  const pct = s.indexOf('%');
  if (pct !== -1) {
    if (pct === s.length - 1) return null;
    s = s.slice(0, pct);
  }
  return parseIPv6(s);
}

/** IPv6 text (no zone, no brackets); mapped addresses come back as IPv4. */
function parseIPv6(s: string): IpAddress | null {
  // An embedded dotted quad ("::ffff:1.2.3.4") must be four-part decimal too.
  if (s.indexOf('.') !== -1 && !ipaddr.IPv4.isValidFourPartDecimal(s.slice(s.lastIndexOf(':') + 1))) return null;
  let v6: ipaddr.IPv6;
  try {
    v6 = ipaddr.IPv6.parse(s);
  } catch {
    return null;
  }
  return v6.isIPv4MappedAddress() ? v6.toIPv4Address() : v6;
}

/** One configured entry: an address (a /32 or /128) or a CIDR. `null` when it is neither. */
export function parseRange(entry: string): [IpAddress, number] | null {
  const s = entry.trim();
  const slash = s.indexOf('/');
  const addrText = slash === -1 ? s : s.slice(0, slash);
  if (addrText === '' || addrText.indexOf('%') !== -1 || addrText.indexOf('[') !== -1) return null;
  let prefix = -1;
  if (slash !== -1) {
    const p = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return null;
    prefix = Number(p);
  }
  if (addrText.indexOf(':') === -1) {
    if (!ipaddr.IPv4.isValidFourPartDecimal(addrText)) return null;
    if (prefix > 32) return null;
    return [ipaddr.IPv4.parse(addrText), prefix === -1 ? 32 : prefix];
  }
  if (addrText.indexOf('.') !== -1 && !ipaddr.IPv4.isValidFourPartDecimal(addrText.slice(addrText.lastIndexOf(':') + 1))) return null;
  let v6: ipaddr.IPv6;
  try {
    v6 = ipaddr.IPv6.parse(addrText);
  } catch {
    return null;
  }
  if (prefix > 128) return null;
  if (prefix === -1) prefix = 128;
  // Clients' mapped addresses are matched as IPv4, so a mapped rule must be one too.
  if (v6.isIPv4MappedAddress() && prefix >= 96) return [v6.toIPv4Address(), prefix - 96];
  return [v6, prefix];
}

/**
 * A list of addresses and CIDRs, compiled once and split by family, so matching a parsed address
 * walks only its own family's ranges and allocates nothing.
 */
export class AddressList {
  readonly #v4: [ipaddr.IPv4, number][] = [];
  readonly #v6: [ipaddr.IPv6, number][] = [];

  /** Throws an Error naming the first bad entry as `<label>[i]`. */
  static compile(entries: readonly string[], label: string): AddressList {
    const list = new AddressList();
    for (let i = 0; i < entries.length; i++) {
      const range = parseRange(entries[i]);
      if (range === null) throw new Error(`${label}[${i}]: ${JSON.stringify(entries[i])} is not an IP address or CIDR`);
      if (range[0].kind() === 'ipv4') list.#v4.push(range as [ipaddr.IPv4, number]);
      else list.#v6.push(range as [ipaddr.IPv6, number]);
    }
    return list;
  }

  get size(): number {
    return this.#v4.length + this.#v6.length;
  }

  contains(addr: IpAddress): boolean {
    if (addr.kind() === 'ipv4') {
      const v4 = addr as ipaddr.IPv4;
      const ranges = this.#v4;
      for (let i = 0; i < ranges.length; i++) if (v4.match(ranges[i][0], ranges[i][1])) return true;
    } else {
      const v6 = addr as ipaddr.IPv6;
      const ranges = this.#v6;
      for (let i = 0; i < ranges.length; i++) if (v6.match(ranges[i][0], ranges[i][1])) return true;
    }
    return false;
  }
}

/**
 * Finds the real client of a request from the peer and X-Forwarded-For. Built once per trusted
 * list (see `clientAddressResolver`); single-threaded use only (it memoizes the last peer).
 */
export class ClientAddressResolver {
  readonly #trusted: AddressList;
  // Keep-alive connections send many requests from one peer: parse its address once.
  #lastPeerText = '';
  #lastPeer: IpAddress | null = null;

  constructor(trusted: AddressList) {
    this.#trusted = trusted;
  }

  /** The client address, parsed and normalized; `null` when the peer's address is unusable. */
  resolve(head: RequestHead): IpAddress | null {
    const peer = this.#peer(head.remoteAddress);
    if (peer === null || this.#trusted.size === 0 || !this.#trusted.contains(peer)) return peer;
    return this.#fromForwardedFor(head, peer);
  }

  /** The client address as text (normalized), or the raw peer text when it cannot be parsed. */
  clientAddress(head: RequestHead): string {
    const addr = this.resolve(head);
    return addr === null ? head.remoteAddress : addr.toString();
  }

  #peer(text: string): IpAddress | null {
    if (text === this.#lastPeerText) return this.#lastPeer;
    const parsed = parseAddress(text);
    this.#lastPeerText = text;
    this.#lastPeer = parsed;
    return parsed;
  }

  /**
   * Walk every X-Forwarded-For value, right to left: skip trusted hops, return the first untrusted
   * address. Garbage ends the walk, and the last good address (the nearest trusted hop, or the
   * peer) is the answer, as nginx's realip does. All trusted: the leftmost.
   */
  #fromForwardedFor(head: RequestHead, peer: IpAddress): IpAddress {
    const names = head.headerNames;
    const values = head.headerValues;
    let lastGood = peer;
    for (let h = names.length - 1; h >= 0; h--) {
      if (names[h] !== 'x-forwarded-for') continue;
      const value = values[h];
      let end = value.length;
      while (end > 0) {
        const comma = value.lastIndexOf(',', end - 1);
        const entry = value.slice(comma + 1, end).trim();
        end = comma === -1 ? 0 : comma;
        if (entry === '') continue;
        const addr = parseAddress(entry);
        if (addr === null) return lastGood;
        if (!this.#trusted.contains(addr)) return addr;
        lastGood = addr;
      }
    }
    return lastGood;
  }
}

const resolvers = new WeakMap<readonly string[], ClientAddressResolver>();

/**
 * The resolver for a node's --trusted-ips, compiled once per list (the list object is the same
 * for every plugin of a snapshot). Throws an Error naming a bad entry.
 */
export function clientAddressResolver(trustedIps: readonly string[]): ClientAddressResolver {
  let resolver = resolvers.get(trustedIps);
  if (resolver === undefined) {
    resolver = new ClientAddressResolver(AddressList.compile(trustedIps, '--trusted-ips'));
    resolvers.set(trustedIps, resolver);
  }
  return resolver;
}

/** Convenience: the real client address of `head` as text, given the node's trusted list. */
export function clientAddress(head: RequestHead, trustedIps: readonly string[]): string {
  return clientAddressResolver(trustedIps).clientAddress(head);
}
