// Leader failover time: writers keep writing through every node; the leader is SIGKILLed; the
// time from the kill to the next acknowledged write is one sample. The killed node is restarted
// and the cluster allowed to settle before the next kill. Used by kv-vs-etcd.ts, or on its own:
//   node bench/failover.ts [--kills 10] [--json]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CairnClient } from '../src/client/index.ts';
import { LocalCluster, findFreeBasePort } from '../src/local/index.ts';
import { integerOption, parseBenchArgs } from './args.ts';

export interface FailoverResult {
  readonly samplesMs: number[];
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

const WRITERS = 4;

async function currentLeader(client: CairnClient): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const status = await client.status().catch(() => undefined);
    if (status !== undefined && status.leaderId > 0 && status.config.voters.length === 3) return status.leaderId;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('no leader with 3 voters within 10 s');
}

/** One kill: returns the milliseconds from the SIGKILL to the first write acknowledged after it. */
async function oneFailover(cluster: LocalCluster, sample: number): Promise<number> {
  const admin = cluster.client();
  const writer = new CairnClient({ endpoints: cluster.endpoints(), timeoutMs: 2000, maxAttempts: 50, retryBaseMs: 10, retryMaxMs: 50 });
  try {
    const leader = await currentLeader(admin);
    let killedAt = Number.POSITIVE_INFINITY;
    let deadAt = Number.POSITIVE_INFINITY;
    let firstAckAfterKill = Number.POSITIVE_INFINITY;
    let running = true;
    const workers = Array.from({ length: WRITERS }, async (_, worker) => {
      for (let sequence = 0; running; sequence++) {
        // Only a write sent once the old leader is gone counts: one in flight at the kill may
        // have been acknowledged by the old leader in its last moments.
        const sentAt = performance.now();
        try {
          await writer.put(`failover/${sample}/${worker}`, String(sequence));
          const now = performance.now();
          if (sentAt >= deadAt && now < firstAckAfterKill) firstAckAfterKill = now;
        } catch {
          // a write in flight on the killed leader fails or ends unknown; the next one goes elsewhere
        }
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    killedAt = performance.now();
    await cluster.killNode(leader, 'SIGKILL');
    deadAt = performance.now();
    const deadline = killedAt + 30_000;
    while (firstAckAfterKill === Number.POSITIVE_INFINITY && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    running = false;
    await Promise.all(workers);
    if (firstAckAfterKill === Number.POSITIVE_INFINITY) throw new Error(`no write was acknowledged within 30 s after killing leader ${leader}`);
    await cluster.startNode(leader);
    await cluster.waitForReady();
    return firstAckAfterKill - killedAt;
  } finally {
    writer.close();
    admin.close();
  }
}

export async function measureFailover(cluster: LocalCluster, kills: number, note: (text: string) => void = () => {}): Promise<FailoverResult> {
  const samplesMs: number[] = [];
  for (let sample = 0; sample < kills; sample++) {
    const milliseconds = await oneFailover(cluster, sample);
    samplesMs.push(milliseconds);
    note(`  kill ${sample + 1}/${kills}: next acknowledged write after ${milliseconds.toFixed(0)} ms`);
  }
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const at = (quantile: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(quantile * sorted.length) - 1)]!;
  return { samplesMs, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted[sorted.length - 1]! };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const values = parseBenchArgs('node bench/failover.ts [options]\nLeader failover time of a local 3-node cluster: SIGKILL the leader, time the next acknowledged write.', {
    kills: { type: 'string', default: '10', description: 'leader kills to measure' },
    json: { type: 'boolean', default: false, description: 'print the samples as JSON too' },
  });
  const kills = integerOption('kills', values.kills);
  const directory = mkdtempSync(join(tmpdir(), 'cairn-failover-'));
  const cluster = LocalCluster.create({ directory: join(directory, 'cluster'), nodes: 3, basePort: await findFreeBasePort(3) });
  let failed = true;
  try {
    await cluster.up();
    const result = await measureFailover(cluster, kills, (text) => process.stderr.write(`${text}\n`));
    console.log(`leader failover (SIGKILL -> next acknowledged write) over ${result.samplesMs.length} kills: p50 ${result.p50Ms.toFixed(0)} ms, p99 ${result.p99Ms.toFixed(0)} ms, max ${result.maxMs.toFixed(0)} ms`);
    if (values.json) console.log(JSON.stringify(result));
    failed = false;
  } finally {
    if (failed) {
      // Keep the node logs of a failed run for a look.
      await cluster.down();
      process.stderr.write(`kept: ${directory} (node logs under cluster/node-*/node.log)\n`);
    } else {
      await cluster.destroy();
      rmSync(directory, { recursive: true, force: true });
    }
  }
}
