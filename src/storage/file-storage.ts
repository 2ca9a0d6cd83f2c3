// DurableStorage on a FileSystem: a WAL (wal/) and snapshot files (snap/) under one directory, and
// the whole log in memory (a MemoryLogStorage) so that the core's reads stay synchronous.
//
// Write order, which recovery relies on:
// - save(): the snapshot file (durable: temp, sync, rename, directory sync), then ONE WAL write
//   holding [snapshot-install, entries..., hard-state], then one fdatasync if `sync`. A crash keeps
//   a prefix of that write, so the hard state never survives without the entries before it. The
//   write goes into space the WAL preallocated (see wal/wal.ts), so the fdatasync flushes data only.
// - saveSnapshot(): the snapshot file, durably. compact(): a compact record, synced, then the
//   deletion of segments holding only entries at or below the compaction index.
// Mutating calls run one at a time in call order; the in-memory log changes only once a call's
// writes are done, so reads never show what a crash could take back from a synced save.
import { EMPTY_CONF_STATE, MemoryLogStorage } from '../core/index.ts';
import type { ConfState, Entry, HardState, Snapshot } from '../core/index.ts';
import type { FileSystem } from './file-system.ts';
import { directoryOf, joinPath } from './file-system.ts';
import { SnapshotStore } from './snapshot/snapshot-store.ts';
import type { LoadedSnapshots } from './snapshot/snapshot-store.ts';
import type { DurableStorage, RecoveryReport, StorageStats, StorageUpdate } from './types.ts';
import { StorageError } from './types.ts';
import { applyUpdate, checkApplicationSnapshot, checkCompaction, planUpdate } from './update.ts';
import type { PlannedUpdate } from './update.ts';
import { encodedEntryBytes } from './wal/records.ts';
import type { WalRecord } from './wal/records.ts';
import type { ReplayedLog } from './wal/replay.ts';
import { replayLog } from './wal/replay.ts';
import type { SegmentPrelude, WalRecovery } from './wal/wal.ts';
import { Wal } from './wal/wal.ts';

export interface FileStorageOptions {
  readonly fileSystem: FileSystem;
  /** The node's storage directory; `wal/` and `snap/` are created in it. */
  readonly directory: string;
  /**
   * The size WAL segment files are preallocated to (zeros, written and synced ahead of use so that
   * each save's fdatasync flushes data only; at most 1 GiB of it); a new segment is started when
   * the next write would pass it. Default 64 MiB.
   */
  readonly segmentMaxBytes?: number;
  /** The largest WAL record; an entry larger than about this is refused with 'too-large'. Default 64 MiB. */
  readonly maxRecordBytes?: number;
  /** Snapshot files kept (newest first). Default 2. */
  readonly snapshotsKept?: number;
  /** Salts for new WAL segments (8 bytes each). Default random; the simulator's are reproducible. */
  readonly newSegmentSalt?: () => Uint8Array;
}

export const FILE_STORAGE_DEFAULTS = {
  segmentMaxBytes: 64 * 1024 * 1024,
  maxRecordBytes: 64 * 1024 * 1024,
  snapshotsKept: 2,
} as const;

/** Entries are split into records of about this size, to bound what one record makes a reader hold. */
const ENTRIES_RECORD_TARGET_BYTES = 1024 * 1024;
const ENTRIES_RECORD_OVERHEAD_BYTES = 12;

export class FileStorage implements DurableStorage {
  /** What opening found and repaired; log it. */
  readonly recovery: RecoveryReport;
  private readonly log: MemoryLogStorage;
  private readonly wal: Wal;
  private readonly snapshots: SnapshotStore;
  private readonly maxRecordBytes: number;
  private queue: Promise<unknown> = Promise.resolve();
  private failure: unknown;
  private closing = false;
  private counters = { saves: 0, syncedSaves: 0, entriesSaved: 0 };

  private constructor(parts: { log: MemoryLogStorage; wal: Wal; snapshots: SnapshotStore; recovery: RecoveryReport; maxRecordBytes: number }) {
    this.log = parts.log;
    this.wal = parts.wal;
    this.snapshots = parts.snapshots;
    this.recovery = parts.recovery;
    this.maxRecordBytes = parts.maxRecordBytes;
  }

