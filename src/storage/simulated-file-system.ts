// An in-memory FileSystem for the deterministic simulator and for crash tests. It keeps, for every
// file, what is durable apart from what is only in the page cache, and `crash()` throws away
// everything that was not synced.
//
// The model (stricter than most real file systems, as POSIX allows):
// - File contents: every change since the last `sync()` of the file (an append, a write at an
//   offset, an allocation, a truncation) is volatile. A crash undoes them all; in torn mode (a
//   `random` function was given) a prefix of them, in order, reached the disk first: the last one
//   kept may be cut short, the file may then be longer than what was kept, filled with zeros (the
//   size reached the disk, the data blocks did not), and a range inside the kept part of the very
//   last write may hold its old bytes again (its pages reached the disk out of order). Bytes
//   allocated (zeros) are durable like any others once synced; writing into them changes no size.
// - Directory entries: creating, renaming and deleting a file are volatile until `syncDirectory()`
//   of its directory, even if the file's data was synced (a synced file whose creation was not is
//   lost). A crash replays, per directory, none of the volatile operations — or in torn mode a
//   random prefix of them, in order. A rename is atomic (all or nothing).
// - Directories themselves are durable as soon as `makeDirectory()` returns (a simplification: the
//   storage creates its directories once, at first start).
// - Handles opened before a crash are dead: every operation on them fails with 'io'.
// Files are sparse in memory: allocated zeros cost nothing until written, so a simulated node can
// preallocate 64 MiB segments. No real time and no Math.random: randomness comes only from the
// injected `random()`.
import type { AppendHandle, FileOperation, FileSystem, WritableHandle } from './file-system.ts';
import { baseNameOf, directoryOf } from './file-system.ts';
import { StorageError } from './types.ts';

export interface SimulatedFileSystemOptions {
  /** Uniform in [0, 1). When given, crashes tear writes and keep random prefixes of volatile operations. */
  readonly random?: () => number;
  /** Called before every operation: may delay it (simulated latency) or throw (injected failure). */
  readonly beforeOperation?: (operation: FileOperation) => Promise<void> | void;
  /** Total bytes the disk holds; writes that grow files beyond it fail with 'disk-full' after a short write. */
  readonly capacityBytes?: number;
}

/** One volatile change to a file's content, with what it replaced so that a crash can undo it. */
type ContentChange =
  | { readonly kind: 'write'; readonly offset: number; readonly bytes: Uint8Array; readonly replaced: Uint8Array; readonly lengthBefore: number }
  | { readonly kind: 'resize'; readonly lengthBefore: number; readonly lengthAfter: number; readonly cut: Uint8Array };

/** The content of one file: what the page cache holds, and the changes not yet synced. */
class Inode {
  /** Stored bytes; positions past its end (and below `length`) are zeros. Zero past `length`. */
  private data = new Uint8Array(64);
  length = 0;
  /** Changes since the last sync, oldest first. */
  private changes: ContentChange[] = [];

  /** A copy of `count` bytes from `offset` (fewer at the end of the file). */
  read(offset: number, count: number): Uint8Array {
    const end = Math.min(this.length, offset + count);
    const bytes = new Uint8Array(Math.max(0, end - offset));
    const storedEnd = Math.min(end, this.data.byteLength);
    if (storedEnd > offset) bytes.set(this.data.subarray(offset, storedEnd));
    return bytes;
  }

  write(offset: number, bytes: Uint8Array): void {
    const replaced = this.read(offset, bytes.byteLength);
    this.changes.push({ kind: 'write', offset, bytes: bytes.slice(), replaced, lengthBefore: this.length });
    this.writeRaw(offset, bytes);
  }

  resize(sizeBytes: number): void {
    const cut = sizeBytes < this.length ? this.read(sizeBytes, this.length - sizeBytes) : new Uint8Array(0);
    this.changes.push({ kind: 'resize', lengthBefore: this.length, lengthAfter: sizeBytes, cut });
    this.resizeRaw(sizeBytes);
  }

  sync(): void {
    this.changes = [];
  }

  /** Replaces the whole content, durably (test helper). */
  replaceDurably(bytes: Uint8Array): void {
    this.data = bytes.slice();
    this.length = bytes.byteLength;
    this.changes = [];
  }

