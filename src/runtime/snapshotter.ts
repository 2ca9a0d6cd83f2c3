// Snapshots and log compaction. After enough applied entries or bytes the log is compacted,
// keeping a tail of recent entries (bounded by count and by bytes) so that followers a little
// behind catch up from the log. How depends on the state machine:
//
// - A persistent one (lmdb: the applied index is written in the same transaction as the data)
//   already holds everything up to its durable applied index. The log is compacted behind it
//   after a *state-backed* snapshot: a small file with the index, term and membership, whose data
//   says "the state is in the store". Nothing of the state is copied (etcd does the same with its
//   bbolt backend). Copying it was O(state) every 100,000 entries: 35-200 MB read and written by
//   every node, throughput falling round after round and 1-2 s stalls under Kafka load.
// - A memory one is copied into a real snapshot, written to the storage.
//
// A follower too far behind needs a real snapshot; the core then finds none it can send
// (coreStorage() hides state-backed ones) and asks again later, while the node builds one from
// the store between two Readys (buildWanted()) and keeps it in memory for as long as the log
// still continues it.
import type { LogStorage, ProgressStatus, RawNode, Snapshot } from '../core/index.ts';
import type { StateMachine, StateSnapshot } from '../state/types.ts';
import type { DurableStorage } from '../storage/index.ts';
import type { NodeLogger } from './logger.ts';

const SNAPSHOT_CHUNK_BYTES = 1024 * 1024;
/**
 * A snapshot built for followers holds the whole state in memory (192 MB after a minute of Kafka
 * produce): once no follower has asked for it this long, it is let go (and built again if needed).
 */
const BUILT_IDLE_RELEASE_MS = 60_000;
/** About 10-20 ms of reading on this machine between two turns of the event loop. */
const BYTES_PER_TURN = 4 * 1024 * 1024;

/**
 * The last index a follower has, as far as its leader knows: the snapshot on its way to it; right
 * after that snapshot was handed to the transport (probe, `match` not yet moved) or while probing,
 * the entry before the next one to send; otherwise what it acknowledged.
 */
function lastNeeded(progress: ProgressStatus): number {
  if (progress.state === 'snapshot') return progress.pendingSnapshot;
  if (progress.state === 'probe') return progress.next - 1;
  return progress.match;
}

/** The data of a state-backed snapshot: not a state, a statement that the store holds it. */
const STATE_BACKED_DATA = new TextEncoder().encode('cairn: the state is in the state machine\'s store (state-backed snapshot v1)');

export function isStateBacked(snapshot: Snapshot): boolean {
  const data = snapshot.data;
  return data.byteLength === STATE_BACKED_DATA.byteLength && STATE_BACKED_DATA.every((byte, position) => data[position] === byte);
}

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

/**
 * On a leader, compaction also keeps the entries a follower still needs (one catching up, or
 * installing a snapshot), up to this many times keptBytes: a follower whose snapshot takes longer
 * to install than the write load takes to move the log past the kept tail would otherwise be sent
 * snapshot after snapshot and never catch up. The bound, not liveness, decides: a follower busy
 * installing a snapshot does not answer (the core's recentActive drops within an election
 * timeout), and one that is down costs at most the bound.
 */
const CATCH_UP_HOLD_KEPT_BYTES_FACTOR = 4;

export class Snapshotter {
  lastSnapshotIndex = 0;
  private bytesSinceSnapshot = 0;
  /** A snapshot is being written (at most one at a time). */
  private writing = false;
  /** Sizes of the most recent entries (index order), to choose how far to compact by bytes. */
  private recent: { index: number; bytes: number }[] = [];
  /** The core asked for a snapshot to send and found only a state-backed one. */
  private wanted = false;
  /** The last snapshot built for followers (memory only: the store is the durable copy). */
  private built: Snapshot | undefined;
  /** When the core last took `built` to send it. */
  private builtUsedAt = 0;
  private readonly storage: DurableStorage;
  private readonly state: StateMachine<unknown>;
  private readonly logger: NodeLogger;
  private readonly limits: SnapshotLimits;
  private readonly onWanted: () => void;
  private readonly now: () => number;

  /** `onWanted`: a follower needs a snapshot; call buildWanted() between two Readys soon. */
  constructor(options: {
    storage: DurableStorage; state: StateMachine<unknown>; logger: NodeLogger; limits: SnapshotLimits;
    onWanted: () => void; now: () => number;
  }) {
    this.storage = options.storage;
    this.state = options.state;
    this.logger = options.logger;
    this.limits = options.limits;
    this.onWanted = options.onWanted;
    this.now = options.now;
  }

  /**
   * The log as the core should see it: the storage, except that a state-backed snapshot is not
   * one it can send. For that it gets the last snapshot built for followers while the log still
   * continues it, or none for now (the core tries again on a later heartbeat) and one is built.
   * A state-backed snapshot is returned as it is while `sendable` is false: the core reads the
   * latest snapshot's index once when it starts, to know where the log begins.
   */
  coreStorage(): LogStorage & { sendable: boolean } {
    const storage = this.storage;
    const snapshotter = this;
    return {
      sendable: false,
      initialState: () => storage.initialState(),
      entries: (low, high, maxBytes) => storage.entries(low, high, maxBytes),
      term: (index) => storage.term(index),
      firstIndex: () => storage.firstIndex(),
      lastIndex: () => storage.lastIndex(),
      snapshot() {
        const stored = storage.snapshot();
        if (!this.sendable || stored === undefined || !isStateBacked(stored)) return stored;
        return snapshotter.sendableSnapshot();
      },
    };
  }

