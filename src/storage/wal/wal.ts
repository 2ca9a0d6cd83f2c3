// The write-ahead log: an ordered series of segment files. Writes go to the last segment; one
// append and at most one fdatasync per call (group commit). A full segment is synced and closed,
// and the next one starts with a header (its sequence and the previous segment's final size, so a
// segment cut short is detected) and a prelude from the caller (the log's base and the hard state),
// so older segments can later be deleted without losing what the newer ones need.
import type { AppendHandle, FileSystem } from '../file-system.ts';
import { joinPath } from '../file-system.ts';
import { BinaryWriter } from '../binary.ts';
import type { HardState } from '../../core/index.ts';
import { StorageError } from '../types.ts';
import type { WalRecord } from './records.ts';
import { encodePayload, framedBytes, frameRecord } from './records.ts';
import type { LocatedRecord } from './segment.ts';
import { parseSegmentName, scanSegment, segmentName } from './segment.ts';

export interface WalOptions {
  readonly fileSystem: FileSystem;
  readonly directory: string;
  /** A segment is closed once the next write would take it past this size (a single write may exceed it). */
  readonly segmentMaxBytes: number;
  /** The largest record payload accepted when reading; larger lengths are treated as damage. */
  readonly maxRecordBytes: number;
}

/**
 * What a new segment starts with besides its header: the caller's current log base (as a compact
 * record) and hard state, so that it can be replayed once all older segments are deleted.
 */
export interface SegmentPrelude {
  /** The index of the next entry (for the file name). */
  readonly firstIndex: number;
  readonly baseIndex: number;
  readonly baseTerm: number;
  readonly hardState: HardState;
}

/** The record types a segment starts with, in order. */
const PRELUDE_TYPES: readonly WalRecord['type'][] = ['header', 'compact', 'hard-state'];

export interface RecoveredRecord extends LocatedRecord {
  readonly file: string;
}

export interface WalRecovery {
  readonly records: RecoveredRecord[];
  readonly tornTails: { file: string; offset: number; droppedBytes: number }[];
  readonly removedFiles: string[];
  readonly segmentsRead: number;
}

interface Segment {
  readonly path: string;
  readonly sequence: number;
  sizeBytes: number;
  /** The highest entry index written in it (-1: none): it may be deleted once compaction passes this. */
  maxEntryIndex: number;
  /** Size right after the header and prelude; a segment holding no more is never rolled over. */
  readonly preludeBytes: number;
}

export interface WalCounters {
  fileSyncs: number;
  directorySyncs: number;
  bytesWritten: number;
}

export class Wal {
  private readonly options: WalOptions;
  private readonly segments: Segment[];
  private handle: AppendHandle | undefined;
  /** Bytes appended to the current segment and not yet synced. */
  private dirty = false;
  readonly counters: WalCounters = { fileSyncs: 0, directorySyncs: 0, bytesWritten: 0 };

  private constructor(options: WalOptions, segments: Segment[]) {
    this.options = options;
    this.segments = segments;
  }

  /** Reads and verifies every segment, repairs a torn tail of the last one, and returns the records. */
  static async open(options: WalOptions): Promise<{ wal: Wal; recovery: WalRecovery }> {
    const { fileSystem, directory } = options;
    await fileSystem.makeDirectory(directory);
    const found = (await fileSystem.list(directory))
      .map((name) => ({ name, parsed: parseSegmentName(name) }))
      .filter((item) => item.parsed !== undefined)
      .map((item) => ({ path: joinPath(directory, item.name), sequence: item.parsed!.sequence }))
      .sort((left, right) => left.sequence - right.sequence);
    const recovery: WalRecovery = { records: [], tornTails: [], removedFiles: [], segmentsRead: found.length };
    const segments: Segment[] = [];
    const wal = new Wal(options, segments);
    for (let position = 0; position < found.length; position++) {
      const { path, sequence } = found[position]!;
      if (position > 0 && sequence !== found[position - 1]!.sequence + 1) {
        throw corrupt(path, 0, `the segment before it (sequence ${sequence - 1}) is missing`);
      }
      await wal.recoverSegment(path, sequence, position === found.length - 1, recovery);
    }
    await wal.makeWhatWasReadDurable();
    return { wal, recovery };
  }

