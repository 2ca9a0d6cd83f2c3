// The durable side of the Raft log: what the runtime calls after each Ready, on top of the
// synchronous read interface the core uses. Implementations: FileStorage (WAL + snapshot files on
// a FileSystem) and MemoryStorage (durable instantly, for tests). Both pass ./conformance.ts.
import type { LogStorage } from '../core/index.ts';
import type { Entry, HardState, Snapshot } from '../core/index.ts';

/** What one Ready asks to persist. Applied in this order: snapshot, entries, hard state. */
export interface StorageUpdate {
  /** A snapshot received from the leader: replaces the whole log up to (and after) its index. */
  readonly snapshot?: Snapshot | undefined;
  /** New entries; entries[0].index <= lastIndex() + 1. An overlapping suffix replaces the tail. */
  readonly entries: readonly Entry[];
  readonly hardState?: HardState | undefined;
}

export interface DurableStorage extends LogStorage {
  /**
   * Persists an update. When `sync` is true, everything in it (and everything saved before) is
   * on stable storage when the promise resolves, with one fdatasync for the whole update. Reads
   * reflect the update once the promise resolves. After a rejected save the storage is failed:
   * every later call rejects with the same error and the node must restart (recovery repairs it).
   */
  save(update: StorageUpdate, sync: boolean): Promise<void>;
  /**
   * Durably records a snapshot the application took at an applied index (index <= lastIndex(),
   * term equal to term(index)). Older snapshots are ignored. Does not drop entries: see compact().
   */
  saveSnapshot(snapshot: Snapshot): Promise<void>;
  /**
   * Drops entries up to and including `compactIndex` (<= the latest snapshot's index, so that the
   * dropped entries are covered by a durable snapshot) and deletes WAL segments holding nothing
   * newer. Typically `snapshotIndex - entriesKeptForSlowFollowers`. No-op at or below firstIndex() - 1.
   */
  compact(compactIndex: number): Promise<void>;
  /** Waits for pending operations, releases files. Later calls reject with code 'closed'. */
  close(): Promise<void>;
  stats(): StorageStats;
}

export interface StorageStats {
  /** Bytes of records in WAL segments (0 for memory storage). */
  readonly walBytes: number;
  /** Bytes WAL segment files take on disk: records plus the preallocated space after them. */
  readonly walFileBytes: number;
  readonly walSegments: number;
  /**
   * WAL segment files prepared ahead of use, in the background (not counted in fileSyncs and
   * directorySyncs): recycled segments (a rename and a directory fsync) or new files of zeros (also
   * one fdatasync).
   */
  readonly walSegmentsPrepared: number;
  /** Of walSegmentsPrepared, the recycled ones. */
  readonly walSegmentsRecycled: number;
  /** Snapshot files kept and their total size. */
  readonly snapshotFiles: number;
  readonly snapshotBytes: number;
  readonly saves: number;
  readonly syncedSaves: number;
  readonly entriesSaved: number;
  /** fdatasync/fsync calls on files (WAL segments and snapshot files), but for segment preparation. */
  readonly fileSyncs: number;
  /** fsync calls on directories (segment creation, snapshot rename, deletions). */
  readonly directorySyncs: number;
  readonly bytesWritten: number;
}

/** What opening found and repaired; the caller logs it. */
export interface RecoveryReport {
  /** Torn tails cut off the last WAL segment (a crash during a write that was never acknowledged). */
  readonly tornTails: readonly { readonly file: string; readonly offset: number; readonly droppedBytes: number }[];
  /** Files removed because they held nothing valid (a segment created just before a crash, temp files). */
  readonly removedFiles: readonly string[];
  /** Snapshot files that failed their checksum and were skipped (an older one was usable). */
  readonly corruptSnapshots: readonly { readonly file: string; readonly reason: string }[];
  readonly segmentsRead: number;
  readonly recordsRead: number;
  readonly snapshotIndex: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  /** How the WAL was made to agree with a snapshot newer than it (a crash between the two). */
  readonly repairs: readonly string[];
}

export type StorageErrorCode =
  /** A WAL record failed its checksum with valid data after it, a segment is missing or cut short. */
  | 'wal-corrupt'
  /** No usable snapshot: the newest is corrupt and the WAL no longer holds what an older one needs. */
  | 'snapshot-corrupt'
  | 'disk-full'
  /** Any other operating-system error (permissions, EIO, missing directory...). */
  | 'io'
  /** A single entry larger than the WAL's record limit. */
  | 'too-large'
  /** Used after close(), or after an earlier failure left the storage unusable. */
  | 'closed';

export class StorageError extends Error {
  override name = 'StorageError';
  readonly code: StorageErrorCode;
  /** The file and byte offset concerned, when there is one. */
  readonly file: string | undefined;
  readonly offset: number | undefined;

  constructor(code: StorageErrorCode, message: string, details: { file?: string; offset?: number; cause?: unknown } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.file = details.file;
    this.offset = details.offset;
  }
}

export function isStorageError(error: unknown, code?: StorageErrorCode): error is StorageError {
  return error instanceof StorageError && (code === undefined || error.code === code);
}
