// The generated codecs: the committed output is exactly what the generator produces, and every
// message of every generated API round-trips at every generated version (fast-check, with the
// generated per-message arbitraries). A second generation with --all-versions exercises the
// generator on every version Kafka defines (flexible versions, tagged fields, uuids, ...).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { KafkaReader, KafkaWriter } from './buffer.ts';
import * as arbitraries from './generated/arbitraries.ts';
import { KAFKA_CODECS } from './generated/index.ts';
import { SUPPORTED_APIS } from './supported-apis.ts';

const REPOSITORY = resolve(import.meta.dirname, '../../..');
const GENERATOR = join(REPOSITORY, 'scripts/generate-kafka-codecs.ts');
const COMMITTED = join(import.meta.dirname, 'generated');

function generateInto(directory: string, ...extra: string[]): void {
  execFileSync(process.execPath, [GENERATOR, '--out', directory, ...extra], { stdio: 'pipe' });
}

test('the committed generated files are exactly what the generator writes', () => {
  const directory = mkdtempSync(join(tmpdir(), 'cairn-kafka-codegen-'));
  try {
    generateInto(directory);
    const generated = readdirSync(directory).sort();
    assert.deepEqual(readdirSync(COMMITTED).sort(), generated, 'generated/ holds exactly the generated files');
    for (const name of generated) {
      const expected = readFileSync(join(directory, name));
      assert.ok(expected.equals(readFileSync(join(COMMITTED, name))), `${name} differs: run node scripts/generate-kafka-codecs.ts`);
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('the generated API table is the supported-apis table', () => {
  assert.deepEqual(
    KAFKA_CODECS.map(({ name, apiKey, minVersion, maxVersion }) => ({ name, apiKey, minVersion, maxVersion })),
    SUPPORTED_APIS.map(({ name, apiKey, minVersion, maxVersion }) => ({ name, apiKey, minVersion, maxVersion })),
  );
});

type AnyCodec = {
  decode(version: number, reader: KafkaReader): unknown;
  write(writer: KafkaWriter, version: number, message: never): void;
};
type ArbitraryFactory = (version: number) => fc.Arbitrary<unknown>;

function encodeWith(codec: AnyCodec, version: number, message: unknown): Uint8Array {
  const writer = new KafkaWriter();
  codec.write(writer, version, message as never);
  return writer.toBytes().slice();
}

/** encode -> decode gives the same message, all bytes are consumed, and re-encoding is identical. */
function checkRoundTrip(codec: AnyCodec, arbitrary: fc.Arbitrary<unknown>, version: number, numRuns: number): void {
  fc.assert(
    fc.property(arbitrary, (message) => {
      const bytes = encodeWith(codec, version, message);
      const reader = new KafkaReader(bytes);
      const decoded = codec.decode(version, reader);
      assert.equal(reader.remaining, 0);
      assert.deepEqual(decoded, message);
      assert.deepEqual(encodeWith(codec, version, decoded), bytes);
    }),
    { numRuns },
  );
}

test('every request and response round-trips at every supported version', () => {
  const factories = arbitraries as unknown as Record<string, ArbitraryFactory>;
  let checked = 0;
  for (const api of KAFKA_CODECS) {
    for (let version = api.minVersion; version <= api.maxVersion; version++) {
      for (const kind of ['Request', 'Response'] as const) {
        const arbitrary = factories[`arbitrary${api.name}${kind}`];
        assert.ok(arbitrary, `arbitrary${api.name}${kind} is generated`);
        const codec = (kind === 'Request' ? api.request : api.response) as AnyCodec;
        checkRoundTrip(codec, arbitrary(version), version, 25);
        checked++;
      }
    }
  }
  assert.equal(checked, 2 * SUPPORTED_APIS.reduce((sum, api) => sum + api.maxVersion - api.minVersion + 1, 0));
});

test('decoders and encoders refuse versions outside the generated range', () => {
  for (const api of KAFKA_CODECS) {
    for (const version of [api.minVersion - 1, api.maxVersion + 1]) {
      assert.throws(() => api.request.decode(version, new KafkaReader(new Uint8Array(64))), { name: 'KafkaDecodeError', code: 'unsupported_version' });
    }
  }
});

/** How many versions the definitions list for the supported APIs (Produce 0-11, Fetch 0-17, ...). */
function definedVersionCount(): number {
  return SUPPORTED_APIS.reduce((sum, api) => {
    const text = readFileSync(join(REPOSITORY, '../shared/kafka-protocol/messages', `${api.name}Request.json`), 'utf8');
    const [, max] = /"validVersions": "0-(\d+)"/.exec(text)!;
    return sum + Number(max) + 1;
  }, 0);
}

test('the generator handles every version Kafka defines (flexible versions, tagged fields, uuids)', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'cairn-kafka-codegen-all-'));
  try {
    generateInto(directory, '--all-versions', '--runtime', import.meta.dirname);
    // The generated arbitraries import fast-check; let them find this repository's copy.
    symlinkSync(join(REPOSITORY, 'node_modules'), join(directory, 'node_modules'), 'dir');
    writeFileSync(join(directory, 'package.json'), '{ "type": "module" }\n');
    const index = (await import(join(directory, 'index.ts'))) as { KAFKA_CODECS: readonly { name: string; minVersion: number; maxVersion: number; request: AnyCodec; response: AnyCodec }[] };
    const factories = (await import(join(directory, 'arbitraries.ts'))) as Record<string, ArbitraryFactory>;
    let versionsChecked = 0;
    for (const api of index.KAFKA_CODECS) {
      for (let version = api.minVersion; version <= api.maxVersion; version++) {
        checkRoundTrip(api.request, factories[`arbitrary${api.name}Request`]!(version), version, 8);
        checkRoundTrip(api.response, factories[`arbitrary${api.name}Response`]!(version), version, 8);
        versionsChecked++;
      }
    }
    assert.equal(versionsChecked, definedVersionCount());
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
