// The snapshot built for followers of a node with a persistent state store: built on demand,
// handed to the core while the log continues it, and let go once nobody asked for it a while
// (it holds the whole state in memory).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RawNode } from '../core/index.ts';
import type { StateMachine } from '../state/types.ts';
import { MemoryStorage } from '../storage/memory-storage.ts';
import { SILENT_NODE_LOGGER } from './logger.ts';
import { Snapshotter, isStateBacked } from './snapshotter.ts';

const CONF_STATE = { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
const STATE_BYTES = 3 * 1024 * 1024 + 5;

/** A persistent state machine at applied index 10 whose state is STATE_BYTES of data. */
function persistentState(): StateMachine<unknown> {
  const stub = {
    persistent: true,
    appliedIndex: () => 10,
    appliedTerm: () => 2,
    durableAppliedIndex: () => 10,
    flushed: async () => {},
    applyWouldWait: () => false,
    snapshotChunks: (chunkBytes: number) => ({
      index: 10, term: 2,
      chunks: (function* () {
        for (let offset = 0; offset < STATE_BYTES; offset += chunkBytes) yield new Uint8Array(Math.min(chunkBytes, STATE_BYTES - offset)).fill(offset % 251);
      })(),
    }),
  };
  return stub as unknown as StateMachine<unknown>;
}

const RAW = { status: () => ({ config: CONF_STATE }) } as unknown as RawNode;

test('a snapshot built for followers is kept while asked for and let go after a minute unused', async () => {
  const storage = new MemoryStorage();
  await storage.save({ entries: Array.from({ length: 10 }, (_, i) => ({ term: 2, index: i + 1, type: 'normal' as const, data: new Uint8Array(1) })) }, true);
  let now = 0;
  let wanted = 0;
  const snapshotter = new Snapshotter({
    storage, state: persistentState(), logger: SILENT_NODE_LOGGER,
    limits: { everyEntries: 5, everyBytes: 1 << 30, keptEntries: 0, keptBytes: 0 },
    onWanted: () => wanted++, now: () => now,
  });
  // A state-backed snapshot at 10 and a log compacted behind it.
  const started = await snapshotter.maybeStart(RAW);
  await started!.written;
  assert.ok(isStateBacked(storage.snapshot()));
  const core = snapshotter.coreStorage();
  core.sendable = true;

  assert.equal(core.snapshot(), undefined, 'none to send yet: one is to be built');
  assert.equal(wanted, 1);
  await snapshotter.buildWanted(RAW);
  const built = core.snapshot()!;
  assert.equal(built.data.byteLength, STATE_BYTES);
  assert.deepEqual(built.metadata, { index: 10, term: 2, confState: CONF_STATE });

  now = 59_000;
  snapshotter.releaseIdle();
  assert.equal(core.snapshot(), built, 'asked for within the minute: still kept');
  now = 59_000 + 59_999;
  snapshotter.releaseIdle();
  assert.equal(core.snapshot(), built, 'kept: it was asked for again a moment ago');
  now += 60_001;
  snapshotter.releaseIdle();
  assert.equal(core.snapshot(), undefined, 'released after a minute unused, so it is built again when wanted');
  assert.equal(wanted, 2);
});

type Follower = { match: number; state?: string; next?: number; pendingSnapshot?: number; recentActive?: boolean };

/**
 * Where a state-backed snapshot at 10 compacts a log of entries 1..10 of `entryBytes` each (already
 * compacted to `compactedBefore`), on a node whose followers are as given (none: not a leader).
 */
async function compactedTo(followers: Record<string, Follower> | undefined, entryBytes = 1, compactedBefore = 0): Promise<number> {
  const storage = new MemoryStorage();
  await storage.save({ entries: Array.from({ length: 10 }, (_, i) => ({ term: 2, index: i + 1, type: 'normal' as const, data: new Uint8Array(entryBytes) })) }, true);
  if (compactedBefore > 0) {
    await storage.saveSnapshot({ metadata: { index: compactedBefore, term: 2, confState: CONF_STATE }, data: new Uint8Array(1) });
    await storage.compact(compactedBefore);
  }
  let progress: Record<string, unknown> | undefined;
  if (followers !== undefined) {
    progress = { 1: { match: 10, next: 11, state: 'replicate', pendingSnapshot: 0, recentActive: true } };
    for (const [id, follower] of Object.entries(followers)) progress[id] = { state: 'replicate', next: follower.match + 1, pendingSnapshot: 0, recentActive: true, ...follower };
  }
  const raw = { status: () => ({ id: 1, config: CONF_STATE, progress }) } as unknown as RawNode;
  const snapshotter = new Snapshotter({
    storage, state: persistentState(), logger: SILENT_NODE_LOGGER,
    limits: { everyEntries: 5, everyBytes: 1 << 30, keptEntries: 0, keptBytes: 256 },
    onWanted: () => {}, now: () => 0,
  });
  await (await snapshotter.maybeStart(raw))!.written;
  return storage.firstIndex() - 1;
}

test('a leader does not compact away what a follower needs next, within a bound', async () => {
  assert.equal(await compactedTo(undefined), 10, 'not a leader: compacted to the snapshot');
  assert.equal(await compactedTo({ 2: { match: 10 }, 3: { match: 10 } }), 10, 'everyone has everything: compacted to the snapshot');
  assert.equal(await compactedTo({ 2: { match: 4 }, 3: { match: 10 } }), 4, 'a follower at 4 still gets entries 5.. from the log');
  assert.equal(await compactedTo({ 2: { match: 4, recentActive: false }, 3: { match: 10 } }), 4, 'one busy installing a snapshot does not answer: held all the same');
  assert.equal(await compactedTo({ 2: { match: 0, state: 'snapshot', pendingSnapshot: 7 }, 3: { match: 10 } }), 7, 'a follower sent a snapshot at 7 continues from the log after it');
  assert.equal(await compactedTo({ 2: { match: 0, state: 'probe', next: 8 }, 3: { match: 10 } }), 7, 'once the snapshot at 7 is handed over (probe, match not yet moved): the same');
  assert.equal(await compactedTo({ 2: { match: 1 }, 3: { match: 10 } }, 1, 3), 3, 'behind the compacted log: nothing more to keep for it');
  // 6 entries of 200 bytes are more than 4 x 256 bytes: not held.
  assert.equal(await compactedTo({ 2: { match: 4 }, 3: { match: 10 } }, 200), 10, 'holding too much: compacted as usual');
  assert.equal(await compactedTo({ 2: { match: 6 }, 3: { match: 10 } }, 200), 6, '4 entries of 200 bytes are held');
  assert.equal(await compactedTo({ 2: { match: 1 }, 3: { match: 6 } }, 200), 6, 'one too far behind does not cost the hold of another');
});
