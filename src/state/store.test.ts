// One conformance suite for every OrderedStore implementation, against a naive sorted model:
// random puts/deletes/clears (with keys long enough to take lmdb's long-key path), writes that
// throw halfway, range reads forward and reverse with bounds and limits after every write,
// atomic rollback of a failed write, reopen (lmdb). The overlay store runs it over lmdb and over
// a controlled base, with flushes started, committed and made durable between the writes, so
// reads are checked with a frozen delta in flight, just committed, and gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { INLINE_KEY_BYTES, LmdbStore } from './lmdb-store.ts';
import { MemoryStore } from './memory-store.ts';
import { OverlayStore } from './overlay-store.ts';
import { ControlledBase, ManualClock, settle } from './overlay-testing.ts';
import type { OrderedStore } from './store.ts';

const TABLES = ['one', 'two'];
const LONG = 'x'.repeat(INLINE_KEY_BYTES - 3);
const KEY_TEXTS = ['', 'a', 'a\x00', 'ab', 'b', '\xff', `${LONG}`, `${LONG}pqr`, `${LONG}pqrs`, `${LONG}pqr\x00`, `${LONG}pqrsa`, `${LONG}pqrt`, `${LONG}pq\x00`, `${LONG}z${'y'.repeat(2000)}`];
const keyOf = (text: string): Buffer => Buffer.from(text, 'latin1');

type Operation = { put: boolean; table: string; key: string; value: string } | { clear: true };

const operationArb: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 30,
    arbitrary: fc.record({
      put: fc.boolean(),
      table: fc.constantFrom(...TABLES),
      key: fc.constantFrom(...KEY_TEXTS.filter((key) => key !== '')),
      value: fc.string({ maxLength: 5 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ clear: true as const }) },
);

/** What happens to a store between two writes (only the overlay reacts): see flushAction. */
type Action = 'none' | 'start-flush' | 'commit' | 'durable' | 'settle';

const batchArb = fc.record({
  operations: fc.array(operationArb, { maxLength: 6 }),
  throws: fc.integer({ min: 0, max: 9 }).map((draw) => draw === 0),
  action: fc.constantFrom<Action>('none', 'start-flush', 'start-flush', 'commit', 'durable', 'settle'),
});

const rangeArb = fc.record({
  start: fc.option(fc.constantFrom(...KEY_TEXTS, `${LONG}p`, `${LONG}pqrs\x00`), { nil: undefined }),
  end: fc.option(fc.constantFrom(...KEY_TEXTS, `${LONG}pqrs`, `${LONG}q`, '\xff\xff'), { nil: undefined }),
  reverse: fc.boolean(),
  limit: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
});

type RangeCase = { start?: string; end?: string; reverse: boolean; limit?: number };

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

/** A store under test, and what the actions between writes do to it. */
interface Subject {
  readonly store: OrderedStore;
  act(action: Action): Promise<void>;
  close(): Promise<void>;
}

const plainSubject = (store: OrderedStore): Subject => ({ store, act: async () => {}, close: () => store.close() });

function applyOperation(store: OrderedStore, models: Map<string, Map<string, string>>, operation: Operation): void {
  if ('clear' in operation) {
    store.clearAll();
    for (const model of models.values()) model.clear();
  } else if (operation.put) {
    store.put(operation.table, keyOf(operation.key), Buffer.from(operation.value));
    models.get(operation.table)!.set(operation.key, operation.value);
  } else {
    store.delete(operation.table, keyOf(operation.key));
    models.get(operation.table)!.delete(operation.key);
  }
}

function checkAgainstModel(store: OrderedStore, models: Map<string, Map<string, string>>, ranges: RangeCase[], allKeys: boolean): void {
  for (const table of TABLES) {
    const model = models.get(table)!;
    for (const key of allKeys ? KEY_TEXTS : KEY_TEXTS.slice(0, 4)) {
      const value = store.get(table, keyOf(key));
      assert.equal(value === undefined ? undefined : Buffer.from(value).toString('utf8'), model.get(key));
    }
    for (const range of ranges) assert.deepEqual(storeRange(store, table, range), modelRange(model, range), JSON.stringify(range).slice(0, 200));
  }
}

