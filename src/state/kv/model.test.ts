// Property test: random command sequences applied (in random batches) to the KV on both
// backends and to the naive reference model must give the same results, the same reads at every
// still-readable past revision (paged through continuation tokens), the same watch history, and
// byte-identical snapshots on both backends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { openKvState } from './open.ts';
import type { KvNodeState } from './open.ts';
import { ReferenceKv } from './reference-model.ts';
import { EntryFeed, plain } from './testing.ts';
import { utf8 } from './encoding.ts';
import type { Compare, KvCommand, KeyRange, TxnOperation } from './commands.ts';
import type { AppliedEntry } from '../types.ts';

const LONG = 'L'.repeat(1950);
const KEYS = ['a', 'ab', 'abc', 'b', 'b\x00', 'b\x00\x01', 'c', '\xff', '_cairn/s', '_cairn/t', `${LONG}a`, `${LONG}b`, `${LONG}\x00`];
const LIMITS = { maxDeleteKeys: 4, maxLeases: 4, maxRangeBytes: 2100 };
const bytes = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'latin1'));

const keyArb = fc.constantFrom(...KEYS).map(bytes);
const valueArb = fc.constantFrom('', 'x', 'y', 'zz', 'v'.repeat(40)).map(utf8);
const rangeArb: fc.Arbitrary<KeyRange> = fc.oneof(
  keyArb.map((key) => ({ key })),
  fc.constantFrom('a', 'b', 'L', '_cairn/', '').filter((p) => p !== '').map((p) => ({ prefix: bytes(p) })),
  fc.tuple(fc.constantFrom('', 'a', 'ab', 'b', '_', '_cairn/s'), fc.option(fc.constantFrom('b', 'c', 'z', '\xff\xff', '_cairn/t'), { nil: undefined }))
    .filter(([start, end]) => end === undefined || start < end)
    .map(([start, end]) => (end === undefined ? { start: bytes(start) } : { start: bytes(start), end: bytes(end) })),
);

/** Actions name leases by a pick resolved against the live lease set when they run. */
type Action =
  | { kind: 'command'; command: KvCommand; system: boolean }
  | { kind: 'put-with-lease'; key: Uint8Array; value: Uint8Array; pick: number }
  | { kind: 'revoke'; pick: number }
  | { kind: 'compact'; back: number }
  | { kind: 'noop' };

const operationArb: fc.Arbitrary<TxnOperation> = fc.oneof(
  fc.record({ type: fc.constant('put' as const), key: keyArb, value: valueArb, prevKv: fc.boolean() }),
  fc.record({ type: fc.constant('delete' as const), range: rangeArb, prevKv: fc.boolean() }),
  fc.record({ type: fc.constant('range' as const), range: rangeArb, limit: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }) })
    .map((operation) => (operation.limit === undefined ? { type: operation.type, range: operation.range } : operation)),
);

const compareArb: fc.Arbitrary<Compare> = fc.oneof(
  fc.record({ key: keyArb, target: fc.constant('value' as const), operator: fc.constantFrom('=', '!=', '<', '>') as fc.Arbitrary<'='>, value: valueArb }),
  fc.record({
    key: keyArb,
    target: fc.constantFrom('version', 'create-revision', 'mod-revision', 'lease') as fc.Arbitrary<'version'>,
    operator: fc.constantFrom('=', '!=', '<', '>') as fc.Arbitrary<'='>,
    value: fc.integer({ min: 0, max: 6 }),
  }),
  fc.record({ key: keyArb, target: fc.constant('exists' as const), operator: fc.constantFrom('=', '!=') as fc.Arbitrary<'='>, value: fc.boolean() }),
);

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('command' as const), command: fc.record({ type: fc.constant('put' as const), key: keyArb, value: valueArb, prevKv: fc.boolean() }), system: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('command' as const), command: fc.record({ type: fc.constant('delete' as const), range: rangeArb, prevKv: fc.boolean() }), system: fc.boolean() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('command' as const),
      command: fc.record({
        type: fc.constant('txn' as const),
        compare: fc.array(compareArb, { maxLength: 2 }),
        success: fc.array(operationArb, { maxLength: 3 }),
        failure: fc.array(operationArb, { maxLength: 2 }),
      }),
      system: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('command' as const), command: fc.record({ type: fc.constant('lease-grant' as const), id: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }), ttlSeconds: fc.integer({ min: 1, max: 60 }) }).map((c) => (c.id === undefined ? { type: c.type, ttlSeconds: c.ttlSeconds } : c)), system: fc.constant(false) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('put-with-lease' as const), key: keyArb, value: valueArb, pick: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('revoke' as const), pick: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('compact' as const), back: fc.integer({ min: -1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'noop' as const }) },
);

function leaseFor(model: ReferenceKv, pick: number): number {
  const ids = [...model.leases.keys()].sort((a, b) => a - b);
  return pick < ids.length ? ids[pick]! : 1000 + pick;
}

