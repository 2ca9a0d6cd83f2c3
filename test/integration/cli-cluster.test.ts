// The CLI end to end with real processes: `cairn local up` forms a 3-node cluster in the
// background, `local status --json` describes it, every KV operation works through every node,
// a node with the wrong secret cannot join (and one with the right secret can), `local down`
// stops exactly the processes it started.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalCluster, findFreeBasePort, isAlive, isPortFree } from '../../src/local/index.ts';
import { FAST_SERVE_FLAGS, eventually, jsonOf, removeDirectory, runCairn, startCairn, temporaryDirectory, trackCluster, untrackCluster } from './helpers.ts';

describe('cairn local + kv + cluster through the CLI', { timeout: 300_000 }, () => {
  const root = temporaryDirectory();
  const dir = join(root, 'cluster');
  let cluster: LocalCluster | undefined;
  let endpoints: string[] = [];
  let basePort = 0;

  before(async () => {
    basePort = await findFreeBasePort(4);
  });

  after(async () => {
    if (cluster !== undefined) {
      await runCairn(['local', 'down', '--dir', dir]);
      await cluster.down({ timeoutMs: 5000 });
      untrackCluster(cluster);
    }
    removeDirectory(root);
  });

  test('local up forms a 3-node cluster and prints endpoints and a ticket', async () => {
    const up = await runCairn(['local', 'up', '--nodes', '3', '--dir', dir, '--base-port', String(basePort), '--json', '--', ...FAST_SERVE_FLAGS], { timeoutMs: 90_000 });
    cluster = LocalCluster.open(dir);
    trackCluster(cluster);
    assert.equal(up.code, 0, up.stderr);
    const answer = jsonOf(up);
    endpoints = answer.endpoints;
    assert.deepEqual(endpoints, [0, 1, 2].map((index) => `127.0.0.1:${basePort + 10 * index}`));
    assert.match(answer.ticket, /^cairn1\./);
    assert.equal(answer.nodes.length, 3);
  });

  test('local status --json lists every node with pid, role, term, commit index, dir and addresses', async () => {
    const run = await runCairn(['local', 'status', '--dir', dir, '--json']);
    assert.equal(run.code, 0, run.stderr);
    const status = jsonOf(run);
    assert.equal(status.nodes.length, 3);
    const terms = new Set<number>();
    for (const [index, node] of status.nodes.entries()) {
      assert.equal(node.id, index + 1);
      assert.ok(isAlive(node.pid), `node ${node.id} pid ${node.pid} runs`);
      assert.equal(node.membership, 'voter');
      assert.equal(node.client, `127.0.0.1:${basePort + 10 * index}`);
      assert.equal(node.peer, `127.0.0.1:${basePort + 10 * index + 1}`);
      assert.ok('kafka' in node);
      assert.equal(node.dataDir, join(dir, `node-${node.id}`, 'data'));
      assert.ok(node.commitIndex > 0);
      terms.add(node.term);
    }
    assert.equal(status.nodes.filter((node: { role: string }) => node.role === 'leader').length, 1);
    assert.equal(terms.size, 1);
  });

  test('local up on a running cluster is a no-op; a port in use is named', async () => {
    const again = await runCairn(['local', 'up', '--dir', dir, '--json']);
    assert.equal(again.code, 0, again.stderr);
    const other = await runCairn(['local', 'up', '--dir', join(root, 'other'), '--nodes', '1', '--base-port', String(basePort)]);
    assert.equal(other.code, 3);
    assert.match(other.stderr, new RegExp(`ports? ${basePort} \\(node 1 client\\)[^\\n]*in use`));
    assert.equal(LocalCluster.exists(join(root, 'other')), false, 'a cluster that could not start is not left half-created');
  });

  test('every KV operation works through every node', async () => {
    for (const endpoint of endpoints) await kvRoundTrip(endpoint);
  });

  test('a node with the wrong secret cannot join; with the right one it joins and is promoted', async () => {
    const ports = { client: basePort + 30, peer: basePort + 31 };
    const joinArgs = ['serve', '--join', endpoints[0]!, '--node-id', '4', '--client-port', String(ports.client), '--peer-port', String(ports.peer), '--log-format', 'json', '--join-timeout-ms', '10000', ...FAST_SERVE_FLAGS];
    const wrong = await runCairn([...joinArgs, '--data-dir', join(root, 'wrong'), '--cluster-secret', 'not-the-cluster-secret'], { timeoutMs: 30_000 });
    assert.equal(wrong.code, 4, wrong.stderr);
    assert.match(wrong.stderr, /cannot start: .*cluster-secret-mismatch.*same --cluster-secret/);
    const status = jsonOf(await runCairn(['cluster', 'status', '--endpoints', endpoints.join(','), '--json']));
    assert.deepEqual(status.config.voters, [1, 2, 3], 'the refused node was not added');
    assert.ok(await isPortFree(ports.client), 'the refused node exited');

    const secretFile = join(dir, 'cluster-secret');
    assert.ok(readFileSync(secretFile, 'utf8').length > 8);
    const joiner = startCairn([...joinArgs, '--data-dir', join(root, 'right')], { env: { CAIRN_CLUSTER_SECRET_FILE: secretFile } });
    try {
      await eventually('node 4 to be a voter', 30_000, async () => {
        const run = await runCairn(['cluster', 'status', '--endpoints', endpoints.join(','), '--json']);
        return run.code === 0 && jsonOf(run).config.voters.includes(4) ? true : undefined;
      });
      const read = await runCairn(['kv', 'get', 'shared', '--endpoints', `127.0.0.1:${ports.client}`, '--json']);
      assert.equal(jsonOf(read).kv.value, `written via ${endpoints[2]}`);
      const removed = await runCairn(['cluster', 'remove', '4', '--endpoints', endpoints.join(','), '--json']);
      assert.equal(removed.code, 0, removed.stderr);
      assert.deepEqual(jsonOf(removed).config.voters, [1, 2, 3]);
    } finally {
      joiner.child.kill('SIGTERM');
      assert.equal(await joiner.exited, 0, joiner.output().slice(-2000));
    }
  });

  test('cluster transfer-leader and status --watch through the CLI', async () => {
    const status = jsonOf(await runCairn(['cluster', 'status', '--endpoints', endpoints.join(','), '--json']));
    const target = status.config.voters.find((id: number) => id !== status.leaderId);
    const moved = await runCairn(['cluster', 'transfer-leader', String(target), '--endpoints', endpoints.join(','), '--json']);
    assert.equal(moved.code, 0, moved.stderr);
    assert.equal(jsonOf(moved).leaderId, target);
    const watcher = startCairn(['cluster', 'status', '--watch', '--interval', '200ms', '--json', '--endpoints', endpoints.join(',')]);
    try {
      const lines = await eventually('two status refreshes', 10_000, async () => {
        const found = watcher.output().split('\n').filter((line) => line.startsWith('{'));
        return found.length >= 2 ? found : undefined;
      });
      for (const line of lines.slice(0, 2)) assert.equal(JSON.parse(line).leaderId, target);
    } finally {
      watcher.child.kill('SIGINT');
      assert.equal(await watcher.exited, 0);
    }
  });

  test('local down stops exactly the processes it started', async () => {
    const pids = cluster!.nodes().map((node) => node.pid!);
    const down = await runCairn(['local', 'down', '--dir', dir, '--json']);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(jsonOf(down).nodes.map((node: { outcome: string }) => node.outcome), ['stopped', 'stopped', 'stopped']);
    for (const pid of pids) assert.equal(isAlive(pid), false);
    const status = await runCairn(['local', 'status', '--dir', dir, '--json']);
    assert.equal(status.code, 5);
    assert.deepEqual(jsonOf(status).nodes.map((node: { running: boolean }) => node.running), [false, false, false]);
  });
});