  /** Replaces the content by what survives a crash. */
  crash(random: (() => number) | undefined): void {
    const changes = this.changes;
    this.changes = [];
    const lengthBeforeCrash = this.length;
    for (let position = changes.length - 1; position >= 0; position--) this.undo(changes[position]!);
    if (random === undefined || changes.length === 0) return;
    // Often everything reached the disk (the page cache was flushed in time); otherwise a prefix,
    // measured in bytes written (a size change counts as one).
    const weights = changes.map((change) => (change.kind === 'write' ? change.bytes.byteLength : 1));
    const total = weights.reduce((sum, weight) => sum + weight, 0);
    let budget = random() < 0.25 ? total : Math.floor(random() * (total + 1));
    let complete = true;
    let lastKept: { change: ContentChange; bytes: number } | undefined;
    for (let position = 0; position < changes.length; position++) {
      const change = changes[position]!;
      if (budget >= weights[position]!) {
        this.redo(change, weights[position]!);
        budget -= weights[position]!;
        lastKept = { change, bytes: weights[position]! };
        continue;
      }
      complete = false;
      if (change.kind === 'write' && budget > 0) {
        this.redo(change, budget);
        lastKept = { change, bytes: budget };
      }
      break;
    }
    if (!complete && lengthBeforeCrash > this.length && random() < 0.25) {
      this.resizeRaw(this.length + Math.floor(random() * (lengthBeforeCrash - this.length + 1)));
    }
    if (lastKept !== undefined && lastKept.change === changes[changes.length - 1]) this.loseRangeOfLastWrite(random, lastKept.change, lastKept.bytes);
  }

  private writeRaw(offset: number, bytes: Uint8Array): void {
    const end = offset + bytes.byteLength;
    if (end > this.data.byteLength) {
      const grown = new Uint8Array(Math.max(this.data.byteLength * 2, end));
      grown.set(this.data.subarray(0, Math.min(this.length, this.data.byteLength)));
      this.data = grown;
    }
    this.data.set(bytes, offset);
    this.length = Math.max(this.length, end);
  }

  private resizeRaw(sizeBytes: number): void {
    // Keep the stored bytes past the end zero, so that growing the file again shows zeros.
    if (sizeBytes < this.length) this.data.fill(0, Math.min(sizeBytes, this.data.byteLength), Math.min(this.length, this.data.byteLength));
    this.length = sizeBytes;
  }

  private undo(change: ContentChange): void {
    if (change.kind === 'write') {
      this.writeRaw(change.offset, change.replaced);
      this.resizeRaw(change.lengthBefore);
    } else {
      this.resizeRaw(change.lengthBefore);
      if (change.cut.byteLength > 0) this.writeRaw(change.lengthAfter, change.cut);
    }
  }

  /** Applies a change again; a write only its first `bytes` bytes. */
  private redo(change: ContentChange, bytes: number): void {
    if (change.kind === 'resize') this.resizeRaw(change.lengthAfter);
    else this.writeRaw(change.offset, change.bytes.subarray(0, bytes));
  }

  /** Sometimes restores the old bytes of a range inside the kept part of the last write. */
  private loseRangeOfLastWrite(random: () => number, change: ContentChange, keptBytes: number): void {
    if (change.kind !== 'write' || keptBytes < 2 || random() >= 0.2) return;
    const start = Math.floor(random() * (keptBytes - 1));
    const end = start + 1 + Math.floor(random() * (keptBytes - start - 1));
    const old = new Uint8Array(end - start);
    old.set(change.replaced.subarray(start, Math.min(end, change.replaced.byteLength)));
    this.writeRaw(change.offset + start, old);
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
  /** Bytes appended or written at offsets (not allocated zeros). */
  readonly bytesWritten: number;
  readonly crashes: number;
}

export class SimulatedFileSystem implements FileSystem {
  private readonly options: SimulatedFileSystemOptions;
  private readonly directories = new Map<string, Directory>();
  /** Incremented by every crash: operations and handles of an older generation fail. */
  private generation = 0;
  private counters = { fileSyncs: 0, directorySyncs: 0, bytesWritten: 0, crashes: 0 };

  constructor(options: SimulatedFileSystemOptions = {}) {
    this.options = options;
    this.directories.set('/', new Directory());
  }

