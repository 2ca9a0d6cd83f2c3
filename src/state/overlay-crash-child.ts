// A process that applies the deterministic KV crash workload (kv/crash-child.ts) through
// ReplicatedState on an OverlayStore over lmdb, forever, continuing from the persisted applied
// index, and prints every rise of durableAppliedIndex(), so a test can SIGKILL it at any moment
// and check what survives:
//   node src/state/overlay-crash-child.ts <directory> <flushIntervalMs> <flushBytesMax>
import { crashWorkloadEntry } from './kv/crash-child.ts';
import { KvState } from './kv/kv-state.ts';
import { LmdbStore } from './lmdb-store.ts';
import { OverlayStore } from './overlay-store.ts';
import type { OverlayStoreOptions } from './overlay-store.ts';
import { ReplicatedState } from './replicated-state.ts';
import type { AppliedEntry } from './types.ts';

/** The KV state of the crash workload on an overlay over lmdb at `directory`. */
export function openOverlayKv(directory: string, options: OverlayStoreOptions = {}): { state: ReplicatedState<unknown>; kv: KvState } {
  const kv = new KvState();
  const store = new OverlayStore(new LmdbStore({ path: directory, tableNames: ReplicatedState.tableNames([kv]) }), options);
  return { state: new ReplicatedState(store, [kv]), kv };
}

if (import.meta.main) {
  const [directory, intervalText, bytesText] = process.argv.slice(2);
  if (directory === undefined) throw new Error('usage: overlay-crash-child.ts <directory> <flushIntervalMs> <flushBytesMax>');
  const { state } = openOverlayKv(directory, { flushIntervalMs: Number(intervalText ?? 100), flushBytesMax: Number(bytesText ?? 16 << 20) });
  let next = state.appliedIndex() + 1;
  process.stdout.write(`started at ${next}\n`);
  let reported = 0;
  const report = setInterval(() => {
    const durable = state.durableAppliedIndex();
    if (durable > reported) process.stdout.write(`durable ${(reported = durable)}\n`);
  }, 1);
  report.unref();
  for (;;) {
    // Backpressure as the runtime would honour it: the overlay's delta is full while it flushes.
    while (state.applyWouldWait()) await new Promise((resolve) => setTimeout(resolve, 1));
    const batch: AppliedEntry[] = [];
    const size = 1 + (next % 37);
    for (let count = 0; count < size; count++) batch.push(crashWorkloadEntry(next++));
    state.apply(batch);
    // Yield now and then so timers, commits and flushes run, as in a real node.
    if (next % 100 < size) await new Promise((resolve) => setImmediate(resolve));
  }
}
