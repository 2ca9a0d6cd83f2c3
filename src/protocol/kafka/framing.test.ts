import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  KafkaFrameDecoder, decodeRequestFrame, decodeResponseFrame, encodeRequestFrame, encodeResponseFrame, requestHeaderVersion, responseHeaderVersion,
} from './framing.ts';
import * as arbitraries from './generated/arbitraries.ts';
import { KAFKA_CODECS } from './generated/index.ts';
import type { KafkaRequestMessage, KafkaResponseMessage } from './generated/index.ts';
import { advertisedApiVersions } from './supported-apis.ts';

const ascii = (text: string): number[] => [...text].map((character) => character.charCodeAt(0));
const int32 = (value: number): number[] => [(value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];

function sizePrefixed(frame: Uint8Array): Uint8Array {
  return new Uint8Array([...int32(frame.length), ...frame]);
}

test('frames come out whole however the stream is cut into chunks', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1 }), (frames, cuts) => {
      const stream = new Uint8Array(frames.flatMap((frame) => [...sizePrefixed(frame)]));
      const decoder = new KafkaFrameDecoder(100);
      const out: Uint8Array[] = [];
      let position = 0;
      for (let index = 0; position < stream.length; index++) {
        const size = cuts[index % cuts.length]!;
        out.push(...decoder.push(stream.subarray(position, position + size)));
        position += size;
      }
      assert.deepEqual(out.map((frame) => [...frame]), frames.map((frame) => [...frame]));
      assert.equal(decoder.bufferedBytes, 0);
    }),
  );
});

test('a negative or oversize frame size is refused as soon as its prefix arrives', () => {
  assert.throws(() => new KafkaFrameDecoder(1000).push(new Uint8Array(int32(-5))), { name: 'KafkaDecodeError', code: 'frame_size_negative' });
  assert.throws(() => new KafkaFrameDecoder(1000).push(new Uint8Array(int32(1001))), {
    code: 'frame_too_large', message: 'frame: frame of 1001 bytes exceeds the maximum of 1000',
  });
  const decoder = new KafkaFrameDecoder(1000);
  assert.deepEqual(decoder.push(new Uint8Array([...int32(1000), 1, 2])), []);
  assert.equal(decoder.bufferedBytes, 2);
});

test('header versions follow the first flexible version, and ApiVersions answers with header v0', () => {
  assert.equal(requestHeaderVersion(18, 2), 1);
  assert.equal(requestHeaderVersion(18, 3), 2);
  assert.equal(requestHeaderVersion(18, 4), 2); // beyond what we serve, still parsed as flexible
  assert.equal(requestHeaderVersion(0, 7), 1);
  assert.equal(requestHeaderVersion(0, 9), 2);
  assert.equal(requestHeaderVersion(99, 0), 1);
  assert.equal(responseHeaderVersion(18, 3), 0);
  assert.equal(responseHeaderVersion(3, 6), 0);
  assert.equal(responseHeaderVersion(3, 9), 1);
});

/** ApiVersions v3 as librdkafka sends it: header v2 (int16 client id + tagged fields), compact body. */
const API_VERSIONS_V3_REQUEST = [
  0x00, 0x12, 0x00, 0x03, ...int32(7), 0x00, 0x07, ...ascii('rdkafka'), 0x00,
  0x0b, ...ascii('librdkafka'), 0x06, ...ascii('2.0.2'), 0x00,
];

