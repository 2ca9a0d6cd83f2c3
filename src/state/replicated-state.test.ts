// The StateMachine contract: applied index, noop/conf-change entries, determinism across
// backends and batchings, snapshot/restore, restart, durability reporting.
import { test } from 'node:test';
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openKvState } from './kv/open.ts';
import type { KvNodeState } from './kv/open.ts';
import { EntryFeed, plain } from './kv/testing.ts';
import { utf8 } from './kv/encoding.ts';
import type { AppliedEntry } from './types.ts';

function workload(count: number): AppliedEntry[] {
  const feed = new EntryFeed();
  const entries: AppliedEntry[] = [];
  for (let index = 0; index < count; index++) {
    const key = utf8(`key-${index % 17}`);
    switch (index % 7) {
      case 0:
        entries.push(feed.command({ type: 'lease-grant', ttlSeconds: 30 }));
        break;
      case 1:
        entries.push(feed.command({ type: 'put', key, value: utf8(`value-${index}`), lease: index }));
        break;
      case 2:
        entries.push(feed.command({ type: 'delete', range: { prefix: utf8('key-1') } }));
        break;
      case 3:
        entries.push({ index: feed.nextIndex(), term: 1, kind: 'conf-change', data: Uint8Array.of(1, 2, 3) });
        feed.noop(); // keep the feed's index in step
        break;
      case 4:
        entries.push(feed.command({ type: 'txn', compare: [{ key, target: 'exists', operator: '=', value: true }], success: [{ type: 'put', key: utf8('t'), value: key }], failure: [] }));
        break;
      case 5:
        entries.push(index > 40 ? feed.command({ type: 'compact', revision: Math.floor(index / 3) }) : feed.noop());
        break;
      default:
        entries.push(feed.command({ type: 'put', key, value: utf8(`v${index}`) }));
    }
  }
  return entries;
}

function applyInBatches(node: KvNodeState, entries: AppliedEntry[], batchSize: number): void {
  for (let start = 0; start < entries.length; start += batchSize) node.state.apply(entries.slice(start, start + batchSize));
}

function withDirectory(body: (directory: string) => Promise<void>): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'cairn-state-'));
  return body(directory).finally(() => rmSync(directory, { recursive: true, force: true }));
}

test('noop and conf-change entries only advance the applied index; results are null', async () => {
  const node = openKvState();
  const feed = new EntryFeed(1, 4);
  const results = node.state.apply([feed.noop(), { index: 2, term: 4, kind: 'conf-change', data: new Uint8Array(5) }]);
  assert.deepEqual(results, [null, null]);
  assert.equal(node.state.appliedIndex(), 2);
  assert.equal(node.state.appliedTerm(), 4);
  assert.equal(node.kv.currentRevision(), 0);
  assert.deepEqual(node.state.apply([]), []);
  await node.state.close();
});

test('entries must continue the applied index exactly', async () => {
  const node = openKvState();
  assert.throws(() => node.state.apply([{ index: 2, term: 1, kind: 'noop', data: new Uint8Array(0) }]), /expected index 1, got 2/);
  node.state.apply([{ index: 1, term: 1, kind: 'noop', data: new Uint8Array(0) }]);
  assert.throws(() => node.state.apply([{ index: 3, term: 1, kind: 'noop', data: new Uint8Array(0) }]), /expected index 2, got 3/);
  await node.state.close();
});

test('determinism: any backend and any batching give byte-identical snapshots', () =>
  withDirectory(async (directory) => {
    const entries = workload(300);
    const nodes = [openKvState(), openKvState(), openKvState({ path: join(directory, 'a') }), openKvState({ path: join(directory, 'b') })];
    [1, 7, 300, 64].forEach((batchSize, index) => applyInBatches(nodes[index]!, entries, batchSize));
    const snapshots = nodes.map((node) => Buffer.from(node.state.snapshot().data));
    for (const snapshot of snapshots.slice(1)) assert.ok(snapshot.equals(snapshots[0]!), 'snapshots differ');
    assert.ok(nodes[0]!.kv.currentRevision() > 100, `revision ${nodes[0]!.kv.currentRevision()}`);
    assert.ok(nodes[0]!.kv.compactRevision() > 50);
    for (const node of nodes) await node.state.close();
  }));

test('snapshot and restore round trip, across backends, replacing existing state', () =>
  withDirectory(async (directory) => {
    const source = openKvState();
    applyInBatches(source, workload(200), 50);
    const snapshot = source.state.snapshot();
    assert.equal(snapshot.index, 200);
    const target = openKvState({ path: join(directory, 'target') });
    applyInBatches(target, workload(30), 30); // state to be replaced
    target.state.restore(snapshot);
    assert.equal(target.state.appliedIndex(), 200);
    assert.equal(target.state.appliedTerm(), 1);
    assert.ok(Buffer.from(target.state.snapshot().data).equals(Buffer.from(snapshot.data)));
    assert.equal(target.kv.currentRevision(), source.kv.currentRevision());
    assert.equal(target.kv.compactRevision(), source.kv.compactRevision());
    const everything = { range: { start: new Uint8Array(0) } };
    assert.deepEqual(plain(target.kv.range(everything)), plain(source.kv.range(everything)));
    assert.deepEqual(target.kv.leases(), source.kv.leases());
    // Both continue identically.
    const more = workload(260).slice(200);
    source.state.apply(more);
    target.state.apply(more);
    assert.ok(Buffer.from(target.state.snapshot().data).equals(Buffer.from(source.state.snapshot().data)));
    await source.state.close();
    await target.state.close();
  }));

