// Real processes, real faults: SIGKILL the leader of a 3-node cluster → a new leader serves
// writes within 10 s and no acknowledged write is lost (on the survivors, and on the killed node
// once restarted); a node restarted with a wiped data directory catches up by snapshot.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CairnClient } from '../../src/client/index.ts';
import type { LocalCluster } from '../../src/local/index.ts';
import { FAST_SERVE_FLAGS, assertHasAll, destroyLocalCluster, jsonOf, runCairn, startLocalCluster, write } from './helpers.ts';

const FAILOVER_BOUND_MS = 10_000;

describe('failover and recovery with real processes', { timeout: 180_000 }, () => {
  let cluster: LocalCluster;
  const acknowledged = new Map<string, string>();

  before(async () => {
    // A small snapshot interval, so a wiped node must be sent a snapshot (the log is compacted).
    cluster = await startLocalCluster({ nodes: 3, serveArgs: [...FAST_SERVE_FLAGS, '--snapshot-every-entries', '50', '--entries-kept-after-snapshot', '10'] });
  });

  after(async () => {
    await destroyLocalCluster(cluster);
  });

  test('SIGKILL the leader: a new leader serves writes within 10 s, nothing acknowledged is lost', async () => {
    const client = cluster.client({ timeoutMs: 5000 });
    try {
      for (let index = 0; index < 60; index++) if (await write(client, `f/${index}`, `v${index}`)) acknowledged.set(`f/${index}`, `v${index}`);
      // One write through the CLI, too.
      const viaCli = await runCairn(['kv', 'set', 'f/cli', 'from-cli', '--endpoints', cluster.endpoints().join(','), '--json']);
      assert.equal(viaCli.code, 0, viaCli.stderr);
      assert.ok(jsonOf(viaCli).revision > 0);
      acknowledged.set('f/cli', 'from-cli');
      assert.ok(acknowledged.size >= 60);

      const oldLeader = await cluster.waitForLeader();
      await cluster.killNode(oldLeader, 'SIGKILL');
      const killedAt = performance.now();
      let index = 1000;
      for (;;) {
        const key = `f/${index++}`;
        if (await write(client, key, 'after-kill')) {
          acknowledged.set(key, 'after-kill');
          break;
        }
        assert.ok(performance.now() - killedAt < FAILOVER_BOUND_MS, 'no write was acknowledged within 10 s of killing the leader');
      }
      const failoverMs = performance.now() - killedAt;
      assert.ok(failoverMs < FAILOVER_BOUND_MS, `failover took ${failoverMs} ms`);
      const newLeader = await cluster.waitForLeader();
      assert.notEqual(newLeader, oldLeader);
      for (let extra = 0; extra < 20; extra++) if (await write(client, `f/${index + extra}`, 'x')) acknowledged.set(`f/${index + extra}`, 'x');

      for (const node of cluster.nodes()) if (node.id !== oldLeader) await assertHasAll(cluster, node.id, acknowledged, 'f/');
      await cluster.startNode(oldLeader);
      await cluster.waitForReady([oldLeader]);
      await assertHasAll(cluster, oldLeader, acknowledged, 'f/');
    } finally {
      client.close();
    }
  });

  test('a node restarted with a wiped data directory catches up by snapshot', async () => {
    const client = cluster.client({ timeoutMs: 5000 });
    try {
      // Enough entries for several snapshots and compactions.
      for (let index = 0; index < 150; index++) if (await write(client, `w/${index}`, `v${index}`)) acknowledged.set(`w/${index}`, `v${index}`);
      const leader = await cluster.waitForLeader();
      const victim = cluster.nodes().find((node) => node.id !== leader)!.id;
      await cluster.restartNode(victim, { wipe: true, timeoutMs: 30_000 });
      await cluster.waitForReady([victim]);
      await assertHasAll(cluster, victim, acknowledged, '');
      const metrics = await client.metrics(cluster.node(victim).client);
      const restored = Number(/^cairn_raft_snapshots_restored_total (\d+)/m.exec(metrics)?.[1] ?? 0);
      assert.ok(restored >= 1, `node ${victim} restored ${restored} snapshots (expected a snapshot, not a log replay)`);
      const status = (await client.status()).config;
      assert.deepEqual(status.voters, [1, 2, 3]);
      // It serves the data: a linearizable read through it.
      const pinned = new CairnClient({ endpoints: [cluster.node(victim).client], timeoutMs: 5000 });
      try {
        assert.equal((await pinned.get('w/149'))?.value.toString(), 'v149');
      } finally {
        pinned.close();
      }
    } finally {
      client.close();
    }
  });
});
