// The few asynchronous file operations the WAL and the snapshot store need, so that the same
// storage code runs on the real disk (NodeFileSystem) and on the simulator's disk
// (SimulatedFileSystem), where a crash loses exactly what was never synced.
//
// Durability contract every implementation honours (it is what POSIX promises, no more):
// - bytes appended to a file are durable only after `sync()` on a handle of that file;
// - a file's creation, rename or deletion is durable only after `syncDirectory()` of its directory;
// - `rename()` within one directory is atomic.
// Paths are plain strings joined with '/'. Failures are StorageErrors ('disk-full' or 'io').

export type FileOperationKind =
  | 'open-append'
  | 'append'
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

export interface FileSystem {
  /** Opens a file for appending, creating it (empty) when missing. */
  openAppend(path: string): Promise<AppendHandle>;
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