  async openAppend(path: string): Promise<AppendHandle> {
    const generation = await this.begin({ kind: 'open-append', path });
    this.checkAlive(generation, path);
    return new SimulatedHandle(this, path, this.openOrCreate(path), generation);
  }

  async openWritable(path: string): Promise<WritableHandle> {
    const generation = await this.begin({ kind: 'open-writable', path });
    this.checkAlive(generation, path);
    return new SimulatedHandle(this, path, this.openOrCreate(path), generation);
  }

  async readFile(path: string): Promise<Uint8Array> {
    this.checkAlive(await this.begin({ kind: 'read', path }), path);
    const inode = this.inodeOf(path);
    return inode.read(0, inode.length);
  }

  async readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
    this.checkAlive(await this.begin({ kind: 'read', path, bytes: length }), path);
    return this.inodeOf(path).read(offset, length);
  }

  async list(directory: string): Promise<string[]> {
    this.checkAlive(await this.begin({ kind: 'list', path: directory }), directory);
    return [...this.directoryAt(directory).visible.keys()].sort();
  }

  async rename(from: string, to: string): Promise<void> {
    this.checkAlive(await this.begin({ kind: 'rename', path: `${from} -> ${to}` }), from);
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
    this.checkAlive(await this.begin({ kind: 'unlink', path }), path);
    this.inodeOf(path);
    const directory = this.parentOf(path);
    const operation: DirectoryOperation = { kind: 'unlink', name: baseNameOf(path) };
    applyDirectoryOperation(directory.visible, operation);
    directory.pending.push(operation);
  }

  async makeDirectory(path: string): Promise<void> {
    this.checkAlive(await this.begin({ kind: 'make-directory', path }), path);
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
    this.checkAlive(await this.begin({ kind: 'sync-directory', path }), path);
    this.directoryAt(path).sync();
    this.counters.directorySyncs++;
  }

  async truncate(path: string, sizeBytes: number): Promise<void> {
    this.checkAlive(await this.begin({ kind: 'truncate', path }), path);
    this.inodeOf(path).resize(sizeBytes);
  }

