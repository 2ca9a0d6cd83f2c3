// The write-ahead log: an ordered series of segment files. Writes go to the last segment, at the
// end of its last record (pwrite): one write and at most one fdatasync per call (group commit).
//
// Segments are preallocated: a SegmentPipeline prepares the next file in the background (a
// recycled segment, or zeros to the full segment size, synced), so a write never grows a file and
// its fdatasync commits no size change. What follows the last record is therefore zeros or a
// recycled file's old records (which fail the new segment's header check), not a torn tail.
// A full segment is synced and closed; the next one starts with a header (its sequence and where
// the previous segment's records end, so a segment cut short is detected) and a prelude from the
// caller (the log's base and the hard state), so older segments can later be deleted without
// losing what the newer ones need. The header and prelude go out in the same write as the records
// that caused the roll-over, then the prepared file is renamed into place and the directory synced.
import { randomBytes } from 'node:crypto';
import type { FileSystem, WritableHandle } from '../file-system.ts';
import { joinPath } from '../file-system.ts';
import type { HardState } from '../../core/index.ts';
import { ScratchBuffer } from '../binary.ts';
import { StorageError } from '../types.ts';
import type { SegmentIdentity, WalRecord } from './records.ts';
import { encodeWrite, formatVersion, framedBytes, SALT_BYTES } from './records.ts';
import type { LocatedRecord, SegmentScan } from './segment.ts';
import { parseSegmentName, scanSegment, segmentName } from './segment.ts';
import { PREPARED_SEGMENT_NAME, SegmentPipeline, SPARE_SEGMENT_NAME } from './segment-pipeline.ts';

export interface WalOptions {
  readonly fileSystem: FileSystem;
  readonly directory: string;
  /**
   * The size segment files are preallocated to. A segment is closed once the next write would take
   * it past this size (a single larger write still goes into one segment, growing its file).
   */
  readonly segmentMaxBytes: number;
  /** The largest record payload accepted when reading; larger lengths are treated as damage. */
  readonly maxRecordBytes: number;
  /** A new segment's salt (SALT_BYTES bytes). Default: random; the simulator's are reproducible. */
  readonly newSalt?: () => Uint8Array;
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
  /** Its sequence and salt, which its records' checksums bind. */
  readonly identity: SegmentIdentity;
  /** Where its records end: the offset of the next write. */
  sizeBytes: number;
  /** The file's size, preallocated zeros included. */
  fileBytes: number;
  /** The highest entry index written in it (-1: none): it may be deleted once compaction passes this. */
  maxEntryIndex: number;
  /** Size right after the header and prelude; a segment holding no more is never rolled over. */
  readonly preludeBytes: number;
  /** While recovering: bad bytes after its records, accepted once the next segment's header agrees. */
  damage?: NonNullable<SegmentScan['defect']>;
}

export interface WalCounters {
  fileSyncs: number;
  directorySyncs: number;
  bytesWritten: number;
  /**
   * Segment files prepared ahead of use, in the background (their syncs are not counted in
   * fileSyncs and directorySyncs): a recycled segment costs a rename and a directory fsync, a new
   * one also the segment's size in zeros and one fdatasync.
   */
  segmentsPrepared: number;
  /** Of segmentsPrepared, those that reused a segment compaction had made unneeded. */
  segmentsRecycled: number;
}

/** Zeros are written in chunks of this size when damage is wiped. */
const ZERO_CHUNK_BYTES = 1024 * 1024;
/**
 * Segment files are preallocated up to this size: a larger segmentMaxBytes (the server accepts up
 * to 1 TiB, meaning "rarely roll over") must not claim that much disk up front; writes past the
 * preallocated part grow the file as before.
 */
export const PREALLOCATED_MAX_BYTES = 1024 * 1024 * 1024;

/** Writes up to this size reuse one buffer (see ScratchBuffer); larger ones, rare, get their own. */
const WRITE_SCRATCH_MAX_BYTES = 8 * 1024 * 1024;

export class Wal {
  private readonly options: WalOptions;
  private readonly segments: Segment[];
  private readonly pipeline: SegmentPipeline;
  private handle: WritableHandle | undefined;
  /** Bytes written to the current segment and not yet synced. */
  private dirty = false;
  /** Every write is encoded into this buffer: writes complete one at a time (FileStorage runs them in order). */
  private readonly writeScratch = new ScratchBuffer(WRITE_SCRATCH_MAX_BYTES);
  readonly counters: WalCounters = { fileSyncs: 0, directorySyncs: 0, bytesWritten: 0, segmentsPrepared: 0, segmentsRecycled: 0 };

