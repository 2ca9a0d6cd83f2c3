// The conformance suite every DurableStorage passes (MemoryStorage, FileStorage on the simulated
// and on the real file system). A test file calls `runStorageConformance(name, createHarness)`.
// The harness gives a persistent location: open() after close() is a restart on the same data.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EMPTY_CONF_STATE, EMPTY_HARD_STATE, InvariantError } from '../core/index.ts';
import type { ConfState, Entry, HardState, Snapshot } from '../core/index.ts';
import type { DurableStorage, StorageUpdate } from './types.ts';
import { isStorageError } from './types.ts';

export interface StorageHarness {
  /** Opens the storage at the harness's location; after close(), opening again is a restart. */
  open(): Promise<DurableStorage>;
  /** Frees the location (temporary directories...). */
  dispose(): Promise<void>;
}

export interface ConformanceOptions {
  /** Runs of the model-based property test (keep it small on a real disk). Default 40. */
  readonly propertyRuns?: number;
}

export function entry(index: number, term: number, dataBytes = 8): Entry {
  const data = new Uint8Array(dataBytes);
  for (let position = 0; position < dataBytes; position++) data[position] = (index * 31 + term * 7 + position) & 0xff;
  return { index, term, type: index % 7 === 0 ? 'conf-change' : 'normal', data };
}

export function entriesFrom(first: number, count: number, term: number, dataBytes = 8): Entry[] {
  return Array.from({ length: count }, (_, offset) => entry(first + offset, term, dataBytes));
}

const CONF_STATE: ConfState = { voters: [1, 2, 3], learners: [4], votersOutgoing: [], learnersNext: [], autoLeave: false };

function snapshotAt(index: number, term: number, confState: ConfState = CONF_STATE, dataBytes = 64): Snapshot {
  const data = new Uint8Array(dataBytes).map((_, position) => (index + position) & 0xff);
  return { metadata: { index, term, confState }, data };
}

/** Everything a reader can observe, for comparing two storages or a storage and the model. */
export function observe(storage: DurableStorage): unknown {
  const first = storage.firstIndex();
  const last = storage.lastIndex();
  const terms: (number | undefined)[] = [];
  for (let index = Math.max(0, first - 2); index <= last + 1; index++) terms.push(storage.term(index));
  const snapshot = storage.snapshot();
  return {
    state: storage.initialState(),
    first,
    last,
    terms,
    entries: last >= first ? storage.entries(first, last + 1, Number.MAX_SAFE_INTEGER) : [],
    snapshot: snapshot === undefined ? undefined : { metadata: snapshot.metadata, data: [...snapshot.data] },
  };
}

async function withStorage(createHarness: () => Promise<StorageHarness> | StorageHarness, body: (harness: StorageHarness) => Promise<void>): Promise<void> {
  const harness = await createHarness();
  try {
    await body(harness);
  } finally {
    await harness.dispose();
  }
}

async function reopen(harness: StorageHarness, storage: DurableStorage): Promise<DurableStorage> {
  await storage.close();
  return harness.open();
}

type RegisterTest = (title: string, body: (harness: StorageHarness) => Promise<void>) => void;

export function runStorageConformance(name: string, createHarness: () => Promise<StorageHarness> | StorageHarness, options: ConformanceOptions = {}): void {
  const test: RegisterTest = (title, body) => {
    it(title, () => withStorage(createHarness, body));
  };
  describe(`storage conformance: ${name}`, () => {
    logTests(test);
    snapshotTests(test);
    lifecycleTests(test);
    it('matches a reference model under random operations and restarts', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(operationArbitrary, { minLength: 1, maxLength: 60, size: 'max' }), async (operations) => {
          await withStorage(createHarness, (harness) => checkAgainstModel(harness, operations));
        }),
        { numRuns: options.propertyRuns ?? 40 },
      );
    });
  });
}

