// Test harness for the log module on both backends: apply commands one entry at a time, build
// batches, and count what the tables hold.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { buildRecordBatch } from '../../protocol/kafka/record-batch.ts';
import type { BuildRecordBatchOptions } from '../../protocol/kafka/record-batch.ts';
import type { LogCommand, LogLimits, TopicDefaults } from './commands.ts';
import { openLogState } from './open.ts';
import type { LogNodeState } from './open.ts';
import type { AppendOutcome, LogResult } from './results.ts';
import { LogEntryFeed } from './testing.ts';

export type Backend = 'memory' | 'lmdb';

export interface HarnessOptions {
  readonly limits?: Partial<LogLimits>;
  readonly topicDefaults?: Partial<TopicDefaults>;
  /** Reuse an lmdb directory (reopen tests). */
  readonly directory?: string;
}

export interface Harness {
  readonly node: LogNodeState;
  readonly feed: LogEntryFeed;
  readonly directory: string | undefined;
  run<T extends LogResult['type']>(command: LogCommand, expectedType?: T): Extract<LogResult, { type: T }>;
  create(name: string, partitions?: number, configs?: Record<string, string>): string;
  append(topic: string, partition: number, records: Uint8Array, timestampMs?: number): AppendOutcome;
  tableSize(table: string): number;
  close(): Promise<void>;
}

export function openHarness(backend: Backend, options: HarnessOptions = {}): Harness {
  const directory = backend === 'lmdb' ? options.directory ?? mkdtempSync(join(tmpdir(), 'cairn-log-')) : undefined;
  const stateOptions = { ...(options.limits === undefined ? {} : { limits: options.limits }), ...(options.topicDefaults === undefined ? {} : { topicDefaults: options.topicDefaults }) };
  const node = openLogState(directory === undefined ? stateOptions : { ...stateOptions, path: directory });
  const feed = new LogEntryFeed(node.state.appliedIndex() + 1);
  const run = <T extends LogResult['type']>(command: LogCommand, expectedType?: T): Extract<LogResult, { type: T }> => {
    const [result] = node.state.apply([feed.command(command)]);
    assert.ok(result !== null && result !== undefined);
    if (expectedType !== undefined) assert.equal(result.type, expectedType, JSON.stringify(result));
    return result as Extract<LogResult, { type: T }>;
  };
  return {
    node,
    feed,
    directory,
    run,
    create: (name, partitions = 1, configs) => {
      const result = run({ type: 'create-topics', topics: [{ name, partitions, replicationFactor: 3, ...(configs === undefined ? {} : { configs }) }] }, 'create-topics');
      assert.equal(result.topics[0]!.errorCode, 0, result.topics[0]!.errorMessage);
      return result.topics[0]!.topicId!;
    },
    append: (topic, partition, records, timestampMs = 1_000) => run({ type: 'append', timestampMs, partitions: [{ topic, partition, records }] }, 'append').partitions[0]!,
    tableSize: (table) => [...node.state.store.range(table)].length,
    close: async () => {
      await node.state.close();
      if (directory !== undefined && options.directory === undefined) rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** A batch of `count` records (values `value-<i>`), timestamps baseTimestamp + i * step. */
export function batch(count: number, options: Omit<BuildRecordBatchOptions, 'records'> & { timestampStep?: bigint; valueBytes?: number } = {}): Uint8Array {
  const step = options.timestampStep ?? 0n;
  const records = Array.from({ length: count }, (_, index) => ({
    key: null,
    value: options.valueBytes === undefined ? Buffer.from(`value-${index}`) : Buffer.alloc(options.valueBytes, index),
    timestampDelta: step * BigInt(index),
  }));
  const { timestampStep: _step, valueBytes: _bytes, ...rest } = options;
  return buildRecordBatch({ ...rest, records });
}

/** An idempotent batch. */
export function producerBatch(count: number, producerId: number, producerEpoch: number, baseSequence: number): Uint8Array {
  return batch(count, { producerId: BigInt(producerId), producerEpoch, baseSequence });
}
