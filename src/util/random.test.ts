import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom } from './random.ts';

test('the same seed yields the same sequence; different seeds differ', () => {
  const first = new SeededRandom(42);
  const second = new SeededRandom(42);
  const other = new SeededRandom(43);
  const a = Array.from({ length: 100 }, () => first.nextUint32());
  const b = Array.from({ length: 100 }, () => second.nextUint32());
  const c = Array.from({ length: 100 }, () => other.nextUint32());
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('next() stays in [0, 1) and int() in its inclusive range, roughly uniformly', () => {
  const random = new SeededRandom(7);
  const counts = new Array(10).fill(0);
  for (let draw = 0; draw < 100_000; draw++) {
    const value = random.next();
    assert.ok(value >= 0 && value < 1);
    const bucket = random.int(0, 9);
    counts[bucket]++;
  }
  for (const count of counts) assert.ok(count > 9_000 && count < 11_000, `bucket count ${count} is far from 10000`);
});

test('seeds above 32 bits still produce distinct streams', () => {
  assert.notEqual(new SeededRandom(2 ** 40).nextUint32(), new SeededRandom(2 ** 40 + 2 ** 32).nextUint32());
});
