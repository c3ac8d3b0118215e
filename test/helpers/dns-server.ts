/**
 * A tiny authoritative DNS responder for tests, on a free UDP port on 127.0.0.1: it answers A
 * queries for any name in `records` with the configured addresses and TTL, AAAA queries with no
 * answer (NOERROR), and everything else with NXDOMAIN. Change `records` at any time.
 */
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';

export interface DnsRecord {
  addresses: string[];
  ttl: number;
}

export interface TestDnsServer {
  readonly port: number;
  /** Lower-cased name -> answer. */
  readonly records: Map<string, DnsRecord>;
  /** A queries received, by name. */
  readonly queries: string[];
  close(): Promise<void>;
}

export function startDnsServer(): Promise<TestDnsServer> {
  const records = new Map<string, DnsRecord>();
  const queries: string[] = [];
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    if (msg.length < 12) return;
    // The question: labels from byte 12, then QTYPE and QCLASS.
    const labels: string[] = [];
    let at = 12;
    while (at < msg.length && msg[at] !== 0) {
      const len = msg[at];
      labels.push(msg.subarray(at + 1, at + 1 + len).toString('latin1'));
      at += 1 + len;
    }
    const questionEnd = at + 5;
    if (questionEnd > msg.length) return;
    const qtype = msg.readUInt16BE(at + 1);
    const name = labels.join('.').toLowerCase();
    const record = records.get(name);
    if (qtype === 1) queries.push(name);
    const answers = record !== undefined && qtype === 1 ? record.addresses : [];
    const header = Buffer.alloc(12);
    header.writeUInt16BE(msg.readUInt16BE(0), 0); // id
    header.writeUInt16BE(record === undefined ? 0x8183 : 0x8180, 2); // response, RD+RA, NXDOMAIN or NOERROR
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const parts = [header, msg.subarray(12, questionEnd)];
    for (const a of answers) {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name
      rr.writeUInt16BE(1, 2); // A
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(record!.ttl, 6);
      rr.writeUInt16BE(4, 10);
      a.split('.').forEach((octet, i) => rr.writeUInt8(Number(octet), 12 + i));
      parts.push(rr);
    }
    socket.send(Buffer.concat(parts), rinfo.port, rinfo.address);
  });
  return new Promise((resolve) => {
    socket.bind(0, '127.0.0.1', () => {
      resolve({
        port: (socket.address() as AddressInfo).port,
        records,
        queries,
        close: () => new Promise<void>((r) => socket.close(() => r())),
      });
    });
  });
}
