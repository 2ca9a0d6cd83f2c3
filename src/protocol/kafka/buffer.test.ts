import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { KafkaReader, KafkaWriter } from './buffer.ts';
import {
  arbitraryBytes, arbitraryFloat64, arbitraryInt16, arbitraryInt32, arbitraryInt64, arbitraryInt8, arbitraryString, arbitraryUint16,
  arbitraryUint32, arbitraryUuid,
} from './arbitrary-primitives.ts';
import { decodeProduceRequest, encodeFetchResponse, decodeFetchResponse } from './generated/index.ts';
import type { FetchResponse } from './generated/index.ts';

type Operation =
  | { kind: 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float64' | 'varint' | 'unsignedVarint'; value: number }
  | { kind: 'int64' | 'varlong'; value: bigint }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'string'; value: string; compact: boolean }
  | { kind: 'nullableString'; value: string | null; compact: boolean }
  | { kind: 'bytes'; value: Uint8Array; compact: boolean }
  | { kind: 'nullableBytes'; value: Uint8Array | null; compact: boolean }
  | { kind: 'uuid'; value: Uint8Array };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  ...(['int8', 'int16', 'uint16', 'int32', 'uint32', 'float64'] as const).map((kind) =>
    ({ int8: arbitraryInt8, int16: arbitraryInt16, uint16: arbitraryUint16, int32: arbitraryInt32, uint32: arbitraryUint32, float64: arbitraryFloat64 })[kind]().map((value) => ({ kind, value }) as Operation)),
  arbitraryInt32().map((value) => ({ kind: 'varint', value }) as Operation),
  arbitraryUint32().map((value) => ({ kind: 'unsignedVarint', value }) as Operation),
  arbitraryInt64().map((value) => ({ kind: 'int64', value }) as Operation),
  arbitraryInt64().map((value) => ({ kind: 'varlong', value }) as Operation),
  fc.boolean().map((value) => ({ kind: 'boolean', value }) as Operation),
  fc.record({ kind: fc.constant('string' as const), value: fc.oneof(arbitraryString(), fc.string({ unit: 'grapheme', maxLength: 300 })), compact: fc.boolean() }, { noNullPrototype: true }),
  fc.record({ kind: fc.constant('nullableString' as const), value: fc.option(arbitraryString(), { nil: null }), compact: fc.boolean() }, { noNullPrototype: true }),
  fc.record({ kind: fc.constant('bytes' as const), value: fc.oneof(arbitraryBytes(), fc.uint8Array({ maxLength: 600 })), compact: fc.boolean() }, { noNullPrototype: true }),
  fc.record({ kind: fc.constant('nullableBytes' as const), value: fc.option(arbitraryBytes(), { nil: null }), compact: fc.boolean() }, { noNullPrototype: true }),
  arbitraryUuid().map((value) => ({ kind: 'uuid', value }) as Operation),
);

function write(writer: KafkaWriter, op: Operation): void {
  switch (op.kind) {
    case 'int8': return writer.writeInt8('x', op.value);
    case 'int16': return writer.writeInt16('x', op.value);
    case 'uint16': return writer.writeUint16('x', op.value);
    case 'int32': return writer.writeInt32('x', op.value);
    case 'uint32': return writer.writeUint32('x', op.value);
    case 'float64': return writer.writeFloat64('x', op.value);
    case 'varint': return writer.writeVarint('x', op.value);
    case 'unsignedVarint': return writer.writeUnsignedVarint(op.value);
    case 'int64': return writer.writeInt64('x', op.value);
    case 'varlong': return writer.writeVarlong('x', op.value);
    case 'boolean': return writer.writeBoolean('x', op.value);
    case 'string': return writer.writeString('x', op.compact, op.value);
    case 'nullableString': return writer.writeNullableString('x', op.compact, op.value);
    case 'bytes': return writer.writeBytes('x', op.compact, op.value);
    case 'nullableBytes': return writer.writeNullableBytes('x', op.compact, op.value);
    case 'uuid': return writer.writeUuid('x', op.value);
  }
}