  private async recoverSegment(path: string, sequence: number, isLast: boolean, recovery: WalRecovery): Promise<void> {
    const { fileSystem, directory, maxRecordBytes } = this.options;
    const bytes = await fileSystem.readFile(path);
    const scan = scanSegment(bytes, sequence, maxRecordBytes);
    const defect = scan.defect;
    if (defect !== undefined && (!isLast || defect.laterWriteAt !== undefined)) {
      const after = defect.laterWriteAt === undefined
        ? 'and it is not the last segment, so this is not a torn write'
        : `and a valid record of a later write follows at byte ${defect.laterWriteAt}, so this is not a torn write`;
      throw corrupt(path, defect.offset, `${defect.reason} ${after}`);
    }
    let preludeLength = 0;
    while (preludeLength < PRELUDE_TYPES.length && scan.records[preludeLength]?.record.type === PRELUDE_TYPES[preludeLength]) preludeLength++;
    if (preludeLength < PRELUDE_TYPES.length) {
      const unexpected = scan.records[preludeLength];
      if (unexpected !== undefined || !isLast) {
        const found = scan.records.slice(0, preludeLength + 1).map((item) => item.record.type).join(', ') || 'nothing valid';
        throw corrupt(path, unexpected?.offset ?? scan.validBytes, `the segment starts with ${found} instead of ${PRELUDE_TYPES.join(', ')}`);
      }
      // Only part of the header and prelude, which are synced before anything else is written:
      // a segment whose creation was interrupted by a crash.
      await fileSystem.unlink(path);
      await fileSystem.syncDirectory(directory);
      this.counters.directorySyncs++;
      recovery.removedFiles.push(path);
      return;
    }
    this.checkHeader(path, sequence, scan.records[0]!.record);
    if (defect !== undefined) {
      // Made durable with the rest of the last segment at the end of open().
      await fileSystem.truncate(path, scan.validBytes);
      recovery.tornTails.push({ file: path, offset: defect.offset, droppedBytes: bytes.byteLength - scan.validBytes });
    }
    let maxEntryIndex = -1;
    for (const located of scan.records) {
      if (located.record.type === 'entries') maxEntryIndex = Math.max(maxEntryIndex, lastOf(located.record.entries).index);
      recovery.records.push({ ...located, file: path });
    }
    this.segments.push({ path, sequence, sizeBytes: scan.validBytes, maxEntryIndex, preludeBytes: 0 });
  }

  /**
   * A previous process may have been killed after writing without syncing: what recovery just
   * read is in the page cache but maybe not on disk. Sync it before anything relies on it.
   */
  private async makeWhatWasReadDurable(): Promise<void> {
    await this.options.fileSystem.syncDirectory(this.options.directory);
    this.counters.directorySyncs++;
    if (this.segments.length === 0) return;
    await this.currentHandle();
    this.dirty = true;
    await this.sync();
  }

  private checkHeader(path: string, sequence: number, first: WalRecord): void {
    if (first.type !== 'header') return;
    if (first.sequence !== sequence) throw corrupt(path, 0, `the header says sequence ${first.sequence}, the file name ${sequence}`);
    const previous = this.segments[this.segments.length - 1];
    if (previous !== undefined && previous.sizeBytes !== first.previousSegmentBytes) {
      throw corrupt(previous.path, Math.min(previous.sizeBytes, first.previousSegmentBytes),
        `the segment is ${previous.sizeBytes} bytes but was ${first.previousSegmentBytes} bytes when the next one was started (cut short or overwritten)`);
    }
  }

