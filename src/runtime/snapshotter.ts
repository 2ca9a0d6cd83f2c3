// Periodic snapshots: after enough applied entries or bytes, the state machine's state is written
// as a snapshot file (durably), and only then is the log compacted, keeping a tail of recent
// entries (bounded by count and by bytes) so that followers a little behind catch up from the log.
import type { RawNode } from '../core/index.ts';
import type { StateMachine } from '../state/types.ts';
import type { DurableStorage } from '../storage/index.ts';
import type { NodeLogger } from './logger.ts';

export interface SnapshotLimits {
  /** Snapshot after this many entries applied since the last snapshot... */
  readonly everyEntries: number;
  /** ...or after this many bytes of entries (large Kafka batches fill memory long before the count). */
  readonly everyBytes: number;
  /** Entries kept in the log after a snapshot, at most this many... */
  readonly keptEntries: number;
  /** ...and at most this many bytes. */
  readonly keptBytes: number;
}

export class Snapshotter {
  lastSnapshotIndex = 0;
  private bytesSinceSnapshot = 0;
  /** Sizes of the most recent entries (index order), to choose how far to compact by bytes. */
  private recent: { index: number; bytes: number }[] = [];
  private readonly storage: DurableStorage;
  private readonly state: StateMachine<unknown>;
  private readonly logger: NodeLogger;
  private readonly limits: SnapshotLimits;

  constructor(storage: DurableStorage, state: StateMachine<unknown>, logger: NodeLogger, limits: SnapshotLimits) {
    this.storage = storage;
    this.state = state;
    this.logger = logger;
    this.limits = limits;
  }

  /** An entry was applied: counts towards the next snapshot and the tail kept after it. */
  recordApplied(index: number, bytes: number): void {
    this.bytesSinceSnapshot += bytes;
    this.recent.push({ index, bytes });
    if (this.recent.length > 2 * this.limits.keptEntries + 1024) this.recent = this.recent.slice(-this.limits.keptEntries);
  }

  /**
   * Called between Readys only: then the core's membership is exactly that of the applied
   * index, which is what the snapshot must record. Returns whether a snapshot was taken.
   */
  async maybeSnapshot(raw: RawNode): Promise<boolean> {
    const applied = this.state.appliedIndex();
    const due = applied - this.lastSnapshotIndex >= this.limits.everyEntries || this.bytesSinceSnapshot >= this.limits.everyBytes;
    if (!due || applied <= this.lastSnapshotIndex) return false;
    const snapshot = this.state.snapshot();
    const confState = raw.status().config;
    await this.storage.saveSnapshot({ metadata: { index: snapshot.index, term: snapshot.term, confState }, data: snapshot.data });
    this.lastSnapshotIndex = snapshot.index;
    this.bytesSinceSnapshot = 0;
    await this.storage.compact(this.compactionPoint(snapshot.index));
    this.logger.info({ index: snapshot.index, bytes: snapshot.data.byteLength, firstIndex: this.storage.firstIndex() }, 'snapshot taken, log compacted');
    return true;
  }

  /** The highest index to drop so that what stays after it fits both kept-tail limits. */
  private compactionPoint(snapshotIndex: number): number {
    let keptBytes = 0;
    let point = Math.max(0, snapshotIndex - this.limits.keptEntries);
    for (let position = this.recent.length - 1; position >= 0; position--) {
      const entry = this.recent[position]!;
      if (entry.index > snapshotIndex) continue;
      if (entry.index <= point) break;
      keptBytes += entry.bytes;
      if (keptBytes > this.limits.keptBytes) {
        point = entry.index;
        break;
      }
    }
    this.recent = this.recent.filter((entry) => entry.index > point);
    return point;
  }
}
