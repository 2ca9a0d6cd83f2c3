import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import fc from 'fast-check';
import { makeMessage } from '../../core/raft/types.ts';
import type { Message, MessageType } from '../../core/raft/types.ts';
import { messageArbitrary } from '../testing/arbitraries.ts';
import { decodeMessageWire, DEFAULT_MESSAGE_LIMITS, encodeMessageWire, MESSAGE_TYPE_CODES, messageWireBytesAtMost } from './message-wire.ts';
import { FRAME_HEADER_BYTES, packFrame, packValue, unpackValue } from './msgpack.ts';
import { WireError } from './wire-reader.ts';

const EXPECT = { from: 1, to: 2 };

function roundTrip(message: Message): Message {
  const bytes = packValue(encodeMessageWire(message));
  return decodeMessageWire(unpackValue(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length)), EXPECT, DEFAULT_MESSAGE_LIMITS);
}

function decodeWire(wire: unknown[]): Message {
  return decodeMessageWire(unpackValue(plain(packValue(wire))), EXPECT, DEFAULT_MESSAGE_LIMITS);
}

function plain(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

test('every message survives the wire unchanged, binaries as plain Uint8Array', () => {
  fc.assert(
    fc.property(messageArbitrary, (message) => {
      const decoded = roundTrip(message);
      assert.deepEqual(decoded, message);
      for (const entry of decoded.entries) assert.equal(entry.data.constructor, Uint8Array);
      if (decoded.context !== undefined) assert.equal(decoded.context.constructor, Uint8Array);
    }),
    { numRuns: 300 },
  );
});

test('messageWireBytesAtMost bounds the packed size of every message', () => {
  fc.assert(
    fc.property(messageArbitrary, (message) => {
      const packed = packValue(encodeMessageWire(message)).byteLength;
      assert.ok(packed <= messageWireBytesAtMost(message), `${packed} bytes packed, bound ${messageWireBytesAtMost(message)}`);
    }),
    { numRuns: 300 },
  );
  const huge = makeMessage({ type: 'append', from: 1, to: 2, term: 2 ** 53 - 1, logTerm: 2 ** 53 - 1, index: 2 ** 53 - 1, commit: 2 ** 53 - 1, rejectHint: 2 ** 53 - 1, context: new Uint8Array(70_000),
    entries: Array.from({ length: 50 }, (_, i) => ({ term: 2 ** 53 - 1, index: 2 ** 53 - 50 + i, type: 'conf-change' as const, data: new Uint8Array(i * 1000) })) });
  assert.ok(packValue(encodeMessageWire(huge)).byteLength <= messageWireBytesAtMost(huge));
});

test('a large message is packed once into a frame buffer of its own, and decodes unchanged', () => {
  const entries = Array.from({ length: 128 }, (_, i) => ({ term: 3, index: 100 + i, type: 'normal' as const, data: new Uint8Array(8 * 1024).fill(i) }));
  const message = makeMessage({ type: 'append', from: 1, to: 2, term: 3, index: 99, logTerm: 3, commit: 90, entries });
  const bound = messageWireBytesAtMost(message);
  const wire = encodeMessageWire(message);
  // Everything packFrame allocates goes through Buffer.allocUnsafeSlow (msgpackr's own buffers too).
  const allocations = mock.method(Buffer, 'allocUnsafeSlow');
  let frame: Buffer;
  try {
    frame = packFrame(wire, bound);
  } finally {
    allocations.mock.restore();
  }
  const allocated = allocations.mock.calls.reduce((sum, call) => sum + (call.arguments[0] as number), 0);
  assert.ok(allocated <= bound + 128 * 1024, `${allocated} bytes allocated to pack ${frame.length} (bound ${bound}): one buffer of the bound, one small fresh one`);
  assert.equal(frame.readUInt32BE(0), frame.length - FRAME_HEADER_BYTES);
  assert.equal(frame.byteOffset, 0, 'a buffer of its own, not a slice of a shared one');
  const decoded = decodeMessageWire(unpackValue(plain(frame.subarray(FRAME_HEADER_BYTES))), EXPECT, DEFAULT_MESSAGE_LIMITS);
  assert.deepEqual(decoded, message);
  const small = packFrame(encodeMessageWire(makeMessage({ type: 'heartbeat', from: 1, to: 2, term: 3 })));
  assert.deepEqual(decodeMessageWire(unpackValue(plain(small.subarray(FRAME_HEADER_BYTES))), EXPECT, DEFAULT_MESSAGE_LIMITS).type, 'heartbeat', 'small frames after it are packed as before');
});

test('the largest safe integers survive; larger ones are refused', () => {
  const message = makeMessage({ type: 'append', from: 1, to: 2, term: 2 ** 53 - 1, index: 2 ** 32 + 5, commit: 2 ** 31 });
  assert.deepEqual(roundTrip(message), message);
  const wire = encodeMessageWire(message);
  wire[4] = 2 ** 53;
  assert.throws(() => decodeWire(wire), /message.term/);
});

function expectRejected(mutate: (wire: unknown[]) => void, pattern: RegExp, code = 'MESSAGE_INVALID'): void {
  const base = makeMessage({
    type: 'append', from: 1, to: 2, term: 3, entries: [{ term: 3, index: 4, type: 'normal', data: new Uint8Array([1]) }],
  });
  const wire = encodeMessageWire(base);
  mutate(wire);
  assert.throws(() => decodeWire(wire), (error: unknown) => {
    assert.ok(error instanceof WireError, String(error));
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  });
}

test('every field is type-checked', () => {
  expectRejected((wire) => (wire[1] = 99), /message.type/);
  expectRejected((wire) => (wire[1] = 'append'), /message.type/);
  expectRejected((wire) => (wire[2] = 0), /message.from/);
  expectRejected((wire) => (wire[3] = 1.5), /message.to/);
  expectRejected((wire) => (wire[4] = -1), /message.term/);
  expectRejected((wire) => (wire[5] = '3'), /message.logTerm/);
  expectRejected((wire) => (wire[6] = null), /message.index/);
  expectRejected((wire) => (wire[7] = {}), /message.entries/);
  expectRejected((wire) => (wire[7] = [1, 2, 0]), /whole number of entries/);
  expectRejected((wire) => ((wire[7] as unknown[])[3] = 'text'), /entry.data/);
  expectRejected((wire) => ((wire[7] as unknown[])[2] = 7), /entry.type/);
  expectRejected((wire) => (wire[8] = true), /message.commit/);
  expectRejected((wire) => (wire[9] = 0), /message.reject/);
  expectRejected((wire) => (wire[10] = NaN), /message.rejectHint/);
  expectRejected((wire) => (wire[11] = [1, 2, [0], [], [], [], false, new Uint8Array()]), /snapshot.voters/);
  expectRejected((wire) => (wire[11] = 'snap'), /message.snapshot/);
  expectRejected((wire) => (wire[12] = [1, 2]), /message.context/);
  expectRejected((wire) => wire.pop(), /message: 12 elements/);
  expectRejected((wire) => (wire[1] = MESSAGE_TYPE_CODES.indexOf('snapshot' as MessageType)), /snapshot message without a snapshot/);
  expectRejected((wire) => (wire[2] = 3), /from node 3/, 'MESSAGE_WRONG_SENDER');
  expectRejected((wire) => (wire[3] = 3), /to node 3/, 'MESSAGE_WRONG_SENDER');
});

test('extra trailing fields are ignored (room for additive changes)', () => {
  const message = makeMessage({ type: 'vote', from: 1, to: 2, term: 3 });
  const wire = [...encodeMessageWire(message), 'future', 42];
  assert.deepEqual(decodeWire(wire), message);
});

test('the entries limit is enforced', () => {
  const message = makeMessage({
    type: 'append', from: 1, to: 2, term: 1,
    entries: Array.from({ length: 3 }, (_, i) => ({ term: 1, index: i + 1, type: 'normal' as const, data: new Uint8Array() })),
  });
  const bytes = plain(packValue(encodeMessageWire(message)));
  assert.throws(() => decodeMessageWire(unpackValue(bytes), EXPECT, { maxEntriesPerMessage: 2 }), /message.entries/);
  assert.equal(decodeMessageWire(unpackValue(bytes), EXPECT, { maxEntriesPerMessage: 3 }).entries.length, 3);
});
