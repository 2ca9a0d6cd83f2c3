// The overlay store's own promises, beyond the conformance suite in store.test.ts: writes stay
// off the base until a flush, one base transaction per flush, flushed() only after the base made
// the flush durable, the memory bound, failures, streaming reads, close(), and ReplicatedState's
// durableAppliedIndex() over it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvState } from './kv/kv-state.ts';
import { EntryFeed } from './kv/testing.ts';
import { utf8 } from './kv/encoding.ts';
import { LmdbStore } from './lmdb-store.ts';
import { openNodeState } from './open.ts';
import { OverlayStore, OverlayStoreError } from './overlay-store.ts';
import { ControlledBase, ManualClock, settle } from './overlay-testing.ts';
import { ReplicatedState } from './replicated-state.ts';
import type { OrderedStore } from './store.ts';

const TABLES = ['one', 'two'];
const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');
const text = (value: Uint8Array | undefined): string | undefined => (value === undefined ? undefined : Buffer.from(value).toString('latin1'));
const keysOf = (store: OrderedStore, table: string, options = {}): string[] => [...store.range(table, options)].map(({ key }) => text(key)!);

function controlled(options: { flushIntervalMs?: number; flushBytesMax?: number; tableNames?: readonly string[] } = {}) {
  const clock = new ManualClock();
  const base = new ControlledBase(options.tableNames ?? TABLES);
  const store = new OverlayStore(base, { clock, flushIntervalMs: options.flushIntervalMs ?? 100, flushBytesMax: options.flushBytesMax ?? 1 << 20 });
  return { clock, base, store };
}

/** Settles a promise's state without waiting for it: 'pending', 'resolved' or 'rejected'. */
async function stateOf(promise: Promise<unknown>): Promise<string> {
  let state = 'pending';
  promise.then(() => (state = 'resolved'), () => (state = 'rejected'));
  await settle();
  return state;
}

test('writes stay in memory until the interval; one base batch per flush; flushed() waits for durability', async () => {
  const { clock, base, store } = controlled();
  store.write(() => {
    store.put('one', bytes('a'), bytes('1'));
    store.put('two', bytes('b'), bytes('2'));
  });
  store.write(() => store.delete('one', bytes('zz')));
  assert.equal(text(store.get('one', bytes('a'))), '1');
  assert.equal(base.counts.batches + base.counts.writes, 0, 'nothing reached the base on the write path');
  const flushed = store.flushed();
  clock.advance(99);
  assert.equal(base.pending.length, 0);
  clock.advance(1);
  assert.equal(base.pending.length, 1, 'the interval froze the delta into one batch');
  assert.deepEqual(base.pending[0]!.tables.map(([name, entries]) => [name, entries.map(({ key, value }) => [text(key), text(value)])]), [
    ['one', [['a', '1'], ['zz', undefined]]],
    ['two', [['b', '2']]],
  ]);
  assert.equal(store.flushInFlight, true);
  store.write(() => store.put('one', bytes('c'), bytes('3')));
  const later = store.flushed();
  assert.equal(await stateOf(flushed), 'pending', 'not durable before the base commits');
  base.commit();
  await settle();
  assert.equal(store.flushInFlight, false);
  assert.equal(await stateOf(flushed), 'pending', 'committed is not durable yet');
  assert.equal(text(store.get('one', bytes('a'))), '1', 'read from the base now');
  base.makeDurable();
  assert.equal(await stateOf(flushed), 'resolved');
  assert.equal(await stateOf(later), 'pending', 'a write after the freeze waits for the next flush');
  clock.advance(100);
  base.commit();
  base.makeDurable();
  assert.equal(await stateOf(later), 'resolved');
  assert.equal(base.counts.batches, 2);
  assert.equal(clock.pendingTimers, 0, 'no timer while nothing is unflushed');
});

