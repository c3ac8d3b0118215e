/** POST /config bodies: raw YAML/JSON, Kong's {"config": ...} wrapper, form-urlencoded, and refusals. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configTextFromBody } from '../../src/admin/config-body';

const DOC = '_format_version: "3.0"\nservices: []\n';

test('raw YAML and raw JSON pass through as text (line numbers stay those of the body)', () => {
  assert.deepEqual(configTextFromBody(DOC, 'application/x-yaml'), { ok: true, text: DOC });
  assert.deepEqual(configTextFromBody(DOC, undefined), { ok: true, text: DOC });
  const json = '{\n  "_format_version": "3.0",\n  "config": 1\n}';
  assert.deepEqual(configTextFromBody(json, 'application/json'), { ok: true, text: json }, 'a document with _format_version is the config itself');
});

test('the {"config": ...} wrapper, as a string or as an object', () => {
  assert.deepEqual(configTextFromBody(JSON.stringify({ config: DOC }), 'application/json; charset=utf-8'), { ok: true, text: DOC });
  const obj = configTextFromBody(JSON.stringify({ config: { _format_version: '3.0' } }), 'application/json');
  assert.ok(obj.ok && JSON.parse(obj.text)._format_version === '3.0');
  assert.equal(configTextFromBody(JSON.stringify({ config: 5 }), 'application/json').ok, false);
});

test('form-urlencoded needs a config field; multipart and empty bodies are refused', () => {
  assert.deepEqual(configTextFromBody(new URLSearchParams({ config: DOC }).toString(), 'application/x-www-form-urlencoded'), { ok: true, text: DOC });
  assert.equal(configTextFromBody('other=1', 'application/x-www-form-urlencoded').ok, false);
  assert.equal(configTextFromBody('--x\r\n', 'multipart/form-data; boundary=x').ok, false);
  assert.equal(configTextFromBody('  \n', 'text/yaml').ok, false);
});

test('invalid JSON goes to the YAML loader, which reports the line', () => {
  const broken = '{\n  "_format_version": "3.0",\n  "services": [\n}';
  assert.deepEqual(configTextFromBody(broken, 'application/json'), { ok: true, text: broken });
});
