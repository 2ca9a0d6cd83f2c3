// Apply throughput of the log state machine (a figure, not a test):
//   node src/state/log/bench-apply.ts [--entries 20000] [--batch 64] [--records 16] [--record-bytes 1024]
//        [--partitions 8] [--idempotent] [--backend lmdb|memory|both]
// Each entry is one append command carrying one record batch (Produce v3+: one batch per
// partition) of `records` records of `record-bytes` bytes, round-robin over the partitions;
// entries are pre-encoded (encoding is the proposer's cost) and each apply() call gets `batch`
// entries, i.e. one write transaction, as the runtime does per Ready. MB/s counts batch bytes.
// Wall time includes waiting for the disk (lmdb) and for the CPU on a shared machine; the
// per-CPU-second figure is the cost of apply itself.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildRecordBatch } from '../../protocol/kafka/record-batch.ts';
import type { AppliedEntry } from '../types.ts';
import { openLogState } from './open.ts';
import { LogEntryFeed } from './testing.ts';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '64' },
    records: { type: 'string', default: '16' },
    'record-bytes': { type: 'string', default: '1024' },
    partitions: { type: 'string', default: '8' },
    idempotent: { type: 'boolean', default: false },
    backend: { type: 'string', default: 'both' },
  },
});
const entryCount = Number(values.entries);
const batchSize = Number(values.batch);
const recordCount = Number(values.records);
const recordBytes = Number(values['record-bytes']);
const partitionCount = Number(values.partitions);

function makeEntries(): { entries: AppliedEntry[]; bytes: number } {
  const feed = new LogEntryFeed();
  const entries: AppliedEntry[] = [feed.command({ type: 'create-topics', topics: [{ name: 'bench', partitions: partitionCount, replicationFactor: 3 }] })];
  const sequences = new Array<number>(partitionCount).fill(0);
  let bytes = 0;
  for (let index = 0; index < entryCount; index++) {
    const partition = index % partitionCount;
    const records = Array.from({ length: recordCount }, (_, offset) => ({ key: Buffer.from(`key-${index}-${offset}`), value: Buffer.alloc(recordBytes, index), timestampDelta: BigInt(offset) }));
    const producer = values.idempotent ? { producerId: 1n, producerEpoch: 0, baseSequence: sequences[partition]! } : {};
    sequences[partition]! += recordCount;
    const batch = buildRecordBatch({ records, baseTimestamp: BigInt(1_700_000_000_000 + index), ...producer });
    bytes += batch.length;
    entries.push(feed.command({ type: 'append', timestampMs: 1_700_000_000_000 + index, partitions: [{ topic: 'bench', partition, records: batch }] }));
  }
  return { entries, bytes };
}

async function measure(backend: 'lmdb' | 'memory', entries: AppliedEntry[], bytes: number): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'cairn-log-bench-'));
  const node = openLogState(backend === 'lmdb' ? { path: directory } : {});
  try {
    node.state.apply(entries.slice(0, 1));
    const appends = entries.slice(1);
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    for (let start = 0; start < appends.length; start += batchSize) node.state.apply(appends.slice(start, start + batchSize));
    const appliedMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    await node.state.flushed();
    const flushedMs = performance.now() - started;
    const megabytes = bytes / 1e6;
    const hw = Array.from({ length: partitionCount }, (_, partition) => node.log.partitionInfo('bench', partition)!.highWatermark).reduce((a, b) => a + b, 0);
    console.log(
      `${backend.padEnd(6)} ${appends.length} batches of ${recordCount} x ${recordBytes} B (${(bytes / appends.length / 1024).toFixed(1)} KiB) in applies of ${batchSize}: `
      + `${(megabytes / (appliedMs / 1000)).toFixed(0)} MB/s wall, ${Math.round((appends.length * recordCount) / (appliedMs / 1000))} records/s `
      + `(${appliedMs.toFixed(0)} ms; durable after ${flushedMs.toFixed(0)} ms), ${(megabytes / (cpuMs / 1000)).toFixed(0)} MB per CPU-second, ${hw} records stored`,
    );
  } finally {
    await node.state.close();
    rmSync(directory, { recursive: true, force: true });
  }
}

const { entries, bytes } = makeEntries();
const backends = values.backend === 'both' ? (['lmdb', 'memory'] as const) : ([values.backend as 'lmdb' | 'memory'] as const);
for (const backend of backends) await measure(backend, entries, bytes);