test('a flexible ApiVersions v3 request decodes from hand-written bytes', () => {
  const decoded = decodeRequestFrame(new Uint8Array(API_VERSIONS_V3_REQUEST));
  assert.equal(decoded.kind, 'request');
  assert.deepEqual(decoded.header, { requestApiKey: 18, requestApiVersion: 3, correlationId: 7, clientId: 'rdkafka' });
  assert.deepEqual(decoded.kind === 'request' && decoded.request, { apiKey: 18, message: { clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.0.2' } });
});

test('unsupported versions, unknown APIs and malformed bodies keep their header', () => {
  const v4 = [...API_VERSIONS_V3_REQUEST];
  v4[3] = 4;
  const unsupported = decodeRequestFrame(new Uint8Array(v4));
  assert.equal(unsupported.kind, 'unsupported_version');
  assert.equal(unsupported.header.correlationId, 7);
  const unknown = decodeRequestFrame(new Uint8Array([0x00, 0x63, 0x00, 0x00, ...int32(9), 0xff, 0xff]));
  assert.deepEqual([unknown.kind, unknown.header.correlationId, unknown.header.clientId], ['unknown_api', 9, null]);
  const truncated = decodeRequestFrame(new Uint8Array(API_VERSIONS_V3_REQUEST.slice(0, -3)));
  assert.equal(truncated.kind, 'malformed');
  assert.equal(truncated.kind === 'malformed' && truncated.error.kafkaErrorCode, 42);
  const trailing = decodeRequestFrame(new Uint8Array([...API_VERSIONS_V3_REQUEST, 0]));
  assert.equal(trailing.kind === 'malformed' && trailing.error.code, 'trailing_bytes');
  assert.throws(() => decodeRequestFrame(new Uint8Array([0x00, 0x12, 0x00])), { name: 'KafkaDecodeError', code: 'truncated' });
});

test('an ApiVersions v3 response has header v0, compact arrays and tagged fields', () => {
  const frame = encodeResponseFrame(7, 3, {
    apiKey: 18,
    message: { errorCode: 0, apiKeys: [{ apiKey: 0, minVersion: 3, maxVersion: 7 }], throttleTimeMs: 0, finalizedFeaturesEpoch: 5n },
  });
  assert.deepEqual([...frame], [
    ...int32(29), ...int32(7), // size, correlation id, and no tagged fields: header v0
    0x00, 0x00, // errorCode
    0x02, 0x00, 0x00, 0x00, 0x03, 0x00, 0x07, 0x00, // apiKeys: compact length 1+1, one entry, its tagged fields
    ...int32(0), // throttleTimeMs
    0x01, 0x01, 0x08, 0, 0, 0, 0, 0, 0, 0, 5, // one tagged field: tag 1 (finalizedFeaturesEpoch), 8 bytes
  ]);
  const decoded = decodeResponseFrame(frame.subarray(4), 18, 3);
  assert.equal(decoded.correlationId, 7);
  assert.equal(decoded.response.apiKey === 18 && decoded.response.message.finalizedFeaturesEpoch, 5n);
});

test('the ApiVersions answer to an unsupported version is a v0 body listing our ranges', () => {
  const frame = encodeResponseFrame(3, 0, { apiKey: 18, message: { errorCode: 35, apiKeys: advertisedApiVersions(), throttleTimeMs: 0 } });
  const { response } = decodeResponseFrame(frame.subarray(4), 18, 0);
  assert.equal(response.apiKey, 18);
  assert.equal(response.message.errorCode, 35);
  assert.deepEqual(response.message.apiKeys.find((api) => api.apiKey === 18), { apiKey: 18, minVersion: 0, maxVersion: 3 });
});

test('every request and response survives a full frame round trip', () => {
  const factories = arbitraries as unknown as Record<string, (version: number) => fc.Arbitrary<unknown>>;
  for (const api of KAFKA_CODECS) {
    for (let version = api.minVersion; version <= api.maxVersion; version++) {
      fc.assert(
        fc.property(factories[`arbitrary${api.name}Request`]!(version), factories[`arbitrary${api.name}Response`]!(version), fc.integer(), (request, response, correlationId) => {
          const requestMessage = { apiKey: api.apiKey, message: request } as KafkaRequestMessage;
          const frame = encodeRequestFrame(correlationId, 'client', version, requestMessage);
          const decoded = decodeRequestFrame(frame.subarray(4));
          assert.equal(decoded.kind, 'request');
          assert.deepEqual(decoded.kind === 'request' && decoded.request, requestMessage);
          const responseMessage = { apiKey: api.apiKey, message: response } as KafkaResponseMessage;
          const answer = encodeResponseFrame(correlationId, version, responseMessage);
          assert.equal(new DataView(answer.buffer, answer.byteOffset).getInt32(0), answer.length - 4);
          assert.deepEqual(decodeResponseFrame(answer.subarray(4), api.apiKey, version), { correlationId, response: responseMessage });
        }),
        { numRuns: 10 },
      );
    }
  }
});