  /**
   * Opens (or creates) the storage in `options.directory` and recovers its state. Throws a
   * StorageError: 'wal-corrupt' / 'snapshot-corrupt' (with file and offset) when the data cannot be
   * trusted, 'io' / 'disk-full' on operating-system errors.
   */
  static async open(options: FileStorageOptions): Promise<FileStorage> {
    const { fileSystem, directory } = options;
    const maxRecordBytes = options.maxRecordBytes ?? FILE_STORAGE_DEFAULTS.maxRecordBytes;
    await createDurably(fileSystem, directory);
    const { store, loaded } = await SnapshotStore.open({
      fileSystem, directory: joinPath(directory, 'snap'), keep: options.snapshotsKept ?? FILE_STORAGE_DEFAULTS.snapshotsKept,
    });
    const { wal, recovery } = await Wal.open({
      fileSystem, directory: joinPath(directory, 'wal'), maxRecordBytes,
      segmentMaxBytes: options.segmentMaxBytes ?? FILE_STORAGE_DEFAULTS.segmentMaxBytes, newSalt: options.newSegmentSalt,
    });
    try {
      return await FileStorage.recover(store, loaded, wal, recovery, maxRecordBytes);
    } catch (error) {
      await wal.abandon();
      throw error;
    }
  }

  private static async recover(store: SnapshotStore, loaded: LoadedSnapshots, wal: Wal, recovery: WalRecovery, maxRecordBytes: number): Promise<FileStorage> {
    const snapshot = loaded.newest?.snapshot;
    const replayed = replayLog(recovery.records, snapshot?.metadata, loaded.corrupt[0]?.file);
    const log = buildLog(replayed, snapshot);
    if (replayed.repairs.length > 0) await wal.append(replayed.repairs, true, () => preludeOf(log), { mayRollOver: false });
    const quarantined = await store.quarantine(loaded.corrupt.map((item) => item.file));
    const report: RecoveryReport = {
      tornTails: recovery.tornTails,
      removedFiles: [...recovery.removedFiles, ...loaded.removedFiles],
      corruptSnapshots: loaded.corrupt.map((item, position) => ({ file: item.file, reason: `${item.reason} (moved to ${quarantined[position]})` })),
      segmentsRead: recovery.segmentsRead,
      recordsRead: recovery.records.length,
      snapshotIndex: log.snapshot().metadata.index,
      firstIndex: log.firstIndex(),
      lastIndex: log.lastIndex(),
      repairs: replayed.repairs.map(describeRepair),
    };
    return new FileStorage({ log, wal, snapshots: store, recovery: report, maxRecordBytes });
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return this.log.initialState();
  }

  entries(low: number, high: number, maxBytes: number): Entry[] {
    return this.log.entries(low, high, maxBytes);
  }

  term(index: number): number | undefined {
    return this.log.term(index);
  }

  firstIndex(): number {
    return this.log.firstIndex();
  }

  lastIndex(): number {
    return this.log.lastIndex();
  }

  snapshot(): Snapshot {
    return this.log.snapshot();
  }

  save(update: StorageUpdate, sync: boolean): Promise<void> {
    return this.run(async () => {
      const plan = planUpdate(this.log, update);
      const records = this.recordsFor(plan);
      await this.io(async () => {
        if (plan.install !== undefined) await this.snapshots.write(plan.install);
        if (records.length > 0) await this.wal.append(records, sync, () => this.prelude());
        else if (sync) await this.wal.sync();
      });
      applyUpdate(this.log, plan);
      this.counters.saves++;
      if (sync) this.counters.syncedSaves++;
      this.counters.entriesSaved += plan.entries.length;
    });
  }

  saveSnapshot(snapshot: Snapshot): Promise<void> {
    return this.run(async () => {
      if (!checkApplicationSnapshot(this.log, snapshot)) return;
      await this.io(() => this.snapshots.write(snapshot));
      this.log.createSnapshot(snapshot.metadata.index, snapshot.metadata.confState, snapshot.data);
    });
  }

  compact(compactIndex: number): Promise<void> {
    return this.run(async () => {
      if (!checkCompaction(this.log, compactIndex)) return;
      const record: WalRecord = { type: 'compact', index: compactIndex, term: this.log.term(compactIndex)! };
      await this.io(() => this.wal.append([record], true, () => this.prelude()));
      this.log.compact(compactIndex);
      await this.io(() => this.wal.deleteSegmentsThrough(compactIndex));
    });
  }

  close(): Promise<void> {
    const closed = this.run(async () => {
      if (this.failure !== undefined) await this.wal.abandon();
      else await this.io(() => this.wal.close());
    }, true);
    this.closing = true;
    return closed;
  }

  stats(): StorageStats {
    const wal = this.wal.stats();
    const snapshots = this.snapshots.stats();
    return {
      walBytes: wal.bytes,
      walFileBytes: wal.fileBytes,
      walSegmentsPrepared: this.wal.counters.segmentsPrepared,
      walSegmentsRecycled: this.wal.counters.segmentsRecycled,
      walSegments: wal.segments,
      snapshotFiles: snapshots.files,
      snapshotBytes: snapshots.bytes,
      ...this.counters,
      fileSyncs: this.wal.counters.fileSyncs + this.snapshots.counters.fileSyncs,
      directorySyncs: this.wal.counters.directorySyncs + this.snapshots.counters.directorySyncs,
      bytesWritten: this.wal.counters.bytesWritten + this.snapshots.counters.bytesWritten,
    };
  }