test('a full delta flushes at once; while that flush is in flight writeWouldWait() asks for backpressure', async () => {
  const { clock, base, store } = controlled({ flushBytesMax: 2000 });
  const value = Buffer.alloc(500, 1);
  store.write(() => store.put('one', bytes('a'), value));
  assert.equal(store.writeWouldWait(), false);
  store.write(() => {
    for (const key of ['b', 'c', 'd']) store.put('one', bytes(key), value);
  });
  assert.equal(store.writeWouldWait(), true, 'the delta reached flushBytesMax');
  clock.advance(0);
  assert.equal(base.pending.length, 1, 'flushed without waiting for the interval');
  assert.equal(store.writeWouldWait(), false, 'a fresh delta takes the writes');
  store.write(() => {
    for (const key of ['e', 'f', 'g', 'h']) store.put('two', bytes(key), value);
  });
  assert.equal(store.writeWouldWait(), true, 'full again while the first flush is in flight');
  clock.advance(1000);
  assert.equal(base.pending.length, 1, 'one flush at a time');
  base.commit();
  await settle();
  assert.equal(base.pending.length, 1, 'the next flush starts as soon as the previous one commits');
  assert.equal(store.writeWouldWait(), false);
  assert.ok(store.deltaBytes >= 2000 && store.deltaBytes < 4000, `${store.deltaBytes} bytes held`);
  base.commit();
  base.makeDurable();
  await settle();
  assert.deepEqual(keysOf(base.inner, 'one'), ['a', 'b', 'c', 'd']);
  assert.deepEqual(keysOf(base.inner, 'two'), ['e', 'f', 'g', 'h']);
  assert.equal(store.deltaBytes, 0);
});

test('clearAll hides the whole base until its flush clears it and writes the delta in one transaction', async () => {
  const { clock, base, store } = controlled();
  store.write(() => {
    for (const key of ['a', 'b', 'c']) store.put('one', bytes(key), bytes('old'));
    store.put('two', bytes('x'), bytes('old'));
  });
  clock.advance(100);
  base.commit();
  await settle();
  store.write(() => {
    store.clearAll();
    store.put('one', bytes('b'), bytes('new'));
    store.delete('one', bytes('c'));
  });
  assert.deepEqual(keysOf(store, 'one'), ['b']);
  assert.deepEqual(keysOf(store, 'two'), []);
  assert.equal(store.get('one', bytes('a')), undefined);
  assert.equal(store.get('two', bytes('x')), undefined);
  const getsBefore = base.counts.get;
  assert.equal(store.get('one', bytes('zzz')), undefined);
  assert.equal(base.counts.get, getsBefore, 'a cleared delta answers without the base');
  const writesBefore = base.counts.writes;
  clock.advance(100);
  assert.equal(base.counts.writes, writesBefore + 1, 'the clear and the delta went in as one base transaction');
  assert.deepEqual(keysOf(base.inner, 'one'), ['b']);
  assert.deepEqual(keysOf(base.inner, 'two'), []);
  await settle();
  assert.deepEqual(keysOf(store, 'one'), ['b']);
});

test('a failed write leaves the delta exactly as before, a clear included', async () => {
  const { store } = controlled();
  store.write(() => {
    store.put('one', bytes('a'), bytes('1'));
    store.delete('one', bytes('gone'));
  });
  const bytesBefore = store.deltaBytes;
  assert.throws(() => store.write(() => {
    store.put('one', bytes('a'), bytes('2'));
    store.put('one', bytes('b'), bytes('3'));
    store.clearAll();
    store.put('two', bytes('c'), bytes('4'));
    throw new Error('boom');
  }), /boom/);
  assert.deepEqual([...store.range('one')].map(({ key, value }) => [text(key), text(value)]), [['a', '1']]);
  assert.deepEqual(keysOf(store, 'two'), []);
  assert.equal(store.deltaBytes, bytesBefore);
  assert.throws(() => store.write(() => store.write(() => 0)), /nested write/);
});

