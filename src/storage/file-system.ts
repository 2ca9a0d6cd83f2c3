// The few asynchronous file operations the WAL and the snapshot store need, so that the same
// storage code runs on the real disk (NodeFileSystem) and on the simulator's disk
// (SimulatedFileSystem), where a crash loses exactly what was never synced.
//
// Durability contract every implementation honours (it is what POSIX promises, no more):
// - bytes written to a file (appended, written at an offset, or allocated) are durable only after
//   `sync()` on a handle of that file;
// - a file's creation, rename or deletion is durable only after `syncDirectory()` of its directory;
// - `rename()` within one directory is atomic.
// Paths are plain strings joined with '/'. Failures are StorageErrors ('disk-full' or 'io').

export type FileOperationKind =
  | 'open-append'
  | 'append'
  | 'open-writable'
  | 'write'
  | 'allocate'
  | 'sync'
  | 'close'
  | 'read'
  | 'list'
  | 'rename'
  | 'unlink'
  | 'make-directory'
  | 'sync-directory'
  | 'truncate'
  | 'size';

/** Describes one operation to a hook (the simulator uses it to inject latency or failures). */
export interface FileOperation {
  readonly kind: FileOperationKind;
  readonly path: string;
  /** Bytes written or read, when known. */
  readonly bytes?: number;
}

export interface AppendHandle {
  readonly path: string;
  /** Appends at the end of the file (a short write is reported as an error, never silently). */
  append(bytes: Uint8Array): Promise<void>;
  /** fdatasync: every byte appended so far is durable when this resolves. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A file written at explicit offsets (pwrite). Writing inside space that `allocate()` filled with
 * zeros and synced changes no file metadata, so a later fdatasync only flushes data: on ext4 it
 * skips the journal commit that every size change costs (measured: about 0.1 ms instead of 0.25).
 */
export interface WritableHandle {
  readonly path: string;
  /** Writes all of `bytes` at `offset`, extending the file when they go past its end. */
  writeAt(offset: number, bytes: Uint8Array): Promise<void>;
  /**
   * Extends the file to `sizeBytes` by writing zeros: real blocks, not a hole, so that writes into
   * them later allocate nothing. Does nothing when the file is already that large. (Holes were
   * tried: better produce p99, worse KV puts at c=256; see "Tried and reverted" in
   * docs/performance.md.)
   */
  allocate(sizeBytes: number): Promise<void>;
  /** fdatasync: every byte written so far (and the file's size) is durable when this resolves. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface FileSystem {
  /** Opens a file for appending, creating it (empty) when missing. */
  openAppend(path: string): Promise<AppendHandle>;
  /** Opens a file for writing at offsets, creating it (empty) when missing; never truncates it. */
  openWritable(path: string): Promise<WritableHandle>;
  readFile(path: string): Promise<Uint8Array>;
  /** Up to `length` bytes from `offset` (fewer at the end of the file). */
  readRange(path: string, offset: number, length: number): Promise<Uint8Array>;
  /** The names (not paths) of the entries of a directory, sorted. */
  list(directory: string): Promise<string[]>;
  /** Atomically replaces `to` with `from`; both in the same directory. */
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Creates a directory and its parents; succeeds when it already exists. */
  makeDirectory(path: string): Promise<void>;
  /** fsync of a directory: creations, renames and deletions in it become durable. */
  syncDirectory(path: string): Promise<void>;
  truncate(path: string, sizeBytes: number): Promise<void>;
  sizeOf(path: string): Promise<number>;
}

export function joinPath(directory: string, name: string): string {
  return directory.endsWith('/') ? directory + name : `${directory}/${name}`;
}

export function directoryOf(path: string): string {
  const slash = path.lastIndexOf('/');
  if (slash < 0) return '.';
  return slash === 0 ? '/' : path.slice(0, slash);
}

export function baseNameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
