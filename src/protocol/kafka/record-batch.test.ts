import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import fc from 'fast-check';
import { crc32c } from '../../util/crc32c.ts';
import {
  RECORD_BATCH_HEADER_BYTES, buildRecordBatch, decodeRecords, readRecordBatches, setBaseOffset, setPartitionLeaderEpoch, validateRecordBatch,
} from './record-batch.ts';
import type { RecordInput } from './record-batch.ts';

// kafkajs's own record batch encoder: real client bytes. Node's zlib gives it a zstd codec.
const require = createRequire(import.meta.url);
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as { RecordBatch: (options: object) => Promise<{ buffer: Buffer }> };
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (options: object) => unknown;
const compression = require('kafkajs/src/protocol/message/compression') as { Types: Record<string, number>; Codecs: Record<number, () => unknown> };
compression.Codecs[compression.Types.ZSTD!] = () => ({
  compress: async (encoder: { buffer: Buffer }) => zstdCompressSync(encoder.buffer),
  decompress: async (buffer: Buffer) => zstdDecompressSync(buffer),
});

interface Message { key: string | null; value: string | null; headers: Record<string, string> }

const MESSAGES: Message[] = [
  { key: 'k1', value: 'hello', headers: {} },
  { key: null, value: 'no key', headers: { trace: 'abc', empty: '' } },
  { key: 'k3', value: null, headers: {} },
];

async function kafkajsBatch(codec: 'None' | 'GZIP' | 'ZSTD', messages = MESSAGES): Promise<Uint8Array> {
  const records = messages.map((message, index) => Record({
    offsetDelta: index,
    timestampDelta: index * 10,
    key: message.key === null ? null : Buffer.from(message.key),
    value: message.value === null ? null : Buffer.from(message.value),
    headers: message.headers,
  }));
  const batch = await RecordBatch({
    compression: compression.Types[codec],
    records,
    firstTimestamp: 1_700_000_000_000,
    maxTimestamp: 1_700_000_000_020,
    lastOffsetDelta: records.length - 1,
  });
  return new Uint8Array(batch.buffer);
}

const text = (bytes: Uint8Array | null): string | null => (bytes === null ? null : new TextDecoder().decode(bytes));

for (const codec of ['None', 'GZIP', 'ZSTD'] as const) {
  test(`a kafkajs ${codec} batch validates and its records decode`, async () => {
    const bytes = await kafkajsBatch(codec);
    const [batch, ...rest] = readRecordBatches(bytes);
    assert.equal(rest.length, 0);
    const { header } = batch!;
    assert.equal(header.compression, { None: 'none', GZIP: 'gzip', ZSTD: 'zstd' }[codec]);
    assert.equal(header.recordsCount, 3);
    assert.equal(header.lastOffsetDelta, 2);
    assert.equal(header.baseTimestamp, 1_700_000_000_000n);
    assert.equal(header.maxTimestamp, 1_700_000_000_020n);
    assert.equal(header.producerId, -1n);
    assert.equal(header.transactional, false);
    const records = decodeRecords(batch!);
    assert.deepEqual(records.map((record) => [text(record.key), text(record.value), record.offsetDelta, record.timestampDelta]), [
      ['k1', 'hello', 0, 0n], [null, 'no key', 1, 10n], ['k3', null, 2, 20n],
    ]);
    assert.deepEqual(records[1]!.headers.map((header) => [header.key, text(header.value)]), [['trace', 'abc'], ['empty', '']]);
  });
}

test('decoded keys and values are copies, or views into the batch when asked', async () => {
  const [batch] = readRecordBatches(await kafkajsBatch('None'));
  const copies = decodeRecords(batch!);
  const views = decodeRecords(batch!, {}, { views: true });
  assert.deepEqual(views, copies);
  assert.notEqual(copies[0]!.value!.buffer, batch!.bytes.buffer);
  assert.equal(views[0]!.value!.buffer, batch!.bytes.buffer);
  assert.equal(views[1]!.headers[0]!.value!.buffer, batch!.bytes.buffer);
});

