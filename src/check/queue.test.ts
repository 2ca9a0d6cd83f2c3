import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkQueue, describeQueueResult, validateQueueEntry } from './queue.ts';
import type { QueueEntry, QueueProblemKind } from './queue.ts';

const TOPIC = 't';

function send(value: string, partition: number, outcome: 'ok' | 'fail' | 'unknown', offset: number | null, time = 0): QueueEntry {
  return {
    process: 'p', callTime: time, returnTime: outcome === 'unknown' ? null : time + 1, input: { kind: 'send', topic: TOPIC, partition, value },
    output: outcome === 'ok' ? { partition, offset: offset! } : null, outcome,
  };
}

function drain(partition: number, records: [number, string][], endOffset = records.length === 0 ? 0 : records.at(-1)![0] + 1): QueueEntry {
  return { process: 'drain', callTime: 1000, returnTime: 1001, input: { kind: 'drain', topic: TOPIC, partition }, output: { endOffset, records }, outcome: 'ok' };
}

function receive(value: string, partition: number, offset: number, time = 10): QueueEntry {
  return { process: 'c1', callTime: time, returnTime: time, input: { kind: 'receive', topic: TOPIC, group: 'g' }, output: { partition, offset, value }, outcome: 'ok' };
}

function commit(offset: number, callTime: number, returnTime: number, kind: 'commit' | 'committed' = 'commit'): QueueEntry {
  return kind === 'commit'
    ? { process: 'c1', callTime, returnTime, input: { kind: 'commit', topic: TOPIC, group: 'g', partition: 0, offset }, output: null, outcome: 'ok' }
    : { process: 'poller', callTime, returnTime, input: { kind: 'committed', topic: TOPIC, group: 'g', partition: 0 }, output: { offset }, outcome: 'ok' };
}

function kinds(entries: QueueEntry[], options = {}): Partial<Record<QueueProblemKind, number>> {
  const result = checkQueue(entries, options);
  return Object.fromEntries(Object.entries(result.counts.byKind).filter(([, count]) => count > 0));
}

test('a correct history passes: acknowledged, unknown-and-present, unknown-and-absent, failed-and-absent', () => {
  const entries = [
    send('a', 0, 'ok', 0), send('b', 0, 'unknown', null), send('c', 0, 'ok', 2), send('d', 0, 'unknown', null), send('e', 0, 'fail', null),
    drain(0, [[0, 'a'], [1, 'b'], [2, 'c']]), receive('a', 0, 0), receive('b', 0, 1), receive('a', 0, 0),
  ];
  const result = checkQueue(entries);
  assert.equal(result.valid, true, describeQueueResult(result));
  assert.deepEqual(result.counts.sent, { ok: 2, fail: 1, unknown: 2 });
  assert.equal(result.counts.unknownFound, 1);
  assert.equal(result.counts.redelivered, 1);
  assert.equal(result.counts.drained, 3);
});

test('an acknowledged value missing from the log is lost, with the offset it was acknowledged at', () => {
  const result = checkQueue([send('a', 0, 'ok', 0), send('b', 0, 'ok', 1), drain(0, [[0, 'a']])]);
  assert.equal(result.valid, false);
  assert.deepEqual(kinds([send('a', 0, 'ok', 0), send('b', 0, 'ok', 1), drain(0, [[0, 'a']])]), { lost: 1 });
  assert.equal(result.problems[0]!.offset, 1);
  assert.equal(result.problems[0]!.value, 'b');
  assert.match(result.problems[0]!.message, /log ends at offset 1/);
});

test('a value overwritten at its acknowledged offset is lost (and the other value is a phantom if never sent)', () => {
  assert.deepEqual(kinds([send('a', 0, 'ok', 0), drain(0, [[0, 'x']])]), { lost: 1, phantom: 1 });
});

test('a value found at another offset than acknowledged is an ack mismatch', () => {
  assert.deepEqual(kinds([send('a', 0, 'ok', 1), send('b', 0, 'unknown', null), drain(0, [[0, 'a'], [1, 'b']])]), { 'ack-mismatch': 1 });
});

test('duplicates are violations for idempotent producers, only counted otherwise', () => {
  const entries = [send('a', 0, 'ok', 0), drain(0, [[0, 'a'], [1, 'a']])];
  assert.deepEqual(kinds(entries), { duplicate: 1 });
  assert.equal(checkQueue(entries).valid, false);
  const relaxed = checkQueue(entries, { idempotent: false });
  assert.equal(relaxed.valid, true);
  assert.equal(relaxed.counts.byKind.duplicate, 1);
});