test('a put copies its value unless the value is handed over; both reach the base as written', () => {
  const { clock, base, store } = controlled();
  const copied = new Uint8Array([1, 2, 3]);
  const handedOver = new Uint8Array([4, 5, 6]);
  store.write(() => {
    store.put('one', bytes('copied'), copied);
    store.put('one', bytes('handed'), handedOver, { handedOver: true });
  });
  // Writing into the caller's arrays afterwards shows which the store shares: the handed-over
  // one is kept as it is (no copy of a large Kafka batch), the other one is the store's own.
  copied[0] = 9;
  handedOver[0] = 8;
  assert.deepEqual([...store.get('one', bytes('copied'))!], [1, 2, 3]);
  assert.deepEqual([...store.get('one', bytes('handed'))!], [8, 5, 6]);
  clock.advance(100);
  assert.equal(base.commit(), true, 'the flush reached the base');
  assert.deepEqual([...base.get('one', bytes('copied'))!], [1, 2, 3]);
  assert.deepEqual([...base.get('one', bytes('handed'))!], [8, 5, 6]);
});

test('reads stream: a limited range pulls little from the base, a get absent from the deltas costs one base lookup', async () => {
  const { clock, base, store } = controlled();
  store.write(() => {
    for (let index = 0; index < 5000; index++) store.put('one', bytes(`k${String(index).padStart(5, '0')}`), bytes('v'));
  });
  clock.advance(100);
  base.commit();
  await settle();
  store.write(() => {
    store.delete('one', bytes('k00001'));
    store.put('one', bytes('k00002'), bytes('new'));
    store.put('one', bytes('k04998x'), bytes('new'));
  });
  base.counts.rangeEntries = 0;
  assert.deepEqual(keysOf(store, 'one', { limit: 3 }), ['k00000', 'k00002', 'k00003']);
  assert.ok(base.counts.rangeEntries <= 6, `pulled ${base.counts.rangeEntries} base entries for 3 results`);
  base.counts.rangeEntries = 0;
  assert.deepEqual(keysOf(store, 'one', { reverse: true, limit: 3 }), ['k04999', 'k04998x', 'k04998']);
  assert.ok(base.counts.rangeEntries <= 4, `pulled ${base.counts.rangeEntries} base entries for 3 reverse results`);
  base.counts.get = 0;
  assert.equal(text(store.get('one', bytes('k02000'))), 'v');
  assert.equal(store.get('one', bytes('k00001')), undefined);
  assert.equal(base.counts.get, 1, 'one base lookup for the absent key, none for the tombstone');
  assert.equal(keysOf(store, 'one').length, 5000);
  assert.equal(text(store.get('one', bytes('k00002'))), 'new');
});

test('a base that fails to commit stops the store with an error that says so', async () => {
  const { clock, base, store } = controlled();
  store.write(() => store.put('one', bytes('a'), bytes('1')));
  const flushed = store.flushed();
  clock.advance(100);
  base.failNextCommit = new Error('MDB_MAP_FULL');
  base.commit();
  await assert.rejects(flushed, (error: unknown) => error instanceof OverlayStoreError && error.code === 'state-flush-failed' && /MDB_MAP_FULL/.test(error.message));
  assert.equal(text(store.get('one', bytes('a'))), '1', 'what was written stays readable');
  assert.throws(() => store.write(() => store.put('one', bytes('b'), bytes('2'))), OverlayStoreError);
  await assert.rejects(store.flushed(), OverlayStoreError);
  await assert.rejects(store.close(), OverlayStoreError);
  assert.equal(base.closed, true, 'the base is closed all the same');
});

test('ReplicatedState over the overlay: an apply counts as durable only once the flush holding it is', async () => {
  const kv = new KvState();
  const { clock, base, store } = controlled({ flushBytesMax: 4000, tableNames: ReplicatedState.tableNames([kv]) });
  const state = new ReplicatedState(store, [kv]);
  const feed = new EntryFeed();
  state.apply([feed.command({ type: 'put', key: utf8('a'), value: utf8('1') })]);
  state.apply([feed.command({ type: 'put', key: utf8('b'), value: utf8('2') })]);
  await settle();
  assert.equal(state.durableAppliedIndex(), 0);
  clock.advance(100);
  state.apply([feed.command({ type: 'put', key: utf8('c'), value: utf8('3') })]);
  base.commit();
  await settle();
  assert.equal(state.durableAppliedIndex(), 0, 'committed, not yet durable');
  base.makeDurable();
  await settle();
  assert.equal(state.durableAppliedIndex(), 2, 'the first flush held applies 1 and 2, not 3');
  assert.equal(Buffer.from(base.inner.get('meta', Uint8Array.of(1))!).readUInt32BE(4), 2, 'the base holds the applied index of its cut');
  assert.equal(state.applyWouldWait(), false);
  state.apply([feed.command({ type: 'put', key: utf8('d'), value: new Uint8Array(5000) })]);
  assert.equal(state.applyWouldWait(), true, 'the overlay is full: the runtime should hold back');
  clock.advance(0);
  assert.equal(state.applyWouldWait(), false);
  const closing = state.close();
  for (let round = 0; round < 5; round++) {
    base.commit();
    base.makeDurable();
    await settle();
  }
  await closing;
  assert.equal(Buffer.from(base.inner.get('meta', Uint8Array.of(1))!).readUInt32BE(4), 4, 'close() flushed every apply');
});

