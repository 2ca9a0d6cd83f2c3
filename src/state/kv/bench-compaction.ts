// What physical compaction costs an apply (a figure, not a test):
//   node src/state/kv/bench-compaction.ts [--puts 150000] [--keys 1000] [--batch 20]
// A node's state (overlay over lmdb) takes `puts` puts of 256 B over `keys` keys in batches of
// `batch` entries (one per Ready), then a compact command leaving 100,000 revisions, then the
// same number of puts again while compaction walks the history; apply CPU per put before and
// during, and how many history entries it examined.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openNodeState } from '../open.ts';
import { EntryFeed } from './testing.ts';
import type { AppliedEntry } from '../types.ts';

const { values } = parseArgs({ options: { puts: { type: 'string', default: '150000' }, keys: { type: 'string', default: '1000' }, batch: { type: 'string', default: '20' } } });
const puts = Number(values.puts);
const keys = Number(values.keys);
const batch = Number(values.batch);
const RETAIN = 100_000;

const feed = new EntryFeed();
const value = new Uint8Array(256).fill(0x61);
const putEntries = (count: number): AppliedEntry[] => Array.from({ length: count }, (_, index) => feed.command({ type: 'put', key: Buffer.from(`bench/${index % keys}`), value }));

const directory = mkdtempSync(join(tmpdir(), 'cairn-bench-compaction-'));
const node = openNodeState({ path: directory });
async function applyAll(entries: AppliedEntry[]): Promise<number> {
  const before = process.cpuUsage();
  for (let start = 0; start < entries.length; start += batch) {
    node.state.apply(entries.slice(start, start + batch));
    if (node.state.applyWouldWait()) await node.state.flushed();
    if ((start / batch) % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  const cpu = process.cpuUsage(before);
  return (cpu.user + cpu.system) / 1000 / entries.length;
}
try {
  const first = await applyAll(putEntries(puts));
  const second = await applyAll(putEntries(puts));
  const target = node.kv.currentRevision() - RETAIN;
  node.state.apply([feed.command({ type: 'compact', revision: target })]);
  const during = await applyAll(putEntries(puts));
  console.log(`puts of 256 B over ${keys} keys, batches of ${batch}: apply CPU per put ${(first * 1000).toFixed(1)} / ${(second * 1000).toFixed(1)} us without compaction, ${(during * 1000).toFixed(1)} us while compacting to revision ${target} (${node.kv.compactRevision()})`);
} finally {
  await node.state.close();
  rmSync(directory, { recursive: true, force: true });
}
