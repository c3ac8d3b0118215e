/**
 * Reads the ALPN protocols a client offers from the first bytes of a TLS connection (its
 * ClientHello), before any TLS library sees them, so the TLS front (h2/front.ts) can send the
 * connection to HTTP/2 or to the uWS HTTPS/1.1 listener. RFC 8446 §4.1.2, RFC 7301 §3.1.
 *
 * Only the first TLS record is read: a ClientHello larger than one record (16 KiB) is not
 * something a browser sends, and such a client simply keeps HTTP/1.1.
 */

/** Not enough bytes yet to decide. */
export const NEED_MORE = 0;
/** The ClientHello offers `h2`. */
export const OFFERS_H2 = 1;
/** A complete ClientHello (or something that is not one) without `h2`: HTTP/1.1. */
export const NO_H2 = 2;
export type AlpnVerdict = typeof NEED_MORE | typeof OFFERS_H2 | typeof NO_H2;

const RECORD_HEADER = 5;
const HANDSHAKE = 22;
const CLIENT_HELLO = 1;
const EXT_ALPN = 16;

export function offersH2(buf: Buffer): AlpnVerdict {
  if (buf.length < RECORD_HEADER) return NEED_MORE;
  if (buf[0] !== HANDSHAKE) return NO_H2;
  const recordLength = buf.readUInt16BE(3);
  if (buf.length < RECORD_HEADER + recordLength) return NEED_MORE;
  const end = RECORD_HEADER + recordLength;
  let p = RECORD_HEADER;
  if (buf[p] !== CLIENT_HELLO) return NO_H2;
  p += 4; // type + 24-bit length
  p += 2 + 32; // legacy_version + random
  if (p >= end) return NO_H2;
  p += 1 + buf[p]; // session id
  if (p + 2 > end) return NO_H2;
  p += 2 + buf.readUInt16BE(p); // cipher suites
  if (p >= end) return NO_H2;
  p += 1 + buf[p]; // compression methods
  if (p + 2 > end) return NO_H2;
  const extEnd = Math.min(end, p + 2 + buf.readUInt16BE(p));
  p += 2;
  while (p + 4 <= extEnd) {
    const type = buf.readUInt16BE(p);
    const len = buf.readUInt16BE(p + 2);
    p += 4;
    if (type === EXT_ALPN) return alpnListHasH2(buf, p, Math.min(extEnd, p + len));
    p += len;
  }
  return NO_H2;
}

function alpnListHasH2(buf: Buffer, p: number, end: number): AlpnVerdict {
  if (p + 2 > end) return NO_H2;
  p += 2; // list length
  while (p < end) {
    const len = buf[p];
    if (len === 2 && p + 3 <= end && buf[p + 1] === 0x68 /* h */ && buf[p + 2] === 0x32 /* 2 */) return OFFERS_H2;
    p += 1 + len;
  }
  return NO_H2;
}
