// Fuzzing the bytes-from-the-network path: the frame reader and the frame decoder may only ever
// produce well-formed frames (checked here by an independent shape checker) or a WireError.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Message } from '../../core/raft/types.ts';
import { DEFAULT_MESSAGE_LIMITS, MESSAGE_TYPE_CODES } from '../codec/message-wire.ts';
import { packFrame } from '../codec/msgpack.ts';
import { WireError } from '../codec/wire-reader.ts';
import { bytes, messageArbitrary } from '../testing/arbitraries.ts';
import { FrameReader } from './frame-reader.ts';
import {
  decodeFrame,
  encodeChallenge,
  encodeErrorResponse,
  encodeHello,
  encodeProof,
  encodeRaft,
  encodeRefused,
  encodeRequest,
  encodeResponse,
  encodeSnapshotPart,
  encodeWelcome,
} from './frames.ts';
import type { Frame } from './frames.ts';

const CONTEXT = { peerId: 1, localId: 2, limits: DEFAULT_MESSAGE_LIMITS };

function isCount(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isBytes(value: unknown): boolean {
  return value instanceof Uint8Array;
}

/** An independent statement of what a decoded Message must look like. */
function assertMessageShape(message: Message): void {
  assert.ok(MESSAGE_TYPE_CODES.includes(message.type));
  assert.equal(message.from, 1);
  assert.equal(message.to, 2);
  for (const field of ['term', 'logTerm', 'index', 'commit', 'rejectHint'] as const) assert.ok(isCount(message[field]), field);
  assert.equal(typeof message.reject, 'boolean');
  assert.ok(Array.isArray(message.entries));
  for (const entry of message.entries) {
    assert.ok(isCount(entry.term) && isCount(entry.index) && isBytes(entry.data));
    assert.ok(entry.type === 'normal' || entry.type === 'conf-change');
  }
  assert.ok(message.context === undefined || isBytes(message.context));
  if (message.type === 'snapshot') assert.ok(message.snapshot !== undefined);
  if (message.snapshot !== undefined) {
    const { metadata, data } = message.snapshot;
    assert.ok(isCount(metadata.index) && isCount(metadata.term) && isBytes(data));
    const conf = metadata.confState;
    for (const ids of [conf.voters, conf.learners, conf.votersOutgoing, conf.learnersNext]) {
      assert.ok(Array.isArray(ids) && ids.every((id) => isCount(id) && id > 0));
    }
    assert.equal(typeof conf.autoLeave, 'boolean');
  }
}

function assertFrameShape(frame: Frame): void {
  switch (frame.kind) {
    case 'raft':
      return assertMessageShape(frame.message);
    case 'hello':
      assert.ok(isCount(frame.versionMin) && isCount(frame.versionMax) && typeof frame.clusterId === 'string');
      assert.ok(frame.from > 0 && frame.to > 0 && frame.nonce.length === 32);
      return;
    case 'challenge':
      assert.ok(isCount(frame.version) && frame.nonce.length === 32);
      return;
    case 'proof':
    case 'welcome':
      assert.equal(frame.proof.length, 32);
      return;
    case 'refused':
    case 'error-response':
      assert.ok(typeof frame.code === 'string' && typeof frame.message === 'string');
      return;
    case 'request':
    case 'response':
      assert.ok(isCount(frame.requestId));
      return;
    case 'snapshot-part':
      assert.ok(isCount(frame.totalBytes) && isCount(frame.offset) && isBytes(frame.bytes));
  }
}

/** Decodes, and insists on the only two acceptable outcomes. */
function decodeOrReject(payload: Uint8Array): Frame | WireError {
  try {
    const frame = decodeFrame(payload, CONTEXT);
    assertFrameShape(frame);
    return frame;
  } catch (error) {
    if (error instanceof WireError) return error;
    throw error;
  }
}

const nonce = fc.uint8Array({ minLength: 32, maxLength: 32 });
const validFrame: fc.Arbitrary<Buffer> = fc.oneof(
  messageArbitrary.map((message) => encodeRaft(message)),
  fc.tuple(fc.nat(), fc.jsonValue()).map(([id, payload]) => encodeRequest(id, payload as never)),
  fc.tuple(fc.nat(), bytes).map(([id, payload]) => encodeResponse(id, payload)),
  fc.tuple(fc.nat(), fc.string(), fc.string()).map(([id, code, message]) => encodeErrorResponse(id, code, message)),
  fc.tuple(fc.string(), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 }), nonce).map(([clusterId, from, to, n]) =>
    encodeHello({ versionMin: 1, versionMax: 1, clusterId, from, to, nonce: n })),
  nonce.map((n) => encodeChallenge(1, n)),
  nonce.map((n) => encodeProof(n)),
  nonce.map((n) => encodeWelcome(n)),
  fc.tuple(fc.string(), fc.string()).map(([code, message]) => encodeRefused(code, message)),
  fc.tuple(fc.nat(), fc.nat(), bytes).map(([total, offset, part]) => encodeSnapshotPart(total, offset, part)),
);

function payloadOf(frame: Buffer): Uint8Array {
  return new Uint8Array(frame.buffer, frame.byteOffset + 4, frame.length - 4);
}