  private constructor(options: WalOptions, segments: Segment[]) {
    this.options = options;
    this.segments = segments;
    this.pipeline = new SegmentPipeline({
      fileSystem: options.fileSystem, directory: options.directory, sizeBytes: Math.min(options.segmentMaxBytes, PREALLOCATED_MAX_BYTES),
      onPrepared: (recycled) => {
        this.counters.segmentsPrepared++;
        if (recycled) this.counters.segmentsRecycled++;
      },
    });
  }

  /**
   * Reads and verifies every segment, wipes a torn tail of the last one, deletes a prepared or
   * spare file left behind, returns the records, and starts preparing the next segment in the
   * background.
   */
  static async open(options: WalOptions): Promise<{ wal: Wal; recovery: WalRecovery }> {
    const { fileSystem, directory } = options;
    await fileSystem.makeDirectory(directory);
    const names = await fileSystem.list(directory);
    const found = names
      .map((name) => ({ name, parsed: parseSegmentName(name) }))
      .filter((item) => item.parsed !== undefined)
      .map((item) => ({ path: joinPath(directory, item.name), identity: { sequence: item.parsed!.sequence, salt: item.parsed!.salt } }))
      .sort((left, right) => left.identity.sequence - right.identity.sequence);
    const recovery: WalRecovery = { records: [], tornTails: [], removedFiles: [], segmentsRead: found.length };
    const segments: Segment[] = [];
    const wal = new Wal(options, segments);
    try {
      for (const leftover of [PREPARED_SEGMENT_NAME, SPARE_SEGMENT_NAME].filter((name) => names.includes(name))) {
        // A spare, zeros, or the start of a roll-over whose rename never became durable: never acknowledged.
        await fileSystem.unlink(joinPath(directory, leftover));
        recovery.removedFiles.push(joinPath(directory, leftover));
      }
      for (let position = 0; position < found.length; position++) {
        const { path, identity } = found[position]!;
        const sequence = identity.sequence;
        if (position > 0 && sequence !== found[position - 1]!.identity.sequence + 1) {
          throw corrupt(path, 0, `the segment before it (sequence ${sequence - 1}) is missing`);
        }
        await wal.recoverSegment(path, identity, position === found.length - 1, recovery);
      }
      await wal.repairDamagedEnd(recovery);
      await wal.makeWhatWasReadDurable();
    } catch (error) {
      await wal.abandon();
      throw error;
    }
    wal.pipeline.start();
    return { wal, recovery };
  }

  /**
   * Reads one segment. Bad bytes after its records are a torn write or, in a recycled file, its
   * old records; corruption only if a later write follows them. In the last segment they are
   * repaired once all are read (repairDamagedEnd); in any other, the next segment's header must
   * say that its records end right there (checkHeader).
   */
  private async recoverSegment(path: string, identity: SegmentIdentity, isLast: boolean, recovery: WalRecovery): Promise<void> {
    const { fileSystem, directory, maxRecordBytes } = this.options;
    const bytes = await fileSystem.readFile(path);
    const scan = scanSegment(bytes, identity, maxRecordBytes);
    const defect = scan.defect;
    if (defect?.laterWriteAt !== undefined) {
      throw corrupt(path, defect.offset, `${defect.reason} and a valid record of a later write follows at byte ${defect.laterWriteAt}, so this is not a torn write`);
    }
    let preludeLength = 0;
    while (preludeLength < PRELUDE_TYPES.length && scan.records[preludeLength]?.record.type === PRELUDE_TYPES[preludeLength]) preludeLength++;
    if (preludeLength < PRELUDE_TYPES.length) {
      const unexpected = scan.records[preludeLength];
      if (unexpected !== undefined || !isLast) {
        const found = scan.records.slice(0, preludeLength + 1).map((item) => item.record.type).join(', ') || 'nothing valid';
        throw corrupt(path, unexpected?.offset ?? scan.validBytes, `the segment starts with ${found} instead of ${PRELUDE_TYPES.join(', ')}`);
      }
      // Only part of the header and prelude, which go out in the first write to a segment: a
      // roll-over interrupted by a crash before that write was synced (so never acknowledged).
      // A header that made it still says where the previous segment's records end: they must.
      if (preludeLength > 0) this.checkHeader(path, identity, scan.records[0]!.record);
      await fileSystem.unlink(path);
      await fileSystem.syncDirectory(directory);
      this.counters.directorySyncs++;
      recovery.removedFiles.push(path);
      return;
    }
    this.checkHeader(path, identity, scan.records[0]!.record);
    let maxEntryIndex = -1;
    for (const located of scan.records) {
      if (located.record.type === 'entries') maxEntryIndex = Math.max(maxEntryIndex, lastOf(located.record.entries).index);
      recovery.records.push({ ...located, file: path });
    }
    const preludeBytes = scan.records[PRELUDE_TYPES.length]?.offset ?? scan.validBytes;
    this.segments.push({ path, identity, sizeBytes: scan.validBytes, fileBytes: bytes.byteLength, maxEntryIndex, preludeBytes, damage: defect });
  }

