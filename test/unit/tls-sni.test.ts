/**
 * SNI selection as Kong does it (exact, then `*.x`, then `x.*`, then the fallback), and the
 * names registered with uWS: replaying uSockets' SNI tree walk over them must give Kong's answer.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CertificateSet, TlsCertificate } from '../../src/tls/certificate-set';
import { selectCertificate, serverNameEntries } from '../../src/tls/sni';

function cert(id: string, snis: string[]): TlsCertificate {
  return { id, cert: `cert-${id}`, key: `key-${id}`, certAlt: null, keyAlt: null, snis };
}

const fallback = cert('fallback', []);
const set: CertificateSet = {
  fallback,
  certificates: [
    cert('exact', ['api.example.com']),
    cert('prefix', ['*.example.com']),
    cert('suffix', ['api.example.*', 'shop.*']),
    cert('deep', ['*.eu.example.com']),
  ],
};

describe('selectCertificate', () => {
  const cases: [string, string][] = [
    ['api.example.com', 'exact'],
    ['API.Example.COM.', 'exact'],
    ['www.example.com', 'prefix'],
    ['api.example.org', 'suffix'],
    ['shop.io', 'suffix'],
    ['x.eu.example.com', 'deep'],
    // A wildcard is one label: two labels under example.com match nothing.
    ['a.b.example.com', 'fallback'],
    ['example.com', 'fallback'],
    ['unknown.test', 'fallback'],
    ['', 'fallback'],
  ];
  for (const [name, want] of cases) {
    test(`${name || '(no SNI)'} -> ${want}`, () => assert.equal(selectCertificate(set, name)?.id, want));
  }

  test('prefix wildcard beats suffix wildcard for a host both match', () => {
    const both: CertificateSet = { fallback, certificates: [cert('s', ['www.example.*']), cert('p', ['*.example.com'])] };
    assert.equal(selectCertificate(both, 'www.example.com')?.id, 'p');
    assert.equal(selectCertificate(both, 'www.example.org')?.id, 's');
  });

  test('an empty set has no certificate', () => {
    assert.equal(selectCertificate({ fallback: null, certificates: [] }, 'a.b'), null);
  });
});

/** uSockets' sni_tree.cpp lookup: labels left to right, the literal label first, then `*`. */
function treeLookup(patterns: Map<string, string>, host: string): string | null {
  type Node = { children: Map<string, Node>; user: string | null };
  const root: Node = { children: new Map(), user: null };
  for (const [pattern, user] of patterns) {
    let node = root;
    for (const label of pattern.split('.')) {
      let next = node.children.get(label);
      if (next === undefined) node.children.set(label, (next = { children: new Map(), user: null }));
      node = next;
    }
    node.user ??= user;
  }
  const labels = host.split('.');
  const walk = (node: Node, i: number): string | null => {
    if (i === labels.length) return node.user;
    const exact = node.children.get(labels[i]);
    if (exact !== undefined) {
      const found = walk(exact, i + 1);
      if (found !== null) return found;
    }
    const star = node.children.get('*');
    return star === undefined ? null : walk(star, i + 1);
  };
  return walk(root, 0);
}

describe('serverNameEntries', () => {
  const tricky: CertificateSet = {
    fallback,
    certificates: [
      cert('p1', ['*.example.com', '*.b.c']),
      cert('s1', ['www.example.*', 'a.b.*', 'mail.*']),
      cert('e1', ['a.b.c']),
      cert('p2', ['*.io']),
    ],
  };
  const hosts = ['www.example.com', 'www.example.org', 'x.example.com', 'a.b.c', 'z.b.c', 'a.b.d', 'mail.io', 'web.io', 'mail.com', 'a.example.com', 'q.r.s'];

  test('the tree walk over the registered names gives Kong\'s answer for every host', () => {
    const patterns = new Map(serverNameEntries(tricky).map((e) => [e.pattern, e.certificate.id]));
    for (const host of hosts) {
      const kong = selectCertificate(tricky, host)!.id;
      assert.equal(treeLookup(patterns, host) ?? 'fallback', kong, host);
    }
  });

  test('without the tie-breaking names the tree would pick the suffix wildcard', () => {
    const plain = new Map(tricky.certificates.flatMap((c) => c.snis.map((n) => [n, c.id] as const)));
    assert.equal(treeLookup(plain, 'www.example.com'), 's1');
    const added = serverNameEntries(tricky).filter((e) => !plain.has(e.pattern)).map((e) => `${e.pattern}=${e.certificate.id}`);
    // mail.io: *.io (p2) vs mail.* (s1); www.example.com: *.example.com vs www.example.*;
    // a.b.c is already exact (e1), so no entry for it.
    assert.deepEqual(added.sort(), ['mail.io=p2', 'www.example.com=p1']);
  });
});