test('corrupt or foreign snapshots are refused and leave the state alone', async () => {
  const node = openKvState();
  applyInBatches(node, workload(20), 20);
  const snapshot = node.state.snapshot();
  const flipped = Buffer.from(snapshot.data);
  flipped[flipped.length - 10]! ^= 0x01;
  const other = openKvState();
  assert.throws(() => other.state.restore({ ...snapshot, data: flipped }), /checksum mismatch/);
  assert.throws(() => other.state.restore({ ...snapshot, data: Buffer.from('not a snapshot at all') }), /bad magic/);
  assert.equal(other.state.appliedIndex(), 0);
  await node.state.close();
  await other.state.close();
});

test('restart (lmdb): applied index, term, data, revisions and leases survive a reopen', () =>
  withDirectory(async (directory) => {
    const entries = workload(120);
    const first = openKvState({ path: directory });
    applyInBatches(first, entries.slice(0, 100), 25);
    const before = Buffer.from(first.state.snapshot().data);
    await first.state.close();
    const second = openKvState({ path: directory });
    assert.equal(second.state.appliedIndex(), 100);
    assert.equal(second.state.durableAppliedIndex(), 0, 'what was there at open may not be flushed yet');
    await second.state.flushed();
    assert.equal(second.state.durableAppliedIndex(), 100);
    assert.ok(Buffer.from(second.state.snapshot().data).equals(before));
    // Replaying only the suffix gives the same state as applying everything at once.
    second.state.apply(entries.slice(100));
    const reference = openKvState();
    reference.state.apply(entries);
    assert.ok(Buffer.from(second.state.snapshot().data).equals(Buffer.from(reference.state.snapshot().data)));
    await second.state.close();
    await reference.state.close();
  }));

test('durability: lmdb reports applied entries durable once flushed; memory only what a restore brought', () =>
  withDirectory(async (directory) => {
    const durable = openKvState({ path: directory });
    durable.state.apply(workload(10));
    await durable.state.flushed();
    assert.equal(durable.state.durableAppliedIndex(), 10);
    assert.equal(durable.state.applyWouldWait(), false, 'no flush in flight once flushed');
    durable.state.apply(workload(11).slice(10));
    assert.equal(durable.state.applyWouldWait(), true, 'the flush of the last apply is in flight');
    await durable.state.flushed();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(durable.state.applyWouldWait(), false);
    assert.equal(durable.state.durableAppliedIndex(), 11);
    const memory = openKvState();
    memory.state.apply(workload(10));
    assert.equal(memory.state.applyWouldWait(), false);
    await memory.state.flushed();
    assert.equal(memory.state.durableAppliedIndex(), 0, 'a memory state is lost in a crash');
    memory.state.restore(durable.state.snapshot());
    assert.equal(memory.state.durableAppliedIndex(), 11);
    await durable.state.close();
    await memory.state.close();
  }));

test('chunked snapshots: same bytes as the single buffer, restorable from any split', async () => {
  const source = openKvState();
  applyInBatches(source, workload(150), 40);
  const whole = Buffer.from(source.state.snapshot().data);
  const { index, term, chunks } = source.state.snapshotChunks(200);
  const parts = [...chunks];
  assert.ok(parts.length > 5, `${parts.length} chunks`);
  assert.ok(parts.every((part) => part.length < 200 + 4096 + 64), 'chunks stay near the requested size');
  assert.ok(Buffer.concat(parts).equals(whole));
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: whole.length - 1 }), { maxLength: 12 }), (cuts) => {
      const points = [0, ...[...new Set(cuts)].sort((a, b) => a - b), whole.length];
      const pieces = points.slice(1).map((end, position) => whole.subarray(points[position]!, end));
      const target = openKvState();
      target.state.restoreChunks({ index, term }, pieces);
      assert.ok(Buffer.from(target.state.snapshot().data).equals(whole));
      assert.equal(target.state.appliedIndex(), index);
    }),
    { numRuns: 50 },
  );
  await source.state.close();
});

test('a damaged snapshot (any flipped byte, truncation, trailing data) is refused and the state kept', async () => {
  const source = openKvState();
  applyInBatches(source, workload(40), 40);
  const whole = Buffer.from(source.state.snapshot().data);
  const target = openKvState();
  applyInBatches(target, workload(10), 10);
  const before = Buffer.from(target.state.snapshot().data);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: whole.length - 1 }), fc.integer({ min: 1, max: 255 }), (position, flip) => {
      const damaged = Buffer.from(whole);
      damaged[position]! ^= flip;
      assert.throws(() => target.state.restore({ index: 40, term: 1, data: damaged }), /state snapshot/);
    }),
    // [230, 205] zeroes an entry's key length: once reached the store (an invariant) before the checksum.
    { numRuns: 200, examples: [[230, 205]] },
  );
  assert.throws(() => target.state.restore({ index: 40, term: 1, data: whole.subarray(0, whole.length - 1) }), /state snapshot/);
  assert.throws(() => target.state.restore({ index: 40, term: 1, data: whole.subarray(0, 100) }), /state snapshot/);
  assert.throws(() => target.state.restore({ index: 40, term: 1, data: Buffer.concat([whole, Buffer.from([3])]) }), /state snapshot/);
  assert.ok(Buffer.from(target.state.snapshot().data).equals(before));
  assert.equal(target.state.appliedIndex(), 10);
  await source.state.close();
  await target.state.close();
});

test('applying entries while a chunked snapshot is being read makes the reader fail', async () => {
  const node = openKvState();
  const entries = workload(60);
  applyInBatches(node, entries.slice(0, 50), 50);
  const { chunks } = node.state.snapshotChunks(100);
  chunks.next();
  node.state.apply(entries.slice(50));
  assert.throws(() => chunks.next(), /entries were applied while the snapshot was being read/);
  await node.state.close();
});
