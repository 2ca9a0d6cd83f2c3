// FileSystem over node:fs/promises: real fdatasync for files, real fsync for directories.
import { constants, writeSync } from 'node:fs';
import { open, readdir, rename, unlink, mkdir, truncate, stat, readFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { AppendHandle, FileSystem, WritableHandle } from './file-system.ts';
import { StorageError } from './types.ts';
import { WRITE_MODE } from './write-mode.ts';

/** Turns an operating-system error into a StorageError a user can act on. */
export function toStorageError(error: unknown, operation: string, path: string): StorageError {
  if (error instanceof StorageError) return error;
  const code = (error as { code?: string } | null)?.code;
  const detail = error instanceof Error ? error.message : String(error);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new StorageError('disk-full', `${operation} ${path}: the disk is full (${detail}); free space and restart`, { file: path, cause: error });
  }
  return new StorageError('io', `${operation} ${path} failed: ${detail}`, { file: path, cause: error });
}

async function guarded<T>(operation: string, path: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    throw toStorageError(error, operation, path);
  }
}

class NodeAppendHandle implements AppendHandle {
  readonly path: string;
  private readonly handle: FileHandle;

  constructor(path: string, handle: FileHandle) {
    this.path = path;
    this.handle = handle;
  }

  append(bytes: Uint8Array): Promise<void> {
    return guarded('append to', this.path, async () => {
      let written = 0;
      // write() may be short (for example on a nearly full disk); loop so nothing is lost silently.
      while (written < bytes.byteLength) {
        const result = await this.handle.write(bytes, written, bytes.byteLength - written);
        if (result.bytesWritten === 0) throw new Error('write made no progress');
        written += result.bytesWritten;
      }
    });
  }

  sync(): Promise<void> {
    return guarded('fdatasync', this.path, () => this.handle.datasync());
  }

  close(): Promise<void> {
    return guarded('close', this.path, () => this.handle.close());
  }
}

/** Zeros are written in chunks of this size when allocating. */
const ALLOCATE_CHUNK_BYTES = 1024 * 1024;

class NodeWritableHandle implements WritableHandle {
  readonly path: string;
  private readonly handle: FileHandle;

  constructor(path: string, handle: FileHandle) {
    this.path = path;
    this.handle = handle;
  }

  /** Small writes run synchronously while the disk answers quickly (see write-mode.ts). */
  writeAt(offset: number, bytes: Uint8Array): Promise<void> {
    if (WRITE_MODE.synchronous(bytes.byteLength)) {
      const startedAt = performance.now();
      try {
        this.writeSynchronously(offset, bytes);
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(toStorageError(error, 'write to', this.path));
      } finally {
        WRITE_MODE.tookMs(performance.now() - startedAt);
      }
    }
    return guarded('write to', this.path, () => this.writeFully(offset, bytes));
  }

  allocate(sizeBytes: number): Promise<void> {
    return guarded('allocate', this.path, async () => {
      let position = (await this.handle.stat()).size;
      if (position >= sizeBytes) return;
      const zeros = new Uint8Array(Math.min(ALLOCATE_CHUNK_BYTES, sizeBytes - position));
      while (position < sizeBytes) {
        const length = Math.min(zeros.byteLength, sizeBytes - position);
        await this.writeFully(position, zeros.subarray(0, length));
        position += length;
      }
    });
  }

  sync(): Promise<void> {
    return guarded('fdatasync', this.path, () => this.handle.datasync());
  }

  close(): Promise<void> {
    return guarded('close', this.path, () => this.handle.close());
  }

  private writeSynchronously(offset: number, bytes: Uint8Array): void {
    let written = 0;
    // A short write (a nearly full disk) is retried so that nothing is lost silently.
    while (written < bytes.byteLength) {
      const count = writeSync(this.handle.fd, bytes, written, bytes.byteLength - written, offset + written);
      if (count === 0) throw new Error('write made no progress');
      written += count;
    }
  }

  private async writeFully(offset: number, bytes: Uint8Array): Promise<void> {
    let written = 0;
    while (written < bytes.byteLength) {
      const result = await this.handle.write(bytes, written, bytes.byteLength - written, offset + written);
      if (result.bytesWritten === 0) throw new Error('write made no progress');
      written += result.bytesWritten;
    }
  }
}

export class NodeFileSystem implements FileSystem {
  openAppend(path: string): Promise<AppendHandle> {
    return guarded('open', path, async () => new NodeAppendHandle(path, await open(path, 'a')));
  }

  openWritable(path: string): Promise<WritableHandle> {
    // Not 'a' (O_APPEND would ignore the offsets) and not 'w' (it would truncate).
    return guarded('open', path, async () => new NodeWritableHandle(path, await open(path, constants.O_RDWR | constants.O_CREAT, 0o644)));
  }

  readFile(path: string): Promise<Uint8Array> {
    return guarded('read', path, async () => {
      const buffer = await readFile(path);
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    });
  }

  readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
    return guarded('read', path, async () => {
      const handle = await open(path, 'r');
      try {
        const bytes = new Uint8Array(length);
        let filled = 0;
        while (filled < length) {
          const { bytesRead } = await handle.read(bytes, filled, length - filled, offset + filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        return bytes.subarray(0, filled);
      } finally {
        await handle.close();
      }
    });
  }

  list(directory: string): Promise<string[]> {
    return guarded('list', directory, async () => (await readdir(directory)).sort());
  }

  rename(from: string, to: string): Promise<void> {
    return guarded('rename', `${from} -> ${to}`, () => rename(from, to));
  }

  unlink(path: string): Promise<void> {
    return guarded('delete', path, () => unlink(path));
  }

  makeDirectory(path: string): Promise<void> {
    return guarded('create directory', path, async () => {
      await mkdir(path, { recursive: true });
    });
  }

  syncDirectory(path: string): Promise<void> {
    return guarded('fsync directory', path, async () => {
      const handle = await open(path, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    });
  }

  truncate(path: string, sizeBytes: number): Promise<void> {
    return guarded('truncate', path, () => truncate(path, sizeBytes));
  }

  sizeOf(path: string): Promise<number> {
    return guarded('stat', path, async () => (await stat(path)).size);
  }
}