  /**
   * Resolves once the next WAL segment is no longer being prepared in the background. Not needed
   * for correctness (a roll-over waits for it); benchmarks and tests use it to measure steadily.
   */
  settled(): Promise<void> {
    return this.wal.settled();
  }

  /** Runs mutating calls one at a time, in call order; after a failure only close() runs. */
  private run(operation: () => Promise<void>, evenAfterFailure = false): Promise<void> {
    if (this.closing) return Promise.reject(new StorageError('closed', 'the storage is closed'));
    const result = this.queue.then(() => {
      if (this.failure !== undefined && !evenAfterFailure) throw this.failure;
      return operation();
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Runs file operations; a failure leaves files in an unknown state, so the storage stops. */
  private async io<T>(body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      this.failure = error;
      throw error;
    }
  }

  private recordsFor(plan: PlannedUpdate): WalRecord[] {
    const records: WalRecord[] = [];
    if (plan.install !== undefined) {
      records.push({ type: 'snapshot-install', index: plan.install.metadata.index, term: plan.install.metadata.term });
    }
    let chunk: Entry[] = [];
    let chunkBytes = 0;
    for (const entry of plan.entries) {
      const bytes = encodedEntryBytes(entry);
      if (bytes + ENTRIES_RECORD_OVERHEAD_BYTES > this.maxRecordBytes) {
        throw new StorageError('too-large', `entry ${entry.index} is ${entry.data.byteLength} bytes, more than the WAL's record limit of ${this.maxRecordBytes} bytes`);
      }
      if (chunk.length > 0 && chunkBytes + bytes > ENTRIES_RECORD_TARGET_BYTES) {
        records.push({ type: 'entries', entries: chunk });
        chunk = [];
        chunkBytes = 0;
      }
      chunk.push(entry);
      chunkBytes += bytes;
    }
    if (chunk.length > 0) records.push({ type: 'entries', entries: chunk });
    if (plan.hardState !== undefined) records.push({ type: 'hard-state', hardState: plan.hardState });
    return records;
  }

  private prelude(): SegmentPrelude {
    return preludeOf(this.log);
  }
}

/** What a new segment starts with: the log's base and the hard state, as of the last completed call. */
function preludeOf(log: MemoryLogStorage): SegmentPrelude {
  const baseIndex = log.firstIndex() - 1;
  return { firstIndex: log.lastIndex() + 1, baseIndex, baseTerm: log.term(baseIndex)!, hardState: log.initialState().hardState };
}

function describeRepair(record: WalRecord): string {
  switch (record.type) {
    case 'snapshot-install':
      return `the snapshot at ${record.index} (term ${record.term}) is newer than the WAL: entries after it were stale and dropped`;
    case 'compact':
      return `entries up to ${record.index} are covered by the snapshot and were dropped`;
    case 'hard-state':
      return `the commit index was raised to ${record.hardState.commit}, which the snapshot covers`;
    default:
      return record.type;
  }
}

/**
 * Creates the storage directory and its wal/ and snap/ subdirectories, and syncs the directories
 * holding their entries: on a first start, synced segments are worthless if their directory's own
 * entry is lost.
 */
async function createDurably(fileSystem: FileSystem, directory: string): Promise<void> {
  await fileSystem.makeDirectory(joinPath(directory, 'wal'));
  await fileSystem.makeDirectory(joinPath(directory, 'snap'));
  await fileSystem.syncDirectory(directory);
  await fileSystem.syncDirectory(directoryOf(directory));
}

/** The in-memory log from the replayed WAL and the restored snapshot. */
function buildLog(replayed: ReplayedLog, snapshot: Snapshot | undefined): MemoryLogStorage {
  const log = new MemoryLogStorage();
  if (snapshot !== undefined && snapshot.metadata.index === replayed.baseIndex) {
    log.applySnapshot(snapshot);
  } else if (replayed.baseIndex > 0) {
    const confState = snapshot?.metadata.confState ?? EMPTY_CONF_STATE;
    // A stand-in marking the log's base; replaced by the real snapshot just below.
    log.applySnapshot({ metadata: { index: replayed.baseIndex, term: replayed.baseTerm, confState }, data: new Uint8Array(0) });
  }
  log.append(replayed.entries);
  if (snapshot !== undefined && snapshot.metadata.index > replayed.baseIndex) {
    log.createSnapshot(snapshot.metadata.index, snapshot.metadata.confState, snapshot.data);
  }
  log.setHardState(replayed.hardState);
  return log;
}
