// `npm run bench:core [-- --entries N --batch B --size BYTES --json]`
// Entries committed per second by a 3-node cluster of the Raft core alone: in-memory storage,
// messages delivered in-process, no faults. This measures the consensus logic itself (what the
// runtime, disks and network add on top is measured by `cairn bench`). One core, single thread.
import { MemoryLogStorage, RawNode } from '../src/core/index.ts';
import type { Message } from '../src/core/index.ts';
import { SeededRandom } from '../src/util/random.ts';
import { integerOption, parseBenchArgs } from './args.ts';

const values = parseBenchArgs('npm run bench:core -- [options]\nEntries committed per second by a 3-node cluster of the Raft core alone (in memory, one thread).', {
  entries: { type: 'string', default: '2000000', description: 'entries to commit' },
  batch: { type: 'string', default: '256', description: 'entries proposed at once' },
  size: { type: 'string', default: '128', description: 'bytes per entry' },
  json: { type: 'boolean', default: false, description: 'print the figures as JSON too' },
});
const entriesWanted = integerOption('entries', values.entries);
const batchSize = integerOption('batch', values.batch);
const entryBytes = integerOption('size', values.size, 0);

interface BenchNode {
  readonly node: RawNode;
  readonly storage: MemoryLogStorage;
  applied: number;
}

function createCluster(): BenchNode[] {
  const voters = [1, 2, 3];
  return voters.map((id) => {
    const storage = new MemoryLogStorage();
    storage.applySnapshot({ metadata: { index: 1, term: 1, confState: { voters, learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } }, data: new Uint8Array(0) });
    storage.setHardState({ term: 1, vote: 0, commit: 1 });
    const random = new SeededRandom(id);
    const node = new RawNode({ id, storage, random: () => random.next(), inflightMessagesMax: 1024, inflightBytesMax: 0, appendBytesPerMessageMax: 4 * 1024 * 1024 });
    return { node, storage, applied: 0 };
  });
}

/** One round: every node persists and sends its Ready, then every message is delivered. */
function round(cluster: BenchNode[], inbox: Message[]): void {
  for (const member of cluster) {
    if (!member.node.hasReady()) continue;
    const ready = member.node.ready();
    if (ready.snapshot !== undefined) member.storage.applySnapshot(ready.snapshot);
    member.storage.append(ready.entries);
    if (ready.hardState !== undefined) member.storage.setHardState(ready.hardState);
    for (const message of ready.messages) inbox.push(message);
    member.applied += ready.committedEntries.length;
    member.node.advance();
    // Compact like an application would, keeping memory bounded over millions of entries.
    const applied = member.node.status().applied;
    if (applied - member.storage.firstIndex() > 200_000) {
      member.storage.createSnapshot(applied, member.node.status().config, new Uint8Array(0));
      member.storage.compact(applied - 1000);
    }
  }
  const messages = inbox.splice(0, inbox.length);
  for (const message of messages) cluster[message.to - 1]!.node.step(message);
}

function settle(cluster: BenchNode[]): void {
  const inbox: Message[] = [];
  for (let rounds = 0; rounds < 100; rounds++) round(cluster, inbox);
}

const cluster = createCluster();
cluster[0]!.node.campaign();
settle(cluster);
const leader = cluster[0]!;
if (leader.node.status().role !== 'leader') throw new Error('node 1 did not become leader');

const payload = new Uint8Array(entryBytes).fill(7);
const batch = Array.from({ length: batchSize }, () => payload);
const inbox: Message[] = [];
const appliedAtStart = leader.applied;
const startedAt = performance.now();
let proposed = 0;
// Keep a bounded amount in flight: propose a batch per round while under the window.
while (leader.applied - appliedAtStart < entriesWanted) {
  if (proposed - (leader.applied - appliedAtStart) < batchSize * 8 && proposed < entriesWanted) {
    const result = leader.node.proposeBatch(batch);
    if (!result.ok) throw new Error(`proposal refused: ${result.reason}`);
    proposed += batchSize;
  }
  round(cluster, inbox);
}
const elapsedMs = performance.now() - startedAt;
const committed = leader.applied - appliedAtStart;
const perSecond = Math.round((committed / elapsedMs) * 1000);
const summary = { entries: committed, entryBytes, batch: batchSize, elapsedMs: Math.round(elapsedMs), entriesPerSecond: perSecond, node: process.version };
console.log(`${committed} entries of ${entryBytes} B committed by a 3-node in-memory cluster in ${(elapsedMs / 1000).toFixed(2)} s: ${perSecond.toLocaleString('en-US')} entries/s (batches of ${batchSize}, one core)`);
if (values.json) console.log(JSON.stringify(summary));