test('rewriting baseOffset and partitionLeaderEpoch changes only those bytes and keeps the CRC valid', async () => {
  const original = await kafkajsBatch('ZSTD');
  const bytes = original.slice();
  setBaseOffset(bytes, 0, 123_456_789_012n);
  setPartitionLeaderEpoch(bytes, 0, 7);
  const header = validateRecordBatch(bytes);
  assert.equal(header.baseOffset, 123_456_789_012n);
  assert.equal(header.partitionLeaderEpoch, 7);
  assert.equal(header.crc, validateRecordBatch(original).crc);
  for (let index = 0; index < bytes.length; index++) {
    if (index < 8 || (index >= 12 && index < 16)) continue;
    assert.equal(bytes[index], original[index], `byte ${index} changed`);
  }
});

test('built batches round-trip through validation and decoding', () => {
  const record: fc.Arbitrary<RecordInput> = fc.record({
    key: fc.option(fc.uint8Array({ maxLength: 20 }), { nil: null }),
    value: fc.option(fc.uint8Array({ maxLength: 200 }), { nil: null }),
    headers: fc.array(fc.record({ key: fc.string({ maxLength: 5 }), value: fc.option(fc.uint8Array({ maxLength: 5 }), { nil: null }) }, { noNullPrototype: true }), { maxLength: 3 }),
    timestampDelta: fc.bigInt({ min: 0n, max: 1n << 40n }),
  }, { noNullPrototype: true });
  fc.assert(
    fc.property(fc.array(record, { minLength: 1, maxLength: 20 }), fc.constantFrom('none', 'gzip', 'zstd') as fc.Arbitrary<'none' | 'gzip' | 'zstd'>, fc.bigInt({ min: 0n, max: 1n << 50n }), (records, codec, baseOffset) => {
      const bytes = buildRecordBatch({ records, compression: codec, baseOffset, baseTimestamp: 1000n });
      const [batch] = readRecordBatches(bytes);
      assert.equal(batch!.header.baseOffset, baseOffset);
      assert.equal(batch!.header.recordsCount, records.length);
      assert.equal(batch!.header.maxTimestamp, 1000n + records.reduce((max, r) => (r.timestampDelta! > max ? r.timestampDelta! : max), 0n));
      const decoded = decodeRecords(batch!);
      assert.deepEqual(decoded.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestampDelta: r.timestampDelta })), records);
      assert.deepEqual(decoded.map((r) => r.offsetDelta), records.map((_, index) => index));
    }),
    { numRuns: 100 },
  );
});

test('any bit flipped inside the CRC-covered part is detected; outside it is harmless', () => {
  const bytes = buildRecordBatch({ records: [{ key: null, value: new Uint8Array([1, 2, 3]) }, { key: new Uint8Array([9]), value: null }] });
  fc.assert(
    fc.property(fc.integer({ min: 0, max: bytes.length * 8 - 1 }), (bit) => {
      const corrupted = bytes.slice();
      corrupted[bit >> 3]! ^= 1 << (bit & 7);
      const byte = bit >> 3;
      if (byte < 8 || (byte >= 12 && byte < 16)) {
        validateRecordBatch(corrupted); // baseOffset and partitionLeaderEpoch are not covered
        return;
      }
      assert.throws(() => validateRecordBatch(corrupted), (error: { name: string; code: string; kafkaErrorCode: number }) => {
        assert.equal(error.name, 'KafkaDecodeError');
        assert.equal(error.kafkaErrorCode, 2); // CORRUPT_MESSAGE
        const expected = byte === 16 ? ['record_batch_magic'] : byte < 12 ? ['record_batch_length', 'record_batch_crc'] : ['record_batch_crc'];
        assert.ok(expected.includes(error.code), `byte ${byte}: ${error.code}`);
        return true;
      });
    }),
    { numRuns: 400 },
  );
});

