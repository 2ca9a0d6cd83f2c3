// Fuzzing every decoder with random bytes and with mutated real messages (bit flips, truncation,
// extreme length fields, insertions). The only acceptable outcomes are a decoded value or a
// KafkaDecodeError — never another exception — and the decoded value can never be bigger than
// the input (no allocation amplification: every length was checked against the bytes remaining).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { KafkaReader } from './buffer.ts';
import { KafkaDecodeError } from './codec-errors.ts';
import { crc32c } from '../../util/crc32c.ts';
import { KafkaFrameDecoder, decodeRequestFrame, decodeResponseFrame, encodeRequestFrame, encodeResponseFrame } from './framing.ts';
import * as arbitraries from './generated/arbitraries.ts';
import { KAFKA_CODECS } from './generated/index.ts';
import type { KafkaRequestMessage, KafkaResponseMessage } from './generated/index.ts';
import { buildRecordBatch, decodeRecords, readRecordBatches } from './record-batch.ts';

const factories = arbitraries as unknown as Record<string, (version: number) => fc.Arbitrary<unknown>>;

/** Runs a decoder: returns its value, or the KafkaDecodeError it threw; anything else fails the test. */
function decodeOrDecodeError<T>(decode: () => T): T | KafkaDecodeError {
  try {
    return decode();
  } catch (error) {
    if (error instanceof KafkaDecodeError) return error;
    throw error;
  }
}

/** Array elements + string characters + byte lengths of a decoded value. */
function decodedSize(value: unknown): number {
  if (typeof value === 'string') return value.length;
  if (value instanceof Uint8Array) return value.length;
  if (Array.isArray(value)) return value.length + value.reduce((sum: number, element) => sum + decodedSize(element), 0);
  if (value !== null && typeof value === 'object') return Object.values(value).reduce((sum: number, field) => sum + decodedSize(field), 0);
  return 0;
}

function checkBounded(input: Uint8Array, result: unknown): void {
  if (result instanceof KafkaDecodeError) return;
  assert.ok(decodedSize(result) <= input.length, `decoded ${decodedSize(result)} units from ${input.length} bytes`);
}

/** The decoded parts of a request frame (not the kind tag or an error's message). */
function decodedParts(result: ReturnType<typeof decodeRequestFrame> | KafkaDecodeError): unknown {
  if (result instanceof KafkaDecodeError) return result;
  return result.kind === 'request' ? [result.header, result.request.message] : [result.header];
}

const EXTREMES_16 = [0x7fff, 0xffff, 0x8000, 0xfffe];
const EXTREMES_32 = [0x7fffffff, 0xffffffff, 0x80000000, 0xfffffffe, 0x00010000];

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'int16'; at: number; value: number }
  | { kind: 'int32'; at: number; value: number }
  | { kind: 'varint'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('int16' as const), at: fc.nat(), value: fc.constantFrom(...EXTREMES_16) }),
  fc.record({ kind: fc.constant('int32' as const), at: fc.nat(), value: fc.constantFrom(...EXTREMES_32) }),
  fc.record({ kind: fc.constant('varint' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }) }),
);

function mutate(input: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let bytes = input.slice();
  for (const change of mutations) {
    if (bytes.length === 0) break;
    const at = change.at % bytes.length;
    const view = new DataView(bytes.buffer);
    switch (change.kind) {
      case 'flip': bytes[at]! ^= 1 << change.bit; break;
      case 'truncate': bytes = bytes.slice(0, at); break;
      case 'int16': if (at + 2 <= bytes.length) view.setUint16(at, change.value); break;
      case 'int32': if (at + 4 <= bytes.length) view.setUint32(at, change.value); break;
      case 'varint': bytes.set([0xff, 0xff, 0xff, 0xff, 0x0f].slice(0, bytes.length - at), at); break;
      case 'insert': bytes = new Uint8Array([...bytes.subarray(0, at), ...change.bytes, ...bytes.subarray(at)]); break;
    }
  }
  return bytes;
}

test('random bytes into every request and response decoder at every version', () => {
  for (const api of KAFKA_CODECS) {
    for (let version = api.minVersion; version <= api.maxVersion; version++) {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
          checkBounded(bytes, decodeOrDecodeError(() => api.request.decode(version, new KafkaReader(bytes))));
          checkBounded(bytes, decodeOrDecodeError(() => api.response.decode(version, new KafkaReader(bytes))));
        }),
        { numRuns: 40 },
      );
    }
  }
});

test('random request frames with a plausible header', () => {
  const apiKeys = KAFKA_CODECS.map((api) => api.apiKey);
  fc.assert(
    fc.property(fc.constantFrom(...apiKeys, 99), fc.integer({ min: -1, max: 13 }), fc.uint8Array({ maxLength: 100 }), (apiKey, version, tail) => {
      const frame = new Uint8Array([apiKey >> 8, apiKey & 0xff, (version >> 8) & 0xff, version & 0xff, 0, 0, 0, 1, ...tail]);
      const result = decodeOrDecodeError(() => decodeRequestFrame(frame));
      if (!(result instanceof KafkaDecodeError) && result.kind === 'malformed') assert.ok(result.error instanceof KafkaDecodeError);
      checkBounded(frame, decodedParts(result));
    }),
    { numRuns: 2000 },
  );
});

/** Real request frames: every API at every version, from the generated arbitraries. */
function seedRequests(): fc.Arbitrary<Uint8Array> {
  return fc.oneof(...KAFKA_CODECS.flatMap((api) => {
    const versions = Array.from({ length: api.maxVersion - api.minVersion + 1 }, (_, index) => api.minVersion + index);
    return versions.map((version) => factories[`arbitrary${api.name}Request`]!(version).map((message) =>
      encodeRequestFrame(1, 'fuzz', version, { apiKey: api.apiKey, message } as KafkaRequestMessage).subarray(4)));
  }));
}

