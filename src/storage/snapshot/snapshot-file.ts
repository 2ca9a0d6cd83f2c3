// The snapshot file format:
//
//   magic u32 'CSNP' | version u32 | index u64 | term u64 | confState | dataLength u64 | data | crc u32
//
// confState = voters, learners, votersOutgoing, learnersNext (each: count u32 + u64 ids), autoLeave u8.
// The CRC-32C covers every byte before it. Encoded in three pieces so the (large) data is never copied.
import type { ConfState, Snapshot, SnapshotMetadata } from '../../core/index.ts';
import { crc32c } from '../../util/crc32c.ts';
import { BinaryReader, BinaryWriter, DecodeError } from '../binary.ts';

export const SNAPSHOT_MAGIC = 0x504e5343; // 'CSNP'
export const SNAPSHOT_VERSION = 1;
const MAX_MEMBERS = 100_000;

export function encodeSnapshot(snapshot: Snapshot): { head: Uint8Array; data: Uint8Array; tail: Uint8Array } {
  const { metadata, data } = snapshot;
  const { confState } = metadata;
  const head = new BinaryWriter(128)
    .uint32(SNAPSHOT_MAGIC).uint32(SNAPSHOT_VERSION).uint53(metadata.index).uint53(metadata.term)
    .uint53List(confState.voters).uint53List(confState.learners)
    .uint53List(confState.votersOutgoing).uint53List(confState.learnersNext)
    .uint8(confState.autoLeave ? 1 : 0).uint53(data.byteLength)
    .finish();
  const crc = crc32c(data, crc32c(head));
  return { head, data, tail: new BinaryWriter(4).uint32(crc).finish() };
}

/** Decodes and verifies a whole snapshot file. Throws DecodeError naming what is wrong. */
export function decodeSnapshot(bytes: Uint8Array): Snapshot {
  if (bytes.byteLength < 4) throw new DecodeError(`only ${bytes.byteLength} bytes`);
  const body = bytes.subarray(0, bytes.byteLength - 4);
  const stored = new DataView(bytes.buffer, bytes.byteOffset + body.byteLength, 4).getUint32(0, true);
  if (crc32c(body) !== stored) throw new DecodeError('checksum mismatch');
  const reader = new BinaryReader(body);
  if (reader.uint32() !== SNAPSHOT_MAGIC) throw new DecodeError('not a Cairn snapshot (bad magic number)');
  const version = reader.uint32();
  if (version !== SNAPSHOT_VERSION) throw new DecodeError(`snapshot format version ${version} is not supported`);
  const index = reader.uint53();
  const term = reader.uint53();
  const confState: ConfState = {
    voters: reader.uint53List(MAX_MEMBERS),
    learners: reader.uint53List(MAX_MEMBERS),
    votersOutgoing: reader.uint53List(MAX_MEMBERS),
    learnersNext: reader.uint53List(MAX_MEMBERS),
    autoLeave: reader.uint8() === 1,
  };
  const dataLength = reader.uint53();
  if (dataLength !== reader.remaining) throw new DecodeError(`data length ${dataLength} does not match the ${reader.remaining} bytes present`);
  const metadata: SnapshotMetadata = { index, term, confState };
  return { metadata, data: reader.raw(dataLength) };
}
