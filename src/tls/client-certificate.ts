/**
 * The identity of a verified downstream client certificate (mTLS, `--tls-client-verify`), read
 * once per TLS connection by the front (h2/terminator.ts) and shared by every request on it:
 * plugins read it as `request.clientCertificate`, and the upstream gets it as Envoy's
 * `x-forwarded-client-cert` (XFCC) header, built here once per connection, not per request.
 */
import type { X509Certificate } from 'node:crypto';
import type { ClientCertificate } from '../plugins/api';

export class PeerCertificate implements ClientCertificate {
  readonly subject: string;
  readonly commonName: string;
  readonly issuer: string;
  readonly serialNumber: string;
  readonly fingerprint: string;
  readonly dnsNames: readonly string[];
  readonly uris: readonly string[];
  readonly emails: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly validFrom: string;
  readonly validTo: string;
  readonly pem: string;
  /** The XFCC value sent upstream ('' with `--tls-client-xfcc off`). */
  readonly forwardedHeader: string;

  constructor(x509: X509Certificate, forward: boolean) {
    this.subject = rfc2253(x509.subject);
    this.commonName = commonNameOf(x509.subject);
    this.issuer = rfc2253(x509.issuer);
    this.serialNumber = x509.serialNumber.toUpperCase();
    this.fingerprint = x509.fingerprint256.replaceAll(':', '').toLowerCase();
    const dns: string[] = [];
    const uris: string[] = [];
    const emails: string[] = [];
    const ips: string[] = [];
    for (const [kind, value] of subjectAltNames(x509.subjectAltName ?? '')) {
      if (kind === 'DNS') dns.push(value);
      else if (kind === 'URI') uris.push(value);
      else if (kind === 'email') emails.push(value);
      else if (kind === 'IP Address') ips.push(value);
    }
    this.dnsNames = dns;
    this.uris = uris;
    this.emails = emails;
    this.ipAddresses = ips;
    this.validFrom = x509.validFrom;
    this.validTo = x509.validTo;
    this.pem = x509.toString();
    this.forwardedHeader = forward ? xfcc(this) : '';
  }
}

/**
 * Node prints a DN one attribute per line, in certificate order (`C=US\nO=Ex\, Inc\nCN=a`),
 * values already escaped as RFC 2253 wants; RFC 2253 lists them in reverse order, comma-separated.
 */
export function rfc2253(multiline: string): string {
  if (multiline === '') return '';
  return multiline.split('\n').reverse().join(',');
}

/** The last CN of the DN (the most specific one), unescaped; '' when there is none. */
function commonNameOf(multiline: string): string {
  const lines = multiline.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    if (lines[i].startsWith('CN=')) return lines[i].slice(3).replace(/\\(.)/g, '$1');
  }
  return '';
}

/**
 * Node's `subjectAltName` text (`DNS:a.test, URI:spiffe://x, IP Address:127.0.0.1`), where a
 * value holding a comma or a quote is written as a JSON string (`DNS:"a, b"`), as [kind, value].
 */
export function subjectAltNames(text: string): [string, string][] {
  const out: [string, string][] = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon === -1) break;
    const kind = text.slice(i, colon);
    let value: string;
    let next: number;
    if (text.charCodeAt(colon + 1) === 34 /* " */) {
      // A JSON string: find its closing quote, skipping escaped ones.
      let j = colon + 2;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      value = JSON.parse(text.slice(colon + 1, j + 1)) as string;
      next = j + 1;
    } else {
      const comma = text.indexOf(', ', colon + 1);
      next = comma === -1 ? text.length : comma;
      value = text.slice(colon + 1, next);
    }
    out.push([kind, value]);
    i = next + 2; // past ", "
  }
  return out;
}

/**
 * Envoy's `x-forwarded-client-cert` element for the current hop (`SANITIZE_SET` with Subject, URI
 * and DNS): `Hash=<sha256>;Subject="<DN>";URI=<uri>;DNS=<name>...`. Subject is always quoted and
 * otherwise written as is, as Envoy does: RFC 2253 already escapes a `"` in it as `\"`, XFCC's own
 * escape. A URI or DNS value holding `,`, `;`, `=` or `"` is quoted, its quotes escaped.
 */
function xfcc(c: PeerCertificate): string {
  let out = `Hash=${c.fingerprint};Subject="${c.subject}"`;
  for (const uri of c.uris) out += `;URI=${maybeQuote(uri)}`;
  for (const name of c.dnsNames) out += `;DNS=${maybeQuote(name)}`;
  return out;
}

function maybeQuote(value: string): string {
  return /[,;="]/.test(value) ? '"' + value.replaceAll('"', '\\"') + '"' : value;
}
