// Physical compaction leaves exactly what etcd's semantics need below the compact revision: for
// each key its latest change there if that is a put, nothing else. Checked against a twin that
// received the same writes without any compaction (its history is the full record of changes),
// with compact commands, batch sizes and step sizes chosen at random, and state reloads (an
// aborted batch) in between. A memo kept across compact revisions fails it at once (checked).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { openKvState } from './open.ts';
import type { KvNodeState } from './open.ts';
import { EntryFeed } from './testing.ts';
import { parseRevisionKey } from './encoding.ts';
import { decodeHistoryRecord } from './records.ts';
import { KV_TABLES } from './tables.ts';
import type { AppliedEntry } from '../types.ts';
import type { KvCommand } from './commands.ts';

type Action =
  | { kind: 'put'; key: number }
  | { kind: 'delete'; key: number }
  | { kind: 'compact'; back: number }
  | { kind: 'reload' };

const actionArbitrary: fc.Arbitrary<Action> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('put' as const), key: fc.integer({ min: 0, max: 2 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 2 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('compact' as const), back: fc.integer({ min: 0, max: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reload' as const) }) },
);

interface Change {
  readonly revision: number;
  readonly sub: number;
  readonly key: string;
  readonly kind: 'put' | 'delete';
}

function history(node: KvNodeState): Change[] {
  return [...node.state.store.range(KV_TABLES.history)].map((entry) => {
    const at = parseRevisionKey(entry.key);
    const record = decodeHistoryRecord(entry.value);
    return { revision: at.revision, sub: at.sub, key: Buffer.from(record.key).toString(), kind: record.kind };
  });
}

function keyOf(index: number): Uint8Array {
  return Buffer.from(`k${index}`);
}

test('after compaction, history below the compact revision holds only each key\'s latest change there, and only if it is a put', () => {
  const checked = { compacted: 0, withDeletions: 0 };
  fc.assert(
    fc.property(fc.array(actionArbitrary, { minLength: 10, maxLength: 120 }), fc.constantFrom(1, 2, 3, 8), fc.integer({ min: 1, max: 6 }), (actions, stepEntries, batchSize) => {
      const compacted = openKvState({ compactionStepEntries: stepEntries });
      const full = openKvState();
      const feed = new EntryFeed();
      const fullFeed = new EntryFeed();
      let pending: AppliedEntry[] = [];
      const flush = () => {
        if (pending.length > 0) compacted.state.apply(pending);
        pending = [];
      };
      for (const action of actions) {
        if (action.kind === 'reload') {
          flush();
          compacted.kv.aborted();
          continue;
        }
        if (action.kind === 'compact') {
          flush();
          const revision = compacted.kv.currentRevision() - action.back;
          if (revision > compacted.kv.compactRevision() && revision >= 1) pending.push(feed.command({ type: 'compact', revision }));
        } else {
          const command: KvCommand = action.kind === 'put' ? { type: 'put', key: keyOf(action.key), value: Buffer.from('v') } : { type: 'delete', range: { key: keyOf(action.key) } };
          pending.push(feed.command(command));
          full.state.apply([fullFeed.command(command)]);
        }
        if (pending.length >= batchSize) flush();
      }
      flush();
      for (let step = 0; step < 10_000 && compacted.kv.compactionPending(); step++) compacted.state.apply([feed.noop()]);
      assert.equal(compacted.kv.compactionPending(), false);
      assert.equal(compacted.kv.currentRevision(), full.kv.currentRevision(), 'both saw the same writes');

      const compactRevision = compacted.kv.compactRevision();
      const latestBelow = new Map<string, Change>();
      for (const change of history(full)) if (change.revision < compactRevision) latestBelow.set(change.key, change);
      const expectedBelow = [...latestBelow.values()].filter((change) => change.kind === 'put').sort((a, b) => a.revision - b.revision || a.sub - b.sub);
      const actual = history(compacted);
      const deletions = history(full).filter((change) => change.kind === 'delete').length;
      if (deletions > 0) checked.withDeletions++;
      if (compactRevision > 0) checked.compacted++;
      assert.deepEqual(actual.filter((change) => change.revision < compactRevision), expectedBelow);
      assert.deepEqual(actual.filter((change) => change.revision >= compactRevision), history(full).filter((change) => change.revision >= compactRevision));
      assert.equal([...compacted.state.store.range(KV_TABLES.keyRevisions)].length, actual.length, 'one key-revision entry per history entry');
    }),
    { numRuns: 300 },
  );
  assert.ok(checked.compacted >= 100 && checked.withDeletions >= 100, `the runs exercised too little: ${JSON.stringify(checked)}`);
});
