import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BUCKET_COUNT, FIRST_BUCKET_SECONDS, bucketIndex, bucketUpperSeconds, quantileSeconds } from './latency-buckets.ts';

const STEP = 2 ** (1 / 4);
const latency = fc.double({ min: FIRST_BUCKET_SECONDS, max: 300, noNaN: true });

test('a latency lies in its bucket: above the previous bound, at most its own', () => {
  fc.assert(fc.property(latency, (seconds) => {
    const index = bucketIndex(seconds);
    assert.ok(seconds <= bucketUpperSeconds(index) * (1 + 1e-9), `${seconds} <= bound ${bucketUpperSeconds(index)}`);
    if (index > 0) assert.ok(seconds > bucketUpperSeconds(index - 1) * (1 - 1e-9), `${seconds} > previous bound ${bucketUpperSeconds(index - 1)}`);
  }));
  assert.equal(bucketIndex(0), 0);
  assert.equal(bucketIndex(-1), 0);
  assert.equal(bucketIndex(Number.NaN), 0);
  assert.equal(bucketIndex(1e9), BUCKET_COUNT - 1);
});

test('the bucketed quantile is the true quantile or at most one bucket (19%) above it', () => {
  fc.assert(fc.property(fc.array(latency, { minLength: 1, maxLength: 300 }), fc.constantFrom(0.5, 0.9, 0.99, 1), (values, q) => {
    const sparse: number[] = [];
    for (const value of values) sparse.push(bucketIndex(value), 1);
    const sorted = [...values].sort((a, b) => a - b);
    const exact = sorted[Math.ceil(q * sorted.length) - 1]!;
    const estimate = quantileSeconds(sparse, q)!;
    assert.ok(estimate >= exact * (1 - 1e-9), `estimate ${estimate} >= exact ${exact}`);
    assert.ok(estimate <= Math.max(exact, FIRST_BUCKET_SECONDS) * STEP * (1 + 1e-9), `estimate ${estimate} within a bucket of ${exact}`);
  }));
});

test('histograms merge by adding counts, in any order; nonsense pairs are ignored', () => {
  // 98 fast requests on one node and 2 slow ones on another: the cluster's p99 is slow.
  const fast = [bucketIndex(0.001), 98];
  const slow = [bucketIndex(0.5), 2];
  assert.ok(quantileSeconds([...fast, ...slow], 0.99)! >= 0.5);
  assert.deepEqual(quantileSeconds([...slow, ...fast], 0.99), quantileSeconds([...fast, ...slow], 0.99));
  assert.ok(quantileSeconds([bucketIndex(0.001), 99, bucketIndex(0.5), 1], 0.99)! < 0.002, 'one slow in 100: the p99 is fast');
  assert.equal(quantileSeconds([], 0.99), null);
  assert.equal(quantileSeconds([BUCKET_COUNT, 5, -1, 3, 2.5, 1, 4, 0], 0.99), null);
});
