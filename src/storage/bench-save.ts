// Benchmark: latency of synced FileStorage.save() calls on the real disk, and what each save costs
// in file-system calls. Prints figures; asserts nothing.
//
//   node src/storage/bench-save.ts [--saves 1000] [--entries 10] [--entry-bytes 128]
//                                  [--segment-max-bytes 67108864] [--directory /tmp] [--runs 1]
//
// Every save is awaited before the next starts (one Ready at a time, as the runtime does), so the
// figures are per-save latency. The file system is wrapped to count and time the calls each save
// makes: "fdatasync alone" is the time inside the fdatasync call (its thread-pool round trip
// included), "beyond fdatasync" everything else a save spends (queueing, encoding, the write call,
// the wrapper itself). Roll-overs to a new segment are listed apart; they show in max, not in p50.
// `--directory /dev/shm` (tmpfs: fdatasync does nothing) isolates the software's own cost.
//
// The figures in the report were taken by running this same script against a copy of the
// previous src/storage (with src/core and src/util linked beside it), alternating the two runs.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { entriesFrom } from './conformance.ts';
import { FileStorage } from './file-storage.ts';
import type { FileSystem } from './file-system.ts';
import { NodeFileSystem } from './node-file-system.ts';

interface CallCounters {
  /** Calls per method name, on the file system and on the handles it returns. */
  calls: Map<string, number>;
  /** Time spent in handle.sync() (fdatasync), ms. */
  syncMs: number;
}

const WRITE_METHODS = new Set(['append', 'writeAt']);

/** Wraps a FileSystem so that every call on it and on the handles it opens is counted. */
function counting(fileSystem: FileSystem, counters: CallCounters): FileSystem {
  const count = (name: string): void => {
    counters.calls.set(name, (counters.calls.get(name) ?? 0) + 1);
  };
  const wrapHandle = (handle: object): object => new Proxy(handle, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return async (...args: unknown[]) => {
        count(`handle.${property}`);
        const started = performance.now();
        try {
          return await (value as (...parameters: unknown[]) => Promise<unknown>).apply(target, args);
        } finally {
          if (property === 'sync') counters.syncMs += performance.now() - started;
        }
      };
    },
  });
  return new Proxy(fileSystem, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return async (...args: unknown[]) => {
        count(property);
        const result = await (value as (...parameters: unknown[]) => Promise<unknown>).apply(target, args);
        return typeof result === 'object' && result !== null && 'sync' in result ? wrapHandle(result) : result;
      };
    },
  });
}

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}

function describe(latenciesMs: readonly number[]): string {
  const sorted = [...latenciesMs].sort((left, right) => left - right);
  const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
  const format = (value: number): string => value.toFixed(3);
  return `p50 ${format(percentile(sorted, 0.5))}  p90 ${format(percentile(sorted, 0.9))}  p99 ${format(percentile(sorted, 0.99))}  ` +
    `max ${format(sorted[sorted.length - 1]!)}  mean ${format(mean)} ms`;
}

interface RunOptions {
  readonly saves: number;
  readonly entries: number;
  readonly entryBytes: number;
  readonly segmentMaxBytes: number;
  readonly directory: string;
}

