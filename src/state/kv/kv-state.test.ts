// Unit tests of every KV operation and error, run on both backends (memory and lmdb).
import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openKvState } from './open.ts';
import type { KvNodeState, KvApplyResult } from './open.ts';
import { EntryFeed, plain } from './testing.ts';
import { compareAndDelete, compareAndSwap, compareRevisionAndSwap, KV_MODULE_TAG } from './commands.ts';
import type { KvCommand, KvLimits } from './commands.ts';
import { utf8 } from './encoding.ts';
import type { KvCommitNotice, KvResult, TxnResult } from './kv-state.ts';
import type { RangeResult } from './kv-reader.ts';
import { KV_TABLES } from './tables.ts';

const text = (value: Uint8Array | undefined): string | undefined => (value === undefined ? undefined : Buffer.from(value).toString('utf8'));

interface Harness {
  readonly node: KvNodeState;
  readonly feed: EntryFeed;
  run(command: KvCommand, options?: { system?: boolean }): KvResult;
  put(key: string, value: string, lease?: number): KvResult;
  value(key: string, revision?: number): string | undefined;
  keys(prefix: string): string[];
  errorCode(command: KvCommand, options?: { system?: boolean }): string;
  tableSize(table: string): number;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function harnessOn(backend: 'memory' | 'lmdb', options: { limits?: Partial<KvLimits>; compactionStepEntries?: number } = {}): Harness {
  let node: KvNodeState;
  if (backend === 'memory') {
    node = openKvState(options);
    cleanups.push(() => node.state.close());
  } else {
    const directory = mkdtempSync(join(tmpdir(), 'cairn-kv-'));
    node = openKvState({ ...options, path: directory });
    cleanups.push(async () => {
      await node.state.close();
      rmSync(directory, { recursive: true, force: true });
    });
  }
  const feed = new EntryFeed();
  const run = (command: KvCommand, runOptions: { system?: boolean } = {}): KvResult => {
    const [result] = node.state.apply([feed.command(command, runOptions)]) as KvApplyResult[];
    return result as KvResult;
  };
  return {
    node,
    feed,
    run,
    put: (key, value, lease) => run(lease === undefined ? { type: 'put', key: utf8(key), value: utf8(value) } : { type: 'put', key: utf8(key), value: utf8(value), lease }),
    value: (key, revision) => {
      const result = node.kv.get(utf8(key), revision === undefined ? {} : { revision });
      assert.ok(!('code' in result), JSON.stringify(result));
      return text(result.kv?.value);
    },
    keys: (prefix) => {
      const result = node.kv.range({ range: { prefix: utf8(prefix) } });
      assert.ok(!('code' in result));
      return result.kvs.map((kv) => text(kv.key)!);
    },
    errorCode: (command, runOptions) => {
      const result = run(command, runOptions);
      assert.equal(result.type, 'error', `expected an error, got ${JSON.stringify(plain(result))}`);
      return result.type === 'error' ? result.error.code : '';
    },
    tableSize: (table) => [...node.state.store.range(table)].length,
  };
}

for (const backend of ['memory', 'lmdb'] as const) {
  describe(`KV state (${backend})`, () => {
    test('put, get, delete with revisions, versions and create revisions', () => {
      const h = harnessOn(backend);
      assert.deepEqual(plain(h.put('a', '1')), { type: 'put', revision: 1 });
      h.put('a', '2');
      h.put('b', '1');
      const got = h.node.kv.get(utf8('a'));
      assert.ok(!('code' in got));
      assert.deepEqual(plain(got), { revision: 3, kv: { key: 'a', value: '2', createRevision: 1, modRevision: 2, version: 2, lease: 0 } });
      assert.deepEqual(plain(h.run({ type: 'delete', range: { key: utf8('a') }, prevKv: true })), {
        type: 'delete', revision: 4, deleted: 1, prevKvs: [{ key: 'a', value: '2', createRevision: 1, modRevision: 2, version: 2, lease: 0 }],
      });
      assert.equal(h.value('a'), undefined);
      h.put('a', '3');
      const recreated = h.node.kv.get(utf8('a'));
      assert.ok(!('code' in recreated));
      assert.equal(recreated.kv?.createRevision, 5);
      assert.equal(recreated.kv?.version, 1);
      // Past reads.
      assert.equal(h.value('a', 1), '1');
      assert.equal(h.value('a', 3), '2');
      assert.equal(h.value('a', 4), undefined);
      assert.equal(h.value('b', 2), undefined);
    });

    test('a delete that deletes nothing and a failed command keep the revision', () => {
      const h = harnessOn(backend);
      h.put('a', '1');
      assert.deepEqual(plain(h.run({ type: 'delete', range: { prefix: utf8('zz') } })), { type: 'delete', revision: 1, deleted: 0 });
      assert.equal(h.errorCode({ type: 'put', key: new Uint8Array(0), value: utf8('x') }), 'key-empty');
      assert.equal(h.node.kv.currentRevision(), 1);
    });

    test('put with prevKv returns the previous state only when there was one', () => {
      const h = harnessOn(backend);
      assert.deepEqual(plain(h.run({ type: 'put', key: utf8('k'), value: utf8('1'), prevKv: true })), { type: 'put', revision: 1 });
      assert.deepEqual(plain(h.run({ type: 'put', key: utf8('k'), value: utf8('2'), prevKv: true })), {
        type: 'put', revision: 2, prevKv: { key: 'k', value: '1', createRevision: 1, modRevision: 1, version: 1, lease: 0 },
      });
    });

    test('delete by prefix and by range', () => {
      const h = harnessOn(backend);
      for (const key of ['a', 'a/1', 'a/2', 'b', 'c']) h.put(key, 'v');
      const byPrefix = h.run({ type: 'delete', range: { prefix: utf8('a/') } });
      assert.deepEqual(plain(byPrefix), { type: 'delete', revision: 6, deleted: 2 });
      const byRange = h.run({ type: 'delete', range: { start: utf8('a'), end: utf8('c') } });
      assert.deepEqual(plain(byRange), { type: 'delete', revision: 7, deleted: 2 });
      assert.deepEqual(h.keys(''), ['c']);
    });

    test('scan by prefix and range with limit, continuation (pinned revision), keysOnly, countOnly', () => {
      const h = harnessOn(backend);
      for (const key of ['p/1', 'p/2', 'p/3', 'p/4', 'q']) h.put(key, `v${key}`);
      const first = h.node.kv.range({ range: { prefix: utf8('p/') }, limit: 3 }) as RangeResult;
      assert.deepEqual(first.kvs.map((kv) => text(kv.key)), ['p/1', 'p/2', 'p/3']);
      assert.equal(first.more, true);
      assert.equal(typeof first.continuation, 'string');
      h.put('p/4', 'changed');
      h.put('p/5', 'new');
      const second = h.node.kv.range({ range: { prefix: utf8('p/') }, limit: 3, continuation: first.continuation! }) as RangeResult;
      assert.deepEqual(second.kvs.map((kv) => [text(kv.key), text(kv.value)]), [['p/4', 'vp/4']], 'the next page reads at the first page revision');
      assert.equal(second.revision, 5);
      assert.equal(second.more, false);
      const keysOnly = h.node.kv.range({ range: { start: utf8('p/2'), end: utf8('p/4') }, keysOnly: true }) as RangeResult;
      assert.deepEqual(keysOnly.kvs.map((kv) => [text(kv.key), kv.value.length]), [['p/2', 0], ['p/3', 0]]);
      const count = h.node.kv.range({ range: { start: new Uint8Array(0) }, countOnly: true }) as RangeResult;
      assert.equal(count.count, 6);
      assert.equal(count.kvs.length, 0);
    });

    test('read errors: compacted, future revision, bad continuation, bad limit, bad range, reserved', () => {
      const h = harnessOn(backend);
      for (let index = 0; index < 5; index++) h.put('k', String(index));
      assert.deepEqual(plain(h.run({ type: 'compact', revision: 3 })), { type: 'compact', revision: 5, compactRevision: 3 });
      const compacted = h.node.kv.get(utf8('k'), { revision: 2 });
      assert.ok('code' in compacted);
      assert.equal(compacted.code, 'compacted');
      assert.equal(compacted.compactRevision, 3);
      assert.match(compacted.message, /revision 2 is compacted; the oldest readable revision is 3/);
      assert.equal(h.value('k', 3), '2');
      const future = h.node.kv.get(utf8('k'), { revision: 6 });
      assert.ok('code' in future && future.code === 'future-revision');
      const badToken = h.node.kv.range({ range: { prefix: utf8('k') }, continuation: 'nonsense' });
      assert.ok('code' in badToken && badToken.code === 'continuation-invalid');
      const badLimit = h.node.kv.range({ range: { prefix: utf8('k') }, limit: 0 });
      assert.ok('code' in badLimit && badLimit.code === 'limit-invalid');
      const badRange = h.node.kv.range({ range: { start: utf8('b'), end: utf8('a') } });
      assert.ok('code' in badRange && badRange.code === 'range-invalid');
      const badRevision = h.node.kv.get(utf8('k'), { revision: -1 });
      assert.ok('code' in badRevision && badRevision.code === 'revision-invalid');
      const reserved = h.node.kv.get(utf8('_cairn/x'));
      assert.ok('code' in reserved && reserved.code === 'reserved-key');
      const reservedPrefix = h.node.kv.range({ range: { prefix: utf8('_cairn/') } });
      assert.ok('code' in reservedPrefix && reservedPrefix.code === 'reserved-key');
    });

    test('reserved keys: refused to clients, writable by the system, hidden from client scans and deletes', () => {
      const h = harnessOn(backend);
      assert.equal(h.errorCode({ type: 'put', key: utf8('_cairn/members'), value: utf8('x') }), 'reserved-key');
      assert.equal(h.errorCode({ type: 'delete', range: { key: utf8('_cairn/members') } }), 'reserved-key');
      assert.equal(h.errorCode({ type: 'txn', compare: [{ key: utf8('_cairn/a'), target: 'exists', operator: '=', value: true }], success: [], failure: [] }), 'reserved-key');
      assert.equal(h.run({ type: 'put', key: utf8('_cairn/members'), value: utf8('x') }, { system: true }).type, 'put');
      h.put('_', 'under');
      h.put('a', 'over');
      const all = h.node.kv.range({ range: { start: new Uint8Array(0) } }) as RangeResult;
      assert.deepEqual(all.kvs.map((kv) => text(kv.key)), ['_', 'a']);
      const systemView = h.node.kv.range({ range: { start: new Uint8Array(0) } }, { system: true }) as RangeResult;
      assert.deepEqual(systemView.kvs.map((kv) => text(kv.key)), ['_', '_cairn/members', 'a']);
      assert.deepEqual(plain(h.run({ type: 'delete', range: { start: new Uint8Array(0) } })), { type: 'delete', revision: 4, deleted: 2 });
      const kept = h.node.kv.get(utf8('_cairn/members'), { system: true });
      assert.ok(!('code' in kept) && text(kept.kv?.value) === 'x');
    });

    test('limits: key and value sizes, txn size, keys per delete, with actionable messages', () => {
      const h = harnessOn(backend, { limits: { maxValueBytes: 16, maxTxnOperations: 2, maxDeleteKeys: 2 } });
      const big = h.run({ type: 'put', key: utf8('k'), value: new Uint8Array(17) });
      assert.ok(big.type === 'error');
      assert.deepEqual(big.error, { code: 'value-too-large', message: 'the value is 17 bytes; the limit is 16 (set --max-value-bytes)' });
      assert.equal(h.errorCode({ type: 'put', key: new Uint8Array(4097).fill(97), value: utf8('v') }), 'key-too-large');
      assert.equal(h.run({ type: 'put', key: new Uint8Array(4096).fill(97), value: utf8('v') }).type, 'put');
      const put = { type: 'put' as const, key: utf8('x'), value: utf8('1') };
      assert.equal(h.errorCode({ type: 'txn', compare: [], success: [put, put, put], failure: [] }), 'too-many-operations');
      for (const key of ['d1', 'd2', 'd3']) h.put(key, 'v');
      const tooMany = h.run({ type: 'delete', range: { prefix: utf8('d') } });
      assert.ok(tooMany.type === 'error' && tooMany.error.code === 'too-many-keys');
      assert.match(tooMany.error.message, /more than 2 keys; delete the range in smaller parts/);
      assert.deepEqual(h.keys('d'), ['d1', 'd2', 'd3']);
    });

    test('a range page stops before maxRangeBytes (always at least one key) and continues', () => {
      const h = harnessOn(backend, { limits: { maxRangeBytes: 25 } });
      for (const key of ['r1', 'r2', 'r3']) h.put(key, 'x'.repeat(10)); // 12 bytes each
      const first = h.node.kv.range({ range: { prefix: utf8('r') } }) as RangeResult;
      assert.deepEqual(first.kvs.map((kv) => text(kv.key)), ['r1', 'r2']);
      assert.equal(first.more, true);
      const second = h.node.kv.range({ range: { prefix: utf8('r') }, continuation: first.continuation! }) as RangeResult;
      assert.deepEqual(second.kvs.map((kv) => text(kv.key)), ['r3']);
      h.put('r0', 'y'.repeat(40));
      const oversized = h.node.kv.range({ range: { prefix: utf8('r') } }) as RangeResult;
      assert.deepEqual(oversized.kvs.map((kv) => text(kv.key)), ['r0']);
    });

    test('malformed commands are error results, never exceptions', () => {
      const h = harnessOn(backend);
      const garbage = [Uint8Array.of(KV_MODULE_TAG, 0, 0xc1), Uint8Array.of(KV_MODULE_TAG, 0, 0x90), Uint8Array.of(KV_MODULE_TAG), Uint8Array.of(0x7f, 1, 2), new Uint8Array(0)];
      const wrongShape = Buffer.concat([Buffer.from([KV_MODULE_TAG, 0]), Buffer.from([0x81, 0xa4, 0x74, 0x79, 0x70, 0x65, 0xa3, 0x70, 0x75, 0x74])]); // {type:'put'}
      const results = h.node.state.apply([...garbage, wrongShape].map((data) => h.feed.raw(data)));
      for (const result of results) {
        assert.ok(result !== null && result.type === 'error');
        assert.equal(result.error.code, 'malformed-command');
      }
      assert.equal(h.node.state.appliedIndex(), 6);
    });

    test('transactions: compares on every target, then/else, one revision, reads see earlier writes', () => {
      const h = harnessOn(backend);
      h.put('a', 'x');
      h.put('a', 'y');
      const txn = (compare: Extract<KvCommand, { type: 'txn' }>['compare'][number]): TxnResult =>
        h.run({ type: 'txn', compare: [compare], success: [], failure: [] }) as TxnResult;
      const key = utf8('a');
      const cases: [Extract<KvCommand, { type: 'txn' }>['compare'][number], boolean][] = [
        [{ key, target: 'value', operator: '=', value: utf8('y') }, true],
        [{ key, target: 'value', operator: '<', value: utf8('z') }, true],
        [{ key, target: 'value', operator: '>', value: utf8('z') }, false],
        [{ key, target: 'value', operator: '!=', value: utf8('y') }, false],
        [{ key: utf8('missing'), target: 'value', operator: '!=', value: utf8('y') }, false],
        [{ key, target: 'version', operator: '=', value: 2 }, true],
        [{ key, target: 'create-revision', operator: '=', value: 1 }, true],
        [{ key, target: 'mod-revision', operator: '>', value: 1 }, true],
        [{ key, target: 'mod-revision', operator: '<', value: 2 }, false],
        [{ key, target: 'lease', operator: '=', value: 0 }, true],
        [{ key, target: 'exists', operator: '=', value: true }, true],
        [{ key: utf8('missing'), target: 'exists', operator: '!=', value: true }, true],
        [{ key: utf8('missing'), target: 'version', operator: '=', value: 0 }, true],
      ];
      for (const [compare, expected] of cases) assert.equal(txn(compare).succeeded, expected, JSON.stringify(plain(compare)));
      const result = h.run({
        type: 'txn',
        compare: [{ key, target: 'value', operator: '=', value: utf8('y') }],
        success: [
          { type: 'put', key: utf8('b'), value: utf8('1') },
          { type: 'put', key: utf8('c'), value: utf8('2'), prevKv: true },
          { type: 'delete', range: { key }, prevKv: true },
          { type: 'range', range: { start: utf8('a'), end: utf8('d') } },
        ],
        failure: [{ type: 'put', key: utf8('never'), value: utf8('x') }],
      });
      assert.deepEqual(plain(result), {
        type: 'txn', revision: 3, succeeded: true,
        results: [
          { type: 'put', revision: 3 },
          { type: 'put', revision: 3 },
          { type: 'delete', revision: 3, deleted: 1, prevKvs: [{ key: 'a', value: 'y', createRevision: 1, modRevision: 2, version: 2, lease: 0 }] },
          { type: 'range', revision: 3, more: false, kvs: [
            { key: 'b', value: '1', createRevision: 3, modRevision: 3, version: 1, lease: 0 },
            { key: 'c', value: '2', createRevision: 3, modRevision: 3, version: 1, lease: 0 },
          ] },
        ],
      });
      const failed = h.run({ type: 'txn', compare: [{ key, target: 'exists', operator: '=', value: true }], success: [], failure: [{ type: 'range', range: { key: utf8('b') } }] });
      assert.equal(failed.type === 'txn' && failed.succeeded, false);
      assert.equal(h.node.kv.currentRevision(), 3, 'a read-only txn does not take a revision');
    });

    test('compare-and-swap, compare-and-delete, revision CAS', () => {
      const h = harnessOn(backend);
      const create = h.run(compareAndSwap(utf8('lock'), undefined, utf8('me'))) as TxnResult;
      assert.equal(create.succeeded, true);
      const again = h.run(compareAndSwap(utf8('lock'), undefined, utf8('you'))) as TxnResult;
      assert.equal(again.succeeded, false);
      assert.equal(text((again.results[0] as RangeResult).kvs[0]!.value), 'me', 'a failed CAS returns the current value');
      assert.equal((h.run(compareAndSwap(utf8('lock'), utf8('me'), utf8('me2'))) as TxnResult).succeeded, true);
      assert.equal((h.run(compareRevisionAndSwap(utf8('lock'), 1, utf8('stale'))) as TxnResult).succeeded, false);
      assert.equal((h.run(compareRevisionAndSwap(utf8('lock'), 2, utf8('fresh'))) as TxnResult).succeeded, true);
      assert.equal((h.run(compareAndDelete(utf8('lock'), utf8('wrong'))) as TxnResult).succeeded, false);
      assert.equal((h.run(compareAndDelete(utf8('lock'), utf8('fresh'))) as TxnResult).succeeded, true);
      assert.equal(h.value('lock'), undefined);
    });

    test('leases: grant (derived and given ids), attach, detach, revoke deletes keys in one revision, checkpoint', () => {
      const h = harnessOn(backend, { limits: { maxLeases: 3 } });
      const derived = h.run({ type: 'lease-grant', ttlSeconds: 10 });
      assert.deepEqual(plain(derived), { type: 'lease-grant', revision: 0, id: 1, ttlSeconds: 10 });
      // Client takes id 3; the grant at log index 3 would derive 3: it gets 4 instead.
      assert.deepEqual(plain(h.run({ type: 'lease-grant', id: 3, ttlSeconds: 5 })), { type: 'lease-grant', revision: 0, id: 3, ttlSeconds: 5 });
      assert.equal((h.run({ type: 'lease-grant', ttlSeconds: 5 }) as { id: number }).id, 4);
      assert.equal(h.errorCode({ type: 'lease-grant', ttlSeconds: 5 }), 'too-many-leases');
      assert.equal(h.errorCode({ type: 'lease-grant', id: 3, ttlSeconds: 5 }), 'too-many-leases');
      assert.equal(h.errorCode({ type: 'lease-revoke', id: 99 }), 'lease-not-found');
      assert.equal(h.errorCode({ type: 'put', key: utf8('x'), value: utf8('1'), lease: 99 }), 'lease-not-found');
      h.put('s1', 'a', 1);
      h.put('s2', 'b', 1);
      h.put('s3', 'c', 3);
      h.put('s3', 'c2', 1); // moves to lease 1
      h.put('s4', 'd', 1);
      h.put('s4', 'd2'); // detached
      assert.deepEqual(h.node.kv.leaseKeys(1, 10).map((key) => text(key)), ['s1', 's2', 's3']);
      assert.deepEqual(h.node.kv.leaseKeys(3, 10), []);
      const revoked = h.run({ type: 'lease-revoke', id: 1 });
      assert.deepEqual(plain(revoked), { type: 'lease-revoke', revision: 7, id: 1, deleted: 3 });
      assert.deepEqual(h.keys('s'), ['s4']);
      assert.equal(h.node.kv.lease(1), undefined);
      assert.deepEqual(plain(h.run({ type: 'lease-checkpoint', checkpoints: [{ id: 3, remainingSeconds: 2 }, { id: 1, remainingSeconds: 1 }] })), { type: 'lease-checkpoint', revision: 7, updated: 1 });
      assert.deepEqual(h.node.kv.leases(), [{ id: 3, ttlSeconds: 5, remainingSeconds: 2 }, { id: 4, ttlSeconds: 5, remainingSeconds: 0 }]);
      assert.equal(h.errorCode({ type: 'lease-grant', id: 7, ttlSeconds: 0 }), 'lease-ttl-invalid');
      assert.equal(h.errorCode({ type: 'lease-grant', id: -1, ttlSeconds: 1 }), 'lease-id-invalid');
      assert.equal(h.run({ type: 'lease-revoke', id: 3 }).type, 'lease-revoke');
      assert.equal(h.errorCode({ type: 'lease-grant', id: 4, ttlSeconds: 5 }), 'lease-exists');
    });

    test('compaction: errors, then physical removal in bounded steps, reads at and above stay exact', () => {
      const h = harnessOn(backend, { compactionStepEntries: 2 });
      for (let index = 1; index <= 6; index++) h.put('k', String(index)); // revisions 1..6
      h.put('gone', 'x'); // 7
      h.run({ type: 'delete', range: { key: utf8('gone') } }); // 8
      h.put('other', 'o'); // 9
      assert.equal(h.errorCode({ type: 'compact', revision: 10 }), 'future-revision');
      assert.equal(h.tableSize(KV_TABLES.history), 9);
      h.run({ type: 'compact', revision: 9 });
      assert.equal(h.errorCode({ type: 'compact', revision: 9 }), 'compacted');
      assert.equal(h.node.kv.compactionPending(), true, 'a step of 2 entries cannot finish 8 entries at once');
      for (let index = 0; index < 4 && h.node.kv.compactionPending(); index++) h.node.state.apply([h.feed.noop()]);
      assert.equal(h.node.kv.compactionPending(), false);
      // Kept: k@6 (latest put below 9) and other@9; dropped: k@1..5, gone@7 and its delete.
      assert.equal(h.tableSize(KV_TABLES.history), 2);
      assert.equal(h.tableSize(KV_TABLES.keyRevisions), 2);
      assert.equal(h.value('k', 9), '6');
      assert.equal(h.value('gone', 9), undefined);
      assert.deepEqual(h.node.kv.history(9, 100, false).events.map((event) => text(event.kv.key)), ['other']);
    });

    test('commit notices: events in order after commit, lease changes, nothing for failed commands', () => {
      const h = harnessOn(backend);
      const notices: KvCommitNotice[] = [];
      const unsubscribe = h.node.kv.subscribe((notice) => notices.push(notice));
      h.node.state.apply([
        h.feed.command({ type: 'put', key: utf8('a'), value: utf8('1') }),
        h.feed.command({ type: 'lease-grant', id: 5, ttlSeconds: 9 }),
        h.feed.command({ type: 'put', key: utf8('a'), value: utf8('2') }),
        h.feed.command({ type: 'put', key: utf8('_cairn/x'), value: utf8('2') }),
      ]);
      assert.equal(notices.length, 1);
      assert.deepEqual(notices[0]!.events.map((event) => [event.type, text(event.kv.value), event.kv.modRevision, text(event.prevKv?.value)]), [['put', '1', 1, undefined], ['put', '2', 2, '1']]);
      assert.deepEqual(notices[0]!.leasesGranted, [{ id: 5, ttlSeconds: 9, remainingSeconds: 0 }]);
      h.run({ type: 'delete', range: { key: utf8('nothing') } });
      assert.equal(notices.length, 1, 'no notice when nothing changed');
      h.run({ type: 'lease-revoke', id: 5 });
      assert.deepEqual(notices[1]!.leasesRevoked, [5]);
      unsubscribe();
      h.put('b', '1');
      assert.equal(notices.length, 2);
    });

    test('a batch that throws is rolled back whole: data, revision, applied index, notices', () => {
      const h = harnessOn(backend);
      h.put('a', '1');
      const notices: KvCommitNotice[] = [];
      h.node.kv.subscribe((notice) => notices.push(notice));
      // Corrupt the stored record of "bad": decoding it during the next put throws (a corruption).
      h.node.state.store.write(() => h.node.state.store.put(KV_TABLES.current, utf8('bad'), Uint8Array.of(1, 2, 3)));
      const feedIndex = h.feed.nextIndex();
      assert.throws(() => h.node.state.apply([
        h.feed.command({ type: 'put', key: utf8('a'), value: utf8('2') }),
        h.feed.command({ type: 'put', key: utf8('bad'), value: utf8('x') }),
      ]));
      assert.equal(h.node.state.appliedIndex(), feedIndex - 1);
      assert.equal(h.node.kv.currentRevision(), 1);
      assert.equal(h.value('a'), '1');
      assert.equal(notices.length, 0);
    });
  });
}

test('a lease revoke deleting 150 000 keys applies in one revision and notifies every event', async () => {
  const node = openKvState();
  const feed = new EntryFeed();
  node.state.apply([feed.command({ type: 'lease-grant', id: 1, ttlSeconds: 10 })]);
  const puts = [];
  for (let index = 0; index < 150_000; index++) puts.push(feed.command({ type: 'put', key: utf8(`k${index}`), value: new Uint8Array(0), lease: 1 }));
  for (let start = 0; start < puts.length; start += 10_000) node.state.apply(puts.slice(start, start + 10_000));
  let events = 0;
  node.kv.subscribe((notice) => (events += notice.events.length));
  const [result] = node.state.apply([feed.command({ type: 'lease-revoke', id: 1 })]);
  assert.deepEqual(result, { type: 'lease-revoke', revision: 150_001, id: 1, deleted: 150_000 });
  assert.equal(events, 150_000);
  await node.state.close();
});
