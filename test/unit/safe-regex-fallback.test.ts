/**
 * src/util/safe-regex.ts without RE2 (FLOODGATE_DISABLE_RE2=1, set before the module loads; node
 * --test runs each file in its own process).
 */
process.env.FLOODGATE_DISABLE_RE2 = '1';

import { test } from 'node:test';
import assert from 'node:assert/strict';

const { compileUntrustedRegex, re2InUse, re2LoadError, re2FallbackWarning } =
  require('../../src/util/safe-regex') as typeof import('../../src/util/safe-regex');

test('the fallback is in use, and says why', () => {
  assert.equal(re2InUse, false);
  assert.match(re2LoadError?.message ?? '', /FLOODGATE_DISABLE_RE2=1/);
  assert.match(re2FallbackWarning() ?? '', /RE2 not available/);
});

test('the fallback runs what the guard accepts, refuses what it does not, and notices once', () => {
  const warnings: string[] = [];
  const onWarning = (w: Error & { code?: string }) => {
    if (w.code === 'FLOODGATE_RE2_FALLBACK') warnings.push(w.message);
  };
  process.on('warning', onWarning);
  const guard = (source: string) => (source.includes('+)+') ? 'has a nested quantifier' : null);
  const re = compileUntrustedRegex('^ab+c$', 'i', { fallbackGuard: guard });
  assert.ok(re instanceof RegExp);
  assert.equal(re.test('ABBC'), true);
  assert.throws(() => compileUntrustedRegex('^(a+)+$', '', { fallbackGuard: guard }), /^Error: has a nested quantifier$/);
  assert.throws(() => compileUntrustedRegex('[a', '', { fallbackGuard: guard }), /is not a valid regex \(Unterminated character class\)/);
  return new Promise<void>((resolve) =>
    setImmediate(() => {
      process.off('warning', onWarning);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], /RE2 not available/);
      resolve();
    }),
  );
});

test('without a guard the fallback refuses every pattern', () => {
  assert.throws(() => compileUntrustedRegex('^abc$'), /cannot be run safely: RE2 is not available/);
});
