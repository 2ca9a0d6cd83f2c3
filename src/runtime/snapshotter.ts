// Periodic snapshots: after enough applied entries or bytes, the state machine's state is written
// as a snapshot file (durably, in the background), and only then is the log compacted, keeping a
// tail of recent entries (bounded by count and by bytes) so that followers a little behind catch
// up from the log.
import type { RawNode, Snapshot } from '../core/index.ts';
import type { StateMachine, StateSnapshot } from '../state/types.ts';
import type { DurableStorage } from '../storage/index.ts';
import type { NodeLogger } from './logger.ts';

const SNAPSHOT_CHUNK_BYTES = 1024 * 1024;
/** About 10-20 ms of reading on this machine between two turns of the event loop. */
const BYTES_PER_TURN = 4 * 1024 * 1024;

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
  /** A snapshot is being written (at most one at a time). */
  private writing = false;
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
   * Called between Readys only, and the node loop waits for it (nothing is applied meanwhile):
   * then the core's membership is exactly that of the applied index, which is what the snapshot
   * must record. The state is read in chunks, with a turn of the event loop every few MiB so that
   * ticks, heartbeats and peers' messages go on; writing it and compacting the log go on in the
   * background (the storage runs its calls in call order, so the Readys after this one are
   * written after it). Measured before: reading a 134 MB state held the event loop for 1 s and
   * writing it held the node loop longer, and a leader lost its leadership over it. Returns that
   * write (wrapped: an async function would wait for a promise it returns), or undefined when no
   * snapshot is due or one is still being written.
   */
  async maybeStart(raw: RawNode): Promise<{ written: Promise<void> } | undefined> {
    const applied = this.state.appliedIndex();
    const due = applied - this.lastSnapshotIndex >= this.limits.everyEntries || this.bytesSinceSnapshot >= this.limits.everyBytes;
    if (!due || applied <= this.lastSnapshotIndex || this.writing) return undefined;
    this.writing = true;
    try {
      const confState = raw.status().config;
      const snapshot = await this.capture();
      const compactIndex = this.compactionPoint(snapshot.index);
      this.lastSnapshotIndex = snapshot.index;
      this.bytesSinceSnapshot = 0;
      const written = this.write({ metadata: { index: snapshot.index, term: snapshot.term, confState }, data: snapshot.data }, compactIndex)
        .finally(() => {
          this.writing = false;
        });
      return { written };
    } catch (error) {
      this.writing = false;
      throw error;
    }
  }

  /** The state at the applied index, read in chunks with a turn of the event loop between a few. */
  private async capture(): Promise<StateSnapshot> {
    const { index, term, chunks } = this.state.snapshotChunks(SNAPSHOT_CHUNK_BYTES);
    const parts: Uint8Array[] = [];
    let sinceTurn = 0;
    for (const chunk of chunks) {
      parts.push(chunk);
      sinceTurn += chunk.byteLength;
      if (sinceTurn < BYTES_PER_TURN) continue;
      sinceTurn = 0;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return { index, term, data: Buffer.concat(parts) };
  }

  private async write(snapshot: Snapshot, compactIndex: number): Promise<void> {
    await this.storage.saveSnapshot(snapshot);
    await this.storage.compact(compactIndex);
    this.logger.info({ index: snapshot.metadata.index, bytes: snapshot.data.byteLength, firstIndex: this.storage.firstIndex() }, 'snapshot taken, log compacted');
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
