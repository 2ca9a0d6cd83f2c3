// Crash tests on the simulated file system in torn mode: random saves (synced or not), snapshots,
// compactions and power losses, some in the middle of an operation. After every restart the
// recovered state must be exactly what some prefix of the written WAL stream gives, reconciled
// with a snapshot file that may have become durable, and it must contain everything synced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Snapshot } from '../core/index.ts';
import type { Effect } from './log-model.ts';
import { findAdmissiblePrefix, LogState, NO_SNAPSHOT, seeded } from './log-model.ts';
import { entriesFrom, observe } from './conformance.ts';
import type { FileOperation } from './file-system.ts';
import { FileStorage } from './file-storage.ts';
import { SimulatedFileSystem } from './simulated-file-system.ts';
import type { StorageUpdate } from './types.ts';
import { isStorageError } from './types.ts';
import { PREPARED_SEGMENT_NAME } from './wal/segment-pipeline.ts';

interface Operation {
  readonly kind: 'append' | 'commit' | 'install' | 'snapshot' | 'compact' | 'crash' | 'crash-during' | 'reopen';
  readonly a: number;
  readonly b: number;
  readonly sync: boolean;
}

const operationArbitrary: fc.Arbitrary<Operation> = fc.record({
  kind: fc.constantFrom('append', 'append', 'append', 'append', 'commit', 'commit', 'install', 'snapshot', 'compact', 'crash', 'crash-during', 'crash-during', 'reopen'),
  a: fc.nat(1000),
  b: fc.nat(1000),
  sync: fc.boolean(),
});

const CONF_STATE = { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };

/** Drives one run: the live model, the WAL effects since the last restart and the snapshot files. */
class CrashRun {
  readonly fileSystem: SimulatedFileSystem;
  storage!: FileStorage;
  /** The state recovered at the last restart, and the effects written since. */
  private recovered = new LogState();
  private effects: Effect[] = [];
  /** Effects known to be durable (a synced save, a compaction, a close). */
  private durableEffects = 0;
  /** The newest snapshot file known durable, and one being written when a crash may hit it. */
  private durableSnapshot: Snapshot = NO_SNAPSHOT;
  private pendingSnapshot: Snapshot | undefined;
  live = new LogState();
  term = 1;
  private crashCountdown = -1;
  restarts = 0;
  tornTails = 0;
  preparedSegmentCrashes = 0;

  constructor(seed: number) {
    this.fileSystem = new SimulatedFileSystem({
      random: seeded(seed),
      beforeOperation: (operation: FileOperation) => this.maybeCrash(operation),
    });
  }

  private maybeCrash(operation: FileOperation): void {
    if (this.crashCountdown < 0) return;
    if (this.crashCountdown-- !== 0) return;
    // Crashes while the next segment is prepared in the background, or a roll-over takes it.
    if (operation.path.includes(PREPARED_SEGMENT_NAME)) this.preparedSegmentCrashes++;
    this.fileSystem.crash();
  }

  async start(): Promise<void> {
    // A view that dies with the process: background work of a crashed storage must not go on.
    this.storage = await FileStorage.open({ fileSystem: this.fileSystem.processView(), directory: '/node', segmentMaxBytes: 400 });
  }

  /** Runs one storage call whose WAL effects and snapshot file are given, tolerating an injected crash. */
  private async perform(call: () => Promise<void>, effects: readonly Effect[], durable: boolean, snapshotFile?: Snapshot): Promise<boolean> {
    this.effects.push(...effects);
    this.pendingSnapshot = snapshotFile;
    try {
      await call();
    } catch (error) {
      assert.ok(isStorageError(error, 'io') && /crashed/.test(error.message), `only injected crashes fail: ${String(error)}`);
      await this.restart();
      return false;
    }
    if (snapshotFile !== undefined && snapshotFile.metadata.index > this.durableSnapshot.metadata.index) this.durableSnapshot = snapshotFile;
    this.pendingSnapshot = undefined;
    if (durable) this.durableEffects = this.effects.length;
    for (const effect of effects) this.live.apply(effect);
    return true;
  }

