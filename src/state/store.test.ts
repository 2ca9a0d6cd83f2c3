// One conformance suite for both OrderedStore implementations, against a naive sorted model:
// random puts/deletes (with keys long enough to take lmdb's long-key path), range reads forward
// and reverse with bounds and limits, atomic rollback of a failed write, reopen (lmdb).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { INLINE_KEY_BYTES, LmdbStore } from './lmdb-store.ts';
import { MemoryStore } from './memory-store.ts';
import type { OrderedStore } from './store.ts';

const TABLES = ['one', 'two'];
const LONG = 'x'.repeat(INLINE_KEY_BYTES - 3);
const KEY_TEXTS = ['', 'a', 'a\x00', 'ab', 'b', '\xff', `${LONG}`, `${LONG}pqr`, `${LONG}pqrs`, `${LONG}pqr\x00`, `${LONG}pqrsa`, `${LONG}pqrt`, `${LONG}pq\x00`, `${LONG}z${'y'.repeat(2000)}`];
const keyOf = (text: string): Buffer => Buffer.from(text, 'latin1');

type Operation = { put: boolean; table: string; key: string; value: string };

const operationArb: fc.Arbitrary<Operation> = fc.record({
  put: fc.boolean(),
  table: fc.constantFrom(...TABLES),
  key: fc.constantFrom(...KEY_TEXTS.filter((key) => key !== '')),
  value: fc.string({ maxLength: 5 }),
});

const rangeArb = fc.record({
  start: fc.option(fc.constantFrom(...KEY_TEXTS, `${LONG}p`, `${LONG}pqrs\x00`), { nil: undefined }),
  end: fc.option(fc.constantFrom(...KEY_TEXTS, `${LONG}pqrs`, `${LONG}q`, '\xff\xff'), { nil: undefined }),
  reverse: fc.boolean(),
  limit: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
});

function modelRange(model: Map<string, string>, range: { start?: string; end?: string; reverse: boolean; limit?: number }): [string, string][] {
  let entries = [...model].filter(([key]) => (range.start === undefined || key >= range.start) && (range.end === undefined || key < range.end));
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (range.reverse) entries.reverse();
  if (range.limit !== undefined) entries = entries.slice(0, range.limit);
  return entries;
}

function storeRange(store: OrderedStore, table: string, range: { start?: string; end?: string; reverse: boolean; limit?: number }): [string, string][] {
  const options = {
    reverse: range.reverse,
    ...(range.start === undefined ? {} : { start: keyOf(range.start) }),
    ...(range.end === undefined ? {} : { end: keyOf(range.end) }),
    ...(range.limit === undefined ? {} : { limit: range.limit }),
  };
  return [...store.range(table, options)].map(({ key, value }) => [Buffer.from(key).toString('latin1'), Buffer.from(value).toString('utf8')]);
}

function conformance(name: string, open: (directory: string) => OrderedStore): void {
  test(`${name}: matches a sorted model for gets and ranges (long keys included)`, () => {
    const directory = mkdtempSync(join(tmpdir(), 'cairn-store-'));
    let run = 0;
    try {
      fc.assert(
        fc.property(fc.array(fc.array(operationArb, { maxLength: 6 }), { maxLength: 6 }), fc.array(rangeArb, { minLength: 1, maxLength: 6 }), (batches, ranges) => {
          const store = open(join(directory, `run-${run++}`));
          const models = new Map(TABLES.map((table) => [table, new Map<string, string>()]));
          try {
            for (const batch of batches) {
              store.write(() => {
                for (const operation of batch) {
                  const model = models.get(operation.table)!;
                  if (operation.put) {
                    store.put(operation.table, keyOf(operation.key), Buffer.from(operation.value));
                    model.set(operation.key, operation.value);
                  } else {
                    store.delete(operation.table, keyOf(operation.key));
                    model.delete(operation.key);
                  }
                }
              });
            }
            for (const table of TABLES) {
              const model = models.get(table)!;
              for (const key of KEY_TEXTS) {
                const value = store.get(table, keyOf(key));
                assert.equal(value === undefined ? undefined : Buffer.from(value).toString('utf8'), model.get(key));
              }
              for (const range of ranges) assert.deepEqual(storeRange(store, table, range), modelRange(model, range), JSON.stringify(range).slice(0, 200));
            }
          } finally {
            void store.close();
          }
        }),
        { numRuns: 40 },
      );
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test(`${name}: a write that throws leaves nothing behind`, async () => {
    const directory = mkdtempSync(join(tmpdir(), 'cairn-store-'));
    const store = open(join(directory, 'db'));
    try {
      store.write(() => store.put('one', keyOf('kept'), Buffer.from('1')));
      assert.throws(() => store.write(() => {
        store.put('one', keyOf('kept'), Buffer.from('2'));
        store.put('one', keyOf(`${LONG}pqrs`), Buffer.from('3'));
        store.delete('one', keyOf('kept'));
        store.put('two', keyOf('new'), Buffer.from('4'));
        throw new Error('boom');
      }), /boom/);
      assert.deepEqual(storeRange(store, 'one', { reverse: false }), [['kept', '1']]);
      assert.deepEqual(storeRange(store, 'two', { reverse: false }), []);
      store.write(() => store.clearAll());
      assert.deepEqual(storeRange(store, 'one', { reverse: false }), []);
    } finally {
      await store.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test(`${name}: writes outside write() are refused`, async () => {
    const directory = mkdtempSync(join(tmpdir(), 'cairn-store-'));
    const store = open(join(directory, 'db'));
    try {
      assert.throws(() => store.put('one', keyOf('a'), Buffer.from('1')), /outside a write transaction/);
      assert.throws(() => store.get('nope', keyOf('a')), /unknown table/);
    } finally {
      await store.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });
}

conformance('memory store', () => new MemoryStore(TABLES));
conformance('lmdb store', (path) => new LmdbStore({ path, tableNames: TABLES }));

test('lmdb store: committed data, long keys included, survive a reopen', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'cairn-store-'));
  try {
    const first = new LmdbStore({ path: directory, tableNames: TABLES });
    first.write(() => {
      first.put('one', keyOf('a'), Buffer.from('1'));
      first.put('one', keyOf(`${LONG}pqrs`), Buffer.from('2'));
    });
    await first.flushed();
    await first.close();
    const second = new LmdbStore({ path: directory, tableNames: TABLES });
    assert.deepEqual(storeRange(second, 'one', { reverse: false }), [['a', '1'], [`${LONG}pqrs`, '2']]);
    await second.close();
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('lmdb store: values read stay valid after further reads and writes', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'cairn-store-'));
  const store = new LmdbStore({ path: directory, tableNames: TABLES });
  try {
    store.write(() => {
      store.put('one', keyOf('a'), Buffer.from('first'));
      store.put('one', keyOf('b'), Buffer.from('second'));
    });
    const value = store.get('one', keyOf('a'))!;
    store.get('one', keyOf('b'));
    store.write(() => store.put('one', keyOf('a'), Buffer.from('other')));
    assert.equal(Buffer.from(value).toString(), 'first');
  } finally {
    await store.close();
    rmSync(directory, { recursive: true, force: true });
  }
});
