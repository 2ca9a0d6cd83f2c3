// Crash test (issue 3, part 1): under write load, SIGKILL a random node at random moments several
// times, restart it each time, and check at the end that every acknowledged write is on every
// node and that each killed node rejoined. WAL segments are small (1 MiB) and values 2 KiB, so
// segments roll over, are compacted and are reused while nodes are killed: the test checks that
// some were reused. One seed decides the victims and the moments:
// CAIRN_CRASH_SEED=<n> replays a run's schedule (the load's timing still varies).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrng } from '../../src/check/prng.ts';
import type { CairnClient } from '../../src/client/index.ts';
import type { LocalCluster } from '../../src/local/index.ts';
import { FAST_SERVE_FLAGS, assertHasAll, destroyLocalCluster, startLocalCluster, write } from './helpers.ts';

const SEED = Number(process.env['CAIRN_CRASH_SEED'] ?? 7_2024);
const KILLS = 5;
const WRITERS = 4;
// The load runs until the last node has been restarted; these only bound a run that goes wrong.
const WRITES_MAX = 30_000;
const LOAD_TIME_MAX_MS = 90_000;
const VALUE_BYTES = 2048;

interface Load {
  readonly acknowledged: Map<string, string>;
  readonly attempted: Map<string, string>;
  stop: boolean;
}

async function writer(client: CairnClient, id: number, load: Load): Promise<void> {
  const startedAt = performance.now();
  for (let index = 0; !load.stop && load.attempted.size < WRITES_MAX && performance.now() - startedAt < LOAD_TIME_MAX_MS; index++) {
    const key = `crash/${id}/${String(index).padStart(5, '0')}`;
    const value = `${id}:${index}:${SEED}:`.padEnd(VALUE_BYTES, 'v');
    load.attempted.set(key, value);
    if (await write(client, key, value)) load.acknowledged.set(key, value);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The node's cairn_wal_segments_recycled_total (0 when it cannot be read). */
async function recycledSegments(cluster: LocalCluster, id: number): Promise<number> {
  const node = cluster.nodes().find((candidate) => candidate.id === id)!;
  try {
    const text = await (await fetch(`http://${node.client}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
    return Number(/^cairn_wal_segments_recycled_total (\d+)$/m.exec(text)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

describe(`crash test: SIGKILL random nodes under write load (seed ${SEED})`, { timeout: 240_000 }, () => {
  let cluster: LocalCluster;

  before(async () => {
    cluster = await startLocalCluster({
      nodes: 3, serveArgs: [...FAST_SERVE_FLAGS, '--snapshot-every-entries', '300', '--entries-kept-after-snapshot', '50', '--wal-segment-max-bytes', String(1024 * 1024)],
    });
  });

  after(async () => {
    await destroyLocalCluster(cluster);
  });

  test('every acknowledged write survives and every killed node rejoins', async () => {
    const random = createPrng(SEED);
    const load: Load = { acknowledged: new Map(), attempted: new Map(), stop: false };
    const clients = Array.from({ length: WRITERS }, () => cluster.client({ timeoutMs: 4000 }));
    const writers = clients.map((client, id) => writer(client, id, load));
    const kills: string[] = [];
    // Counters restart with each process: read the victim's before it dies, everyone's at the end.
    let segmentsRecycled = 0;
    try {
      for (let round = 0; round < KILLS; round++) {
        await sleep(200 + random.nextInt(1000));
        const victim = 1 + random.nextInt(cluster.nodes().length);
        const wasLeader = (await cluster.status()).find((node) => node.id === victim)?.role === 'leader';
        segmentsRecycled += await recycledSegments(cluster, victim);
        await cluster.killNode(victim, 'SIGKILL');
        const ackedAtKill = load.acknowledged.size;
        await sleep(random.nextInt(600));
        await cluster.startNode(victim);
        await cluster.waitForReady([victim], 30_000);
        kills.push(`node ${victim}${wasLeader ? ' (leader)' : ''} after ${ackedAtKill} acks`);
      }
    } finally {
      load.stop = true;
      await Promise.all(writers);
      for (const client of clients) client.close();
    }
    for (const node of cluster.nodes()) segmentsRecycled += await recycledSegments(cluster, node.id);
    process.stdout.write(`# seed ${SEED}: killed ${kills.join(', ')}; ${load.acknowledged.size} of ${load.attempted.size} writes acknowledged; ${segmentsRecycled} WAL segments reused\n`);
    assert.ok(segmentsRecycled > 0, 'no WAL segment was reused: the test did not exercise recycling');
    assert.ok(load.acknowledged.size >= 100, `too few writes were acknowledged (${load.acknowledged.size}) for the test to mean anything`);

    await cluster.waitForReady(undefined, 30_000);
    const statuses = await cluster.status();
    for (const node of statuses) {
      assert.equal(node.process, 'ours', `node ${node.id} runs`);
      assert.equal(node.membership, 'voter', `node ${node.id} is a voter again`);
    }
    for (const node of cluster.nodes()) {
      const present = await assertHasAll(cluster, node.id, load.acknowledged, 'crash/');
      const invented = [...present].filter(([key, value]) => load.attempted.get(key) !== value);
      assert.deepEqual(invented, [], `node ${node.id} holds values nobody wrote`);
    }
  });
});
