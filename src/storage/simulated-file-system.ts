// An in-memory FileSystem for the deterministic simulator and for crash tests. It keeps, for every
// file, what is durable apart from what is only in the page cache, and `crash()` throws away
// everything that was not synced.
//
// The model (stricter than most real file systems, as POSIX allows):
// - File contents: bytes appended since the last `sync()` of the file are volatile. A crash keeps
//   the synced bytes; in torn mode (a `random` function was given) it also keeps a random prefix of
//   the volatile bytes, and sometimes extends the file with zeros up to a random length within the
//   written size (the size reached the disk, the data blocks did not), and sometimes zeroes a range
//   inside the kept part of the file's last append (its pages reached the disk out of order). A
//   truncation that was not synced may be undone by a crash.
// - Directory entries: creating, renaming and deleting a file are volatile until `syncDirectory()`
//   of its directory, even if the file's data was synced (a synced file whose creation was not is
//   lost). A crash replays, per directory, none of the volatile operations — or in torn mode a
//   random prefix of them, in order. A rename is atomic (all or nothing).
// - Directories themselves are durable as soon as `makeDirectory()` returns (a simplification: the
//   storage creates its directories once, at first start).
// - Handles opened before a crash are dead: every operation on them fails with 'io'.
// No real time and no Math.random: randomness comes only from the injected `random()`.
import type { AppendHandle, FileOperation, FileSystem } from './file-system.ts';
import { baseNameOf, directoryOf } from './file-system.ts';
import { StorageError } from './types.ts';

export interface SimulatedFileSystemOptions {
  /** Uniform in [0, 1). When given, crashes tear writes and keep random prefixes of volatile operations. */
  readonly random?: () => number;
  /** Called before every operation: may delay it (simulated latency) or throw (injected failure). */
  readonly beforeOperation?: (operation: FileOperation) => Promise<void> | void;
  /** Total bytes the disk holds; appends beyond it fail with 'disk-full' after a short write. */
  readonly capacityBytes?: number;
}

/** The content of one file: what the page cache holds and how much of it is durable. */
class Inode {
  private data = new Uint8Array(64);
  length = 0;
  durableLength = 0;
  /** Where the last append started: a crash may lose a range inside that write only. */
  private lastAppendStart = 0;
  /** Set when an unsynced truncation cut into durable bytes: the durable content before it. */
  durableBeforeTruncation: Uint8Array | undefined;

  content(): Uint8Array {
    return this.data.subarray(0, this.length);
  }

  append(bytes: Uint8Array): void {
    if (this.length + bytes.byteLength > this.data.byteLength) {
      const grown = new Uint8Array(Math.max(this.data.byteLength * 2, this.length + bytes.byteLength));
      grown.set(this.content());
      this.data = grown;
    }
    this.data.set(bytes, this.length);
    this.lastAppendStart = this.length;
    this.length += bytes.byteLength;
  }

  truncate(sizeBytes: number): void {
    if (sizeBytes < this.durableLength && this.durableBeforeTruncation === undefined) {
      this.durableBeforeTruncation = this.data.slice(0, this.durableLength);
    }
    if (sizeBytes > this.length) this.append(new Uint8Array(sizeBytes - this.length));
    this.length = sizeBytes;
  }

  sync(): void {
    this.durableLength = this.length;
    this.durableBeforeTruncation = undefined;
  }

  /** Sometimes zeroes a range in [low, high): pages of one write persisted out of order. */
  private loseRangeOfLastWrite(random: () => number, low: number, high: number): void {
    if (high - low < 2 || random() >= 0.2) return;
    const start = low + Math.floor(random() * (high - low - 1));
    const end = start + 1 + Math.floor(random() * (high - start - 1));
    this.data.fill(0, start, end);
  }

  /** Replaces the content by what survives a crash. */
  crash(random: (() => number) | undefined): void {
    if (this.durableBeforeTruncation !== undefined && (random === undefined || random() < 0.5)) {
      const before = this.durableBeforeTruncation;
      this.length = 0;
      this.append(before);
    } else {
      const base = Math.min(this.durableLength, this.length);
      let kept = base;
      // Often the whole write reached the disk (the page cache was flushed in time); otherwise a prefix.
      if (random !== undefined) kept = random() < 0.25 ? this.length : kept + Math.floor(random() * (this.length - base + 1));
      let zeroFilledTo = kept;
      if (random !== undefined && kept < this.length && random() < 0.25) {
        zeroFilledTo = kept + Math.floor(random() * (this.length - kept + 1));
      }
      this.data.fill(0, kept, zeroFilledTo);
      if (random !== undefined) this.loseRangeOfLastWrite(random, Math.max(base, this.lastAppendStart), kept);
      this.length = zeroFilledTo;
    }
    this.durableBeforeTruncation = undefined;
    this.durableLength = this.length;
  }
}

