import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { WINDOW_SECONDS } from './activity-recorder.ts';
import { bucketIndex, bucketUpperSeconds } from './latency-buckets.ts';
import { parseLocalStats } from './stats-check.ts';
import { mergeLeadership, mergeStats } from './stats-merge.ts';
import type { WireLocalStats } from './wire-types.ts';

const NOW_MS = 1_700_000_100_500;
const NOW_SECOND = Math.floor(NOW_MS / 1000);

function local(nodeId: number, seconds: WireLocalStats['seconds'], leadership: WireLocalStats['leadership'] = []): WireLocalStats {
  return { nodeId, nowMs: NOW_MS, windowSeconds: WINDOW_SECONDS, seconds, leadership };
}

test('members add up second by second; the p99 comes from the merged histogram; silent members are listed', () => {
  const fast = bucketIndex(0.001);
  const slow = bucketIndex(0.2);
  const merged = mergeStats([
    { nodeId: 1, answer: local(1, [{ second: NOW_SECOND - 2, kinds: { kv: { count: 98, failed: 0, bytes: 0, buckets: [fast, 98] } } }]) },
    { nodeId: 2, answer: local(2, [
      { second: NOW_SECOND - 2, kinds: { kv: { count: 2, failed: 1, bytes: 0, buckets: [slow, 2] }, produce: { count: 3, failed: 0, bytes: 300, buckets: [fast, 3] } } },
      { second: NOW_SECOND - 1, kinds: { fetch: { count: 4, failed: 0, bytes: 40, buckets: [slow, 4] } } },
      { second: NOW_SECOND, kinds: { fetch: { count: 9, failed: 0, bytes: 9, buckets: [slow, 9] } } },
    ]) },
    { nodeId: 3, answer: 'connect ECONNREFUSED 127.0.0.1:2399' },
  ], NOW_SECOND - 10, NOW_MS);
  assert.equal(merged.fromSecond, NOW_SECOND - 9);
  assert.equal(merged.toSecond, NOW_SECOND);
  assert.equal(merged.points.length, 9, 'every second, zeros included');
  const point = merged.points.find((item) => item.second === NOW_SECOND - 2)!;
  assert.deepEqual(point.kv, { rate: 100, failed: 1, bytes: 0, p99Ms: Math.round(bucketUpperSeconds(slow) * 1e6) / 1e3 });
  assert.deepEqual(point.produce, { rate: 3, failed: 0, bytes: 300, p99Ms: Math.round(bucketUpperSeconds(fast) * 1e6) / 1e3 });
  assert.deepEqual(point.fetch, { rate: 0, failed: 0, bytes: 0, p99Ms: null });
  assert.equal(merged.points.at(-1)!.fetch.rate, 4, 'the current (incomplete) second is left out');
  assert.deepEqual(merged.sources, [
    { nodeId: 1, ok: true, lastSecond: { kv: 0, produce: 0, fetch: 0 } },
    { nodeId: 2, ok: true, lastSecond: { kv: 0, produce: 0, fetch: 4 } },
    { nodeId: 3, ok: false, error: 'connect ECONNREFUSED 127.0.0.1:2399' },
  ]);
});

test('the window bounds what is merged, whatever sinceSecond says', () => {
  const merged = mergeStats([{ nodeId: 1, answer: local(1, [{ second: NOW_SECOND - WINDOW_SECONDS - 5, kinds: { kv: { count: 1, failed: 0, bytes: 0, buckets: [0, 1] } } }]) }], 0, NOW_MS);
  assert.equal(merged.points.length, WINDOW_SECONDS);
  assert.ok(merged.points.every((point) => point.kv.rate === 0));
  assert.equal(mergeStats([], NOW_SECOND + 100, NOW_MS).points.length, 0, 'a future sinceSecond gives nothing, not a negative range');
});

test('leader announcements merge by term and leader at the earliest time seen', () => {
  const merged = mergeLeadership([
    { nodeId: 1, answer: local(1, [], [{ timeMs: 1000, term: 2, leaderId: 1 }, { timeMs: 5000, term: 3, leaderId: 2 }]) },
    { nodeId: 2, answer: local(2, [], [{ timeMs: 4900, term: 3, leaderId: 2 }]) },
    { nodeId: 3, answer: 'down' },
  ]);
  assert.deepEqual(merged, [
    { timeMs: 1000, term: 2, leaderId: 1, seenBy: [1] },
    { timeMs: 4900, term: 3, leaderId: 2, seenBy: [1, 2] },
  ]);
});

test('a member\'s answer is checked before it is merged: anything malformed is "unreadable", never a crash', () => {
  const good = local(4, [{ second: 10, kinds: { kv: { count: 1, failed: 0, bytes: 0, buckets: [3, 1] } } }], [{ timeMs: 1, term: 1, leaderId: 4 }]);
  assert.deepEqual(parseLocalStats(JSON.parse(JSON.stringify(good))), good);
  for (const bad of [null, [], 'x', { ...good, seconds: 'no' }, { ...good, seconds: [{ second: -1, kinds: {} }] },
    { ...good, seconds: [{ second: 1, kinds: { kv: { count: 1, failed: 0, bytes: 0, buckets: [999, 1] } } }] },
    { ...good, seconds: [{ second: 1, kinds: { kv: { count: 1, failed: 0, bytes: 0, buckets: [1] } } }] },
    { ...good, leadership: [{ timeMs: 'x', term: 1, leaderId: 1 }] }, { ...good, seconds: new Array(WINDOW_SECONDS + 2).fill({ second: 1, kinds: {} }) }]) {
    assert.equal(typeof parseLocalStats(bad), 'string', JSON.stringify(bad).slice(0, 80));
  }
  fc.assert(fc.property(fc.jsonValue({ maxDepth: 5 }), (value) => {
    const parsed = parseLocalStats(value);
    if (typeof parsed !== 'string') mergeStats([{ nodeId: 1, answer: parsed }], 0, NOW_MS);
  }));
});