async function cairnJson(args: string[], expectedCode = 0): Promise<any> {
  const run = await runCairn([...args, '--json']);
  assert.equal(run.code, expectedCode, `cairn ${args.join(' ')}: ${run.stderr}`);
  return expectedCode === 0 ? jsonOf(run) : JSON.parse(run.stderr.trim().split('\n').pop()!);
}

/** set, get, cas, scan, txn, watch, delete, leases — all through one node, checked through JSON. */
async function kvRoundTrip(endpoint: string): Promise<void> {
  const at = ['--endpoints', endpoint];
  const key = `cli/${endpoint}`;
  const set = await cairnJson(['kv', 'set', key, 'one', ...at]);
  assert.ok(set.revision > 0);
  assert.equal((await cairnJson(['kv', 'get', key, ...at])).kv.value, 'one');
  assert.equal((await cairnJson(['kv', 'get', `${key}/missing`, ...at], 6)).error.code, 'key-not-found');
  assert.equal((await cairnJson(['kv', 'cas', key, 'two', '--expect', 'one', ...at])).succeeded, true);
  const failed = await runCairn(['kv', 'cas', key, 'three', '--expect', 'one', ...at, '--json']);
  assert.equal(failed.code, 7);
  assert.equal(jsonOf(failed).kv.value, 'two');
  await cairnJson(['kv', 'set', 'shared', `written via ${endpoint}`, ...at]);
  const bytes = await cairnJson(['kv', 'set', Buffer.from(`${key}/bin`).toString('base64'), Buffer.from([0, 255, 1]).toString('base64'), '--base64', ...at]);
  assert.ok(bytes.revision > set.revision);
  const binary = await cairnJson(['kv', 'get', `${key}/bin`, ...at]);
  assert.equal(binary.kv.encoding, 'base64');
  assert.equal(binary.kv.value, Buffer.from([0, 255, 1]).toString('base64'));
  const scan = await cairnJson(['kv', 'scan', '--prefix', `${key}`, ...at]);
  // A pair whose value is not UTF-8 comes back in base64, key included, marked as such.
  assert.deepEqual(scan.kvs.map((kv: { key: string; encoding?: string }) => [kv.key, kv.encoding]), [[key, undefined], [Buffer.from(`${key}/bin`).toString('base64'), 'base64']]);
  const txn = await cairnJson(['kv', 'txn', JSON.stringify({ compare: [{ key, value: 'two' }], success: [{ type: 'put', key: `${key}/txn`, value: 'yes' }, { type: 'get', key }], failure: [] }), ...at]);
  assert.equal(txn.succeeded, true);
  assert.equal(txn.results[1].kvs[0].value, 'two');
  await watchSeesPut(endpoint, key);
  const deleted = await cairnJson(['kv', 'delete', key, '--prefix', ...at]);
  assert.equal(deleted.deleted, 4);
  await leaseRoundTrip(at, key);
}