type DirectoryOperation =
  | { readonly kind: 'link'; readonly name: string; readonly inode: Inode }
  | { readonly kind: 'unlink'; readonly name: string }
  | { readonly kind: 'rename'; readonly from: string; readonly to: string; readonly inode: Inode };

class Directory {
  readonly visible = new Map<string, Inode>();
  readonly durable = new Map<string, Inode>();
  pending: DirectoryOperation[] = [];

  sync(): void {
    for (const operation of this.pending) applyDirectoryOperation(this.durable, operation);
    this.pending = [];
  }

  crash(random: (() => number) | undefined): void {
    const survivors = random === undefined ? 0 : Math.floor(random() * (this.pending.length + 1));
    for (const operation of this.pending.slice(0, survivors)) applyDirectoryOperation(this.durable, operation);
    this.pending = [];
    this.visible.clear();
    for (const [name, inode] of this.durable) this.visible.set(name, inode);
  }
}

function applyDirectoryOperation(entries: Map<string, Inode>, operation: DirectoryOperation): void {
  if (operation.kind === 'link') entries.set(operation.name, operation.inode);
  else if (operation.kind === 'unlink') entries.delete(operation.name);
  else {
    entries.delete(operation.from);
    entries.set(operation.to, operation.inode);
  }
}

export interface SimulatedFileSystemStats {
  readonly fileSyncs: number;
  readonly directorySyncs: number;
  readonly bytesAppended: number;
  readonly crashes: number;
}

export class SimulatedFileSystem implements FileSystem {
  private readonly options: SimulatedFileSystemOptions;
  private readonly directories = new Map<string, Directory>();
  /** Incremented by every crash: operations and handles of an older generation fail. */
  private generation = 0;
  private counters = { fileSyncs: 0, directorySyncs: 0, bytesAppended: 0, crashes: 0 };

  constructor(options: SimulatedFileSystemOptions = {}) {
    this.options = options;
    this.directories.set('/', new Directory());
  }

  async openAppend(path: string): Promise<AppendHandle> {
    const generation = await this.begin({ kind: 'open-append', path });
    const directory = this.parentOf(path);
    const name = baseNameOf(path);
    let inode = directory.visible.get(name);
    if (inode === undefined) {
      inode = new Inode();
      directory.visible.set(name, inode);
      directory.pending.push({ kind: 'link', name, inode });
    }
    return new SimulatedAppendHandle(this, path, inode, generation);
  }

  async readFile(path: string): Promise<Uint8Array> {
    await this.begin({ kind: 'read', path });
    return this.inodeOf(path).content().slice();
  }