  /**
   * Appends records with one write, then one fdatasync if `sync`. `prelude` is asked for the
   * content of a new segment when one must be started (first write, or the current one is full).
   */
  async append(records: readonly WalRecord[], sync: boolean, prelude: () => SegmentPrelude): Promise<void> {
    const encoded = records.map(encodePayload);
    const totalBytes = encoded.reduce((sum, item) => sum + framedBytes(item), 0);
    let current = this.segments[this.segments.length - 1];
    if (current === undefined) {
      current = await this.startSegment(0, 0, prelude());
    } else if (current.sizeBytes > current.preludeBytes && current.sizeBytes + totalBytes > this.options.segmentMaxBytes) {
      await this.closeCurrent();
      current = await this.startSegment(current.sequence + 1, current.sizeBytes, prelude());
    }
    const handle = await this.currentHandle();
    const writer = new BinaryWriter(totalBytes);
    encoded.forEach((item, position) => frameRecord(writer, current.sequence, current.sizeBytes, item, position === 0));
    this.dirty = true;
    await handle.append(writer.finish());
    current.sizeBytes += totalBytes;
    this.counters.bytesWritten += totalBytes;
    for (const record of records) {
      if (record.type === 'entries') current.maxEntryIndex = Math.max(current.maxEntryIndex, lastOf(record.entries).index);
    }
    if (sync) await this.sync();
  }

  /** fdatasync of the current segment, if anything was appended since the last one. */
  async sync(): Promise<void> {
    if (!this.dirty || this.handle === undefined) return;
    await this.handle.sync();
    this.counters.fileSyncs++;
    this.dirty = false;
  }

  /**
   * Deletes the oldest segments whose entries are all at or below `compactIndex`, never the
   * current one. The caller must have made durable what replaces them (snapshot, compact record).
   */
  async deleteSegmentsThrough(compactIndex: number): Promise<number> {
    let deleted = 0;
    while (this.segments.length > 1 && this.segments[0]!.maxEntryIndex <= compactIndex) {
      await this.options.fileSystem.unlink(this.segments[0]!.path);
      this.segments.shift();
      deleted++;
    }
    if (deleted > 0) {
      await this.options.fileSystem.syncDirectory(this.options.directory);
      this.counters.directorySyncs++;
    }
    return deleted;
  }

  async close(): Promise<void> {
    await this.closeCurrent();
  }

  /** Closes the current segment without syncing, ignoring errors (after a failure). */
  async abandon(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close().catch(() => undefined);
  }

  stats(): { segments: number; bytes: number } {
    return { segments: this.segments.length, bytes: this.segments.reduce((sum, segment) => sum + segment.sizeBytes, 0) };
  }

  private async currentHandle(): Promise<AppendHandle> {
    if (this.handle === undefined) this.handle = await this.options.fileSystem.openAppend(this.segments[this.segments.length - 1]!.path);
    return this.handle;
  }

  private async closeCurrent(): Promise<void> {
    await this.sync();
    const handle = this.handle;
    this.handle = undefined;
    if (handle !== undefined) await handle.close();
  }

  /** Creates a segment durably: header and prelude written and synced, then the directory synced. */
  private async startSegment(sequence: number, previousSegmentBytes: number, prelude: SegmentPrelude): Promise<Segment> {
    const { fileSystem, directory } = this.options;
    const path = joinPath(directory, segmentName(sequence, prelude.firstIndex));
    const records: WalRecord[] = [
      { type: 'header', sequence, firstIndex: prelude.firstIndex, previousSegmentBytes },
      { type: 'compact', index: prelude.baseIndex, term: prelude.baseTerm },
      { type: 'hard-state', hardState: prelude.hardState },
    ];
    const writer = new BinaryWriter();
    records.forEach((record, position) => frameRecord(writer, sequence, 0, encodePayload(record), position === 0));
    const handle = await fileSystem.openAppend(path);
    this.handle = handle;
    await handle.append(writer.finish());
    await handle.sync();
    await fileSystem.syncDirectory(directory);
    this.counters.fileSyncs++;
    this.counters.directorySyncs++;
    this.counters.bytesWritten += writer.length;
    const segment: Segment = { path, sequence, sizeBytes: writer.length, maxEntryIndex: -1, preludeBytes: writer.length };
    this.segments.push(segment);
    return segment;
  }
}

function lastOf<T>(items: readonly T[]): T {
  return items[items.length - 1]!;
}

export function corrupt(file: string, offset: number, reason: string): StorageError {
  return new StorageError(
    'wal-corrupt',
    `WAL segment ${file} is corrupt at byte ${offset}: ${reason}. Refusing to start rather than drop ` +
      'committed data: restore this data directory from a backup, or wipe it and let the node catch up from the leader.',
    { file, offset },
  );
}