function logTests(test: RegisterTest): void {
  test('a new storage is empty', async (harness) => {
    const storage = await harness.open();
    assert.deepEqual(storage.initialState(), { hardState: EMPTY_HARD_STATE, confState: EMPTY_CONF_STATE });
    assert.equal(storage.firstIndex(), 1);
    assert.equal(storage.lastIndex(), 0);
    assert.equal(storage.term(0), 0);
    assert.equal(storage.term(1), undefined);
    assert.equal(storage.snapshot()?.metadata.index ?? 0, 0);
    await storage.close();
  });

  test('appends entries and serves them, their terms and the hard state', async (harness) => {
    const storage = await harness.open();
    await storage.save({ entries: entriesFrom(1, 3, 1), hardState: { term: 1, vote: 2, commit: 1 } }, true);
    await storage.save({ entries: entriesFrom(4, 2, 2), hardState: { term: 2, vote: 3, commit: 3 } }, false);
    assert.equal(storage.firstIndex(), 1);
    assert.equal(storage.lastIndex(), 5);
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((index) => storage.term(index)), [0, 1, 1, 1, 2, 2, undefined]);
    assert.deepEqual(storage.entries(2, 5, Number.MAX_SAFE_INTEGER), [entry(2, 1), entry(3, 1), entry(4, 2)]);
    assert.deepEqual(storage.initialState().hardState, { term: 2, vote: 3, commit: 3 });
    await storage.close();
  });

  test('limits entries by bytes, returning at least one', async (harness) => {
    const storage = await harness.open();
    await storage.save({ entries: entriesFrom(1, 10, 1, 100) }, true);
    const size = 100 + 24; // entrySizeBytes: data plus a fixed overhead
    assert.equal(storage.entries(1, 11, 0).length, 1);
    assert.equal(storage.entries(1, 11, size).length, 1);
    assert.equal(storage.entries(1, 11, size * 3).length, 3);
    assert.equal(storage.entries(1, 11, size * 3 + size - 1).length, 3);
    assert.equal(storage.entries(4, 11, Number.MAX_SAFE_INTEGER).length, 7);
    await storage.close();
  });

  test('an overlapping save replaces the conflicting tail', async (harness) => {
    let storage = await harness.open();
    await storage.save({ entries: entriesFrom(1, 5, 1) }, true);
    await storage.save({ entries: entriesFrom(3, 1, 2) }, true);
    assert.equal(storage.lastIndex(), 3);
    assert.deepEqual(storage.entries(1, 4, Number.MAX_SAFE_INTEGER), [entry(1, 1), entry(2, 1), entry(3, 2)]);
    await storage.save({ entries: entriesFrom(2, 4, 3) }, true);
    assert.deepEqual(storage.entries(1, 6, Number.MAX_SAFE_INTEGER), [entry(1, 1), ...entriesFrom(2, 4, 3)]);
    const before = observe(storage);
    storage = await reopen(harness, storage);
    assert.deepEqual(observe(storage), before);
    await storage.close();
  });

  test('refuses entries that leave a gap, are not consecutive or replace committed ones', async (harness) => {
    const storage = await harness.open();
    await storage.save({ entries: entriesFrom(1, 3, 1), hardState: { term: 1, vote: 1, commit: 2 } }, true);
    await assert.rejects(storage.save({ entries: [entry(5, 1)] }, true), InvariantError);
    await assert.rejects(storage.save({ entries: [entry(4, 1), entry(6, 1)] }, true), InvariantError);
    await assert.rejects(storage.save({ entries: [entry(2, 2)] }, true), InvariantError);
    await assert.rejects(storage.save({ entries: [], hardState: { term: 1, vote: 1, commit: 4 } }, true), InvariantError);
    // Refused updates change nothing and leave the storage usable.
    assert.equal(storage.lastIndex(), 3);
    await storage.save({ entries: [entry(2, 1), entry(3, 2)] }, true);
    assert.deepEqual(storage.entries(3, 4, Number.MAX_SAFE_INTEGER), [entry(3, 2)]);
    await storage.close();
  });


  test('the hard state and entries survive a restart', async (harness) => {
    let storage = await harness.open();
    await storage.save({ entries: entriesFrom(1, 20, 1, 50), hardState: { term: 1, vote: 1, commit: 5 } }, true);
    await storage.save({ entries: entriesFrom(21, 5, 2, 50), hardState: { term: 2, vote: 0, commit: 20 } }, true);
    await storage.save({ entries: [], hardState: { term: 3, vote: 2, commit: 25 } }, true);
    const before = observe(storage);
    storage = await reopen(harness, storage);
    assert.deepEqual(observe(storage), before);
    assert.deepEqual(storage.initialState().hardState, { term: 3, vote: 2, commit: 25 });
    await storage.close();
  });

  test('saves between many restarts continue the log exactly, and a restart adds nothing to it', async (harness) => {
    let storage = await harness.open();
    for (let restart = 0; restart < 12; restart++) {
      const first = storage.lastIndex() + 1;
      // Some saves unsynced: close() makes them durable.
      await storage.save({ entries: entriesFrom(first, 1 + (restart % 3), 1, 30 + restart), hardState: { term: 1, vote: 1, commit: first - 1 } }, restart % 2 === 0);
      const before = observe(storage);
      const walBytes = storage.stats().walBytes;
      storage = await reopen(harness, storage);
      assert.deepEqual(observe(storage), before, `after restart ${restart}`);
      assert.equal(storage.stats().walBytes, walBytes, 'recovery wrote nothing to the log');
    }
    assert.equal(storage.lastIndex(), 24);
    assert.deepEqual(storage.entries(1, 25, Number.MAX_SAFE_INTEGER).map((item) => item.data.byteLength),
      [30, 31, 31, 32, 32, 32, 33, 34, 34, 35, 35, 35, 36, 37, 37, 38, 38, 38, 39, 40, 40, 41, 41, 41]);
    await storage.close();
  });

}

