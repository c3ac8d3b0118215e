import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redaction, REDACTED } from '../../src/logging/redaction';
import { load, yaml } from '../helpers/config-text';

const redaction = Redaction.fromConfig(
  load(
    yaml(`
      _format_version: "3.0"
      plugins:
        - name: key-auth
          config: { key_names: [apikey, my_key] }
        - name: jwt
          enabled: false
          config: { uri_param_names: [token], header_names: [x-jwt] }
    `),
  ),
);

test('credentials headers are always redacted; configured key and jwt names too', () => {
  const names = ['Authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'apikey', 'my_key', 'my-key', 'X-JWT', 'accept'];
  const out = redaction.headerObject(names, names.map((n) => `value-of-${n}`));
  for (const n of names.slice(0, -1)) assert.equal(out[n.toLowerCase()], REDACTED, n);
  assert.equal(out.accept, 'value-of-accept');
});

test('query arguments: redacted by name (case-insensitive, url-decoded), others kept byte for byte', () => {
  assert.equal(redaction.query('a=1&apikey=s3cret&b=%20x'), `a=1&apikey=${REDACTED}&b=%20x`);
  assert.equal(redaction.query('APIKEY=s&my%5Fkey=t&token=u'), `APIKEY=${REDACTED}&my%5Fkey=${REDACTED}&token=${REDACTED}`);
  assert.equal(redaction.query('plain=1'), 'plain=1');
  assert.equal(redaction.uri('/p?x=1&token=abc'), `/p?x=1&token=${REDACTED}`);
  assert.deepEqual(redaction.queryObject('apikey=s&a=1&a=2&flag'), { apikey: REDACTED, a: ['1', '2'], flag: true });
});

test('repeated headers become arrays, redacted element by element', () => {
  assert.deepEqual(redaction.headerObject(['x-a', 'x-a', 'cookie', 'Cookie'], ['1', '2', 'c1', 'c2']), { 'x-a': ['1', '2'], cookie: [REDACTED, REDACTED] });
});