function read(reader: KafkaReader, op: Operation): Operation {
  switch (op.kind) {
    case 'int8': return { ...op, value: reader.readInt8('x') };
    case 'int16': return { ...op, value: reader.readInt16('x') };
    case 'uint16': return { ...op, value: reader.readUint16('x') };
    case 'int32': return { ...op, value: reader.readInt32('x') };
    case 'uint32': return { ...op, value: reader.readUint32('x') };
    case 'float64': return { ...op, value: reader.readFloat64('x') };
    case 'varint': return { ...op, value: reader.readVarint('x') };
    case 'unsignedVarint': return { ...op, value: reader.readUnsignedVarint('x') };
    case 'int64': return { ...op, value: reader.readInt64('x') };
    case 'varlong': return { ...op, value: reader.readVarlong('x') };
    case 'boolean': return { ...op, value: reader.readBoolean('x') };
    case 'string': return { ...op, value: reader.readString('x', op.compact) };
    case 'nullableString': return { ...op, value: reader.readNullableString('x', op.compact) };
    case 'bytes': return { ...op, value: reader.readBytes('x', op.compact) };
    case 'nullableBytes': return { ...op, value: reader.readNullableBytes('x', op.compact) };
    case 'uuid': return { ...op, value: reader.readUuid('x') };
  }
}

test('every primitive written is read back, across buffer growth', () => {
  fc.assert(
    fc.property(fc.array(operation, { maxLength: 60 }), (operations) => {
      const writer = new KafkaWriter(1);
      for (const op of operations) write(writer, op);
      const reader = new KafkaReader(writer.toBytes());
      assert.deepEqual(operations.map((op) => read(reader, op)), operations);
      assert.equal(reader.remaining, 0);
    }),
    { numRuns: 300 },
  );
});

function bytesOf(write: (writer: KafkaWriter) => void): number[] {
  const writer = new KafkaWriter(1);
  write(writer);
  return [...writer.toBytes()];
}