  async readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
    await this.begin({ kind: 'read', path, bytes: length });
    return this.inodeOf(path).content().slice(offset, offset + length);
  }

  async list(directory: string): Promise<string[]> {
    await this.begin({ kind: 'list', path: directory });
    return [...this.directoryAt(directory).visible.keys()].sort();
  }

  async rename(from: string, to: string): Promise<void> {
    await this.begin({ kind: 'rename', path: `${from} -> ${to}` });
    if (directoryOf(from) !== directoryOf(to)) {
      throw new StorageError('io', `rename ${from} -> ${to}: the simulated file system renames within one directory only`);
    }
    const directory = this.parentOf(from);
    const inode = this.inodeOf(from);
    const operation: DirectoryOperation = { kind: 'rename', from: baseNameOf(from), to: baseNameOf(to), inode };
    applyDirectoryOperation(directory.visible, operation);
    directory.pending.push(operation);
  }

  async unlink(path: string): Promise<void> {
    await this.begin({ kind: 'unlink', path });
    this.inodeOf(path);
    const directory = this.parentOf(path);
    const operation: DirectoryOperation = { kind: 'unlink', name: baseNameOf(path) };
    applyDirectoryOperation(directory.visible, operation);
    directory.pending.push(operation);
  }

  async makeDirectory(path: string): Promise<void> {
    await this.begin({ kind: 'make-directory', path });
    const normalized = normalize(path);
    if (normalized === '/') return;
    const parent = directoryOf(normalized);
    if (!this.directories.has(parent)) await this.makeDirectory(parent);
    if (this.parentOf(normalized).visible.has(baseNameOf(normalized))) {
      throw new StorageError('io', `create directory ${path}: a file has that name`, { file: path });
    }
    if (!this.directories.has(normalized)) this.directories.set(normalized, new Directory());
  }

  async syncDirectory(path: string): Promise<void> {
    await this.begin({ kind: 'sync-directory', path });
    this.directoryAt(path).sync();
    this.counters.directorySyncs++;
  }

  async truncate(path: string, sizeBytes: number): Promise<void> {
    await this.begin({ kind: 'truncate', path });
    this.inodeOf(path).truncate(sizeBytes);
  }

  async sizeOf(path: string): Promise<number> {
    await this.begin({ kind: 'size', path });
    return this.inodeOf(path).length;
  }

  /**
   * Simulates a power loss: volatile bytes and directory operations are lost (or torn, in torn
   * mode), open handles die, operations in flight fail.
   */
  crash(): void {
    const random = this.options.random;
    this.generation++;
    this.counters.crashes++;
    for (const directory of this.directories.values()) directory.crash(random);
    const seen = new Set<Inode>();
    for (const directory of this.directories.values()) {
      for (const inode of directory.durable.values()) {
        if (seen.has(inode)) continue;
        seen.add(inode);
        inode.crash(random);
      }
    }
  }

  /** Test helper: the current content of a file, without hooks. */
  peek(path: string): Uint8Array {
    return this.inodeOf(path).content().slice();
  }

  /** Test helper: replaces a file's content durably (to inject corruption), without hooks. */
  overwrite(path: string, bytes: Uint8Array): void {
    const inode = this.inodeOf(path);
    inode.length = 0;
    inode.append(bytes);
    inode.sync();
  }

  /** Test helper: the names in a directory, without hooks. */
  peekDirectory(path: string): string[] {
    return [...this.directoryAt(path).visible.keys()].sort();
  }

  stats(): SimulatedFileSystemStats {
    return { ...this.counters };
  }

  // Used by the handles.

  async appendTo(handle: SimulatedAppendHandle, inode: Inode, bytes: Uint8Array): Promise<void> {
    await this.begin({ kind: 'append', path: handle.path, bytes: bytes.byteLength }, handle.generation);
    const capacity = this.options.capacityBytes;
    if (capacity !== undefined) {
      const free = Math.max(0, capacity - this.usedBytes());
      if (bytes.byteLength > free) {
        inode.append(bytes.subarray(0, free));
        this.counters.bytesAppended += free;
        throw new StorageError('disk-full', `append to ${handle.path}: the disk is full (${capacity} bytes); free space and restart`, { file: handle.path });
      }
    }
    inode.append(bytes);
    this.counters.bytesAppended += bytes.byteLength;
  }

  async syncFile(handle: SimulatedAppendHandle, inode: Inode): Promise<void> {
    await this.begin({ kind: 'sync', path: handle.path }, handle.generation);
    inode.sync();
    this.counters.fileSyncs++;
  }

  async closeHandle(handle: SimulatedAppendHandle): Promise<void> {
    await this.begin({ kind: 'close', path: handle.path }, handle.generation);
  }

  /** Runs the hook, then fails if a crash happened before or during it. Returns the generation. */
  private async begin(operation: FileOperation, generation = this.generation): Promise<number> {
    this.checkAlive(generation, operation.path);
    if (this.options.beforeOperation !== undefined) await this.options.beforeOperation(operation);
    this.checkAlive(generation, operation.path);
    return generation;
  }

  private checkAlive(generation: number, path: string): void {
    if (generation !== this.generation) {
      throw new StorageError('io', `${path}: the simulated machine crashed during this operation`, { file: path });
    }
  }

  private usedBytes(): number {
    let total = 0;
    const seen = new Set<Inode>();
    for (const directory of this.directories.values()) {
      for (const inode of directory.visible.values()) {
        if (!seen.has(inode)) total += inode.length;
        seen.add(inode);
      }
    }
    return total;
  }

  private directoryAt(path: string): Directory {
    const directory = this.directories.get(normalize(path));
    if (directory === undefined) throw new StorageError('io', `${path}: no such directory`, { file: path });
    return directory;
  }

  private parentOf(path: string): Directory {
    return this.directoryAt(directoryOf(normalize(path)));
  }

  private inodeOf(path: string): Inode {
    const inode = this.parentOf(path).visible.get(baseNameOf(normalize(path)));
    if (inode === undefined) throw new StorageError('io', `${path}: no such file`, { file: path });
    return inode;
  }
}

class SimulatedAppendHandle implements AppendHandle {
  readonly path: string;
  readonly generation: number;
  private readonly fileSystem: SimulatedFileSystem;
  private readonly inode: Inode;
  private closed = false;

  constructor(fileSystem: SimulatedFileSystem, path: string, inode: Inode, generation: number) {
    this.fileSystem = fileSystem;
    this.path = path;
    this.inode = inode;
    this.generation = generation;
  }

  async append(bytes: Uint8Array): Promise<void> {
    this.checkOpen();
    return this.fileSystem.appendTo(this, this.inode, bytes);
  }

  async sync(): Promise<void> {
    this.checkOpen();
    return this.fileSystem.syncFile(this, this.inode);
  }

  async close(): Promise<void> {
    this.checkOpen();
    this.closed = true;
    return this.fileSystem.closeHandle(this);
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageError('io', `${this.path}: the file handle is closed`, { file: this.path });
  }
}

function normalize(path: string): string {
  if (!path.startsWith('/')) throw new StorageError('io', `${path}: the simulated file system takes absolute paths`);
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return '/' + parts.join('/');
}
