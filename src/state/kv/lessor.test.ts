// Lease expiry through the leader-side Lessor with a fake clock: expiry, keep-alive, failover
// (deadlines reset, never early), checkpoints, re-reporting, restart, restore.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openKvState } from './open.ts';
import type { KvNodeState } from './open.ts';
import { EntryFeed } from './testing.ts';
import { utf8 } from './encoding.ts';
import type { KvCommand } from './commands.ts';
import { Lessor } from './lessor.ts';

class Clock {
  nowMs = 1_000_000;
  readonly now = (): number => this.nowMs;
  advance(ms: number): void {
    this.nowMs += ms;
  }
}

function applyAll(node: KvNodeState, feed: EntryFeed, commands: readonly KvCommand[]): void {
  node.state.apply(commands.map((command) => feed.command(command)));
}

test('a lease expires on the leader after its TTL; the revoke deletes its keys', async () => {
  const clock = new Clock();
  const node = openKvState();
  const feed = new EntryFeed();
  const lessor = new Lessor(node.kv, { now: clock.now });
  lessor.becomeLeader();
  applyAll(node, feed, [{ type: 'lease-grant', id: 7, ttlSeconds: 10 }, { type: 'put', key: utf8('session'), value: utf8('x'), lease: 7 }]);
  clock.advance(9_999);
  assert.deepEqual(lessor.expired(), []);
  clock.advance(1);
  const revokes = lessor.revokeCommands();
  assert.deepEqual(revokes, [{ type: 'lease-revoke', id: 7 }]);
  assert.deepEqual(lessor.expired(), [], 'reported once while the revoke is in flight');
  applyAll(node, feed, revokes);
  assert.equal(node.kv.lease(7), undefined);
  const gone = node.kv.get(utf8('session'));
  assert.ok(!('code' in gone) && gone.kv === undefined);
  const unknown = lessor.timeToLive(7);
  assert.ok('code' in unknown && unknown.code === 'lease-not-found');
  lessor.close();
  await node.state.close();
});

test('keep-alive renews for the full TTL on the leader; followers refuse and never expire anything', () => {
  const clock = new Clock();
  const node = openKvState();
  const feed = new EntryFeed();
  const lessor = new Lessor(node.kv, { now: clock.now });
  applyAll(node, feed, [{ type: 'lease-grant', id: 1, ttlSeconds: 5 }]);
  const follower = lessor.keepAlive(1);
  assert.ok('code' in follower && follower.code === 'not-leader');
  clock.advance(60_000);
  assert.deepEqual(lessor.expired(), [], 'a follower decides no expiry');
  lessor.becomeLeader();
  clock.advance(4_000);
  assert.deepEqual(lessor.keepAlive(1), { id: 1, ttlSeconds: 5 });
  clock.advance(4_000);
  assert.deepEqual(lessor.expired(), []);
  const ttl = lessor.timeToLive(1);
  assert.ok(!('code' in ttl) && ttl.remainingMs === 1_000);
  const missing = lessor.keepAlive(2);
  assert.ok('code' in missing && missing.code === 'lease-not-found');
  clock.advance(1_000);
  assert.deepEqual(lessor.expired(), [1]);
  lessor.becomeFollower();
  const after = lessor.keepAlive(1);
  assert.ok('code' in after && after.code === 'not-leader');
});

test('failover: a new leader gives every lease a fresh TTL, so nothing expires early', () => {
  const clock = new Clock();
  const nodes = [openKvState(), openKvState()];
  const feed = new EntryFeed();
  const entries = [feed.command({ type: 'lease-grant', id: 3, ttlSeconds: 10 })];
  for (const node of nodes) node.state.apply(entries);
  const oldLeader = new Lessor(nodes[0]!.kv, { now: clock.now });
  const newLeader = new Lessor(nodes[1]!.kv, { now: clock.now });
  oldLeader.becomeLeader();
  clock.advance(9_000); // the old leader would expire it in 1 s...
  oldLeader.becomeFollower();
  newLeader.becomeLeader(); // ...but it crashed: the new leader starts the full TTL now
  clock.advance(9_999);
  assert.deepEqual(newLeader.expired(), []);
  clock.advance(1);
  assert.deepEqual(newLeader.expired(), [3]);
});