test('offsets must be increasing without gaps (unless gaps are allowed)', () => {
  const sends = [send('a', 0, 'unknown', null), send('b', 0, 'unknown', null)];
  assert.deepEqual(kinds([...sends, drain(0, [[0, 'a'], [2, 'b']])]), { 'offset-order': 1 });
  assert.deepEqual(kinds([...sends, drain(0, [[0, 'a'], [2, 'b']])], { gapsAllowed: true }), {});
  assert.deepEqual(kinds([...sends, drain(0, [[1, 'a'], [0, 'b']], 2)]), { 'offset-order': 2 });
});

test('a drain that stops below the end offset or failed is incomplete', () => {
  assert.deepEqual(kinds([send('a', 0, 'unknown', null), drain(0, [[0, 'a']], 5)]), { 'drain-incomplete': 1 });
  const failed: QueueEntry = { process: 'drain', callTime: 1, returnTime: 2, input: { kind: 'drain', topic: TOPIC, partition: 1 }, output: null, outcome: 'fail' };
  assert.deepEqual(kinds([failed]), { 'drain-incomplete': 1 });
});

test('a consumer that saw a value nobody sent, or another value at an offset, is caught', () => {
  const base = [send('a', 0, 'ok', 0), drain(0, [[0, 'a']])];
  assert.deepEqual(kinds([...base, receive('zz', 0, 0)]), { phantom: 1 });
  assert.deepEqual(kinds([...base, send('b', 0, 'unknown', null), receive('b', 0, 0)]), { 'offset-conflict': 1 });
  assert.deepEqual(kinds([...base, send('f', 0, 'fail', null), receive('f', 0, 3)]), { phantom: 1 });
});

test('committed offsets never go backwards between non-overlapping events; overlapping ones may be seen in any order', () => {
  const base = [send('a', 0, 'ok', 0), drain(0, [[0, 'a']])];
  assert.deepEqual(kinds([...base, commit(5, 0, 1), commit(7, 2, 3), commit(7, 4, 5, 'committed')]), {});
  assert.deepEqual(kinds([...base, commit(5, 0, 1), commit(3, 2, 3, 'committed')]), { 'commit-backwards': 1 });
  assert.deepEqual(kinds([...base, commit(5, 0, 10), commit(3, 2, 3, 'committed')]), {});
  assert.deepEqual(kinds([...base, commit(9, 0, 1, 'committed'), commit(4, 2, 3)]), { 'commit-backwards': 1 });
  // -1 means "nothing committed" and is never compared.
  assert.deepEqual(kinds([...base, commit(-1, 5, 6, 'committed')]), {});
});

test('commit check agrees with a naive pairwise comparison (property)', () => {
  const event = fc.record({ offset: fc.integer({ min: 0, max: 6 }), callTime: fc.integer({ min: 0, max: 30 }), length: fc.integer({ min: 0, max: 8 }), read: fc.boolean() });
  fc.assert(fc.property(fc.array(event, { maxLength: 12 }), (events) => {
    const entries = events.map((each) => commit(each.offset, each.callTime, each.callTime + each.length, each.read ? 'committed' : 'commit'));
    const naive = events.some((a) => events.some((b) => a.callTime + a.length < b.callTime && b.offset < a.offset));
    const found = checkQueue(entries).counts.byKind['commit-backwards'] > 0;
    assert.equal(found, naive);
  }));
});

test('evidence is bounded per kind while counts stay exact', () => {
  const sends = Array.from({ length: 200 }, (_, index) => send(`v${index}`, 0, 'ok', index));
  const result = checkQueue([...sends, drain(0, [])], { evidencePerKindMax: 5 });
  assert.equal(result.counts.byKind.lost, 200);
  assert.equal(result.problems.length, 5);
});

test('entry validation names what is wrong', () => {
  assert.equal(validateQueueEntry(send('a', 0, 'ok', 0)), undefined);
  assert.match(validateQueueEntry({ ...send('a', 0, 'ok', 0), output: null }) ?? '', /needs \{ partition, offset \}/);
  assert.match(validateQueueEntry({ ...drain(0, []), output: { records: [] } as never }) ?? '', /endOffset/);
  assert.match(validateQueueEntry({ ...send('a', 0, 'ok', 0), input: { kind: 'nope', topic: 't' } as never }) ?? '', /input.kind/);
});