  async run(operation: Operation): Promise<void> {
    const { a, b } = operation;
    const live = this.live;
    const commit = live.hardState.commit;
    if (operation.kind === 'crash-during') this.crashCountdown = a % 12;
    switch (operation.kind) {
      case 'append':
      case 'crash-during': {
        const low = Math.max(live.baseIndex + 1, commit + 1);
        const start = a % 3 === 0 ? low + (a % (live.last + 2 - low)) : live.last + 1;
        if (b % 4 === 0) this.term++;
        const entries = entriesFrom(start, 1 + (b % 8), this.term, b % 90);
        const newCommit = commit + (a % (start + entries.length - commit));
        const hardState = b % 2 === 0 ? { term: this.term, vote: 1, commit: newCommit } : undefined;
        await this.save({ entries, hardState }, operation.sync);
        break;
      }
      case 'commit': {
        const hardState = { term: this.term, vote: b % 3, commit: Math.max(commit, live.last - (a % 3)) };
        await this.save({ entries: [], hardState }, operation.sync);
        break;
      }
      case 'install': {
        const index = Math.max(commit, live.snapshot.metadata.index) + 1 + (a % 5);
        const matches = b % 2 === 0 && live.termAt(index) !== undefined;
        if (!matches) this.term++;
        const snapshot = { metadata: { index, term: matches ? live.termAt(index)! : this.term, confState: CONF_STATE }, data: new Uint8Array([index & 0xff, b & 0xff]) };
        const entries = b % 3 === 0 ? entriesFrom(index + 1, 1 + (a % 3), this.term) : [];
        await this.save({ snapshot, entries, hardState: { term: this.term, vote: 0, commit: index } }, operation.sync);
        break;
      }
      case 'snapshot': {
        const snapshotIndex = live.snapshot.metadata.index;
        if (commit <= snapshotIndex) break;
        const index = Math.max(snapshotIndex + 1, commit - (a % 4));
        const snapshot = { metadata: { index, term: live.termAt(index)!, confState: CONF_STATE }, data: new Uint8Array([index & 0xff]) };
        if (await this.perform(() => this.storage.saveSnapshot(snapshot), [], false, snapshot)) live.snapshot = snapshot;
        break;
      }
      case 'compact': {
        const index = Math.max(live.baseIndex, live.snapshot.metadata.index - (a % 4));
        if (index > live.baseIndex) await this.perform(() => this.storage.compact(index), [{ kind: 'compact', index }], true);
        break;
      }
      case 'crash':
        this.fileSystem.crash();
        await this.restart();
        break;
      case 'reopen':
        await this.perform(() => this.storage.close(), [], true);
        await this.restart();
        break;
    }
    if (this.crashCountdown >= 0) {
      // The operation finished before the countdown: crash now instead.
      this.crashCountdown = -1;
      this.fileSystem.crash();
      await this.restart();
    }
  }

  private async save(update: StorageUpdate, sync: boolean): Promise<void> {
    const effects: Effect[] = [];
    const snapshot = update.snapshot !== undefined && update.snapshot.metadata.index > this.live.snapshot.metadata.index ? update.snapshot : undefined;
    if (snapshot !== undefined) effects.push({ kind: 'install', index: snapshot.metadata.index, term: snapshot.metadata.term });
    for (const entry of update.entries) effects.push({ kind: 'entry', entry });
    if (update.hardState !== undefined) effects.push({ kind: 'hard-state', hardState: update.hardState });
    if (await this.perform(() => this.storage.save(update, sync), effects, sync, snapshot) && snapshot !== undefined) this.live.snapshot = snapshot;
  }

  /** Reopens after a crash and checks the recovered state against every admissible one. */
  async restart(): Promise<void> {
    this.crashCountdown = -1;
    this.restarts++;
    await this.start();
    this.tornTails += this.storage.recovery.tornTails.length;
    const actual = observe(this.storage);
    const snapshots = [this.durableSnapshot];
    if (this.pendingSnapshot !== undefined && this.pendingSnapshot.metadata.index > this.durableSnapshot.metadata.index) snapshots.push(this.pendingSnapshot);
    const match = findAdmissiblePrefix(this.recovered, this.effects, this.durableEffects, snapshots, actual);
    if (match === undefined) {
      const durable = this.recovered.clone();
      for (const effect of this.effects.slice(0, this.durableEffects)) durable.apply(effect);
      assert.deepEqual(actual, durable.reconciledWith(this.durableSnapshot).observe(), 'the recovered state is no admissible prefix (diff against the durable one)');
      assert.fail('unreachable');
    }
    this.recovered = match;
    this.live = match.clone();
    this.effects = [];
    this.durableEffects = 0;
    this.durableSnapshot = match.snapshot;
    this.pendingSnapshot = undefined;
  }
}

test('after any crash the storage holds exactly a prefix of what was written, including everything synced', async () => {
  let restarts = 0;
  let tornTails = 0;
  let preparedSegmentCrashes = 0;
  await fc.assert(
    fc.asyncProperty(fc.integer(), fc.array(operationArbitrary, { minLength: 1, maxLength: 60, size: 'max' }), async (seed, operations) => {
      const run = new CrashRun(seed);
      await run.start();
      for (const operation of operations) await run.run(operation);
      run.fileSystem.crash();
      await run.restart();
      restarts += run.restarts;
      tornTails += run.tornTails;
      preparedSegmentCrashes += run.preparedSegmentCrashes;
    }),
    { numRuns: 150 },
  );
  // The test must exercise what it claims to.
  assert.ok(restarts > 300, `restarts: ${restarts}`);
  assert.ok(tornTails > 20, `torn tails repaired: ${tornTails}`);
  assert.ok(preparedSegmentCrashes > 20, `crashes on the prepared segment: ${preparedSegmentCrashes}`);
});