test('checkpoints carry the remaining TTL to the next leader; a keep-alive checkpoints back to full', () => {
  const clock = new Clock();
  const node = openKvState();
  const feed = new EntryFeed();
  const lessor = new Lessor(node.kv, { now: clock.now });
  lessor.becomeLeader();
  applyAll(node, feed, [{ type: 'lease-grant', id: 1, ttlSeconds: 100 }, { type: 'lease-grant', id: 2, ttlSeconds: 100 }]);
  assert.equal(lessor.checkpointCommand(), undefined, 'nothing to checkpoint at full TTL');
  clock.advance(60_000);
  const checkpoint = lessor.checkpointCommand()!;
  assert.deepEqual(checkpoint, { type: 'lease-checkpoint', checkpoints: [{ id: 1, remainingSeconds: 40 }, { id: 2, remainingSeconds: 40 }] });
  applyAll(node, feed, [checkpoint]);
  assert.equal(lessor.checkpointCommand(), undefined);
  lessor.keepAlive(2);
  const renewed = lessor.checkpointCommand()!;
  assert.deepEqual(renewed, { type: 'lease-checkpoint', checkpoints: [{ id: 2, remainingSeconds: 100 }] });
  applyAll(node, feed, [renewed]);
  // The next leader starts lease 1 from its checkpointed 40 s, not 100 s.
  const next = new Lessor(node.kv, { now: clock.now });
  next.becomeLeader();
  clock.advance(40_000);
  assert.deepEqual(next.expired(), [1], 'lease 2 was checkpointed back to its full 100 s');
  clock.advance(60_000);
  assert.deepEqual(next.expired(), [1, 2], 'lease 1 again (its revoke was never applied), then lease 2');
});

test('an expired lease is reported again after revokeRetryMs while it still exists; minTtlMs is honoured', () => {
  const clock = new Clock();
  const node = openKvState();
  const feed = new EntryFeed();
  const lessor = new Lessor(node.kv, { now: clock.now, revokeRetryMs: 500, minTtlMs: 3_000 });
  lessor.becomeLeader();
  applyAll(node, feed, [{ type: 'lease-grant', id: 9, ttlSeconds: 1 }]);
  clock.advance(2_999);
  assert.deepEqual(lessor.expired(), [], 'a 1 s lease lives at least minTtlMs');
  clock.advance(1);
  assert.deepEqual(lessor.expired(), [9]);
  clock.advance(499);
  assert.deepEqual(lessor.expired(), []);
  clock.advance(1);
  assert.deepEqual(lessor.expired(), [9], 'the revoke was lost: report again');
});

test('leases survive a restart (lmdb) and a restore; the lessor reloads them', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'cairn-lessor-'));
  try {
    const clock = new Clock();
    const first = openKvState({ path: directory });
    const feed = new EntryFeed();
    applyAll(first, feed, [{ type: 'lease-grant', id: 4, ttlSeconds: 2 }, { type: 'put', key: utf8('k'), value: utf8('v'), lease: 4 }]);
    await first.state.close();
    const second = openKvState({ path: directory });
    const lessor = new Lessor(second.kv, { now: clock.now });
    lessor.becomeLeader();
    clock.advance(2_000);
    assert.deepEqual(lessor.expired(), [4]);
    const fresh = openKvState();
    const restored = new Lessor(fresh.kv, { now: clock.now });
    restored.becomeLeader();
    fresh.state.restore(second.state.snapshot());
    assert.deepEqual(restored.expired(), []);
    clock.advance(2_000);
    assert.deepEqual(restored.expired(), [4]);
    await second.state.close();
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