function snapshotTests(test: RegisterTest): void {
  test('installs a snapshot from the leader, replacing the log, then appends after it', async (harness) => {
    let storage = await harness.open();
    await storage.save({ entries: entriesFrom(1, 8, 1), hardState: { term: 1, vote: 1, commit: 3 } }, true);
    const snapshot = snapshotAt(10, 3);
    await storage.save({ snapshot, entries: entriesFrom(11, 2, 3), hardState: { term: 3, vote: 0, commit: 10 } }, true);
    assert.equal(storage.firstIndex(), 11);
    assert.equal(storage.lastIndex(), 12);
    assert.equal(storage.term(10), 3);
    assert.equal(storage.term(9), undefined);
    assert.deepEqual(storage.snapshot(), snapshot);
    assert.deepEqual(storage.initialState(), { hardState: { term: 3, vote: 0, commit: 10 }, confState: CONF_STATE });
    const before = observe(storage);
    storage = await reopen(harness, storage);
    assert.deepEqual(observe(storage), before);
    // A snapshot no newer than the current one is ignored; the entries in the same update are not.
    await storage.save({ snapshot: snapshotAt(9, 3), entries: entriesFrom(13, 1, 3) }, true);
    assert.equal(storage.snapshot()?.metadata.index, 10);
    assert.equal(storage.lastIndex(), 13);
    await storage.close();
  });

  test('a snapshot install that matches the log index drops the entries after it', async (harness) => {
    let storage = await harness.open();
    await storage.save({ entries: entriesFrom(1, 6, 1), hardState: { term: 1, vote: 1, commit: 2 } }, true);
    await storage.save({ snapshot: snapshotAt(4, 1), entries: [], hardState: { term: 2, vote: 0, commit: 4 } }, true);
    assert.equal(storage.lastIndex(), 4);
    assert.equal(storage.firstIndex(), 5);
    const before = observe(storage);
    storage = await reopen(harness, storage);
    assert.deepEqual(observe(storage), before);
    await storage.close();
  });

  test('records application snapshots and compacts up to them, keeping the rest', async (harness) => {
    let storage = await harness.open();
    await storage.save({ entries: entriesFrom(1, 10, 1), hardState: { term: 1, vote: 1, commit: 10 } }, true);
    const snapshot = snapshotAt(7, 1);
    await storage.saveSnapshot(snapshot);
    assert.deepEqual(storage.snapshot(), snapshot);
    assert.equal(storage.firstIndex(), 1, 'saving a snapshot drops nothing by itself');
    await storage.compact(5);
    assert.equal(storage.firstIndex(), 6);
    assert.equal(storage.term(5), 1);
    assert.equal(storage.term(4), undefined);
    assert.deepEqual(storage.entries(6, 11, Number.MAX_SAFE_INTEGER), entriesFrom(6, 5, 1));
    await storage.saveSnapshot(snapshotAt(6, 1)); // older than the current one: ignored
    assert.equal(storage.snapshot()?.metadata.index, 7);
    const before = observe(storage);
    storage = await reopen(harness, storage);
    assert.deepEqual(observe(storage), before);
    await storage.compact(7);
    assert.equal(storage.firstIndex(), 8);
    await storage.compact(3); // already compacted: nothing to do
    assert.equal(storage.firstIndex(), 8);
    await storage.close();
  });

  test('refuses to compact past the snapshot or to record a snapshot that disagrees with the log', async (harness) => {
    const storage = await harness.open();
    await storage.save({ entries: entriesFrom(1, 10, 2), hardState: { term: 2, vote: 1, commit: 10 } }, true);
    await assert.rejects(storage.compact(3), InvariantError);
    await assert.rejects(storage.saveSnapshot(snapshotAt(5, 1)), InvariantError);
    await assert.rejects(storage.saveSnapshot(snapshotAt(11, 2)), InvariantError);
    await storage.saveSnapshot(snapshotAt(5, 2));
    await assert.rejects(storage.compact(6), InvariantError);
    await storage.compact(5);
    assert.equal(storage.firstIndex(), 6);
    await storage.close();
  });

}