async function run(options: RunOptions): Promise<void> {
  const directory = await mkdtemp(join(options.directory, 'cairn-bench-save-'));
  const counters: CallCounters = { calls: new Map(), syncMs: 0 };
  try {
    const openStarted = performance.now();
    const storage = await FileStorage.open({ fileSystem: counting(new NodeFileSystem(), counters), directory, segmentMaxBytes: options.segmentMaxBytes });
    const openMs = performance.now() - openStarted;
    const syncLatencies: number[] = [];
    const beyondSync: number[] = [];
    /** Latencies of the saves that started a new segment. */
    const rollOvers: number[] = [];
    const saveOnce = async (): Promise<number> => {
      const first = storage.lastIndex() + 1;
      const update = { entries: entriesFrom(first, options.entries, 1, options.entryBytes), hardState: { term: 1, vote: 1, commit: first - 1 } };
      const syncMsBefore = counters.syncMs;
      const segmentsBefore = storage.stats().walSegments;
      const started = performance.now();
      await storage.save(update, true);
      const elapsed = performance.now() - started;
      if (storage.stats().walSegments > segmentsBefore) rollOvers.push(elapsed);
      syncLatencies.push(counters.syncMs - syncMsBefore);
      beyondSync.push(elapsed - (counters.syncMs - syncMsBefore));
      return elapsed;
    };
    const firstSaveMs = await saveOnce();
    // Let a background preparation (if any) finish, so the steady state is measured.
    const settled = (storage as { settled?: () => Promise<void> }).settled;
    if (settled !== undefined) await settled.call(storage);
    counters.calls.clear();
    counters.syncMs = 0;
    syncLatencies.length = 0;
    beyondSync.length = 0;
    rollOvers.length = 0;
    const latencies: number[] = [];
    const statsBefore = storage.stats();
    for (let save = 0; save < options.saves; save++) latencies.push(await saveOnce());
    const stats = storage.stats();
    const prepared = (stats as { walSegmentsPrepared?: number }).walSegmentsPrepared;
    const preparedBefore = (statsBefore as { walSegmentsPrepared?: number }).walSegmentsPrepared;
    await storage.close();
    const perSave = (name: string): string => ((counters.calls.get(name) ?? 0) / options.saves).toFixed(3);
    const writes = [...counters.calls].filter(([name]) => WRITE_METHODS.has(name.replace('handle.', ''))).reduce((sum, [, value]) => sum + value, 0);
    const totalMs = latencies.reduce((sum, value) => sum + value, 0);
    console.log(`open ${openMs.toFixed(1)} ms, first save (creates the first segment) ${firstSaveMs.toFixed(1)} ms`);
    console.log(`${options.saves} synced saves of ${options.entries} x ${options.entryBytes} B: ${describe(latencies)}`);
    console.log(`  fdatasync alone:  ${describe(syncLatencies)}`);
    console.log(`  beyond fdatasync: ${describe(beyondSync)}`);
    console.log(`  storage stats per save: file syncs ${((stats.fileSyncs - statsBefore.fileSyncs) / options.saves).toFixed(3)}, ` +
      `directory syncs ${((stats.directorySyncs - statsBefore.directorySyncs) / options.saves).toFixed(3)}` +
      (prepared === undefined ? '' : `; segments prepared in the background: ${prepared - preparedBefore!}`));
    console.log(`  file system calls per save (background work included): fdatasync ${perSave('handle.sync')}, writes ${(writes / options.saves).toFixed(3)}, ` +
      `total ${(totalMs / options.saves).toFixed(3)} ms of which fdatasync ${(counters.syncMs / options.saves).toFixed(3)} ms (means)`);
    if (rollOvers.length > 0) console.log(`  ${rollOvers.length} roll-over(s) to a new segment: ${rollOvers.map((value) => value.toFixed(3)).join(', ')} ms`);
    console.log(`  calls: ${[...counters.calls].map(([name, value]) => `${name}=${value}`).join(' ')}`);
    console.log(`  WAL: ${stats.walSegments} segment(s), ${stats.walBytes} bytes`);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

const { values } = parseArgs({
  options: {
    'saves': { type: 'string', default: '1000' },
    'entries': { type: 'string', default: '10' },
    'entry-bytes': { type: 'string', default: '128' },
    'segment-max-bytes': { type: 'string', default: String(64 * 1024 * 1024) },
    'directory': { type: 'string', default: tmpdir() },
    'runs': { type: 'string', default: '1' },
  },
});

const options: RunOptions = {
  saves: Number(values.saves),
  entries: Number(values.entries),
  entryBytes: Number(values['entry-bytes']),
  segmentMaxBytes: Number(values['segment-max-bytes']),
  directory: values.directory,
};
for (let runNumber = 1; runNumber <= Number(values.runs); runNumber++) {
  console.log(`run ${runNumber}: segmentMaxBytes ${options.segmentMaxBytes}`);
  await run(options);
}
