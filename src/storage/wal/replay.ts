// Rebuilds the log from WAL records, in write order, with the same rules the live storage applied:
// entries replace the suffix from their first index, a snapshot install empties the log after it,
// a compact record moves the base. Then reconciles the result with the snapshot restored from disk.
import type { Entry, HardState, SnapshotMetadata } from '../../core/index.ts';
import { EMPTY_HARD_STATE } from '../../core/index.ts';
import { StorageError } from '../types.ts';
import type { WalRecord } from './records.ts';
import type { RecoveredRecord } from './wal.ts';
import { corrupt } from './wal.ts';

export interface ReplayedLog {
  /** The entry before the first one kept (its term is known; it is never served). */
  readonly baseIndex: number;
  readonly baseTerm: number;
  /** Entries baseIndex + 1 ... in order, without gaps. */
  readonly entries: Entry[];
  readonly hardState: HardState;
  /** Records to append (synced) before writing anything else, so the WAL agrees with this result. */
  readonly repairs: WalRecord[];
}

class LogReplay {
  baseIndex = -1; // -1 until the first segment's prelude sets it
  /** Undefined while the base is only known from a gap (see append), until a compact record names it. */
  baseTerm: number | undefined = 0;
  entries: Entry[] = [];
  hardState: HardState = EMPTY_HARD_STATE;
  hardStateAt: RecoveredRecord | undefined;
  /** The record after which entries were missing, while that is not explained by a compaction. */
  gap: RecoveredRecord | undefined;
  private readonly originIndex: number;
  private readonly firstFile: string | undefined;

  constructor(originIndex: number, firstFile: string | undefined) {
    this.originIndex = originIndex;
    this.firstFile = firstFile;
  }

  get lastIndex(): number {
    return this.baseIndex + this.entries.length;
  }

  termAt(index: number): number | undefined {
    if (index === this.baseIndex) return this.baseTerm;
    if (index < this.baseIndex) return undefined;
    return this.entries[index - this.baseIndex - 1]?.term;
  }

  apply(located: RecoveredRecord): void {
    const record = located.record;
    if (record.type === 'header') return;
    if (record.type === 'hard-state') {
      this.hardState = record.hardState;
      this.hardStateAt = located;
      return;
    }
    if (record.type === 'compact') return this.compact(located, record.index, record.term);
    if (this.baseIndex < 0) throw corrupt(located.file, located.offset, `a ${record.type} record before the log base is known`);
    if (record.type === 'snapshot-install') return this.resetTo(record.index, record.term);
    this.append(located, record.entries);
  }

  resetTo(index: number, term: number): void {
    this.baseIndex = index;
    this.baseTerm = term;
    this.entries = [];
    this.gap = undefined;
  }

  /** Drops entries up to `index`, which must be in the log. */
  compactTo(index: number): void {
    this.baseTerm = this.termAt(index);
    this.entries = this.entries.slice(index - this.baseIndex);
    this.baseIndex = index;
    this.gap = undefined;
  }

  private compact(located: RecoveredRecord, index: number, term: number): void {
    if (this.baseIndex < 0) return this.resetTo(index, term);
    // Restoring from an older snapshot (the newest was corrupt): keep what it still needs.
    if (index < this.baseIndex || index > this.originIndex) return;
    if (index === this.baseIndex && this.baseTerm === undefined) {
      this.baseTerm = term;
      this.gap = undefined;
      return;
    }
    // Beyond the log: the segments holding those entries were deleted after this record was synced.
    if (index > this.lastIndex) return this.resetTo(index, term);
    if (this.termAt(index) !== term) {
      throw corrupt(located.file, located.offset, `compaction to ${index} (term ${term}) does not match the log (last index ${this.lastIndex}, term there ${this.termAt(index)})`);
    }
    this.compactTo(index);
  }