  private sendableSnapshot(): Snapshot | undefined {
    const built = this.built;
    if (built !== undefined && built.metadata.index >= this.storage.firstIndex() - 1) {
      this.builtUsedAt = this.now();
      return built;
    }
    this.built = undefined; // the log no longer continues it: a follower installing it would be stuck
    if (!this.wanted) {
      this.wanted = true;
      this.onWanted();
    }
    return undefined;
  }

  /** Lets go of the snapshot built for followers once none asked for it for a while (call it on ticks). */
  releaseIdle(): void {
    if (this.built === undefined || this.now() - this.builtUsedAt < BUILT_IDLE_RELEASE_MS) return;
    this.logger.info({ index: this.built.metadata.index, bytes: this.built.data.byteLength }, 'released the snapshot built for followers (unused for a minute)');
    this.built = undefined;
  }

  /** A follower needs a snapshot that buildWanted() has not built yet. */
  get buildWanting(): boolean {
    return this.wanted;
  }

  /**
   * Builds the snapshot a follower asked for, from the state at the applied index. Called
   * between Readys only, like maybeStart() (the core's membership is then that of the applied
   * index); the node loop waits while the state is read, in chunks with event-loop turns.
   */
  async buildWanted(raw: RawNode): Promise<void> {
    const confState = raw.status().config;
    const startedAt = performance.now();
    const snapshot = await this.capture();
    this.wanted = false;
    this.built = { metadata: { index: snapshot.index, term: snapshot.term, confState }, data: snapshot.data };
    this.builtUsedAt = this.now();
    this.logger.info({ index: snapshot.index, bytes: snapshot.data.byteLength, ms: Math.round(performance.now() - startedAt) }, 'snapshot built from the state store for a follower');
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
   * must record. A state-backed snapshot reads nothing; its write waits for the store to make
   * the applied index durable first. A copied state is read in chunks, with a turn of the event
   * loop every few MiB so that ticks, heartbeats and peers' messages go on. Writing and
   * compacting go on in the background (the storage runs its calls in call order, so the
   * Readys after this one are written after it). Returns that write (wrapped: an async
   * function would wait for a promise it returns), or undefined when no snapshot is due or one
   * is still being written.
   */
  async maybeStart(raw: RawNode): Promise<{ written: Promise<void> } | undefined> {
    const applied = this.state.appliedIndex();
    const due = applied - this.lastSnapshotIndex >= this.limits.everyEntries || this.bytesSinceSnapshot >= this.limits.everyBytes;
    if (!due || applied <= this.lastSnapshotIndex || this.writing) return undefined;
    this.writing = true;
    try {
      const confState = raw.status().config;
      const snapshot = this.state.persistent
        ? { index: applied, term: this.state.appliedTerm(), data: STATE_BACKED_DATA }
        : await this.capture();
      const compactIndex = Math.min(this.compactionPoint(snapshot.index), this.catchUpFloor(raw, snapshot.index));
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
    const stateBacked = isStateBacked(snapshot);
    // The entries dropped below must be in the store for good, also after a machine crash.
    if (stateBacked) await this.state.flushed();
    await this.storage.saveSnapshot(snapshot);
    await this.storage.compact(compactIndex);
    const { index } = snapshot.metadata;
    const firstIndex = this.storage.firstIndex();
    if (stateBacked) this.logger.info({ index, firstIndex }, 'log compacted behind the state store (state-backed snapshot)');
    else this.logger.info({ index, bytes: snapshot.data.byteLength, firstIndex }, 'snapshot taken, log compacted');
  }

  /**
   * The highest index compaction may drop without taking from a follower what it needs next, for
   * the furthest-behind follower whose needs fit in CATCH_UP_HOLD_KEPT_BYTES_FACTOR × keptBytes of
   * entries (one further behind gets a snapshot). Only a leader knows its followers' progress;
   * elsewhere this is `snapshotIndex`.
   */
  private catchUpFloor(raw: RawNode, snapshotIndex: number): number {
    const status = raw.status();
    const firstKept = this.storage.firstIndex() - 1;
    const floors = Object.entries(status.progress ?? {})
      .filter(([id]) => Number(id) !== status.id)
      .map(([, progress]) => Math.max(firstKept, lastNeeded(progress)))
      .filter((floor) => floor < snapshotIndex)
      .sort((left, right) => left - right);
    const holdBytes = this.limits.keptBytes * CATCH_UP_HOLD_KEPT_BYTES_FACTOR;
    // entries() stops at holdBytes: it returns them all only if they fit.
    const fits = (floor: number) => this.storage.entries(floor + 1, snapshotIndex + 1, holdBytes).length === snapshotIndex - floor;
    return floors.find(fits) ?? snapshotIndex;
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