function lifecycleTests(test: RegisterTest): void {
  test('a synced save costs at most one file sync and an unsynced one none', async (harness) => {
    const storage = await harness.open();
    await storage.save({ entries: entriesFrom(1, 1, 1) }, true); // the first save may create files
    let before = storage.stats();
    await storage.save({ entries: entriesFrom(2, 10, 1, 16), hardState: { term: 1, vote: 1, commit: 2 } }, true);
    let after = storage.stats();
    assert.ok(after.fileSyncs - before.fileSyncs <= 1, `${after.fileSyncs - before.fileSyncs} syncs for one save`);
    assert.equal(after.syncedSaves - before.syncedSaves, 1);
    assert.equal(after.entriesSaved - before.entriesSaved, 10);
    before = after;
    await storage.save({ entries: entriesFrom(12, 3, 1), hardState: { term: 1, vote: 1, commit: 12 } }, false);
    after = storage.stats();
    assert.equal(after.fileSyncs, before.fileSyncs);
    assert.equal(after.saves - before.saves, 1);
    await storage.close();
  });

  test('calls after close are refused with code closed', async (harness) => {
    const storage = await harness.open();
    await storage.save({ entries: entriesFrom(1, 2, 1) }, true);
    await storage.close();
    await assert.rejects(storage.save({ entries: entriesFrom(3, 1, 1) }, true), (error) => isStorageError(error, 'closed'));
    assert.equal(storage.lastIndex(), 2, 'reads still answer from memory');
  });
}

// The model-based test: random operations interpreted against the current state so that they
// respect Raft's rules (never replace committed entries, commit only what exists...).

interface Operation {
  readonly kind: 'append' | 'install' | 'snapshot' | 'compact' | 'commit' | 'reopen';
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly sync: boolean;
}

const operationArbitrary: fc.Arbitrary<Operation> = fc.record({
  kind: fc.constantFrom('append', 'append', 'append', 'append', 'commit', 'commit', 'snapshot', 'compact', 'install', 'reopen'),
  a: fc.nat(1000),
  b: fc.nat(1000),
  c: fc.nat(1000),
  sync: fc.boolean(),
});

/** The reference: the simplest log that does what the interface documents. */
class ReferenceLog {
  baseIndex = 0;
  baseTerm = 0;
  entries: Entry[] = [];
  hardState: HardState = EMPTY_HARD_STATE;
  snapshot: Snapshot = { metadata: { index: 0, term: 0, confState: EMPTY_CONF_STATE }, data: new Uint8Array(0) };

  get first(): number {
    return this.baseIndex + 1;
  }

  get last(): number {
    return this.baseIndex + this.entries.length;
  }

  termAt(index: number): number | undefined {
    if (index === this.baseIndex) return this.baseTerm;
    return index > this.baseIndex && index <= this.last ? this.entries[index - this.baseIndex - 1]!.term : undefined;
  }

