// A real 3-node cluster in this process (TCP on 127.0.0.1, files on disk): every HTTP route is
// exercised through the client against EVERY node, leader and followers alike.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CairnClientError } from './errors.ts';
import { TestCluster, waitFor } from './testing/cluster.ts';
import type { CairnClient } from './cairn-client.ts';

const cluster = new TestCluster();

describe('a 3-node cluster through every node', () => {
  before(async () => {
    await cluster.start(3);
  });
  after(async () => {
    await cluster.stop();
  });

  test('put, get, scan, delete through each node; linearizable reads see the latest write everywhere', async () => {
    const nodes = [...cluster.nodes.values()];
    for (const node of nodes) {
      const client = cluster.client([node.clientAddress()]);
      const id = node.nodeId();
      const put = await client.put(`kv/${id}/a`, `value-${id}`);
      assert.ok(put.revision > 0);
      const replaced = await client.put(`kv/${id}/a`, `value-${id}-2`, { prevKv: true });
      assert.equal(replaced.prevKv?.value.toString(), `value-${id}`);
      assert.equal(replaced.revision, put.revision + 1 + 0 * id);
      await client.put(`kv/${id}/b`, 'b');
      for (const reader of nodes) {
        const readerClient = cluster.client([reader.clientAddress()]);
        const got = await readerClient.get(`kv/${id}/a`);
        assert.equal(got?.value.toString(), `value-${id}-2`, `node ${reader.nodeId()} reads node ${id}'s write`);
        assert.equal(got?.version, 2);
      }
      assert.equal(await client.get(`kv/${id}/missing`), undefined);
      const scan = await client.scan({ prefix: `kv/${id}/` });
      assert.deepEqual(scan.kvs.map((kv) => kv.key.toString()), [`kv/${id}/a`, `kv/${id}/b`]);
      const count = await client.scan({ prefix: `kv/${id}/`, countOnly: true });
      assert.equal(count.count, 2);
      const removed = await client.delete(`kv/${id}/`, { prefix: true, prevKv: true });
      assert.equal(removed.deleted, 2);
      assert.equal(removed.prevKvs?.length, 2);
      assert.equal((await client.scan({ prefix: `kv/${id}/` })).kvs.length, 0);
    }
  });

  test('serializable reads, reads at a past revision, binary keys and values, paging', async () => {
    const follower = cluster.followers()[0]!;
    const client = cluster.client([follower.clientAddress()]);
    const key = Uint8Array.of(0, 1, 0xff, 0x2f, 0x25, 0x3f, 0x26);
    const value = Uint8Array.of(0xc3, 0x28, 0, 255);
    const first = await client.put(key, value);
    await client.put(key, 'second');
    const past = await client.get(key, { revision: first.revision });
    assert.deepEqual([...past!.value], [...value]);
    assert.deepEqual([...past!.key], [...key]);
    await waitFor(async () => (await client.get(key, { consistency: 'serializable' }))?.value.toString() === 'second', 'the follower to apply');
    for (let index = 0; index < 25; index++) await client.put(`page/${String(index).padStart(2, '0')}`, String(index));
    const first10 = await client.scan({ prefix: 'page/', limit: 10 });
    assert.equal(first10.kvs.length, 10);
    assert.equal(first10.more, true);
    const all: string[] = [];
    for await (const kv of client.scanAll({ prefix: 'page/', limit: 7 })) all.push(kv.key.toString());
    assert.equal(all.length, 25);
    assert.deepEqual(all, [...all].sort());
    const range = await client.scan({ start: 'page/05', end: 'page/08', keysOnly: true });
    assert.deepEqual(range.kvs.map((kv) => kv.key.toString()), ['page/05', 'page/06', 'page/07']);
    assert.equal(range.kvs[0]!.value.length, 0);
  });

  test('transactions, compare-and-swap and compare-and-delete through each node', async () => {
    for (const node of cluster.nodes.values()) {
      const client = cluster.client([node.clientAddress()]);
      const key = `cas/${node.nodeId()}`;
      const created = await client.cas(key, undefined, 'one');
      assert.equal(created.succeeded, true);
      const refused = await client.cas(key, undefined, 'again');
      assert.equal(refused.succeeded, false);
      assert.equal(refused.kv?.value.toString(), 'one');
      const swapped = await client.cas(key, 'one', 'two');
      assert.equal(swapped.succeeded, true);
      assert.equal(swapped.prevKv?.value.toString(), 'one');
      const byRevision = await client.casRevision(key, swapped.revision, 'three');
      assert.equal(byRevision.succeeded, true);
      assert.equal((await client.casRevision(key, swapped.revision, 'four')).succeeded, false);
      const txn = await client.txn({
        compare: [{ key, target: 'value', value: 'three' }, { key, target: 'version', operator: '>', value: 2 }],
        success: [{ type: 'put', key: `${key}/mirror`, value: 'm' }, { type: 'range', prefix: `${key}` }],
        failure: [{ type: 'delete', key }],
      });
      assert.equal(txn.succeeded, true);
      const range = txn.results[1]!;
      assert.equal(range.type, 'range');
      assert.deepEqual(range.type === 'range' ? range.kvs.map((kv) => kv.key.toString()) : [], [key, `${key}/mirror`]);
      assert.equal((await client.compareAndDelete(key, 'wrong')).succeeded, false);
      const deleted = await client.compareAndDelete(key, 'three');
      assert.equal(deleted.succeeded, true);
      assert.equal(await client.get(key), undefined);
    }
  });

  test('errors: reserved keys 403, too large 413, bad input 400, all as {code, message}', async () => {
    const client = cluster.client([cluster.followers()[0]!.clientAddress()]);
    await assert.rejects(client.put('_cairn/members', 'x'), (error: CairnClientError) => error.status === 403 && error.code === 'reserved-key');
    await assert.rejects(client.get('_cairn/anything'), (error: CairnClientError) => error.status === 403);
    await assert.rejects(client.put('big', Buffer.alloc(1024 * 1024 + 1)), (error: CairnClientError) => error.status === 413 && error.code === 'value-too-large');
    await assert.rejects(client.put('k'.repeat(4097), 'v'), (error: CairnClientError) => error.status === 413 && error.code === 'key-too-large');
    await assert.rejects(client.put(new Uint8Array(0), 'v'), (error: CairnClientError) => error.status === 400 && error.code === 'key-empty');
    await assert.rejects(client.get('k', { revision: 10_000_000 }), (error: CairnClientError) => error.status === 400 && error.code === 'future-revision');
    await assert.rejects(client.scan({ start: 'b', end: 'a' }), (error: CairnClientError) => error.status === 400 && error.code === 'range-invalid');
    await assert.rejects(client.put('k', 'v', { lease: 987654321 }), (error: CairnClientError) => error.status === 404 && error.code === 'lease-not-found');
    const maxValue = await client.put('max-value', Buffer.alloc(1024 * 1024, 7));
    assert.ok(maxValue.revision > 0);
  });

  test('leases: grant, keep-alive (forwarded to the leader), get, list, revoke deletes attached keys', async () => {
    for (const node of cluster.nodes.values()) {
      const client = cluster.client([node.clientAddress()]);
      const lease = await client.grantLease(30);
      await client.put(`leased/${node.nodeId()}`, 'x', { lease: lease.id });
      const renewed = await client.keepAliveLease(lease.id);
      assert.equal(renewed.ttlSeconds, 30);
      const info = await client.lease(lease.id, { keys: true });
      assert.equal(info?.ttlSeconds, 30);
      assert.ok(info!.remainingMs !== null && info!.remainingMs > 25_000);
      assert.deepEqual(info?.keyBytes?.map((key) => key.toString()), [`leased/${node.nodeId()}`]);
      assert.ok((await client.leases()).some((item) => item.id === lease.id));
      const revoked = await client.revokeLease(lease.id);
      assert.equal(revoked.deleted, 1);
      assert.equal(await client.get(`leased/${node.nodeId()}`), undefined);
      assert.equal(await client.lease(lease.id), undefined);
      await assert.rejects(client.keepAliveLease(lease.id), (error: CairnClientError) => error.code === 'lease-not-found');
    }
  });

  test('a lease with a short TTL expires and its keys disappear on every node', async () => {
    const client = cluster.client([cluster.followers()[0]!.clientAddress()]);
    const lease = await client.grantLease(1);
    await client.put('ephemeral/a', '1', { lease: lease.id });
    await client.put('ephemeral/b', '2', { lease: lease.id });
    await waitFor(async () => (await client.scan({ prefix: 'ephemeral/' })).kvs.length === 0, 'the lease to expire', 8000);
    for (const node of cluster.nodes.values()) {
      assert.equal(await cluster.client([node.clientAddress()]).get('ephemeral/a'), undefined);
    }
  });

  test('cluster status, health, ready and metrics through each node', async () => {
    for (const node of cluster.nodes.values()) {
      const client = cluster.client([node.clientAddress()]);
      const status = await client.status();
      assert.equal(status.members.length, 3);
      assert.equal(status.node.nodeId, node.nodeId());
      assert.deepEqual(status.config.voters, [1, 2, 3]);
      for (const member of status.members) {
        assert.equal(member.membership, 'voter');
        assert.equal(member.healthy, true, `member ${member.id} healthy: ${member.statusError ?? ''}`);
        assert.ok(member.progress !== undefined, 'the leader\'s view of progress is merged in');
        assert.equal(member.status?.clusterId, status.clusterId);
      }
      assert.equal(status.members.filter((member) => member.isLeader).length, 1);
      assert.equal((await client.health()).status, 'ok');
      const ready = await client.ready();
      assert.equal(ready.ready, true);
      const metrics = await client.metrics();
      assert.match(metrics, /^cairn_raft_term \d+$/m);
    }
  });

  test('a follower answers keep-alive with the leader\'s answer; a forwarded request never bounces', async () => {
    const follower = cluster.followers()[0]!;
    const response = await fetch(`http://${follower.clientAddress()}/v1/leases/12345/keep-alive`, { method: 'POST', headers: { 'x-cairn-forwarded-by': '9' } });
    assert.equal(response.status, 421);
    const body = await response.json() as { code: string; leaderEndpoint?: string };
    assert.equal(body.code, 'not-leader');
    assert.equal(body.leaderEndpoint, cluster.leader()!.clientAddress());
  });

  test('a client given only followers and a dead endpoint still writes (rotation, forwarding)', async () => {
    const endpoints = ['127.0.0.1:1', ...cluster.followers().map((node) => node.clientAddress())];
    const client: CairnClient = cluster.client(endpoints);
    for (let index = 0; index < 5; index++) await client.put(`rotate/${index}`, 'x');
    assert.equal((await client.scan({ prefix: 'rotate/', countOnly: true })).count, 5);
    await assert.rejects(cluster.client(['127.0.0.1:1'], { timeoutMs: 300 }).get('x'), (error: CairnClientError) => error.code === 'unavailable' || error.code === 'timeout');
  });

  // Last: it stops two of the three nodes.
  test('without a quorum, a write fails with an unknown outcome and is not retried; reads fail cleanly', async () => {
    const leader = cluster.leader()!;
    for (const follower of cluster.followers()) await follower.stop();
    const client = cluster.client([leader.clientAddress()], { timeoutMs: 600 });
    const startedAt = performance.now();
    await assert.rejects(client.put('no-quorum', 'x'), (error: CairnClientError) => error.outcome === 'unknown' && error.code === 'timeout');
    assert.ok(performance.now() - startedAt < 1500, 'the write was not retried past its deadline');
    await assert.rejects(client.get('no-quorum'), (error: CairnClientError) => error.outcome === 'failed' && ['timeout', 'unavailable', 'no-leader'].includes(error.code));
    assert.equal((await client.ready()).ready, false);
  });
});
