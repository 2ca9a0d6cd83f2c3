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