  save(update: StorageUpdate): void {
    if (update.snapshot !== undefined && update.snapshot.metadata.index > this.snapshot.metadata.index) {
      this.snapshot = update.snapshot;
      this.baseIndex = update.snapshot.metadata.index;
      this.baseTerm = update.snapshot.metadata.term;
      this.entries = [];
    }
    const kept = update.entries.filter((item) => item.index > this.baseIndex);
    if (kept.length > 0) this.entries = [...this.entries.slice(0, kept[0]!.index - this.baseIndex - 1), ...kept];
    if (update.hardState !== undefined) this.hardState = update.hardState;
  }

  compact(index: number): void {
    if (index <= this.baseIndex) return;
    this.baseTerm = this.termAt(index)!;
    this.entries = this.entries.slice(index - this.baseIndex);
    this.baseIndex = index;
  }

  observe(): unknown {
    const terms: (number | undefined)[] = [];
    for (let index = Math.max(0, this.first - 2); index <= this.last + 1; index++) terms.push(this.termAt(index));
    return {
      state: { hardState: this.hardState, confState: this.snapshot.metadata.confState },
      first: this.first,
      last: this.last,
      terms,
      entries: this.entries,
      snapshot: { metadata: this.snapshot.metadata, data: [...this.snapshot.data] },
    };
  }
}

async function checkAgainstModel(harness: StorageHarness, operations: readonly Operation[]): Promise<void> {
  const model = new ReferenceLog();
  let storage = await harness.open();
  let currentTerm = 1;
  for (const operation of operations) {
    const { a, b, c } = operation;
    const commit = model.hardState.commit;
    switch (operation.kind) {
      case 'append': {
        const low = Math.max(model.first, commit + 1);
        // Mostly append at the end; sometimes overwrite an uncommitted suffix.
        const start = a % 3 === 0 ? low + (a % (model.last + 2 - low)) : model.last + 1;
        currentTerm += c % 3 === 0 ? 1 : 0;
        const count = 1 + (b % 6);
        const update: StorageUpdate = {
          entries: entriesFrom(start, count, currentTerm, c % 200),
          hardState: c % 2 === 0 ? { term: currentTerm, vote: 1, commit: commit + (b % (start + count - commit)) } : undefined,
        };
        model.save(update);
        await storage.save(update, operation.sync);
        break;
      }
      case 'install': {
        const index = Math.max(commit, model.snapshot.metadata.index) + 1 + (a % 6);
        const matches = b % 2 === 0 && model.termAt(index) !== undefined;
        if (!matches) currentTerm++;
        const update: StorageUpdate = {
          snapshot: snapshotAt(index, matches ? model.termAt(index)! : currentTerm, CONF_STATE, c % 100),
          entries: c % 3 === 0 ? entriesFrom(index + 1, 1 + (a % 3), currentTerm) : [],
          hardState: { term: currentTerm, vote: 0, commit: index },
        };
        model.save(update);
        await storage.save(update, operation.sync);
        break;
      }
      case 'snapshot': {
        const snapshotIndex = model.snapshot.metadata.index;
        if (commit <= snapshotIndex) break;
        const index = Math.max(snapshotIndex + 1, commit - (a % 4));
        const snapshot = snapshotAt(index, model.termAt(index)!, { ...CONF_STATE, voters: [1, 2, 3, b % 5 + 4] }, c % 100);
        model.snapshot = snapshot;
        await storage.saveSnapshot(snapshot);
        break;
      }
      case 'compact': {
        const index = Math.max(model.baseIndex, model.snapshot.metadata.index - (a % 4));
        model.compact(index);
        await storage.compact(index);
        break;
      }
      case 'commit': {
        const next = Math.max(commit, model.last - (a % 3));
        const update: StorageUpdate = { entries: [], hardState: { term: currentTerm, vote: b % 3, commit: next } };
        model.save(update);
        await storage.save(update, operation.sync);
        break;
      }
      case 'reopen':
        storage = await reopen(harness, storage);
        break;
    }
    assert.deepEqual(observe(storage), model.observe(), `after ${JSON.stringify(operation)}`);
  }
  storage = await reopen(harness, storage);
  assert.deepEqual(observe(storage), model.observe(), 'after the final restart');
  await storage.close();
}
