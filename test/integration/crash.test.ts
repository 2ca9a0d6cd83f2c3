// Crash test (issue 3, part 1): under write load, SIGKILL a random node at random moments several
// times, restart it each time, and check at the end that every acknowledged write is on every
// node and that each killed node rejoined. One seed decides the victims and the moments:
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

interface Load {
  readonly acknowledged: Map<string, string>;
  readonly attempted: Map<string, string>;
  stop: boolean;
}

async function writer(client: CairnClient, id: number, load: Load): Promise<void> {
  const startedAt = performance.now();
  for (let index = 0; !load.stop && load.attempted.size < WRITES_MAX && performance.now() - startedAt < LOAD_TIME_MAX_MS; index++) {
    const key = `crash/${id}/${String(index).padStart(5, '0')}`;
    const value = `${id}:${index}:${SEED}`;
    load.attempted.set(key, value);
    if (await write(client, key, value)) load.acknowledged.set(key, value);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe(`crash test: SIGKILL random nodes under write load (seed ${SEED})`, { timeout: 240_000 }, () => {
  let cluster: LocalCluster;

  before(async () => {
    cluster = await startLocalCluster({ nodes: 3, serveArgs: [...FAST_SERVE_FLAGS, '--snapshot-every-entries', '300', '--entries-kept-after-snapshot', '50'] });
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
    try {
      for (let round = 0; round < KILLS; round++) {
        await sleep(200 + random.nextInt(1000));
        const victim = 1 + random.nextInt(cluster.nodes().length);
        const wasLeader = (await cluster.status()).find((node) => node.id === victim)?.role === 'leader';
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
    process.stdout.write(`# seed ${SEED}: killed ${kills.join(', ')}; ${load.acknowledged.size} of ${load.attempted.size} writes acknowledged\n`);
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