test('varints use the documented encodings', () => {
  assert.deepEqual(bytesOf((writer) => writer.writeUnsignedVarint(0)), [0x00]);
  assert.deepEqual(bytesOf((writer) => writer.writeUnsignedVarint(127)), [0x7f]);
  assert.deepEqual(bytesOf((writer) => writer.writeUnsignedVarint(128)), [0x80, 0x01]);
  assert.deepEqual(bytesOf((writer) => writer.writeUnsignedVarint(300)), [0xac, 0x02]);
  assert.deepEqual(bytesOf((writer) => writer.writeUnsignedVarint(0xffffffff)), [0xff, 0xff, 0xff, 0xff, 0x0f]);
  // Zigzag: 0, -1, 1, -2, ... map to 0, 1, 2, 3, ...
  assert.deepEqual([0, -1, 1, -2, 2].map((value) => bytesOf((writer) => writer.writeVarint('x', value))), [[0], [1], [2], [3], [4]]);
  assert.deepEqual(bytesOf((writer) => writer.writeVarint('x', -0x80000000)), [0xff, 0xff, 0xff, 0xff, 0x0f]);
  assert.deepEqual(bytesOf((writer) => writer.writeVarlong('x', -1n)), [0x01]);
  assert.deepEqual(bytesOf((writer) => writer.writeVarlong('x', 2n ** 63n - 1n)), [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
});

function decodeError(bytes: number[], read: (reader: KafkaReader) => unknown, limits = {}): { code: string; message: string } {
  const reader = new KafkaReader(new Uint8Array(bytes), limits);
  reader.startMessage('Test');
  try {
    read(reader);
  } catch (error) {
    assert.equal((error as Error).name, 'KafkaDecodeError');
    return error as { code: string; message: string };
  }
  assert.fail('expected a KafkaDecodeError');
}

test('malformed varints are rejected', () => {
  assert.equal(decodeError([0xff, 0xff, 0xff, 0xff, 0x10], (reader) => reader.readUnsignedVarint('n')).code, 'invalid_varint');
  assert.equal(decodeError([0xff, 0xff, 0xff, 0xff, 0xff, 0x01], (reader) => reader.readUnsignedVarint('n')).code, 'invalid_varint');
  assert.equal(decodeError([0x80], (reader) => reader.readUnsignedVarint('n')).code, 'truncated');
  assert.equal(decodeError([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02], (reader) => reader.readVarlong('n')).code, 'invalid_varint');
});

test('lengths are checked against the remaining bytes and the limits, naming the field', () => {
  const long = decodeError([0x75, 0x30, 0x61, 0x62], (reader) => reader.readString('name', false));
  assert.equal(long.code, 'length_exceeds_remaining');
  assert.equal(long.message, 'Test.name: length 30000 exceeds remaining 2 bytes');
  assert.equal(decodeError([0x00, 0x05, 1, 2, 3, 4, 5], (reader) => reader.readString('s', false), { stringBytesMax: 4 }).code, 'length_exceeds_limit');
  assert.equal(decodeError([0x00, 0x00, 0x00, 0x05, 1, 2, 3, 4, 5], (reader) => reader.readBytes('b', false), { bytesMax: 4 }).code, 'length_exceeds_limit');
  assert.equal(decodeError([0xff, 0xfe], (reader) => reader.readNullableString('s', false)).code, 'negative_length');
  assert.equal(decodeError([0xff, 0xff], (reader) => reader.readString('s', false)).code, 'unexpected_null');
  assert.equal(decodeError([0x00], (reader) => reader.readString('s', true)).code, 'unexpected_null');
  assert.equal(decodeError([0xff, 0xff, 0xff, 0xff], (reader) => reader.readArray('a', false, 1, () => 0)).code, 'unexpected_null');
  assert.equal(decodeError([0xff, 0xff, 0xff, 0xfb], (reader) => reader.readNullableArray('a', false, 1, () => 0)).code, 'negative_length');
  assert.equal(decodeError([0, 0, 0, 4, 1, 2, 3, 4], (reader) => reader.readArray('a', false, 1, () => reader.readInt8('')), { arrayElementsMax: 3 }).code, 'length_exceeds_limit');
});

test('a huge array count fails before anything is allocated', () => {
  let elementsRead = 0;
  const error = decodeError([0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0], (reader) => reader.readArray('a', false, 4, () => { elementsRead++; return reader.readInt32(''); }), { arrayElementsMax: 0x7fffffff });
  assert.equal(error.code, 'length_exceeds_remaining');
  assert.equal(elementsRead, 0);
});

test('an error inside nested arrays names the full path', () => {
  // ProduceRequest v3: transactionalId null, acks 1, timeout 1000, two topics; the second name lies.
  const bytes = [0xff, 0xff, 0x00, 0x01, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 0x74, 0x00, 0x00, 0x00, 0x00, 0x75, 0x30, ...new Array(12).fill(0x61)];
  assert.throws(() => decodeProduceRequest(3, new KafkaReader(new Uint8Array(bytes))), {
    name: 'KafkaDecodeError',
    code: 'length_exceeds_remaining',
    message: 'ProduceRequest.topicData[1].name: length 30000 exceeds remaining 12 bytes',
    path: 'ProduceRequest.topicData[1].name',
  });
});

test('tagged fields: unknown tags are skipped, known ones are bounded by their size', () => {
  const section = (tags: number[][]): number[] => [tags.length, ...tags.flat()];
  const reader = new KafkaReader(new Uint8Array(section([[5, 3, 1, 2, 3], [1, 2, 0x00, 0x2a]])));
  let value = -1;
  reader.readTaggedFields((tag) => (tag === 1 ? ((value = reader.readInt16('known')), true) : false));
  assert.equal(value, 42);
  assert.equal(reader.remaining, 0);
  assert.equal(decodeError(section([[1, 3, 0, 0x2a, 0]]), (r) => r.readTaggedFields(() => (r.readInt16('known'), true))).code, 'tagged_field_size_mismatch');
  assert.equal(decodeError(section([[1, 1, 0]]), (r) => r.readTaggedFields(() => (r.readInt16('known'), true))).code, 'truncated');
  assert.equal(decodeError(section([[1, 9, 0]]), (r) => r.readTaggedFields()).code, 'length_exceeds_remaining');
  assert.equal(decodeError([65, ...new Array(200).fill(0)], (r) => r.readTaggedFields(), { taggedFieldsMax: 64 }).code, 'too_many_tagged_fields');
});

test('records are views of the input, bytes are copies; Buffers decode to plain Uint8Arrays', () => {
  const input = Buffer.from([0, 0, 0, 2, 7, 8, 0, 0, 0, 2, 7, 8]);
  const reader = new KafkaReader(input);
  const bytes = reader.readBytes('b', false);
  const records = reader.readRecords('r', false)!;
  input[4] = 99;
  input[10] = 99;
  assert.deepEqual(bytes, new Uint8Array([7, 8]));
  assert.deepEqual(records, new Uint8Array([99, 8]));
  assert.equal(Object.getPrototypeOf(bytes), Uint8Array.prototype);
});

test('strings keep a leading byte order mark and multi-byte characters', () => {
  for (const value of ['\uFEFFtopic', 'é→𝄞', '']) {
    const writer = new KafkaWriter();
    writer.writeString('s', false, value);
    writer.writeString('s', true, value);
    const reader = new KafkaReader(writer.toBytes());
    assert.equal(reader.readString('s', false), value);
    assert.equal(reader.readString('s', true), value);
  }
});

test('the writer refuses values its wire type cannot hold', () => {
  const writer = new KafkaWriter();
  writer.startMessage('Test');
  assert.throws(() => writer.writeInt16('count', 40000), { name: 'KafkaEncodeError', code: 'value_out_of_range', message: /^Test\.count: 40000/ });
  assert.throws(() => writer.writeInt32('count', 1.5), { code: 'value_out_of_range' });
  assert.throws(() => writer.writeInt64('offset', 1 as unknown as bigint), { code: 'value_out_of_range' });
  assert.throws(() => writer.writeInt64('offset', 2n ** 63n), { code: 'value_out_of_range' });
  assert.throws(() => writer.writeString('name', false, 'x'.repeat(40000)), { code: 'too_long' });
  assert.throws(() => writer.writeString('name', false, null), { code: 'null_not_allowed' });
  assert.throws(() => writer.writeArray('list', false, null, () => {}), { code: 'null_not_allowed' });
  assert.throws(() => writer.writeUuid('id', new Uint8Array(15)), { code: 'invalid_uuid' });
});

function fetchResponse(partition: Partial<FetchResponse['responses'][number]['partitions'][number]>, top: Partial<FetchResponse> = {}): FetchResponse {
  return {
    throttleTimeMs: 0, errorCode: 0, sessionId: 0,
    responses: [{
      topic: 't',
      partitions: [{
        partitionIndex: 0, errorCode: 0, highWatermark: 10n, lastStableOffset: 10n, logStartOffset: 0n, abortedTransactions: null,
        preferredReadReplica: -1, records: null, ...partition,
      }],
    }],
    ...top,
  };
}

test('a non-ignorable field the version lacks must hold its default; an ignorable one is dropped', () => {
  assert.throws(() => encodeFetchResponse(6, fetchResponse({ preferredReadReplica: 3 })), {
    name: 'KafkaEncodeError',
    code: 'field_not_in_version',
    message: 'FetchResponse.responses[0].partitions[0].preferredReadReplica: has a non-default value, but version 6 cannot carry it',
  });
  // errorCode (v7+) is ignorable: Kafka drops it silently for older versions.
  const decoded = decodeFetchResponse(6, new KafkaReader(encodeFetchResponse(6, fetchResponse({}, { errorCode: 5 }))));
  assert.equal(decoded.errorCode, 0);
  assert.equal(decodeFetchResponse(11, new KafkaReader(encodeFetchResponse(11, fetchResponse({ preferredReadReplica: 3 })))).responses[0]!.partitions[0]!.preferredReadReplica, 3);
});
