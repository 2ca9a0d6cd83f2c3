// Prepares the next WAL segment file ahead of time, in the background (etcd's "file pipeline"), so
// that no fdatasync of a segment ever has to commit a size change (see WritableHandle in
// ../file-system.ts). Rolling over then only writes the new segment's first records into it and
// renames it.
//
// The file is a recycled segment when one is at hand: a segment that compaction made unneeded,
// already of full size, is kept (renamed to SPARE_SEGMENT_NAME) instead of deleted, and becomes the
// next prepared file. Its old records stay in it until overwritten; they fail the new segment's
// header check (see records.ts). Otherwise a new file is filled with zeros to its full size and
// synced: under a steady write load that was a third of the node's disk writes.
//
// Neither file is ever read as a segment (their names are not segment names). Their creation is
// made durable too (a directory sync, also in the background), so the roll-over's directory sync
// only has the rename to commit. Recovery deletes a prepared or spare file left behind by a crash
// or a killed process, even one a roll-over had started writing into: the rename that would have
// made it a segment did not become durable, so that save was never acknowledged.
import type { FileSystem, WritableHandle } from '../file-system.ts';
import { joinPath } from '../file-system.ts';

export const PREPARED_SEGMENT_NAME = 'next-segment.wal.tmp';
export const SPARE_SEGMENT_NAME = 'spare-segment.wal.tmp';

export interface PreparedSegment {
  readonly path: string;
  /** Open on the prepared file, whose `sizeBytes` bytes (zeros or an old segment's) are durable. */
  readonly handle: WritableHandle;
}

export interface SegmentPipelineOptions {
  readonly fileSystem: FileSystem;
  readonly directory: string;
  readonly sizeBytes: number;
  /**
   * Called once per segment prepared, with whether it was a recycled segment (a rename and a
   * directory fsync) or a new file of zeros (also `sizeBytes` written and one fdatasync); off the
   * save path either way.
   */
  readonly onPrepared: (recycled: boolean) => void;
}

export class SegmentPipeline {
  private readonly options: SegmentPipelineOptions;
  /** The preparation in flight or done, not yet taken. */
  private preparing: Promise<PreparedSegment> | undefined;
  /** Path of a segment file kept for reuse (SPARE_SEGMENT_NAME), if any. */
  private spare: string | undefined;

  constructor(options: SegmentPipelineOptions) {
    this.options = options;
  }

  /** Starts preparing the next segment in the background, unless one is prepared or on its way. */
  start(): void {
    if (this.preparing !== undefined) return;
    const preparing = this.prepare();
    // A failure surfaces in take(), which tries again; it is never an unhandled rejection.
    preparing.catch(() => undefined);
    this.preparing = preparing;
  }

  /**
   * The prepared segment, waiting for the background preparation if it is still running. When it
   * failed, prepares one now, so that a persistent failure (a full disk) reaches the caller.
   */
  async take(): Promise<PreparedSegment> {
    const preparing = this.preparing;
    this.preparing = undefined;
    if (preparing !== undefined) {
      try {
        return await preparing;
      } catch {
        // Tried again just below.
      }
    }
    return this.prepare();
  }

  /**
   * Offers a segment file that is no longer needed (and closed) for reuse as a later segment.
   * Keeps it, renamed to SPARE_SEGMENT_NAME, when none is kept yet and it has exactly the size
   * segments are prepared to; returns false otherwise, and the caller deletes it. Either way the
   * caller syncs the directory.
   */
  async recycle(path: string, fileBytes: number): Promise<boolean> {
    if (this.spare !== undefined || fileBytes !== this.options.sizeBytes) return false;
    const sparePath = joinPath(this.options.directory, SPARE_SEGMENT_NAME);
    await this.options.fileSystem.rename(path, sparePath);
    this.spare = sparePath;
    return true;
  }

  /** Resolves once no preparation is running (benchmarks and tests measure the steady state). */
  async settled(): Promise<void> {
    await this.preparing?.catch(() => undefined);
  }

  /**
   * Deletes the prepared and spare files, durably, after waiting for a preparation in flight.
   * Returns whether there was one (and so whether the directory was synced).
   */
  async close(): Promise<boolean> {
    const { fileSystem, directory } = this.options;
    const prepared = await this.release();
    const spare = this.spare;
    this.spare = undefined;
    if (prepared !== undefined) {
      await prepared.handle.close();
      await fileSystem.unlink(prepared.path);
    }
    if (spare !== undefined) await fileSystem.unlink(spare);
    if (prepared === undefined && spare === undefined) return false;
    await fileSystem.syncDirectory(directory);
    return true;
  }

  /** After a failure: closes what is open and ignores errors (the next start deletes the file). */
  async abandon(): Promise<void> {
    const prepared = await this.release().catch(() => undefined);
    await prepared?.handle.close().catch(() => undefined);
  }

  private async release(): Promise<PreparedSegment | undefined> {
    const preparing = this.preparing;
    this.preparing = undefined;
    return preparing?.catch(() => undefined);
  }

  private async prepare(): Promise<PreparedSegment> {
    const { fileSystem, directory, sizeBytes } = this.options;
    const path = joinPath(directory, PREPARED_SEGMENT_NAME);
    // A failed attempt may have left the file behind: start again from an empty one.
    if ((await fileSystem.list(directory)).includes(PREPARED_SEGMENT_NAME)) await fileSystem.unlink(path);
    const spare = this.spare;
    if (spare !== undefined) return this.prepareFromSpare(spare, path);
    const handle = await fileSystem.openWritable(path);
    try {
      await handle.allocate(sizeBytes);
      await handle.sync();
      await fileSystem.syncDirectory(directory);
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
    this.options.onPrepared(false);
    return { path, handle };
  }

  private async prepareFromSpare(spare: string, path: string): Promise<PreparedSegment> {
    const { fileSystem, directory } = this.options;
    try {
      await fileSystem.rename(spare, path);
    } finally {
      // Only now: until the rename is done, recycle() must not put another file at the spare name.
      this.spare = undefined;
    }
    const handle = await fileSystem.openWritable(path);
    try {
      await fileSystem.syncDirectory(directory);
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
    this.options.onPrepared(true);
    return { path, handle };
  }
}