async function watchSeesPut(endpoint: string, key: string): Promise<void> {
  const watcher = startCairn(['kv', 'watch', `${key}/w`, '--count', '1', '--json', '--endpoints', endpoint]);
  try {
    await eventually('the watch to start', 10_000, async () => (watcher.output().includes('watching') ? true : undefined));
    await cairnJson(['kv', 'set', `${key}/w`, 'watched', '--endpoints', endpoint]);
    assert.equal(await watcher.exited, 0);
    const event = JSON.parse(watcher.output().split('\n').find((line) => line.startsWith('{'))!);
    assert.equal(event.type, 'put');
    assert.equal(event.kv.value, 'watched');
  } finally {
    watcher.child.kill('SIGKILL');
  }
}

async function leaseRoundTrip(at: string[], key: string): Promise<void> {
  const lease = await cairnJson(['kv', 'lease', 'grant', '60', ...at]);
  assert.ok(lease.id > 0);
  await cairnJson(['kv', 'set', `${key}/leased`, 'x', '--lease', String(lease.id), ...at]);
  assert.equal((await cairnJson(['kv', 'lease', 'keep-alive', String(lease.id), '--once', ...at])).ttlSeconds, 60);
  assert.ok((await cairnJson(['kv', 'lease', 'list', ...at])).leases.some((entry: { id: number }) => entry.id === lease.id));
  assert.deepEqual((await cairnJson(['kv', 'lease', 'show', String(lease.id), '--keys', ...at])).keys, [`${key}/leased`]);
  assert.equal((await cairnJson(['kv', 'lease', 'revoke', String(lease.id), ...at])).deleted, 1);
  await cairnJson(['kv', 'get', `${key}/leased`, ...at], 6);
}

describe('cairn local up --foreground (what `npm start` runs)', { timeout: 150_000 }, () => {
  test('stays attached with a status line and stops its nodes on Ctrl-C', async () => {
    const root = temporaryDirectory();
    const dir = join(root, 'cluster');
    const basePort = await findFreeBasePort(3);
    const attached = startCairn(['local', 'up', '--nodes', '3', '--dir', dir, '--base-port', String(basePort), '--foreground', '--timeout', '110s', '--', ...FAST_SERVE_FLAGS]);
    let cluster: LocalCluster | undefined;
    try {
      await eventually('the status line', 120_000, async () => (/node-1 \w+ t\d+ c\d+ \| node-2/.test(attached.output()) ? true : undefined));
      cluster = LocalCluster.open(dir);
      trackCluster(cluster);
      const pids = cluster.nodes().map((node) => node.pid!);
      assert.ok(pids.every((pid) => isAlive(pid)));
      attached.child.kill('SIGINT');
      assert.equal(await attached.exited, 0, attached.output().slice(-2000));
      for (const pid of pids) assert.equal(isAlive(pid), false, `pid ${pid} was stopped`);
      assert.match(attached.output(), /node 1: stopped, node 2: stopped, node 3: stopped/);
    } finally {
      attached.child.kill('SIGKILL');
      if (cluster !== undefined) {
        await cluster.down({ timeoutMs: 5000 });
        untrackCluster(cluster);
      }
      removeDirectory(root);
    }
  });
});
