// Request builders for the protocol-level broker tests (raw-client.ts).
import { buildRecordBatch, decodeRecords, readRecordBatches } from '../../src/protocol/kafka/index.ts';
import type { BuildRecordBatchOptions, FetchRequest, JoinGroupRequest, ProduceRequest } from '../../src/protocol/kafka/index.ts';
import type { RawKafkaClient } from './raw-client.ts';

const encoder = new TextEncoder();

export function batchOf(values: readonly string[], options: Omit<BuildRecordBatchOptions, 'records'> = {}): Uint8Array {
  return buildRecordBatch({ ...options, records: values.map((value) => ({ key: encoder.encode(`key-${value}`), value: encoder.encode(value) })) });
}

export function produceRequest(topic: string, partition: number, records: Uint8Array | null, acks = -1): { apiKey: 0; message: ProduceRequest } {
  return { apiKey: 0, message: { transactionalId: null, acks, timeoutMs: 5_000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] } };
}

export function fetchRequest(topic: string, partition: number, fetchOffset: bigint, options: Partial<FetchRequest> = {}): { apiKey: 1; message: FetchRequest } {
  return {
    apiKey: 1,
    message: {
      replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1024 * 1024, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset, logStartOffset: -1n, partitionMaxBytes: 1024 * 1024 }] }],
      forgottenTopicsData: [], rackId: '', ...options,
    },
  };
}

export function joinRequest(groupId: string, memberId: string, options: Partial<JoinGroupRequest> = {}): { apiKey: 11; message: JoinGroupRequest } {
  return {
    apiKey: 11,
    message: {
      groupId, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 5_000, memberId, groupInstanceId: null, protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: encoder.encode(`meta-${memberId}`) }], ...options,
    },
  };
}

export async function createTopic(client: RawKafkaClient, name: string, partitions = 1, configs: Record<string, string> = {}): Promise<number> {
  const response = await client.send(4, {
    apiKey: 19,
    message: {
      topics: [{ name, numPartitions: partitions, replicationFactor: 3, assignments: [], configs: Object.entries(configs).map(([key, value]) => ({ name: key, value })) }],
      timeoutMs: 5_000, validateOnly: false,
    },
  });
  return response.topics[0]!.errorCode;
}

/** The fetched records' values, decoded (uncompressed batches only). */
export function fetchedValues(records: Uint8Array | null): string[] {
  if (records === null || records.length === 0) return [];
  const decoder = new TextDecoder();
  return readRecordBatches(records, { allowTruncatedTail: true }).flatMap((batch) => decodeRecords(batch).map((record) => decoder.decode(record.value ?? new Uint8Array(0))));
}
