// Carries out one Raft Ready, in the order the core's contract demands: a leader's replication
// messages may leave before its own write (they never depend on it: the leader counts itself
// only after advance()); everything is then persisted, with one fsync when the Ready needs it;
// the other messages leave (votes and acknowledgements promise what is now on disk); committed
// entries are applied to the state machine in one transaction; waiting clients are answered.
// Entries committed while our own write is in flight are applied then too (applyEarly).
import { leaderMaySendEarly } from '../core/index.ts';
import type { Entry, Ready } from '../core/index.ts';
import type { DurableStorage } from '../storage/index.ts';
import type { AppliedEntry, StateMachine } from '../state/types.ts';
import type { Transport } from '../transport/index.ts';

/** Bugs the simulator and chaos tests switch on to prove they catch them. Never set otherwise. */
export type InjectedRuntimeBug = 'ack-before-fsync';
export const INJECTED_RUNTIME_BUGS: readonly InjectedRuntimeBug[] = ['ack-before-fsync'];

export interface ReadyHooks {
  /** An entry was applied with this result (null for no-ops and membership changes). */
  applied(entry: Entry, result: unknown): void;
  /** A snapshot from the leader replaced the state at `index`. */
  restoredSnapshot(index: number): void;
  readState(context: Uint8Array, index: number): void;
}

export interface ReadyTimings {
  fsyncCount: number;
  entriesPersisted: number;
  lastPersistMs: number;
}

export function toAppliedEntry(entry: Entry): AppliedEntry {
  const kind = entry.type === 'conf-change' ? 'conf-change' : entry.data.byteLength === 0 ? 'noop' : 'command';
  return { index: entry.index, term: entry.term, kind, data: entry.data };
}

export class ReadyProcessor {
  readonly timings: ReadyTimings = { fsyncCount: 0, entriesPersisted: 0, lastPersistMs: 0 };
  private readonly storage: DurableStorage;
  private readonly transport: Transport;
  private readonly state: StateMachine<unknown>;
  private readonly hooks: ReadyHooks;
  private readonly bugs: ReadonlySet<InjectedRuntimeBug>;
  private readonly now: () => number;

  constructor(options: {
    storage: DurableStorage; transport: Transport; state: StateMachine<unknown>; hooks: ReadyHooks;
    bugs: ReadonlySet<InjectedRuntimeBug>; now: () => number;
  }) {
    this.storage = options.storage;
    this.transport = options.transport;
    this.state = options.state;
    this.hooks = options.hooks;
    this.bugs = options.bugs;
    this.now = options.now;
  }

  async process(ready: Ready, isLeader: boolean): Promise<void> {
    // Backpressure from the state machine: its store has as much unflushed data as it may hold.
    if (ready.committedEntries.length > 0 && this.state.applyWouldWait()) await this.state.flushed();
    // Committed entries already in our own log may be applied while this Ready's write is in
    // flight: the apply (and the clients' answers) overlap the fsync. A snapshot from the leader
    // comes first, though: it must be on disk and restored before what follows it.
    const applyNow = ready.snapshot === undefined;
    // A Ready with nothing to write (typically a leader's new commit index) answers its clients
    // before telling the followers: nothing waits on that news, and its socket writes (each
    // 0.01-0.6 ms on this machine) otherwise went out ahead of the clients' answers. The answers
    // leave in promise continuations, so the messages wait for the next turn of the event loop.
    const applyFirst = applyNow && ready.entries.length === 0 && !ready.mustSync && ready.committedEntries.length > 0;
    if (applyFirst) {
      this.apply(ready.committedEntries);
      await this.nextTurn();
    }
    const early = new Set(isLeader ? ready.messages.filter(leaderMaySendEarly) : []);
    for (const message of early) this.transport.send(message);
    const persisted = this.persist(ready);
    // Entries this very Ready writes (a follower told of its new entries and their commit in one
    // message) are applied only once written: a durable state machine must never hold an entry
    // that its own log lost in a crash (the simulator found such nodes unable to restart).
    const applyDuringWrite = applyNow && !applyFirst;
    const onDisk = applyDuringWrite ? this.committedOnDisk(ready) : 0;
    if (applyDuringWrite) this.apply(ready.committedEntries.slice(0, onDisk));
    // Until our write completes, entries committed meanwhile may be applied too (applyEarly).
    this.persisting = applyNow;
    try {
      await persisted;
    } finally {
      this.persisting = false;
    }
    for (const message of ready.messages) {
      if (!early.has(message)) this.transport.send(message);
    }
    if (ready.snapshot !== undefined) this.restore(ready);
    if (!applyNow) this.apply(ready.committedEntries);
    else if (applyDuringWrite) this.apply(ready.committedEntries.slice(onDisk));
    for (const state of ready.readStates) this.hooks.readState(state.context, state.index);
  }

