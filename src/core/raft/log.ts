// The Raft log as one sequence: the persisted part (LogStorage) followed by the unstable part.
// Tracks the commit index and how far the application has been handed committed entries.
import { assert } from '../assert.ts';
import type { Entry, Snapshot } from '../types.ts';
import { UnstableLog } from './log-unstable.ts';
import type { LogStorage } from './storage.ts';
import { limitEntriesBySize } from './storage.ts';

export class RaftLog {
  readonly storage: LogStorage;
  readonly unstable: UnstableLog;
  /** Highest index known to be committed. */
  committed: number;
  /** Highest index handed to the application (applied once advance() is called). */
  applying: number;
  /** Highest index the application has applied. */
  applied: number;

  constructor(storage: LogStorage) {
    this.storage = storage;
    this.unstable = new UnstableLog(storage.lastIndex() + 1);
    // Everything up to the latest snapshot is committed and applied by definition (the snapshot
    // may be ahead of the compaction point when entries before it are kept for slow followers).
    const snapshotIndex = Math.max(storage.firstIndex() - 1, storage.snapshot()?.metadata.index ?? 0);
    this.committed = snapshotIndex;
    this.applying = snapshotIndex;
    this.applied = snapshotIndex;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  lastTerm(): number {
    const term = this.term(this.lastIndex());
    assert(term !== undefined, `no term for the last index ${this.lastIndex()}`);
    return term;
  }

  /** The term of the entry at `index`, or undefined if compacted or beyond the log. */
  term(index: number): number | undefined {
    const unstableTerm = this.unstable.maybeTerm(index);
    if (unstableTerm !== undefined) return unstableTerm;
    if (index < this.firstIndex() - 1 || index > this.lastIndex()) return undefined;
    return this.storage.term(index);
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Raft's "at least as up-to-date" comparison of a candidate's last entry with ours (§5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Follower side of an append: if our log has `prevTerm` at `prevIndex`, append `entries`
   * (replacing a conflicting suffix) and commit up to min(commit, last new index). Returns the
   * last index now known to match the leader, or undefined when the previous entry does not match.
   */
  maybeAppend(prevIndex: number, prevTerm: number, commit: number, entries: readonly Entry[]): number | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNewIndex = prevIndex + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      assert(conflict > this.committed, `entry ${conflict} conflicts with the committed prefix (committed ${this.committed})`);
      this.append(entries.slice(conflict - (prevIndex + 1)));
    }
    this.commitTo(Math.min(commit, lastNewIndex));
    return lastNewIndex;
  }

  append(entries: readonly Entry[]): number {
    if (entries.length === 0) return this.lastIndex();
    assert(entries[0]!.index - 1 >= this.committed, `appending at ${entries[0]!.index} would overwrite committed ${this.committed}`);
    this.unstable.truncateAndAppend(entries);
    return this.lastIndex();
  }

  /** The index of the first entry whose term differs from ours, or of the first new one; 0 if all present. */
  findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * Fast backtracking: the largest index <= `index` whose term is <= `term`, with that term.
   * Lets a leader skip a whole term of conflicting entries per round trip.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let candidate = index; candidate >= 0; candidate--) {
      const candidateTerm = this.term(candidate);
      if (candidateTerm === undefined) return { index: candidate, term: 0 };
      if (candidateTerm <= term) return { index: candidate, term: candidateTerm };
    }
    return { index: 0, term: 0 };
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert(index <= this.lastIndex(),
      `commit ${index} is beyond the last index ${this.lastIndex()}: this node lost log entries it had acknowledged ` +
      '(was its data directory wiped or restored from an old copy?). Stop it, remove it from the cluster and add it back as a new member');
    this.committed = index;
  }

  /** Commits `index` only if its entry is of `term` (the leader's current term: Figure 8). */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.term(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  appliedTo(index: number): void {
    if (index === 0) return;
    assert(index <= this.committed && index >= this.applied, `applied ${index} outside [${this.applied}, ${this.committed}]`);
    this.applied = index;
    this.applying = Math.max(this.applying, index);
  }

  stableTo(index: number, term: number): void {
    this.unstable.stableTo(index, term);
  }

  stableSnapshotTo(index: number): void {
    this.unstable.stableSnapshotTo(index);
  }

  hasNextUnstableEntries(): boolean {
    return this.unstable.entries.length > 0;
  }

  nextUnstableEntries(): Entry[] {
    return this.unstable.entries.slice();
  }

  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== undefined;
  }

  /** Whether committed entries wait to be handed to the application (not while a snapshot is pending). */
  hasNextCommittedEntries(): boolean {
    if (this.hasPendingSnapshot()) return false;
    return this.committed > this.applying;
  }

  /** The committed entries after `applying`, at most `maxBytes` (at least one). */
  nextCommittedEntries(maxBytes: number): Entry[] {
    if (!this.hasNextCommittedEntries()) return [];
    return this.slice(this.applying + 1, this.committed + 1, maxBytes);
  }

  snapshot(): Snapshot | undefined {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** Entries from `low` on, at most `maxBytes`; undefined if `low` was compacted. */
  entriesFrom(low: number, maxBytes: number): Entry[] | undefined {
    if (low > this.lastIndex()) return [];
    if (low < this.firstIndex()) return undefined;
    return this.slice(low, this.lastIndex() + 1, maxBytes);
  }

  /** Entries in [low, high) across storage and the unstable part, at most `maxBytes` (at least one). */
  slice(low: number, high: number, maxBytes: number): Entry[] {
    assert(low >= this.firstIndex() && high <= this.lastIndex() + 1 && low <= high,
      `slice [${low}, ${high}) outside the log [${this.firstIndex()}, ${this.lastIndex()}]`);
    if (low === high) return [];
    const unstableStart = this.unstable.offset;
    let result: Entry[] = [];
    if (low < unstableStart) {
      result = this.storage.entries(low, Math.min(high, unstableStart), maxBytes);
      // Storage stopped early because of the byte limit: do not add unstable entries after a gap.
      if (result.length < Math.min(high, unstableStart) - low) return result;
    }
    if (high > unstableStart) {
      const unstable = this.unstable.slice(Math.max(low, unstableStart), high);
      result = result.length === 0 ? unstable : result.concat(unstable);
    }
    return limitEntriesBySize(result, maxBytes);
  }

  restore(snapshot: Snapshot): void {
    this.committed = snapshot.metadata.index;
    this.unstable.restore(snapshot);
  }

  allEntries(): Entry[] {
    const first = this.firstIndex();
    const last = this.lastIndex();
    return last < first ? [] : this.slice(first, last + 1, Infinity);
  }
}
