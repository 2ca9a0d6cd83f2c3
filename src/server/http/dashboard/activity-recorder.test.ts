import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ActivityRecorder, LEADERSHIP_EVENTS_MAX, WINDOW_SECONDS } from './activity-recorder.ts';
import { bucketIndex } from './latency-buckets.ts';

function recorder(startMs = 1_700_000_000_000): { recorder: ActivityRecorder; clock: { nowMs: number } } {
  const clock = { nowMs: startMs };
  return { recorder: new ActivityRecorder({ nowMs: () => clock.nowMs, nodeId: () => 7 }), clock };
}

test('observations land in their wall-clock second; only completed seconds are reported', () => {
  const { recorder: activity, clock } = recorder();
  const first = Math.floor(clock.nowMs / 1000);
  activity.observe('kv', 0.002, false);
  activity.observe('kv', 0.004, true);
  activity.observe('produce', 0.010, false, 512);
  assert.deepEqual(activity.localStats(0).seconds, [], 'the current second is not complete');
  clock.nowMs += 1000;
  activity.observe('fetch', 0.5, false, 100);
  const stats = activity.localStats(0);
  assert.equal(stats.nodeId, 7);
  assert.deepEqual(stats.seconds, [{
    second: first,
    kinds: {
      kv: { count: 2, failed: 1, bytes: 0, buckets: [bucketIndex(0.002), 1, bucketIndex(0.004), 1] },
      produce: { count: 1, failed: 0, bytes: 512, buckets: [bucketIndex(0.010), 1] },
    },
  }]);
  assert.deepEqual(activity.localStats(first).seconds, [], 'sinceSecond excludes what the caller has');
  clock.nowMs += 1000;
  assert.deepEqual(activity.localStats(first).seconds.map((second) => Object.keys(second.kinds)), [['fetch']]);
});

test('the window keeps the last five minutes; a reused slot starts empty', () => {
  const { recorder: activity, clock } = recorder();
  const first = Math.floor(clock.nowMs / 1000);
  activity.observe('kv', 0.001, false);
  clock.nowMs += 1000;
  activity.observe('kv', 0.001, false);
  clock.nowMs += (WINDOW_SECONDS - 1) * 1000;
  assert.deepEqual(activity.localStats(0).seconds.map((second) => second.second), [first, first + 1], 'the window: the last 300 completed seconds');
  activity.observe('kv', 0.001, false);
  assert.deepEqual(activity.localStats(0).seconds.map((second) => second.second), [first, first + 1], 'activity in the current second keeps the window whole');
  clock.nowMs += 1000;
  assert.deepEqual(activity.localStats(0).seconds.map((second) => second.second), [first + 1, first + WINDOW_SECONDS], 'the first second has left the window');
  clock.nowMs += 1000;
  // The ring slot of `first + 1` again: it must not add to that second's counts.
  activity.observe('kv', 0.001, false);
  clock.nowMs += 1000;
  const seconds = activity.localStats(0).seconds;
  assert.deepEqual(seconds.map((second) => [second.second, second.kinds.kv?.count]), [[first + WINDOW_SECONDS, 1], [first + WINDOW_SECONDS + 2, 1]]);
});

test('a clock stepping back starts the slot over instead of mixing seconds', () => {
  const { recorder: activity, clock } = recorder();
  activity.observe('kv', 0.001, false);
  clock.nowMs -= (WINDOW_SECONDS + 1) * 1000;
  activity.observe('kv', 0.001, false);
  clock.nowMs += 1000;
  assert.deepEqual(activity.localStats(0).seconds.map((second) => second.kinds.kv?.count), [1]);
});

test('leader announcements: a new leader or term is kept, repeats and "no leader" are not; bounded', () => {
  const { recorder: activity, clock } = recorder();
  activity.recordLeadership({ leaderId: 0, term: 1 });
  activity.recordLeadership({ leaderId: 1, term: 1 });
  activity.recordLeadership({ leaderId: 1, term: 1 });
  clock.nowMs += 5;
  activity.recordLeadership({ leaderId: 2, term: 2 });
  assert.deepEqual(activity.localStats(0).leadership.map((event) => [event.term, event.leaderId]), [[1, 1], [2, 2]]);
  for (let term = 3; term < 3 + 2 * LEADERSHIP_EVENTS_MAX; term++) activity.recordLeadership({ leaderId: 1 + (term % 3), term });
  assert.equal(activity.localStats(0).leadership.length, LEADERSHIP_EVENTS_MAX);
  clock.nowMs += (WINDOW_SECONDS + 1) * 1000;
  assert.deepEqual(activity.localStats(0).leadership, [], 'events older than the window are not reported');
});