  private append(located: RecoveredRecord, batch: readonly Entry[]): void {
    const first = batch[0]!.index;
    if (first > this.lastIndex + 1) {
      // Older segments were deleted after a compaction: the oldest kept one may start later than
      // its prelude's base. A compact record further on must explain the gap (checked at the end).
      if (located.file !== this.firstFile || this.gap !== undefined) {
        throw corrupt(located.file, located.offset, `entries from ${first} leave a gap after the last index ${this.lastIndex}`);
      }
      this.baseIndex = first - 1;
      this.baseTerm = undefined;
      this.entries = [];
      this.gap = located;
    }
    const skip = Math.max(0, this.baseIndex + 1 - first);
    if (skip >= batch.length) return;
    this.entries.length = first + skip - this.baseIndex - 1;
    for (let position = skip; position < batch.length; position++) this.entries.push(batch[position]!);
  }
}

/**
 * Replays `records` and reconciles them with `snapshot` (the newest usable snapshot on disk, or
 * undefined for none). `skippedNewerSnapshot` names a corrupt newer snapshot that was passed over,
 * for the error when the WAL cannot make up for it.
 */
export function replayLog(records: readonly RecoveredRecord[], snapshot: SnapshotMetadata | undefined, skippedNewerSnapshot?: string): ReplayedLog {
  const replay = new LogReplay(snapshot?.index ?? 0, records[0]?.file);
  for (const record of records) replay.apply(record);
  if (replay.baseIndex < 0) replay.resetTo(0, 0);
  const repairs = reconcileWithSnapshot(replay, snapshot ?? { index: 0, term: 0 }, skippedNewerSnapshot);
  const baseTerm = replay.baseTerm;
  if (baseTerm === undefined) throw corrupt(replay.gap!.file, replay.gap!.offset, `the term of index ${replay.baseIndex} is unknown`);
  const hardState = reconcileHardState(replay, snapshot?.index ?? 0);
  if (hardState !== replay.hardState) repairs.push({ type: 'hard-state', hardState });
  return { baseIndex: replay.baseIndex, baseTerm, entries: replay.entries, hardState, repairs };
}

/**
 * Makes the replayed log agree with the snapshot restored from disk; returns the records that
 * make the WAL say the same, so that entries appended later are replayed against the same log.
 */
function reconcileWithSnapshot(replay: LogReplay, snapshot: { index: number; term: number }, skippedNewerSnapshot: string | undefined): WalRecord[] {
  const { index, term } = snapshot;
  if (replay.baseIndex > index) {
    const why = skippedNewerSnapshot !== undefined ? `the newest snapshot ${skippedNewerSnapshot} is corrupt` : 'no snapshot file covers them';
    throw new StorageError('snapshot-corrupt',
      `entries ${index + 1}..${replay.baseIndex} are neither in the WAL nor in a usable snapshot (${why}). ` +
        'Wipe this data directory and let the node catch up from the leader.', { file: skippedNewerSnapshot });
  }
  const repairs: WalRecord[] = [];
  if (replay.baseTerm === undefined && index <= replay.lastIndex) {
    // Entries after a gap that no compact record explains (restoring from an older snapshot, or
    // the compact record was lost): usable from the snapshot on, when it lies within them.
    if (index === replay.baseIndex) replay.baseTerm = term;
    else replay.compactTo(index);
    repairs.push({ type: 'compact', index, term: replay.baseTerm! });
  }
  // The snapshot can be newer than the WAL knows: its file is made durable before the WAL record
  // saying it was installed. If the log does not hold the snapshot's own entry with its term, what
  // follows is a stale tail the install would have discarded.
  if (replay.termAt(index) !== term) {
    replay.resetTo(index, term);
    repairs.push({ type: 'snapshot-install', index, term });
  }
  return repairs;
}

function reconcileHardState(replay: LogReplay, originIndex: number): HardState {
  const hardState = replay.hardState;
  if (hardState.commit > replay.lastIndex) {
    const at = replay.hardStateAt!;
    throw corrupt(at.file, at.offset, `the hard state commits index ${hardState.commit} but the WAL ends at entry ${replay.lastIndex}: committed entries are missing`);
  }
  // A snapshot holds only committed state, so its index is committed (the hard state saying so
  // may have been lost with the install record that follows the snapshot file).
  return hardState.commit < originIndex ? { ...hardState, commit: originIndex } : hardState;
}