test('fuzz: random bytes decode to a frame or a clean rejection', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), (payload) => {
    decodeOrReject(payload);
  }), { numRuns: 3000 });
});

test('fuzz: mutated valid frames decode to a well-formed frame or a clean rejection', () => {
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), values: fc.uint8Array({ minLength: 1, maxLength: 9 }) }),
  );
  fc.assert(fc.property(validFrame, fc.array(mutation, { minLength: 1, maxLength: 4 }), (frame, mutations) => {
    let payload = Uint8Array.from(payloadOf(frame));
    for (const change of mutations) {
      const at = change.at % payload.length;
      if (change.kind === 'flip') payload[at]! ^= 1 << change.bit;
      else if (change.kind === 'set') payload[at] = change.value;
      else if (change.kind === 'truncate') payload = payload.slice(0, Math.max(1, at));
      else payload = Uint8Array.from([...payload.subarray(0, at), ...change.values, ...payload.subarray(at)]);
    }
    decodeOrReject(payload);
  }), { numRuns: 3000 });
});

test('fuzz: arbitrary msgpack values shaped like frames are validated, never trusted', () => {
  const value = fc.anything({ maxDepth: 3, withTypedArray: true, withBigInt: true, withDate: true, withMap: true, withSet: true, withNullPrototype: true });
  fc.assert(fc.property(fc.integer({ min: 0, max: 25 }), fc.array(value, { maxLength: 14 }), (kind, rest) => {
    let frame: Buffer;
    try {
      frame = packFrame([kind, ...rest]);
    } catch {
      return; // msgpackr cannot encode some generated values; nothing to decode then
    }
    decodeOrReject(payloadOf(frame));
  }), { numRuns: 2000 });
});

test('valid frames of every kind decode to themselves', () => {
  fc.assert(fc.property(messageArbitrary, (message) => {
    const frame = decodeFrame(payloadOf(encodeRaft(message)), CONTEXT);
    assert.deepEqual(frame, { kind: 'raft', message });
  }), { numRuns: 200 });
  const decoded = decodeFrame(payloadOf(encodeRefused('HANDSHAKE_AUTH_FAILED', 'no')), CONTEXT);
  assert.deepEqual(decoded, { kind: 'refused', code: 'HANDSHAKE_AUTH_FAILED', message: 'no' });
  const part = decodeFrame(payloadOf(encodeSnapshotPart(10, 4, Uint8Array.of(1, 2, 3))), CONTEXT);
  assert.deepEqual(part, { kind: 'snapshot-part', totalBytes: 10, offset: 4, bytes: Uint8Array.of(1, 2, 3) });
});

// ---- the frame reader ----

function readAll(reader: FrameReader, chunks: Uint8Array[]): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (const chunk of chunks) reader.push(chunk, (payload) => void frames.push(Uint8Array.from(payload)));
  return frames;
}

function splitAt(stream: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (stream.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of [...points, stream.length]) {
    if (point > start) chunks.push(stream.subarray(start, point));
    start = Math.max(start, point);
  }
  return chunks;
}

test('the frame reader yields the same frames however the stream is cut', () => {
  fc.assert(fc.property(fc.array(validFrame, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 20 }), (frames, cuts) => {
    const stream = Buffer.concat(frames);
    const read = readAll(new FrameReader(1 << 20), splitAt(stream, cuts));
    assert.deepEqual(read.map((payload) => Buffer.from(payload)), frames.map((frame) => Buffer.from(payloadOf(frame))));
  }), { numRuns: 300 });
});

test('the frame reader assembles a frame larger than its preallocation limit from many chunks', () => {
  const payload = new Uint8Array(300_000).map((_, i) => i % 251);
  const frame = Buffer.alloc(4 + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  frame.set(payload, 4);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < frame.length; i += 7000) chunks.push(frame.subarray(i, i + 7000));
  const [read] = readAll(new FrameReader(1 << 20), chunks);
  assert.deepEqual(read, payload);
});

test('the frame reader refuses oversized and empty frames, then refuses everything', () => {
  const reader = new FrameReader(100);
  assert.throws(() => readAll(reader, [Uint8Array.from([0, 0, 0, 101])]), (error: unknown) => error instanceof WireError && error.code === 'FRAME_TOO_LARGE');
  assert.throws(() => readAll(reader, [Uint8Array.from([0, 0, 0, 1, 0])]), WireError);
  assert.throws(() => readAll(new FrameReader(100), [Uint8Array.from([0, 0, 0, 0])]), (error: unknown) => error instanceof WireError && error.code === 'FRAME_MALFORMED');
  assert.deepEqual(readAll(new FrameReader(100), [Uint8Array.from([0, 0, 0, 100])]), [], 'a length at the limit waits for its bytes');
  // A header announcing 4 GiB must not allocate anything before the bytes arrive.
  const big = new FrameReader(0xffff_ffff);
  readAll(big, [Uint8Array.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3])]);
  assert.equal(big.bufferedBytes, 3);
});

test('fuzz: random streams through the reader and decoder end in frames or a clean rejection', () => {
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
    const reader = new FrameReader(256);
    try {
      for (const chunk of chunks) reader.push(chunk, (payload) => void decodeOrReject(payload));
    } catch (error) {
      if (!(error instanceof WireError)) throw error;
    }
  }), { numRuns: 2000 });
});