/** Changes a header field and recomputes the CRC, so that only the field's own check can fail. */
function withField(bytes: Uint8Array, change: (view: DataView) => void): Uint8Array {
  const copy = bytes.slice();
  const view = new DataView(copy.buffer);
  change(view);
  view.setUint32(17, crc32c(copy.subarray(21)));
  return copy;
}

test('header fields are validated: counts, compression, length', () => {
  const bytes = buildRecordBatch({ records: [{ key: null, value: new Uint8Array(10) }, { key: null, value: new Uint8Array(10) }] });
  const code = (candidate: Uint8Array): string => {
    try {
      validateRecordBatch(candidate);
      return 'valid';
    } catch (error) {
      return (error as { code: string }).code;
    }
  };
  assert.equal(code(bytes), 'valid');
  assert.equal(code(withField(bytes, (view) => view.setInt32(57, 3))), 'record_batch_records_count');
  assert.equal(code(withField(bytes, (view) => view.setInt32(23, 0))), 'record_batch_records_count');
  assert.equal(code(withField(bytes, (view) => { view.setInt32(57, 0); view.setInt32(23, -1); })), 'record_batch_records_count');
  assert.equal(code(withField(bytes, (view) => { view.setInt32(57, 1000); view.setInt32(23, 999); })), 'record_batch_records_count');
  assert.equal(code(withField(bytes, (view) => view.setInt16(21, 5))), 'record_batch_compression');
  assert.equal(code(withField(bytes, (view) => view.setInt8(16, 1))), 'record_batch_magic');
  assert.equal(code(withField(bytes, (view) => view.setInt32(8, bytes.length))), 'record_batch_length');
  assert.equal(code(withField(bytes, (view) => view.setInt32(8, 40))), 'record_batch_length');
  assert.equal(code(bytes.subarray(0, RECORD_BATCH_HEADER_BYTES - 1)), 'record_batch_length');
});

test('compressed batches the broker cannot decode still validate and pass through untouched', () => {
  const plain = buildRecordBatch({ records: [{ key: null, value: new Uint8Array(50).fill(7) }] });
  for (const [name, type] of [['snappy', 2], ['lz4', 3]] as const) {
    const bytes = withField(plain, (view) => view.setInt16(21, type));
    const before = bytes.slice();
    const [batch] = readRecordBatches(bytes);
    assert.equal(batch!.header.compression, name);
    assert.throws(() => decodeRecords(batch!), { code: 'record_batch_compression' });
    setBaseOffset(bytes, 0, 42n);
    assert.deepEqual(bytes.subarray(8), before.subarray(8));
    assert.equal(validateRecordBatch(bytes).baseOffset, 42n);
  }
});

test('several batches in one records blob are read in order, bounded, with an optional truncated tail', () => {
  const batches = [1, 2, 3].map((count) => buildRecordBatch({ records: Array.from({ length: count }, () => ({ key: null, value: new Uint8Array([count]) })) }));
  const blob = new Uint8Array(batches.reduce((sum, batch) => sum + batch.length, 0));
  let position = 0;
  for (const batch of batches) {
    blob.set(batch, position);
    position += batch.length;
  }
  const read = readRecordBatches(blob);
  assert.deepEqual(read.map((batch) => [batch.position, batch.header.recordsCount]), [[0, 1], [batches[0]!.length, 2], [batches[0]!.length + batches[1]!.length, 3]]);
  assert.throws(() => readRecordBatches(blob, { batchesMax: 2 }), { code: 'record_batch_too_many' });
  const truncated = blob.subarray(0, blob.length - 5);
  assert.throws(() => readRecordBatches(truncated), { code: 'record_batch_length' });
  assert.equal(readRecordBatches(truncated, { allowTruncatedTail: true }).length, 2);
});