  /** How many of the Ready's committed entries are on disk already (before its own entries). */
  private committedOnDisk(ready: Ready): number {
    if (ready.entries.length === 0) return ready.committedEntries.length;
    const firstWritten = ready.entries[0]!.index;
    const position = ready.committedEntries.findIndex((entry) => entry.index >= firstWritten);
    return position === -1 ? ready.committedEntries.length : position;
  }

  private nextTurn(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
  }

  /** True while a Ready's committed entries are applied and its write is still in flight. */
  private persisting = false;

  /** True while the current Ready's write is in flight. */
  get writing(): boolean {
    return this.persisting;
  }

  /**
   * Whether entries committed since the current Ready (RawNode.takeCommittedEntries) may be
   * applied now: only while its write is in flight (its own committed entries, and any snapshot,
   * are in the state machine already) and the state machine would not block.
   */
  canApplyEarly(): boolean {
    return this.persisting && !this.state.applyWouldWait();
  }

  applyEarly(entries: readonly Entry[]): void {
    this.apply(entries);
  }

  /** A hard state that only moved the commit index, not written yet (see persist()). */
  private unwrittenHardState: Ready['hardState'];

  private async persist(ready: Ready): Promise<void> {
    const hardState = ready.hardState ?? this.unwrittenHardState;
    // A commit index alone need not be written at once (it is recovered from the leader, and
    // membership changes force a sync): keep it for the next write instead of a write of its own.
    if (ready.entries.length === 0 && ready.snapshot === undefined && !ready.mustSync) {
      if (ready.hardState !== undefined) this.unwrittenHardState = ready.hardState;
      return;
    }
    this.unwrittenHardState = undefined;
    // The injected durability bug: never fsync, so acknowledged writes sit in the page cache.
    const sync = ready.mustSync && !this.bugs.has('ack-before-fsync');
    const startedAt = this.now();
    await this.storage.save({ snapshot: ready.snapshot, entries: ready.entries, hardState }, sync);
    if (sync) {
      this.timings.fsyncCount++;
      this.timings.entriesPersisted += ready.entries.length;
      this.timings.lastPersistMs = this.now() - startedAt;
    }
  }

  private restore(ready: Ready): void {
    const snapshot = ready.snapshot!;
    const { index, term } = snapshot.metadata;
    // A snapshot at or below what the state machine already has (a durable state machine that
    // kept more than the log) changes nothing; the core only sends newer ones.
    if (index <= this.state.appliedIndex()) return;
    this.state.restore({ index, term, data: snapshot.data });
    this.hooks.restoredSnapshot(index);
  }

  private apply(entries: readonly Entry[]): void {
    // Entries the state machine already holds (it is durable and survived a restart the log
    // did not fully record as applied) are skipped, never applied twice.
    const fresh = entries.filter((entry) => entry.index > this.state.appliedIndex());
    if (fresh.length === 0) return;
    const results = this.state.apply(fresh.map(toAppliedEntry));
    fresh.forEach((entry, position) => this.hooks.applied(entry, results[position]));
  }
}
