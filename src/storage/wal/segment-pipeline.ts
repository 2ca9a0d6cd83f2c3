// Prepares the next WAL segment file ahead of time, in the background (etcd's "file pipeline"): it
// is created under a temporary name, filled with zeros to its full size and synced. Rolling over
// then only writes the new segment's first records into it and renames it, and no fdatasync of a
// segment ever has to commit a size change (see WritableHandle in ../file-system.ts).
//
// The prepared file holds nothing but zeros and is never read as a segment (its name is not a
// segment name). Its creation is made durable too (a directory sync, also in the background), so
// the roll-over's directory sync only has the rename to commit. Recovery deletes a prepared file
// left behind by a crash or a killed process, even one a roll-over had started writing into: the
// rename that would have made it a segment did not become durable, so that save was never
// acknowledged.
import type { FileSystem, WritableHandle } from '../file-system.ts';
import { joinPath } from '../file-system.ts';

export const PREPARED_SEGMENT_NAME = 'next-segment.wal.tmp';

export interface PreparedSegment {
  readonly path: string;
  /** Open on the prepared file, whose `sizeBytes` zeros are durable. */
  readonly handle: WritableHandle;
}

export interface SegmentPipelineOptions {
  readonly fileSystem: FileSystem;
  readonly directory: string;
  readonly sizeBytes: number;
  /** Called once per segment prepared (it cost one fdatasync and one directory fsync, off the save path). */
  readonly onPrepared: () => void;
}

export class SegmentPipeline {
  private readonly options: SegmentPipelineOptions;
  /** The preparation in flight or done, not yet taken. */
  private preparing: Promise<PreparedSegment> | undefined;

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

  /** Resolves once no preparation is running (benchmarks and tests measure the steady state). */
  async settled(): Promise<void> {
    await this.preparing?.catch(() => undefined);
  }

  /**
   * Deletes the prepared file, durably, after waiting for a preparation in flight. Returns whether
   * there was one (and so whether the directory was synced).
   */
  async close(): Promise<boolean> {
    const prepared = await this.release();
    if (prepared === undefined) return false;
    await prepared.handle.close();
    await this.options.fileSystem.unlink(prepared.path);
    await this.options.fileSystem.syncDirectory(this.options.directory);
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
    const handle = await fileSystem.openWritable(path);
    try {
      await handle.allocate(sizeBytes);
      await handle.sync();
      await fileSystem.syncDirectory(directory);
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
    this.options.onPrepared();
    return { path, handle };
  }
}
