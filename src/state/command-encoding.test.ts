// The state machines' command encodings: a tag byte (and for the KV a flags byte) in front of
// msgpack, packed in place after reserved bytes rather than copied behind the tag. Each encoded
// command must be its own: later encodings share msgpackr's buffer and must never change it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { decodeKvCommand, encodeKvCommand, KV_MODULE_TAG } from './kv/commands.ts';
import type { KvCommand } from './kv/commands.ts';
import { DEFAULT_LOG_LIMITS, decodeLogCommand, encodeLogCommand, LOG_MODULE_TAG } from './log/commands.ts';
import type { LogCommand } from './log/commands.ts';

const reference = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' });

const putCommand = fc.record({ key: fc.uint8Array({ minLength: 1, maxLength: 64 }), value: fc.uint8Array({ maxLength: 3000 }) })
  .map(({ key, value }): KvCommand => ({ type: 'put', key, value }));
const appendCommand = fc.record({ records: fc.uint8Array({ minLength: 1, maxLength: 40_000 }), partition: fc.nat(20) })
  .map(({ records, partition }): LogCommand => ({ type: 'append', timestampMs: 1, partitions: [{ topic: 'orders', partition, records }] }));

test('KV commands: tag, flags, then the msgpack of the command; each stays intact after later encodings', () => {
  fc.assert(fc.property(fc.array(fc.tuple(putCommand, fc.boolean()), { minLength: 1, maxLength: 40 }), (commands) => {
    const encoded = commands.map(([command, system]) => encodeKvCommand(command, { system }));
    commands.forEach(([command, system], position) => {
      const bytes = encoded[position]!;
      assert.ok(!Buffer.isBuffer(bytes), 'a plain Uint8Array: decoded keys must copy on slice(), as a Buffer would not');
      assert.equal(bytes[0], KV_MODULE_TAG);
      assert.deepEqual(Buffer.from(bytes.subarray(2)), Buffer.from(reference.pack(command)), 'the same msgpack as packed alone');
      const decoded = decodeKvCommand(bytes);
      assert.ok('command' in decoded, 'decodes');
      assert.equal(decoded.system, system);
      assert.deepEqual(Buffer.from((decoded.command as { value: Uint8Array }).value), Buffer.from((command as { value: Uint8Array }).value));
    });
  }), { numRuns: 60 });
});

test('log commands: tag, then the msgpack of the command; each stays intact after later encodings', () => {
  fc.assert(fc.property(fc.array(appendCommand, { minLength: 1, maxLength: 12 }), (commands) => {
    const encoded = commands.map((command) => encodeLogCommand(command));
    commands.forEach((command, position) => {
      const bytes = encoded[position]!;
      assert.ok(!Buffer.isBuffer(bytes), 'a plain Uint8Array, as KV commands');
      assert.equal(bytes[0], LOG_MODULE_TAG);
      assert.deepEqual(Buffer.from(bytes.subarray(1)), Buffer.from(reference.pack(command)), 'the same msgpack as packed alone');
      const decoded = decodeLogCommand(bytes, DEFAULT_LOG_LIMITS);
      assert.ok('type' in decoded && decoded.type === 'append' && command.type === 'append', 'decodes to an append');
      assert.deepEqual(Buffer.from(decoded.partitions[0]!.records), Buffer.from(command.partitions[0]!.records));
    });
  }), { numRuns: 40 });
});