test('over lmdb: close() flushes; a reopen finds every write; the node state opens an overlay', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'cairn-overlay-'));
  try {
    const store = new OverlayStore(new LmdbStore({ path: join(directory, 'plain'), tableNames: TABLES }));
    const long = `${'x'.repeat(2000)}tail`;
    store.write(() => {
      store.put('one', bytes('a'), bytes('1'));
      store.put('one', bytes(long), bytes('long'));
      store.put('two', bytes('b'), bytes('2'));
    });
    store.write(() => store.delete('two', bytes('b')));
    await store.close();
    const reopened = new LmdbStore({ path: join(directory, 'plain'), tableNames: TABLES });
    assert.deepEqual(keysOf(reopened, 'one'), ['a', long]);
    assert.deepEqual(keysOf(reopened, 'two'), []);
    await reopened.close();

    const node = openNodeState({ path: join(directory, 'node') });
    assert.ok(node.state.store instanceof OverlayStore);
    const feed = new EntryFeed();
    node.state.apply([feed.command({ type: 'put', key: utf8('k'), value: utf8('v') })]);
    await node.state.flushed();
    assert.equal(node.state.durableAppliedIndex(), 1);
    const snapshot = Buffer.from(node.state.snapshot().data);
    await node.state.close();
    const again = openNodeState({ path: join(directory, 'node') });
    assert.equal(again.state.appliedIndex(), 1);
    assert.ok(Buffer.from(again.state.snapshot().data).equals(snapshot));
    await again.state.close();
    assert.ok(!(openNodeState().state.store instanceof OverlayStore), 'memory mode stays a MemoryStore');
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('over lmdb: snapshot chunks read across event-loop turns, with flushes in between, are the bytes of a synchronous read', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'cairn-overlay-'));
  try {
    const node = openNodeState({ path: directory });
    const store = node.state.store as OverlayStore;
    const feed = new EntryFeed();
    const value = new Uint8Array(3000).fill(0x61);
    // Keys in every state: in the base only, overwritten and deleted in the delta, new in the delta.
    const puts = (from: number, to: number) => Array.from({ length: to - from }, (_, offset) =>
      feed.command({ type: 'put', key: utf8(`key/${String((from + offset) * 7919 % 5000).padStart(5, '0')}`), value }));
    node.state.apply(puts(0, 3000));
    await node.state.flushed();
    node.state.apply(puts(3000, 4000));
    node.state.apply([feed.command({ type: 'delete', range: { key: utf8('key/00000'), end: utf8('key/00500') } })]);
    const expected = Buffer.concat([...node.state.snapshotChunks(64 * 1024).chunks]);
    const { chunks } = node.state.snapshotChunks(64 * 1024);
    const parts: Uint8Array[] = [];
    let flushes = 0;
    for (const chunk of chunks) {
      parts.push(chunk);
      if (parts.length % 20 === 0) {
        // What the node loop allows between chunks: a turn of the event loop, the overlay's
        // flush of its delta into lmdb (no apply).
        store.startFlush();
        await node.state.flushed();
        flushes++;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    assert.ok(flushes >= 3, `the read spanned ${flushes} flushes`);
    assert.ok(Buffer.concat(parts).equals(expected), 'the same bytes');
    await node.state.close();
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
