// Apply throughput of the KV state machine (a figure, not a test):
//   node src/state/kv/bench-apply.ts [--entries 200000] [--batch 100] [--value-bytes 128] [--keys 50000] [--backend lmdb|memory|both]
// Entries are pre-encoded put commands (encoding is the proposer's cost, not apply's); each
// apply() call gets one batch, i.e. one lmdb write transaction, as the runtime will do per Ready.
// Wall time includes waiting for the disk (lmdb) and for the CPU on a shared machine; puts per
// CPU-second is the cost of apply itself.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openKvState } from './open.ts';
import { EntryFeed } from './testing.ts';
import type { AppliedEntry } from '../types.ts';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '200000' },
    batch: { type: 'string', default: '100' },
    'value-bytes': { type: 'string', default: '128' },
    keys: { type: 'string', default: '50000' },
    backend: { type: 'string', default: 'both' },
  },
});
const entryCount = Number(values.entries);
const batchSize = Number(values.batch);
const valueBytes = Number(values['value-bytes']);
const keySpace = Number(values.keys);

function makeEntries(): AppliedEntry[] {
  const feed = new EntryFeed();
  const value = new Uint8Array(valueBytes).fill(0x61);
  const entries: AppliedEntry[] = [];
  for (let index = 0; index < entryCount; index++) {
    // A multiplicative hash spreads the keys, so inserts land all over the B-trees.
    const key = Buffer.from(`user/${((index * 2654435761) >>> 0) % keySpace}`);
    entries.push(feed.command({ type: 'put', key, value }));
  }
  return entries;
}

async function measure(backend: 'lmdb' | 'memory', entries: AppliedEntry[]): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'cairn-bench-apply-'));
  const node = openKvState(backend === 'lmdb' ? { path: directory } : {});
  try {
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    for (let start = 0; start < entries.length; start += batchSize) node.state.apply(entries.slice(start, start + batchSize));
    const appliedMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    await node.state.flushed();
    const flushedMs = performance.now() - started;
    const perSecond = Math.round((entries.length / appliedMs) * 1000);
    const perCpuSecond = Math.round((entries.length / cpuMs) * 1000);
    console.log(`${backend.padEnd(6)} ${entries.length} puts of ${valueBytes} B in batches of ${batchSize}: ${perSecond} puts/s wall (${appliedMs.toFixed(0)} ms; durable after ${flushedMs.toFixed(0)} ms), ${perCpuSecond} puts per CPU-second, revision ${node.kv.currentRevision()}`);
  } finally {
    await node.state.close();
    rmSync(directory, { recursive: true, force: true });
  }
}

const entries = makeEntries();
const backends = values.backend === 'both' ? (['lmdb', 'memory'] as const) : ([values.backend as 'lmdb' | 'memory'] as const);
for (const backend of backends) await measure(backend, entries);