function toEntry(action: Action, model: ReferenceKv, feed: EntryFeed): AppliedEntry {
  switch (action.kind) {
    case 'command':
      return feed.command(action.command, { system: action.system });
    case 'put-with-lease':
      return feed.command({ type: 'put', key: action.key, value: action.value, lease: leaseFor(model, action.pick) });
    case 'revoke':
      return feed.command({ type: 'lease-revoke', id: leaseFor(model, action.pick) });
    case 'compact':
      return feed.command({ type: 'compact', revision: Math.max(1, model.revision - action.back) });
    case 'noop':
      return feed.noop();
  }
}

/** Errors compare by code only (the model does not reproduce messages). */
function normalize(value: unknown): unknown {
  const shown = plain(value);
  if (shown === undefined) return undefined;
  return JSON.parse(JSON.stringify(shown, (field, item) => (field === 'error' && item !== null && typeof item === 'object' ? { code: item.code } : item)));
}

function checkReads(node: KvNodeState, model: ReferenceKv, revision: number, system: boolean): void {
  const range = { start: new Uint8Array(0) };
  let continuation: string | undefined;
  const pages: unknown[] = [];
  for (let page = 0; page < 20; page++) {
    const result = node.kv.range(continuation === undefined ? { range, revision, limit: 2 } : { range, limit: 2, continuation }, { system });
    assert.ok(!('code' in result), `range at ${revision} failed: ${JSON.stringify(result)}`);
    pages.push(...result.kvs);
    if (!result.more) break;
    continuation = result.continuation;
  }
  const expected = model.range({ range, revision }, system, true);
  assert.deepEqual(normalize(pages), normalize(expected.kvs), `scan at revision ${revision} (system ${system})`);
  const single = node.kv.range({ range, revision }, { system });
  assert.deepEqual(normalize(single), normalize(model.range({ range, revision }, system)), `one bounded page at revision ${revision}`);
  const count = node.kv.range({ range, revision, countOnly: true }, { system });
  assert.deepEqual(normalize(count), normalize(model.range({ range, revision, countOnly: true }, system)));
  for (const key of KEYS) {
    const got = node.kv.get(bytes(key), { revision, system: true });
    assert.ok(!('code' in got));
    assert.deepEqual(normalize(got.kv), normalize(model.at(key, revision === 0 ? Infinity : revision)), `get ${JSON.stringify(key)} at ${revision}`);
  }
}

function checkHistory(node: KvNodeState, model: ReferenceKv): void {
  for (let from = Math.max(1, model.compactRevision); from <= model.revision + 1; from++) {
    const history = node.kv.history(from, 1_000_000, true);
    assert.deepEqual(normalize(history.events), normalize(model.history(from)), `history from ${from}`);
    assert.equal(history.nextRevision, model.revision + 1);
  }
}

function runScenario(actions: Action[], batchSizes: number[], compactionStepEntries: number, directory: string, run: number): void {
  const memory = openKvState({ limits: LIMITS, compactionStepEntries });
  const durable = openKvState({ path: join(directory, `run-${run}`), limits: LIMITS, compactionStepEntries });
  const model = new ReferenceKv(LIMITS);
  const feed = new EntryFeed();
  try {
    let position = 0;
    let batch = 0;
    while (position < actions.length) {
      const size = batchSizes[batch++ % batchSizes.length]!;
      // Build entries one by one so lease picks see the model after the previous action.
      const entries: AppliedEntry[] = [];
      const expected: unknown[] = [];
      for (const action of actions.slice(position, position + size)) {
        const entry = toEntry(action, model, feed);
        entries.push(entry);
        expected.push(model.apply(entry));
      }
      position += size;
      assert.deepEqual(normalize(memory.state.apply(entries)), normalize(expected), 'memory results');
      assert.deepEqual(normalize(durable.state.apply(entries)), normalize(expected), 'lmdb results');
    }
    for (const node of [memory, durable]) {
      assert.equal(node.kv.currentRevision(), model.revision);
      assert.equal(node.kv.compactRevision(), model.compactRevision);
      for (let revision = Math.max(1, model.compactRevision); revision <= model.revision; revision++) checkReads(node, model, revision, revision % 2 === 0);
      checkReads(node, model, 0, false);
      checkHistory(node, model);
    }
    assert.ok(Buffer.from(memory.state.snapshot().data).equals(Buffer.from(durable.state.snapshot().data)), 'memory and lmdb snapshots differ');
  } finally {
    void memory.state.close();
    void durable.state.close();
  }
}

test('KV on memory and lmdb matches the reference model (results, past reads, history, snapshots)', () => {
  const directory = mkdtempSync(join(tmpdir(), 'cairn-kv-model-'));
  let run = 0;
  try {
    fc.assert(
      fc.property(fc.array(actionArb, { minLength: 1, maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 4 }), (actions, batchSizes, step) => {
        runScenario(actions, batchSizes, step, directory, run++);
      }),
      { numRuns: Number(process.env.CAIRN_PROPERTY_RUNS ?? 60) },
    );
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
