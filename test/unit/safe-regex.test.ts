import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileUntrustedRegex, re2InUse, re2LoadError, re2FallbackWarning } from '../../src/util/safe-regex';

test('RE2 is the engine in use (the re2 package is installed and loads)', () => {
  assert.equal(re2LoadError, null);
  assert.equal(re2InUse, true);
  assert.equal(re2FallbackWarning(), null);
  assert.equal(compileUntrustedRegex('a+b').constructor.name, 'RE2');
});

test('pathological patterns are accepted and answer correctly on long subjects', () => {
  // Exponential on a backtracking engine; linear on RE2. (No timing assertion: a backtracking
  // engine would not return from these at all within the test timeout.)
  const run = 'a'.repeat(100_000);
  const nested = compileUntrustedRegex('^(a+)+$');
  assert.equal(nested.test(run), true);
  assert.equal(nested.test(run + 'b'), false);
  const alternation = compileUntrustedRegex('^(a|aa)*c$');
  assert.equal(alternation.test(run), false);
  assert.equal(alternation.test(run + 'c'), true);
  const polynomial = compileUntrustedRegex('^.*.*.*.*x$');
  assert.equal(polynomial.test(run), false);
});

test('flags are honoured', () => {
  assert.equal(compileUntrustedRegex('^abc$', 'i').test('ABC'), true);
  assert.equal(compileUntrustedRegex('^abc$').test('ABC'), false);
});

test('no fallback guard is consulted when RE2 is in use', () => {
  const re = compileUntrustedRegex('^(a+)+$', '', {
    fallbackGuard: () => {
      throw new Error('guard called');
    },
  });
  assert.equal(re.test('aaa'), true);
});

test('syntax RE2 does not support is a clear error', () => {
  assert.throws(() => compileUntrustedRegex('(a)\\1'), /^Error: uses a backreference, which linear-time matching \(RE2\) does not support/);
  assert.throws(() => compileUntrustedRegex('(?<n>a)\\k<n>'), /uses a backreference/);
  assert.throws(() => compileUntrustedRegex('a(?=b)'), /uses a lookaround/);
  assert.throws(() => compileUntrustedRegex('a(?!b)'), /uses a lookaround/);
  assert.throws(() => compileUntrustedRegex('(?<=a)b'), /uses a lookaround/);
  assert.throws(() => compileUntrustedRegex('(?<!a)b'), /uses a lookaround/);
  assert.throws(() => compileUntrustedRegex('[a'), /is not a valid regex for RE2 \(missing \]/);
});
