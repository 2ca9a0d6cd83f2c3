// What the overlay store buys, as figures (not a test), per store under the node state:
//   node src/state/bench-overlay.ts wal [--rounds 2000]      synced WAL save latency beside applies
//   node src/state/bench-overlay.ts apply [--entries 200000] [--batch 100]   KV apply throughput
// Each runs `lmdb` (LmdbStore, one lmdb transaction per apply), `overlay` (OverlayStore over
// LmdbStore, what openNodeState uses) and a reference (`none`: the WAL alone; `memory`).
// Run on a quiet machine, and more than once: the disk and the other processes decide a lot.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FileStorage, NodeFileSystem } from '../storage/index.ts';
import { encodeKvCommand } from './kv/commands.ts';
import { KvState } from './kv/kv-state.ts';
import { EntryFeed } from './kv/testing.ts';
import { LmdbStore } from './lmdb-store.ts';
import { MemoryStore } from './memory-store.ts';
import { OverlayStore } from './overlay-store.ts';
import { ReplicatedState } from './replicated-state.ts';
import type { OrderedStore } from './store.ts';
import type { AppliedEntry } from './types.ts';

type StoreKind = 'lmdb' | 'overlay' | 'memory';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '2000' },
    entries: { type: 'string', default: '200000' },
    batch: { type: 'string', default: '100' },
  },
});

function openKv(kind: StoreKind, directory: string): ReplicatedState<unknown> {
  const kv = new KvState();
  const tableNames = ReplicatedState.tableNames([kv]);
  let store: OrderedStore = new MemoryStore(tableNames);
  if (kind !== 'memory') {
    const lmdb = new LmdbStore({ path: join(directory, 'state'), tableNames });
    store = kind === 'overlay' ? new OverlayStore(lmdb) : lmdb;
  }
  return new ReplicatedState(store, [kv]);
}

/** Like a runtime between two Readys: let timers and commits run, hold back when asked. */
async function betweenReadys(state: ReplicatedState<unknown>): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  while (state.applyWouldWait()) await new Promise((resolve) => setTimeout(resolve, 1));
}

async function measureWal(kind: StoreKind | 'none', rounds: number): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'cairn-bench-overlay-'));
  const storage = await FileStorage.open({ fileSystem: new NodeFileSystem(), directory: join(directory, 'raft') });
  const state = kind === 'none' ? undefined : openKv(kind, directory);
  const data = new Uint8Array(300).fill(1);
  const latencies: number[] = [];
  let applyMs = 0;
  let index = 0;
  const started = performance.now();
  for (let round = 0; round < rounds; round++) {
    const entries = Array.from({ length: 10 }, () => ({ term: 1, index: ++index, type: 'normal' as const, data }));
    const savedAt = performance.now();
    const saved = storage.save({ entries, hardState: { term: 1, vote: 0, commit: index } }, true);
    if (state !== undefined) {
      const appliedAt = performance.now();
      state.apply(entries.map((entry) => ({ index: entry.index, term: 1, kind: 'command' as const, data: encodeKvCommand({ type: 'put', key: Buffer.from(`k${entry.index % 1000}`), value: data }) })));
      applyMs += performance.now() - appliedAt;
    }
    await saved;
    latencies.push(performance.now() - savedAt);
  }
  const totalMs = performance.now() - started;
  latencies.sort((a, b) => a - b);
  const at = (quantile: number): string => latencies[Math.min(latencies.length - 1, Math.floor(quantile * latencies.length))]!.toFixed(2);
  console.log(`${kind.padEnd(8)} WAL save ms p50 ${at(0.5)} p90 ${at(0.9)} p99 ${at(0.99)} | ${rounds} rounds of 10 entries in ${totalMs.toFixed(0)} ms, apply() ${applyMs.toFixed(0)} ms of it`);
  await state?.close();
  await storage.close();
  rmSync(directory, { recursive: true, force: true });
}

async function measureApply(kind: StoreKind, entries: readonly AppliedEntry[], batchSize: number): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'cairn-bench-overlay-'));
  const state = openKv(kind, directory);
  const started = performance.now();
  for (let start = 0; start < entries.length; start += batchSize) {
    await betweenReadys(state);
    state.apply(entries.slice(start, start + batchSize));
  }
  const appliedMs = performance.now() - started;
  await state.flushed();
  const durableMs = performance.now() - started;
  console.log(`${kind.padEnd(8)} ${entries.length} puts of 128 B in batches of ${batchSize}: ${Math.round((entries.length / appliedMs) * 1000)} puts/s (durable after ${durableMs.toFixed(0)} ms)`);
  await state.close();
  rmSync(directory, { recursive: true, force: true });
}

const mode = positionals[0] ?? 'wal';
if (mode === 'wal') {
  for (const kind of ['none', 'lmdb', 'overlay'] as const) await measureWal(kind, Number(values.rounds));
} else if (mode === 'apply') {
  const feed = new EntryFeed();
  const value = new Uint8Array(128).fill(0x61);
  const entries = Array.from({ length: Number(values.entries) }, (_, index) => feed.command({ type: 'put', key: Buffer.from(`user/${((index * 2654435761) >>> 0) % 50000}`), value }));
  for (const kind of ['lmdb', 'overlay', 'memory'] as const) await measureApply(kind, entries, Number(values.batch));
} else {
  throw new Error(`unknown mode "${mode}": use wal or apply`);
}
