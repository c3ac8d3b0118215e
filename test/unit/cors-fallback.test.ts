/**
 * The cors plugin where RE2 is not available (FLOODGATE_DISABLE_RE2=1, set before anything loads
 * src/util/safe-regex.ts; node --test runs each file in its own process): origin regexes run on
 * V8's backtracking RegExp and only patterns that pass regex-guard.ts are accepted.
 */
process.env.FLOODGATE_DISABLE_RE2 = '1';

import { test } from 'node:test';
import assert from 'node:assert/strict';

const { re2InUse } = require('../../src/util/safe-regex') as typeof import('../../src/util/safe-regex');
const { compileCheck } = require('../../src/proxy/snapshot') as typeof import('../../src/proxy/snapshot');
const { loadConfigText } = require('../../src/config/load') as typeof import('../../src/config/load');
const { OriginMatcher } = require('../../src/plugins/cors/origins') as typeof import('../../src/plugins/cors/origins');
const { pluginFromYaml } = require('../helpers/fake-context') as typeof import('../helpers/fake-context');

const conf = (config: string) => `_format_version: "3.0"\nplugins:\n  - name: cors\n    config:\n      ${config}\n`;
const plugin = (config: string) => pluginFromYaml(conf(config), 'cors').instance;

test('FLOODGATE_DISABLE_RE2=1 selects the fallback', () => {
  assert.equal(re2InUse, false);
});

test('fallback: regex origins still match the whole origin', () => {
  const matcher = OriginMatcher.compile(['https://.*\\.example\\.com', '^http://localhost:\\d+$', '(.*)\\.example\\.org']);
  assert.equal(matcher.match('https://api.example.com'), 'https://api.example.com');
  assert.equal(matcher.match('https://api.example.com.evil.net'), null);
  assert.equal(matcher.match('evil://x/https://api.example.com'), null);
  assert.equal(matcher.match('http://localhost:3000'), 'http://localhost:3000');
  assert.equal(matcher.match('http://x.example.org:8080'), 'http://x.example.org:8080');
  assert.equal(matcher.match('https://example.org'), null);
});

test('fallback: a regex runs once per distinct origin (decisions are cached)', () => {
  const matcher = OriginMatcher.compile(['https://[a-z]+\\.example\\.com']);
  const original = RegExp.prototype.test;
  let runs = 0;
  RegExp.prototype.test = function (this: RegExp, s: string) {
    if (this.source.includes('example')) runs++;
    return original.call(this, s);
  };
  try {
    for (let i = 0; i < 5; i++) assert.equal(matcher.match('https://api.example.com'), 'https://api.example.com');
    for (let i = 0; i < 5; i++) assert.equal(matcher.match('https://evil.example.net'), null);
  } finally {
    RegExp.prototype.test = original;
  }
  assert.equal(runs, 2);
});

test('fallback: regexes that could backtrack catastrophically are refused, naming the entry', () => {
  assert.throws(() => plugin('origins: ["https://(a+)+\\\\.example\\\\.com"]'), /config\.origins\[0\]: regex "https:\/\/\(a\+\)\+\\\.example\\\.com" .*nested quantifier/);
  assert.throws(() => plugin('origins: ["https://app.example", "https://([a-z]+\\\\.)*example\\\\.com"]'), /config\.origins\[1\]: .*nested quantifier/);
  assert.throws(() => plugin('origins: ["https://(a|aa)*x"]'), /nested quantifier/);
  assert.throws(() => plugin('origins: ["(https)://\\\\1"]'), /backreference/);
  assert.throws(() => plugin('origins: ["https://(?!evil).*"]'), /lookaround/);
  assert.throws(() => plugin('origins: ["https://.*.*.*x"]'), /too many ways to match/);
  assert.throws(() => plugin('origins: ["https://a?a?a?a?a?a?a?a?a?a?.*.*x"]'), /too many ways to match/);
  // Common shapes stay accepted.
  plugin('origins: ["https?://([a-z0-9-]+\\\\.)?example\\\\.com(:\\\\d+)?", "https://(www|api)\\\\.example\\\\.com", "(.*)\\\\.example\\\\.org"]');
});

test('fallback: an invalid or unsafe regex becomes a config error with the plugin id', () => {
  assert.throws(() => plugin('origins: ["https://[a"]'), /config\.origins\[0\]: "https:\/\/\[a" is neither a plain origin nor a valid regex/);
  const result = loadConfigText(conf('origins: ["https://(a+)+"]'), 'inline.yaml');
  assert.ok(result.ok);
  assert.match(compileCheck(result.config) ?? '', /^plugin "cors" \([^)]+\): config\.origins\[0\]: regex .*nested quantifier/);
});
