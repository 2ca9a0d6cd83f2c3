// CairnNode's lifecycle on real disks and sockets: restart from the data directory keeps the
// data (and catches up on what it missed), a stopping leader hands over, identity and lock
// checks refuse what would corrupt a data directory, options are validated, and a node runs
// as its own process with a graceful SIGTERM.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { FAST_NODE_OPTIONS, TEST_SECRET, TestCluster, waitFor } from '../../client/testing/cluster.ts';
import { CairnNode } from './cairn-node.ts';
import { CairnNodeError, resolveNodeOptions } from './options.ts';

describe('restarts', () => {
  const cluster = new TestCluster();
  before(async () => {
    await cluster.start(3);
  });
  after(async () => {
    await cluster.stop();
  });

  test('a restarted node keeps its data and catches up on writes it missed', async () => {
    const client = cluster.client();
    for (let index = 0; index < 50; index++) await client.put(`restart/${index}`, String(index));
    const follower = cluster.followers()[0]!;
    const id = follower.nodeId();
    const peerListen = follower.peerAddress()!;
    const clientListen = follower.clientAddress();
    await follower.stop();
    assert.equal(existsSync(join(cluster.dataDir(id), 'LOCK')), false, 'stop releases the lock');
    const writer = cluster.client(cluster.endpoints());
    for (let index = 50; index < 60; index++) await writer.put(`restart/${index}`, String(index));
    const restarted = cluster.createNode(id, { peerListen, clientListen });
    await restarted.start();
    assert.equal(restarted.phase(), 'running');
    const local = cluster.client([restarted.clientAddress()]);
    await waitFor(async () => (await local.scan({ prefix: 'restart/', countOnly: true, consistency: 'serializable' })).count === 60, 'the restarted node to catch up');
    assert.equal((await local.get('restart/59'))?.value.toString(), '59');
  });

  test('a stopping leader hands leadership over; restarted, it rejoins as a follower', async () => {
    const leader = cluster.leader()!;
    const id = leader.nodeId();
    const restarted = await cluster.restart(id);
    const newLeader = cluster.leader();
    assert.ok(newLeader !== undefined && newLeader.nodeId() !== id, 'another node leads at once after the handover');
    await waitFor(() => restarted.raft?.leaderId === newLeader.nodeId(), 'the restarted node to follow');
    assert.equal(restarted.raft?.role, 'follower');
    assert.equal((await cluster.client([restarted.clientAddress()]).get('restart/0'))?.value.toString(), '0');
  });

  test('a data directory refuses another node id, another cluster id, and a second process', async () => {
    const follower = cluster.followers()[0]!;
    const id = follower.nodeId();
    const second = new CairnNode({ ...FAST_NODE_OPTIONS, dataDir: cluster.dataDir(id), clusterSecret: TEST_SECRET });
    await assert.rejects(second.start(), (error: CairnNodeError) => error.code === 'data-dir-locked' && /in use by process/.test(error.message));
    await follower.stop();
    const wrongId = new CairnNode({ ...FAST_NODE_OPTIONS, dataDir: cluster.dataDir(id), nodeId: id + 10, clusterSecret: TEST_SECRET });
    await assert.rejects(wrongId.start(), (error: CairnNodeError) => error.code === 'node-id-mismatch' && error.message.includes(`belongs to node ${id}`));
    const wrongCluster = new CairnNode({ ...FAST_NODE_OPTIONS, dataDir: cluster.dataDir(id), clusterId: 'other-cluster', clusterSecret: TEST_SECRET });
    await assert.rejects(wrongCluster.start(), (error: CairnNodeError) => error.code === 'cluster-id-mismatch');
    assert.equal(existsSync(join(cluster.dataDir(id), 'LOCK')), false, 'a refused start leaves no lock behind');
    const identity = JSON.parse(readFileSync(join(cluster.dataDir(id), 'node.json'), 'utf8')) as { nodeId: number; clusterId: string };
    assert.equal(identity.nodeId, id);
    assert.equal(identity.clusterId, cluster.nodes.get(1)!.clusterId());
  });
});

describe('data directory lock', () => {
  test('a lock left by a dead process is taken over', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'cairn-lock-'));
    try {
      const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
      writeFileSync(join(dataDir, 'LOCK'), JSON.stringify({ pid: Number(dead.stdout), host: 'x', startedAt: 'then' }));
      const node = new CairnNode({ ...FAST_NODE_OPTIONS, dataDir, clusterSecret: TEST_SECRET, init: true });
      await node.start();
      const lock = JSON.parse(readFileSync(join(dataDir, 'LOCK'), 'utf8')) as { pid: number };
      assert.equal(lock.pid, process.pid);
      await node.stop();
      assert.equal(existsSync(join(dataDir, 'LOCK')), false);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('options', () => {
  test('bad values are refused with the name of the setting', () => {
    const base = { dataDir: '/tmp/x', clusterSecret: TEST_SECRET };
    const cases: [Record<string, unknown>, string][] = [
      [{ dataDir: '' }, 'dataDir'], [{ clusterSecret: 'short' }, 'clusterSecret'], [{ nodeId: 0 }, 'nodeId'], [{ nodeId: 1.5 }, 'nodeId'],
      [{ clusterId: 'has space' }, 'clusterId'], [{ peerListen: 'nohost' }, 'peerListen'], [{ clientAdvertise: '127.0.0.1:0' }, 'clientAdvertise'],
      [{ tickMs: 0 }, 'tickMs'], [{ maxValueBytes: -1 }, 'maxValueBytes'], [{ init: true, join: ['127.0.0.1:1'] }, 'join'], [{ join: [] }, 'join'],
      [{ heartbeatIntervalTicks: 10, electionTimeoutTicks: 5 }, 'heartbeatIntervalTicks'], [{ seedPeers: { x: '127.0.0.1:1' } }, 'seedPeers'],
    ];
    for (const [override, setting] of cases) {
      assert.throws(() => resolveNodeOptions({ ...base, ...override } as never), (error: CairnNodeError) => error.code === 'invalid-option' && error.setting === setting, JSON.stringify(override));
    }
    const resolved = resolveNodeOptions({ ...base, maxValueBytes: 1000 });
    assert.equal(resolved.maxRequestBodyBytes, 2000 + 1024 * 1024);
    assert.equal(resolved.tickMs, 50);
  });
});

describe('a node as its own process', () => {
  test('runs from run-node.ts, serves HTTP, stops on SIGTERM and releases its lock', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'cairn-process-'));
    try {
      const options = { ...FAST_NODE_OPTIONS, dataDir, clusterSecret: TEST_SECRET, init: true, nodeId: 3 };
      const child = spawn(process.execPath, [join(import.meta.dirname, 'testing', 'run-node.ts'), JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
      const running = JSON.parse(line) as { event: string; client: string; nodeId: number; pid: number };
      assert.equal(running.event, 'running');
      assert.equal(running.nodeId, 3);
      await waitFor(async () => (await fetch(`http://${running.client}/v1/ready`)).status === 200, 'the process node to be ready');
      const put = await fetch(`http://${running.client}/v1/kv/from-test`, { method: 'PUT', body: JSON.stringify({ value: 'hello' }) });
      assert.equal(put.status, 200);
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      assert.equal(existsSync(join(dataDir, 'LOCK')), false);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