function conformance(name: string, open: (directory: string) => Subject, numRuns = 40): void {
  test(`${name}: matches a sorted model for gets and ranges (long keys, clears, failed writes)`, async () => {
    const directory = mkdtempSync(join(tmpdir(), 'cairn-store-'));
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(batchArb, { maxLength: 8 }), fc.array(rangeArb, { minLength: 1, maxLength: 6 }), async (batches, ranges) => {
          const { store, act, close } = open(join(directory, `run-${run++}`));
          let models = new Map(TABLES.map((table) => [table, new Map<string, string>()]));
          try {
            for (const batch of batches) {
              const before = new Map([...models].map(([table, model]) => [table, new Map(model)]));
              const failure = new Error('rolled back on purpose');
              try {
                store.write(() => {
                  for (const operation of batch.operations) applyOperation(store, models, operation);
                  if (batch.throws) throw failure;
                });
              } catch (error) {
                assert.equal(error, failure);
                models = before;
              }
              await act(batch.action);
              checkAgainstModel(store, models, ranges.slice(0, 2), false);
            }
            checkAgainstModel(store, models, ranges, true);
          } finally {
            await close();
          }
        }),
        { numRuns },
      );
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test(`${name}: a write that throws leaves nothing behind`, async () => {
    const directory = mkdtempSync(join(tmpdir(), 'cairn-store-'));
    const { store, close } = open(join(directory, 'db'));
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
      await close();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test(`${name}: writes outside write() are refused`, async () => {
    const directory = mkdtempSync(join(tmpdir(), 'cairn-store-'));
    const { store, close } = open(join(directory, 'db'));
    try {
      assert.throws(() => store.put('one', keyOf('a'), Buffer.from('1')), /outside a write transaction/);
      assert.throws(() => store.get('nope', keyOf('a')), /unknown table/);
    } finally {
      await close();
      rmSync(directory, { recursive: true, force: true });
    }
  });
}

conformance('memory store', () => plainSubject(new MemoryStore(TABLES)));
conformance('lmdb store', (path) => plainSubject(new LmdbStore({ path, tableNames: TABLES })));

// Over lmdb: flushes really run on lmdb's write thread, so 'start-flush' leaves one in flight
// for the next write and reads; 'settle' lets the commit and the flush finish.
conformance('overlay store over lmdb', (path) => {
  const store = new OverlayStore(new LmdbStore({ path, tableNames: TABLES }), { clock: new ManualClock() });
  return {
    store,
    close: () => store.close(),
    act: async (action) => {
      if (action === 'start-flush' || action === 'commit') store.startFlush();
      if (action === 'commit' || action === 'settle') await settle();
      if (action === 'durable') {
        store.startFlush();
        await store.flushed();
      }
    },
  };
});

// Over a controlled base: each step of a flush happens exactly when the action says, with
// writes and reads in between, and the clock's interval timer firing now and then too.
conformance('overlay store over a controlled base', () => {
  const clock = new ManualClock();
  const base = new ControlledBase(TABLES);
  const store = new OverlayStore(base, { clock, flushIntervalMs: 10, flushBytesMax: 4096 });
  return {
    store,
    // close() flushes what is left: play the base's part until it is done.
    close: async () => {
      let done = false;
      const closing = store.close().finally(() => (done = true));
      while (!done) {
        base.commit();
        base.makeDurable();
        await settle();
      }
      await closing;
      assert.ok(base.closed, 'the base was closed');
    },
    act: async (action) => {
      if (action === 'start-flush') store.startFlush();
      if (action === 'commit') base.commit();
      if (action === 'durable') base.makeDurable();
      if (action === 'settle') clock.advance(10);
      await settle(); // the overlay learns of a commit in a promise callback
    },
  };
}, 150);

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
