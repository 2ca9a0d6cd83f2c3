// The contract between the Raft runtime and the replicated state machines. The runtime hands
// committed entries over in log order; every replica that applies the same entries ends in
// byte-identical state (same snapshot bytes), so nothing in apply may read a clock, a random
// source or local configuration that could differ between members.

/** A committed log entry as the state machine sees it. */
export interface AppliedEntry {
  readonly index: number;
  readonly term: number;
  /**
   * 'command': application bytes (the first byte names the module, see replicated-state.ts);
   * 'noop': the leader's empty entry of a new term; 'conf-change': membership, handled by the
   * runtime. 'noop' and 'conf-change' entries only advance the applied index.
   */
  readonly kind: 'command' | 'noop' | 'conf-change';
  readonly data: Uint8Array;
}

/** The full state at `index` (the last applied entry) and that entry's `term`. */
export interface StateSnapshot {
  readonly index: number;
  readonly term: number;
  readonly data: Uint8Array;
}

/** An operating error carried as a value: a stable code for programs, a message for people. */
export interface StateError<Code extends string = string> {
  readonly code: Code;
  readonly message: string;
}

export interface StateMachine<Result> {
  /**
   * True when applied state survives a restart on its own (lmdb): the runtime then compacts the
   * log behind durableAppliedIndex() without copying the state into a snapshot. False (memory):
   * only a snapshot the runtime stores holds the state across a restart.
   */
  readonly persistent: boolean;
  /** The index persisted with the state: 0 for a fresh store. Replay the WAL after it. */
  appliedIndex(): number;
  /** The term of the entry at appliedIndex() (0 for a fresh store). */
  appliedTerm(): number;
  /**
   * Applies committed entries in order, atomically: one storage write transaction per call, the
   * applied index written in the same transaction. One result per entry, in order: null for
   * 'noop' and 'conf-change' entries, the module's result (possibly an error value) for commands.
   * Throws only on a programmer error or corruption; the state is then unchanged (the transaction
   * is aborted) and the node must stop.
   */
  apply(entries: readonly AppliedEntry[]): (Result | null)[];
  /**
   * The highest applied index known to be on stable storage. The runtime may drop WAL entries
   * only up to this index: anything above it may be lost by a machine crash and must be replayed.
   */
  durableAppliedIndex(): number;
  /** Resolves once everything applied before the call is durable (durableAppliedIndex() caught up). */
  flushed(): Promise<void>;
  /**
   * True while a previous apply's flush is in progress, so apply() now would block the thread
   * until it ends (lmdb). Under load the runtime may wait and apply a bigger batch then.
   */
  applyWouldWait(): boolean;
  /** The full state at appliedIndex() as one buffer (see replicated-state.ts for the size limit). */
  snapshot(): StateSnapshot;
  /**
   * The same bytes as snapshot().data in chunks of about `maxChunkBytes` (bounded memory).
   * They may be read across turns of the event loop as long as nothing is applied meanwhile
   * (applying entries between two chunks makes the next one throw); the store's background
   * flushes may run (overlay-store.test.ts checks the bytes come out the same).
   */
  snapshotChunks(maxChunkBytes: number): { index: number; term: number; chunks: Generator<Uint8Array> };
  /** Replaces everything with the snapshot's state; appliedIndex() becomes snapshot.index. */
  restore(snapshot: StateSnapshot): void;
  /** restore() from chunks read one by one; throws (and keeps the old state) if they are damaged. */
  restoreChunks(metadata: { index: number; term: number }, chunks: Iterable<Uint8Array>): void;
  close(): Promise<void>;
}