test('mutated real requests: bit flips, truncations, huge lengths, insertions', () => {
  fc.assert(
    fc.property(seedRequests(), fc.array(mutation, { minLength: 1, maxLength: 4 }), (frame, mutations) => {
      const mutated = mutate(frame, mutations);
      checkBounded(mutated, decodedParts(decodeOrDecodeError(() => decodeRequestFrame(mutated))));
    }),
    { numRuns: 3000 },
  );
});

test('mutated kafkajs requests', async () => {
  const require = createRequire(import.meta.url);
  const { requests } = require('kafkajs/src/protocol/requests') as { requests: Record<string, { protocol: (options: { version: number }) => (args: object) => { request: object } }> };
  const encodeFrame = require('kafkajs/src/protocol/request') as (options: object) => Promise<{ buffer: Buffer }>;
  const seeds = await Promise.all([
    ['ApiVersions', 2, {}],
    ['Metadata', 6, { topics: ['events', 'other'], allowAutoTopicCreation: true }],
    ['Produce', 7, { acks: -1, timeout: 30000, compression: 1, topicData: [{ topic: 'events', partitions: [{ partition: 0, messages: [{ key: 'k', value: 'v'.repeat(50) }] }] }] }],
    ['Fetch', 11, { replicaId: -1, maxWaitTime: 500, minBytes: 1, maxBytes: 1048576, topics: [{ topic: 'events', partitions: [{ partition: 0, fetchOffset: '0', maxBytes: 65536 }] }] }],
    ['JoinGroup', 5, { groupId: 'g', sessionTimeout: 30000, rebalanceTimeout: 60000, memberId: '', protocolType: 'consumer', groupProtocols: [{ name: 'RoundRobinAssigner', metadata: Buffer.from([0, 1, 0, 0, 0, 1, 0, 1, 116, 0, 0, 0, 0]) }] }],
  ].map(async ([name, version, args]) => {
    const { request } = requests[name as string]!.protocol({ version: version as number })(args as object);
    return new Uint8Array((await encodeFrame({ correlationId: 1, clientId: 'kafkajs', request })).buffer.subarray(4));
  }));
  fc.assert(
    fc.property(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 4 }), (frame, mutations) => {
      const mutated = mutate(frame, mutations);
      checkBounded(mutated, decodedParts(decodeOrDecodeError(() => decodeRequestFrame(mutated))));
    }),
    { numRuns: 2000 },
  );
});

test('mutated real responses (the client side of the codec)', () => {
  const seeds = fc.oneof(...KAFKA_CODECS.map((api) => fc.integer({ min: api.minVersion, max: api.maxVersion }).chain((version) =>
    factories[`arbitrary${api.name}Response`]!(version).map((message) => ({
      apiKey: api.apiKey, version, frame: encodeResponseFrame(1, version, { apiKey: api.apiKey, message } as KafkaResponseMessage).subarray(4),
    })))));
  fc.assert(
    fc.property(seeds, fc.array(mutation, { minLength: 1, maxLength: 4 }), ({ apiKey, version, frame }, mutations) => {
      const mutated = mutate(frame, mutations);
      const result = decodeOrDecodeError(() => decodeResponseFrame(mutated, apiKey, version));
      checkBounded(mutated, result instanceof KafkaDecodeError ? result : result.response.message);
    }),
    { numRuns: 1500 },
  );
});

/** Fixes the CRC after a mutation, so that the fuzzing reaches the checks behind it. */
function withValidCrc(bytes: Uint8Array): Uint8Array {
  if (bytes.length >= 61) new DataView(bytes.buffer, bytes.byteOffset).setUint32(17, crc32c(bytes.subarray(21)));
  return bytes;
}

test('mutated record batches: validation and record decoding fail only with KafkaDecodeError', () => {
  const batch = fc.record({
    records: fc.array(fc.record({ key: fc.option(fc.uint8Array({ maxLength: 8 }), { nil: null }), value: fc.option(fc.uint8Array({ maxLength: 30 }), { nil: null }) }), { minLength: 1, maxLength: 5 }),
    compression: fc.constantFrom('none', 'gzip', 'zstd') as fc.Arbitrary<'none' | 'gzip' | 'zstd'>,
  }).map((options) => buildRecordBatch(options));
  fc.assert(
    fc.property(batch, fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.boolean(), (bytes, mutations, fixCrc) => {
      const mutated = mutate(bytes, mutations);
      const candidate = fixCrc ? withValidCrc(mutated) : mutated;
      const batches = decodeOrDecodeError(() => readRecordBatches(candidate));
      if (batches instanceof KafkaDecodeError) return;
      for (const view of batches) {
        const records = decodeOrDecodeError(() => decodeRecords(view, { bytesMax: 1 << 16 }));
        // Decompression legitimately expands (up to bytesMax); uncompressed records cannot.
        if (view.header.compression === 'none') checkBounded(candidate, records);
      }
    }),
    { numRuns: 2000 },
  );
});

test('the frame decoder never buffers more than one maximum frame, whatever arrives', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 20 }), (chunks) => {
      const decoder = new KafkaFrameDecoder(64);
      for (const chunk of chunks) {
        const result = decodeOrDecodeError(() => decoder.push(chunk));
        if (result instanceof KafkaDecodeError) return;
        assert.ok(decoder.bufferedBytes <= 64 + 4 + 50);
        for (const frame of result) assert.ok(frame.length <= 64);
      }
    }),
    { numRuns: 1000 },
  );
});
