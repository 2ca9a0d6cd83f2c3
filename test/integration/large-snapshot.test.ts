// A node restarted with a wiped data directory catches up by snapshot when the state is larger
// than a peer frame (64 MiB): the leader's snapshot then travels in parts. Before, it was dropped
// as oversized on every retry and the node never caught up (a minute of Kafka produce made a
// 192 MB state here).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LocalCluster } from '../../src/local/index.ts';
import { FAST_SERVE_FLAGS, assertHasAll, destroyLocalCluster, startLocalCluster } from './helpers.ts';

const MAX_FRAME_BYTES = 64 * 1024 * 1024;
const VALUE_BYTES = 1_000_000;
const KEYS = 80;
const WRITERS = 4;

/** A value that differs in every key and throughout (a shifted or mixed-up part would show). */
function valueOf(index: number): string {
  const unit = `${index.toString(36)}-${'abcdefghijklmnopqrstuvwxyz'.slice(index % 26)}|`;
  return unit.repeat(Math.ceil(VALUE_BYTES / unit.length)).slice(0, VALUE_BYTES);
}

describe('a snapshot larger than a peer frame', { timeout: 240_000 }, () => {
  let cluster: LocalCluster;

  before(async () => {
    // Frequent compaction, so the wiped node cannot catch up from the log.
    cluster = await startLocalCluster({ nodes: 3, serveArgs: [...FAST_SERVE_FLAGS, '--snapshot-every-bytes', '16MiB', '--bytes-kept-after-snapshot', '1MiB'] });
  });

  after(async () => {
    await destroyLocalCluster(cluster);
  });

  test('a wiped node catches up from a snapshot of more than 64 MiB', async () => {
    const client = cluster.client({ timeoutMs: 20_000 });
    const acknowledged = new Map<string, string>();
    try {
      let next = 0;
      await Promise.all(Array.from({ length: WRITERS }, async () => {
        for (let index = next++; index < KEYS; index = next++) {
          await client.put(`big/${index}`, valueOf(index));
          acknowledged.set(`big/${index}`, valueOf(index));
        }
      }));
      assert.ok(KEYS * VALUE_BYTES > MAX_FRAME_BYTES, 'the state must not fit one frame');

      const leader = await cluster.waitForLeader();
      const victim = cluster.nodes().find((node) => node.id !== leader)!.id;
      await cluster.restartNode(victim, { wipe: true, timeoutMs: 90_000 });
      await cluster.waitForReady([victim]);
      await assertHasAll(cluster, victim, acknowledged, 'big/');
      const metrics = await client.metrics(cluster.node(victim).client);
      const restored = Number(/^cairn_raft_snapshots_restored_total (\d+)/m.exec(metrics)?.[1] ?? 0);
      assert.ok(restored >= 1, `node ${victim} restored ${restored} snapshots (expected one, not a log replay)`);
      const leaderMetrics = await client.metrics(cluster.node(await cluster.waitForLeader()).client);
      const sent = Number(/^cairn_raft_snapshots_sent_total (\d+)/m.exec(leaderMetrics)?.[1] ?? 0);
      assert.ok(sent >= 1, `the leader counts ${sent} snapshots sent`);
      assert.deepEqual((await client.status()).config.voters, [1, 2, 3]);
    } finally {
      client.close();
    }
  });
});