  async sizeOf(path: string): Promise<number> {
    this.checkAlive(await this.begin({ kind: 'size', path }), path);
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

  /**
   * The disk as one life of a process sees it: after the next crash every call through this view
   * fails, because a dead process makes no more calls. Without it, work a storage left running in
   * the background (preparing a segment) would go on writing into the restarted machine's disk.
   */
  processView(): FileSystem {
    const generation = this.generation;
    return new ProcessView(this, () => this.generation === generation);
  }

  /** Test helper: the current content of a file, without hooks. */
  peek(path: string): Uint8Array {
    const inode = this.inodeOf(path);
    return inode.read(0, inode.length);
  }

  /** Test helper: replaces a file's content durably (to inject corruption), without hooks. */
  overwrite(path: string, bytes: Uint8Array): void {
    this.inodeOf(path).replaceDurably(bytes);
  }

  /** Test helper: the names in a directory, without hooks. */
  peekDirectory(path: string): string[] {
    return [...this.directoryAt(path).visible.keys()].sort();
  }

  stats(): SimulatedFileSystemStats {
    return { ...this.counters };
  }

  // Used by the handles.

  async writeTo(handle: SimulatedHandle, inode: Inode, offset: number | 'end', bytes: Uint8Array): Promise<void> {
    const kind = offset === 'end' ? 'append' : 'write';
    this.checkAlive(await this.begin({ kind, path: handle.path, bytes: bytes.byteLength }, handle.generation), handle.path);
    const position = offset === 'end' ? inode.length : offset;
    const free = this.freeBytes();
    if (position + bytes.byteLength - inode.length > free) {
      // A short write: what fits, then the error.
      const fitting = Math.max(0, inode.length + free - position);
      if (fitting > 0) inode.write(position, bytes.subarray(0, fitting));
      this.counters.bytesWritten += fitting;
      throw this.diskFull(kind === 'append' ? 'append to' : 'write to', handle.path);
    }
    inode.write(position, bytes);
    this.counters.bytesWritten += bytes.byteLength;
  }

  async allocateIn(handle: SimulatedHandle, inode: Inode, sizeBytes: number): Promise<void> {
    this.checkAlive(await this.begin({ kind: 'allocate', path: handle.path, bytes: sizeBytes }, handle.generation), handle.path);
    if (sizeBytes <= inode.length) return;
    const free = this.freeBytes();
    if (sizeBytes - inode.length > free) {
      if (free > 0) inode.resize(inode.length + free);
      throw this.diskFull('allocate', handle.path);
    }
    inode.resize(sizeBytes);
  }

  async syncFile(handle: SimulatedHandle, inode: Inode): Promise<void> {
    this.checkAlive(await this.begin({ kind: 'sync', path: handle.path }, handle.generation), handle.path);
    inode.sync();
    this.counters.fileSyncs++;
  }

  async closeHandle(handle: SimulatedHandle): Promise<void> {
    this.checkAlive(await this.begin({ kind: 'close', path: handle.path }, handle.generation), handle.path);
  }

  private openOrCreate(path: string): Inode {
    const directory = this.parentOf(path);
    const name = baseNameOf(path);
    let inode = directory.visible.get(name);
    if (inode === undefined) {
      inode = new Inode();
      directory.visible.set(name, inode);
      directory.pending.push({ kind: 'link', name, inode });
    }
    return inode;
  }

  private freeBytes(): number {
    const capacity = this.options.capacityBytes;
    return capacity === undefined ? Number.POSITIVE_INFINITY : Math.max(0, capacity - this.usedBytes());
  }

  private diskFull(operation: string, path: string): StorageError {
    return new StorageError('disk-full', `${operation} ${path}: the disk is full (${this.options.capacityBytes} bytes); free space and restart`, { file: path });
  }

  /**
   * Runs the hook, then fails if a crash happened before or during it. Returns the generation,
   * which the caller checks again right before acting: awaiting this promise takes a turn of the
   * event loop, in which an operation running concurrently may crash the machine.
   */
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

class ProcessView implements FileSystem {
  private readonly disk: FileSystem;
  private readonly alive: () => boolean;

  constructor(disk: FileSystem, alive: () => boolean) {
    this.disk = disk;
    this.alive = alive;
  }

  openAppend(path: string): Promise<AppendHandle> {
    return this.call(path, () => this.disk.openAppend(path));
  }

  openWritable(path: string): Promise<WritableHandle> {
    return this.call(path, () => this.disk.openWritable(path));
  }

  readFile(path: string): Promise<Uint8Array> {
    return this.call(path, () => this.disk.readFile(path));
  }

  readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
    return this.call(path, () => this.disk.readRange(path, offset, length));
  }

  list(directory: string): Promise<string[]> {
    return this.call(directory, () => this.disk.list(directory));
  }

  rename(from: string, to: string): Promise<void> {
    return this.call(from, () => this.disk.rename(from, to));
  }

  unlink(path: string): Promise<void> {
    return this.call(path, () => this.disk.unlink(path));
  }

  makeDirectory(path: string): Promise<void> {
    return this.call(path, () => this.disk.makeDirectory(path));
  }

  syncDirectory(path: string): Promise<void> {
    return this.call(path, () => this.disk.syncDirectory(path));
  }

  truncate(path: string, sizeBytes: number): Promise<void> {
    return this.call(path, () => this.disk.truncate(path, sizeBytes));
  }

  sizeOf(path: string): Promise<number> {
    return this.call(path, () => this.disk.sizeOf(path));
  }

  private call<T>(path: string, operation: () => Promise<T>): Promise<T> {
    if (!this.alive()) return Promise.reject(new StorageError('io', `${path}: the simulated machine crashed and this process with it`, { file: path }));
    return operation();
  }
}

/** A handle for appending or writing at offsets (the file system hands it out as either). */
class SimulatedHandle implements AppendHandle, WritableHandle {
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
    return this.fileSystem.writeTo(this, this.inode, 'end', bytes);
  }

  async writeAt(offset: number, bytes: Uint8Array): Promise<void> {
    this.checkOpen();
    return this.fileSystem.writeTo(this, this.inode, offset, bytes);
  }

  async allocate(sizeBytes: number): Promise<void> {
    this.checkOpen();
    return this.fileSystem.allocateIn(this, this.inode, sizeBytes);
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
