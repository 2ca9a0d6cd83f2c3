// Snapshot files in one directory, named `<index, 16 hex>-<term, 16 hex>.snap`. A snapshot is
// written to a temporary file, synced, renamed into place and the directory synced, so a crash
// leaves either the old set or the new one. The newest `keep` files are kept.
import type { Snapshot } from '../../core/index.ts';
import type { FileSystem } from '../file-system.ts';
import { joinPath } from '../file-system.ts';
import { DecodeError } from '../binary.ts';
import { decodeSnapshot, encodeSnapshot } from './snapshot-file.ts';

const TEMPORARY_SUFFIX = '.tmp';

export function snapshotName(index: number, term: number): string {
  return `${index.toString(16).padStart(16, '0')}-${term.toString(16).padStart(16, '0')}.snap`;
}

export function parseSnapshotName(name: string): { index: number; term: number } | undefined {
  const match = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/.exec(name);
  if (match === null) return undefined;
  const index = Number.parseInt(match[1]!, 16);
  const term = Number.parseInt(match[2]!, 16);
  return Number.isSafeInteger(index) && Number.isSafeInteger(term) ? { index, term } : undefined;
}

export interface SnapshotStoreOptions {
  readonly fileSystem: FileSystem;
  readonly directory: string;
  /** How many snapshot files to keep (the newest ones), at least 1. */
  readonly keep: number;
}

export interface LoadedSnapshots {
  /** The newest snapshot that verifies, if any. */
  readonly newest: { readonly snapshot: Snapshot; readonly file: string } | undefined;
  /** Newer files that failed to verify (they are left in place for inspection). */
  readonly corrupt: { readonly file: string; readonly reason: string }[];
  /** Leftover temporary files of interrupted writes, deleted. */
  readonly removedFiles: string[];
}

interface SnapshotFile {
  readonly name: string;
  readonly index: number;
  sizeBytes: number;
}

export class SnapshotStore {
  private readonly options: SnapshotStoreOptions;
  /** Newest first. */
  private files: SnapshotFile[];
  readonly counters = { fileSyncs: 0, directorySyncs: 0, bytesWritten: 0 };

  private constructor(options: SnapshotStoreOptions, files: SnapshotFile[]) {
    this.options = options;
    this.files = files;
  }

  static async open(options: SnapshotStoreOptions): Promise<{ store: SnapshotStore; loaded: LoadedSnapshots }> {
    const { fileSystem, directory } = options;
    await fileSystem.makeDirectory(directory);
    const names = await fileSystem.list(directory);
    const removedFiles: string[] = [];
    for (const name of names.filter((item) => item.endsWith(TEMPORARY_SUFFIX))) {
      await fileSystem.unlink(joinPath(directory, name));
      removedFiles.push(joinPath(directory, name));
    }
    const files: SnapshotFile[] = names
      .map((name) => ({ name, parsed: parseSnapshotName(name) }))
      .filter((item) => item.parsed !== undefined)
      .map((item) => ({ name: item.name, index: item.parsed!.index, sizeBytes: 0 }))
      .sort((left, right) => right.index - left.index);
    const store = new SnapshotStore(options, files);
    // Also makes durable a rename that a killed process did not get to sync.
    await store.syncDirectory();
    const corrupt: { file: string; reason: string }[] = [];
    let newest: LoadedSnapshots['newest'];
    for (const file of files) {
      const path = joinPath(directory, file.name);
      if (newest !== undefined) {
        file.sizeBytes = await fileSystem.sizeOf(path);
        continue;
      }
      const bytes = await fileSystem.readFile(path);
      file.sizeBytes = bytes.byteLength;
      const result = verify(bytes, file.name);
      if (typeof result === 'string') corrupt.push({ file: path, reason: result });
      else newest = { snapshot: result, file: path };
    }
    store.files = files.filter((file) => !corrupt.some((item) => item.file === joinPath(directory, file.name)));
    return { store, loaded: { newest, corrupt, removedFiles } };
  }

  /** Writes a snapshot durably (temporary file, sync, rename, directory sync), then prunes old ones. */
  async write(snapshot: Snapshot): Promise<void> {
    const { fileSystem, directory } = this.options;
    const name = snapshotName(snapshot.metadata.index, snapshot.metadata.term);
    const path = joinPath(directory, name);
    const temporaryPath = path + TEMPORARY_SUFFIX;
    if ((await fileSystem.list(directory)).includes(name + TEMPORARY_SUFFIX)) await fileSystem.unlink(temporaryPath);
    const { head, data, tail } = encodeSnapshot(snapshot);
    const handle = await fileSystem.openAppend(temporaryPath);
    try {
      await handle.append(head);
      await handle.append(data);
      await handle.append(tail);
      await handle.sync();
      this.counters.fileSyncs++;
    } finally {
      await handle.close();
    }
    await fileSystem.rename(temporaryPath, path);
    await this.syncDirectory();
    const sizeBytes = head.byteLength + data.byteLength + tail.byteLength;
    this.counters.bytesWritten += sizeBytes;
    this.files = [{ name, index: snapshot.metadata.index, sizeBytes }, ...this.files.filter((file) => file.name !== name)]
      .sort((left, right) => right.index - left.index);
    await this.prune();
  }

  /**
   * Renames corrupt snapshot files to `<name>.corrupt`, out of the way of pruning and of the next
   * start, once recovery has succeeded without them. Returns the new paths.
   */
  async quarantine(paths: readonly string[]): Promise<string[]> {
    const moved: string[] = [];
    for (const path of paths) {
      await this.options.fileSystem.rename(path, path + '.corrupt');
      moved.push(path + '.corrupt');
    }
    if (moved.length > 0) await this.syncDirectory();
    return moved;
  }

  stats(): { files: number; bytes: number } {
    return { files: this.files.length, bytes: this.files.reduce((sum, file) => sum + file.sizeBytes, 0) };
  }

  private async prune(): Promise<void> {
    const keep = Math.max(1, this.options.keep);
    const doomed = this.files.slice(keep);
    if (doomed.length === 0) return;
    for (const file of doomed) await this.options.fileSystem.unlink(joinPath(this.options.directory, file.name));
    this.files = this.files.slice(0, keep);
    await this.syncDirectory();
  }

  private async syncDirectory(): Promise<void> {
    await this.options.fileSystem.syncDirectory(this.options.directory);
    this.counters.directorySyncs++;
  }
}

function verify(bytes: Uint8Array, name: string): Snapshot | string {
  try {
    const snapshot = decodeSnapshot(bytes);
    const expected = parseSnapshotName(name)!;
    if (snapshot.metadata.index !== expected.index || snapshot.metadata.term !== expected.term) {
      return `holds index ${snapshot.metadata.index} term ${snapshot.metadata.term}, not what its name says`;
    }
    return snapshot;
  } catch (error) {
    if (error instanceof DecodeError) return error.message;
    throw error;
  }
}