  /**
   * The last segment is written to again after its records: what a torn write left there that may
   * verify is zeroed first (rather than cut off: the file keeps its preallocated size), so that no
   * record of it can line up with a later one. A recycled file's old records are left as they
   * are. Made durable at the end of open().
   */
  private async repairDamagedEnd(recovery: WalRecovery): Promise<void> {
    for (const segment of this.segments) {
      const damage = segment.damage;
      segment.damage = undefined;
      if (damage === undefined || segment !== this.segments[this.segments.length - 1] || damage.oursEnd <= segment.sizeBytes) continue;
      await this.wipe(segment.path, segment.sizeBytes, damage.oursEnd);
      recovery.tornTails.push({ file: segment.path, offset: damage.offset, droppedBytes: damage.oursEnd - segment.sizeBytes });
    }
  }

  /** Overwrites bytes [from, to) of the last segment with zeros (not synced). */
  private async wipe(path: string, from: number, to: number): Promise<void> {
    this.handle ??= await this.options.fileSystem.openWritable(path);
    const zeros = new Uint8Array(Math.min(ZERO_CHUNK_BYTES, to - from));
    for (let offset = from; offset < to; offset += zeros.byteLength) {
      await this.handle.writeAt(offset, zeros.subarray(0, Math.min(zeros.byteLength, to - offset)));
    }
    this.dirty = true;
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

  private checkHeader(path: string, identity: SegmentIdentity, first: WalRecord): void {
    if (first.type !== 'header') return;
    const sequence = identity.sequence;
    if (first.sequence !== sequence) throw corrupt(path, 0, `the header says sequence ${first.sequence}, the file name ${sequence}`);
    if (first.version !== formatVersion(identity)) {
      throw corrupt(path, 0, `the header says format version ${first.version}, the file name ${formatVersion(identity)}`);
    }
    const previous = this.segments[this.segments.length - 1];
    if (previous !== undefined && previous.sizeBytes !== first.previousSegmentBytes) {
      throw corrupt(previous.path, Math.min(previous.sizeBytes, first.previousSegmentBytes),
        `its records end at byte ${previous.sizeBytes} but ended at byte ${first.previousSegmentBytes} when the next segment was started (cut short or overwritten)`);
    }
  }

  /**
   * Writes records with one write, then one fdatasync if `sync`. `prelude` is asked for the
   * content of a new segment when one must be started (first write, or the current one is full).
   * `mayRollOver: false` keeps a full segment (a write may exceed its size): for recovery's
   * repairs, whose prelude would describe the repaired log before the repairs are in the WAL, so
   * that its compact record would contradict the older segments.
   */
  async append(records: readonly WalRecord[], sync: boolean, prelude: () => SegmentPrelude, options: { mayRollOver?: boolean } = {}): Promise<void> {
    const current = this.segments[this.segments.length - 1];
    const full = current !== undefined && current.sizeBytes > current.preludeBytes && current.sizeBytes + framedBytes(records, current.identity) > this.options.segmentMaxBytes;
    if (current === undefined || (full && options.mayRollOver !== false)) return this.rollOver(records, sync, prelude());
    const handle = await this.currentHandle();
    const bytes = encodeWrite(records, current.identity, current.sizeBytes, this.writeScratch);
    this.dirty = true;
    await handle.writeAt(current.sizeBytes, bytes);
    current.sizeBytes += bytes.byteLength;
    current.fileBytes = Math.max(current.fileBytes, current.sizeBytes);
    this.counters.bytesWritten += bytes.byteLength;
    noteEntries(current, records);
    if (sync) await this.sync();
  }

  /** fdatasync of the current segment, if anything was written since the last one. */
  async sync(): Promise<void> {
    if (!this.dirty || this.handle === undefined) return;
    await this.handle.sync();
    this.counters.fileSyncs++;
    this.dirty = false;
  }

  /**
   * Deletes the oldest segments whose entries are all at or below `compactIndex`, never the
   * current one; one is kept for reuse as a later segment when the pipeline has none. The caller
   * must have made durable what replaces them (snapshot, compact record).
   */
  async deleteSegmentsThrough(compactIndex: number): Promise<number> {
    let deleted = 0;
    while (this.segments.length > 1 && this.segments[0]!.maxEntryIndex <= compactIndex) {
      const oldest = this.segments[0]!;
      if (!(await this.pipeline.recycle(oldest.path, oldest.fileBytes))) await this.options.fileSystem.unlink(oldest.path);
      this.segments.shift();
      deleted++;
    }
    if (deleted > 0) {
      await this.options.fileSystem.syncDirectory(this.options.directory);
      this.counters.directorySyncs++;
    }
    return deleted;
  }

  /** Resolves once no segment is being prepared in the background (for tests and benchmarks). */
  settled(): Promise<void> {
    return this.pipeline.settled();
  }

  async close(): Promise<void> {
    await this.closeCurrent();
    if (await this.pipeline.close()) this.counters.directorySyncs++;
  }

  /** Closes the files without syncing, ignoring errors (after a failure). */
  async abandon(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close().catch(() => undefined);
    await this.pipeline.abandon();
  }

  stats(): { segments: number; bytes: number; fileBytes: number } {
    let bytes = 0;
    let fileBytes = 0;
    for (const segment of this.segments) {
      bytes += segment.sizeBytes;
      fileBytes += segment.fileBytes;
    }
    return { segments: this.segments.length, bytes, fileBytes };
  }

  private async currentHandle(): Promise<WritableHandle> {
    this.handle ??= await this.options.fileSystem.openWritable(this.segments[this.segments.length - 1]!.path);
    return this.handle;
  }

  private async closeCurrent(): Promise<void> {
    await this.sync();
    const handle = this.handle;
    this.handle = undefined;
    if (handle !== undefined) await handle.close();
  }

  /**
   * Starts the next segment in the prepared file: its header, prelude and `records` in one write
   * (synced if `sync`), then the rename to the segment's name and a directory sync. A crash before
   * the write is durable leaves a last segment without a whole prelude, which recovery deletes.
   */
  private async rollOver(records: readonly WalRecord[], sync: boolean, prelude: SegmentPrelude): Promise<void> {
    const { fileSystem, directory } = this.options;
    const previous = this.segments[this.segments.length - 1];
    // The previous segment's records must be durable before a header states where they end.
    await this.closeCurrent();
    const sequence = previous === undefined ? 0 : previous.identity.sequence + 1;
    const identity: SegmentIdentity = { sequence, salt: this.options.newSalt?.() ?? new Uint8Array(randomBytes(SALT_BYTES)) };
    const preludeRecords: WalRecord[] = [
      { type: 'header', sequence, firstIndex: prelude.firstIndex, previousSegmentBytes: previous?.sizeBytes ?? 0 },
      { type: 'compact', index: prelude.baseIndex, term: prelude.baseTerm },
      { type: 'hard-state', hardState: prelude.hardState },
    ];
    const bytes = encodeWrite([...preludeRecords, ...records], identity, 0, this.writeScratch);
    const prepared = await this.pipeline.take();
    try {
      await prepared.handle.writeAt(0, bytes);
      if (sync) {
        await prepared.handle.sync();
        this.counters.fileSyncs++;
      }
    } finally {
      await prepared.handle.close();
    }
    const path = joinPath(directory, segmentName(sequence, prelude.firstIndex, identity.salt!));
    await fileSystem.rename(prepared.path, path);
    await fileSystem.syncDirectory(directory);
    this.counters.directorySyncs++;
    this.counters.bytesWritten += bytes.byteLength;
    const segment: Segment = {
      path, identity, sizeBytes: bytes.byteLength, fileBytes: Math.max(Math.min(this.options.segmentMaxBytes, PREALLOCATED_MAX_BYTES), bytes.byteLength),
      maxEntryIndex: -1, preludeBytes: framedBytes(preludeRecords, identity),
    };
    noteEntries(segment, records);
    this.segments.push(segment);
    this.handle = await fileSystem.openWritable(path);
    this.dirty = !sync;
    this.pipeline.start();
  }
}

/** Raises the segment's highest entry index to cover the entries in `records`. */
function noteEntries(segment: Segment, records: readonly WalRecord[]): void {
  for (const record of records) {
    if (record.type === 'entries') segment.maxEntryIndex = Math.max(segment.maxEntryIndex, lastOf(record.entries).index);
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
