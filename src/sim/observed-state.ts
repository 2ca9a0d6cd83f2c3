// Wraps a node's state machine to watch what it applies: every applied entry is reported to the
// checkers, and each command's result object is remembered with its entry, so that a client's
// acknowledged write can be traced to the exact log entry that carries it.
import type { AppliedEntry, StateMachine, StateSnapshot } from '../state/types.ts';
import { contentOf } from './runtime-backend.ts';

export interface AppliedRecord {
  readonly index: number;
  readonly term: number;
  readonly content: string;
}

export class ObservedState implements StateMachine<unknown> {
  private readonly inner: StateMachine<unknown>;
  private readonly onApplied: (index: number, term: number, content: string) => void;
  private readonly entries = new WeakMap<object, AppliedRecord>();

  constructor(inner: StateMachine<unknown>, onApplied: (index: number, term: number, content: string) => void) {
    this.inner = inner;
    this.onApplied = onApplied;
  }

  entryOf(result: unknown): AppliedRecord | undefined {
    return typeof result === 'object' && result !== null ? this.entries.get(result) : undefined;
  }

  apply(entries: readonly AppliedEntry[]): (unknown | null)[] {
    const results = this.inner.apply(entries);
    entries.forEach((entry, position) => {
      // Raft entries report their type: commands and no-ops are 'normal', as the core sees them.
      const content = contentOf(entry.kind === 'conf-change' ? 'conf-change' : 'normal', entry.data);
      this.onApplied(entry.index, entry.term, content);
      const result = results[position];
      if (typeof result === 'object' && result !== null) this.entries.set(result, { index: entry.index, term: entry.term, content });
    });
    return results;
  }

  appliedIndex(): number {
    return this.inner.appliedIndex();
  }

  appliedTerm(): number {
    return this.inner.appliedTerm();
  }

  get persistent(): boolean {
    return this.inner.persistent;
  }

  durableAppliedIndex(): number {
    return this.inner.durableAppliedIndex();
  }

  flushed(): Promise<void> {
    return this.inner.flushed();
  }

  applyWouldWait(): boolean {
    return this.inner.applyWouldWait();
  }

  snapshot(): StateSnapshot {
    return this.inner.snapshot();
  }

  snapshotChunks(maxChunkBytes: number): { index: number; term: number; chunks: Generator<Uint8Array> } {
    return this.inner.snapshotChunks(maxChunkBytes);
  }

  restore(snapshot: StateSnapshot): void {
    this.inner.restore(snapshot);
  }

  restoreChunks(metadata: { index: number; term: number }, chunks: Iterable<Uint8Array>): void {
    this.inner.restoreChunks(metadata, chunks);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
