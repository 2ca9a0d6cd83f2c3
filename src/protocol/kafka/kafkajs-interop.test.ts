// Our codecs against a real client's: kafkajs (2.2.4) encodes requests that we decode and re-encode
// byte for byte, decodes responses that we encode, and — against a tiny in-process broker on a
// loopback port — runs its own connect/metadata/produce/idempotent-produce flow over our framing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { KafkaReader, KafkaWriter } from './buffer.ts';
import { KafkaFrameDecoder, decodeRequestFrame, encodeResponseFrame } from './framing.ts';
import { KAFKA_CODECS } from './generated/index.ts';
import type { KafkaRequestMessage, KafkaResponseMessage, MetadataResponseTopic, ProduceRequest } from './generated/index.ts';
import { buildRecordBatch, decodeRecords, readRecordBatches, setBaseOffset } from './record-batch.ts';
import { advertisedApiVersions } from './supported-apis.ts';

const require = createRequire(import.meta.url);
type KafkajsProtocol = {
  versions: string[];
  protocol: (options: { version: number }) => (args: object) => {
    request: { apiKey: number; apiVersion: number; encode: () => Promise<{ buffer: Buffer }> };
    response: { decode: (bytes: Buffer) => Promise<Record<string, unknown>> };
  };
};
const { requests } = require('kafkajs/src/protocol/requests') as { requests: Record<string, KafkajsProtocol> };
const encodeKafkajsFrame = require('kafkajs/src/protocol/request') as (options: object) => Promise<{ buffer: Buffer }>;

const KAFKAJS_NAME: Record<string, string> = { FindCoordinator: 'GroupCoordinator' };
const BYTES = Buffer.from([1, 2, 3]);

/** Arguments for kafkajs's request builders, one set per API (kafkajs fills version-specific defaults). */
const REQUEST_ARGUMENTS: Record<string, object> = {
  Produce: { acks: -1, timeout: 30000, compression: 0, topicData: [{ topic: 'events', partitions: [{ partition: 2, messages: [{ key: 'k', value: 'v', headers: { h: 'x' } }] }] }] },
  Fetch: { replicaId: -1, maxWaitTime: 500, minBytes: 1, maxBytes: 1048576, topics: [{ topic: 'events', partitions: [{ partition: 2, fetchOffset: '42', maxBytes: 65536 }] }], rackId: 'rack-a' },
  ListOffsets: { replicaId: -1, isolationLevel: 1, topics: [{ topic: 'events', partitions: [{ partition: 2, timestamp: -1 }] }] },
  Metadata: { topics: ['events', 'other'], allowAutoTopicCreation: false },
  OffsetCommit: { groupId: 'group', groupGenerationId: 3, memberId: 'member', retentionTime: -1, topics: [{ topic: 'events', partitions: [{ partition: 2, offset: '99', metadata: 'm' }] }] },
  OffsetFetch: { groupId: 'group', topics: [{ topic: 'events', partitions: [{ partition: 2 }] }] },
  FindCoordinator: { groupId: 'group', coordinatorType: 0 },
  JoinGroup: { groupId: 'group', sessionTimeout: 30000, rebalanceTimeout: 60000, memberId: '', protocolType: 'consumer', groupProtocols: [{ name: 'RoundRobinAssigner', metadata: BYTES }] },
  Heartbeat: { groupId: 'group', groupGenerationId: 3, memberId: 'member' },
  LeaveGroup: { groupId: 'group', memberId: 'member' },
  SyncGroup: { groupId: 'group', generationId: 3, memberId: 'member', groupAssignment: [{ memberId: 'member', memberAssignment: BYTES }] },
  DescribeGroups: { groupIds: ['group', 'other'] },
  ListGroups: {},
  ApiVersions: {},
  CreateTopics: { topics: [{ topic: 'events', numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '1000' }] }], timeout: 5000, validateOnly: false },
  DeleteTopics: { topics: ['events'], timeout: 5000 },
  InitProducerId: { transactionalId: null, transactionTimeout: 30000 },
};

/** A field or two of each decoded request that shows the mapping is right, not just the framing. */
function requestFacts(request: KafkaRequestMessage): unknown {
  const message = request.message as unknown as Record<string, unknown>;
  switch (request.apiKey) {
    case 0: return [request.message.acks, request.message.topicData[0]!.name, request.message.topicData[0]!.partitionData[0]!.index];
    case 1: return [request.message.maxWaitMs, request.message.topics[0]!.partitions[0]!.fetchOffset];
    case 2: return request.message.topics[0]!.partitions[0]!.timestamp;
    case 3: return request.message.topics?.map((topic) => topic.name);
    case 8: return [request.message.generationIdOrMemberEpoch, request.message.topics[0]!.partitions[0]!.committedOffset, request.message.topics[0]!.partitions[0]!.committedMetadata];
    case 9: return request.message.topics?.[0]?.partitionIndexes;
    case 10: return request.message.key;
    case 11: return [request.message.sessionTimeoutMs, request.message.protocols[0]!.name, [...request.message.protocols[0]!.metadata]];
    case 14: return [request.message.generationId, [...request.message.assignments[0]!.assignment]];
    case 15: return request.message.groups;
    case 19: return [request.message.topics[0]!.name, request.message.topics[0]!.numPartitions, request.message.topics[0]!.configs];
    case 20: return request.message.topicNames;
    case 22: return [request.message.transactionalId, request.message.transactionTimeoutMs];
    default: return message['groupId'] ?? null;
  }
}

const EXPECTED_FACTS: Record<string, unknown> = {
  Produce: [-1, 'events', 2],
  Fetch: [500, 42n],
  ListOffsets: -1n,
  Metadata: ['events', 'other'],
  OffsetCommit: [3, 99n, 'm'],
  OffsetFetch: [2],
  FindCoordinator: 'group',
  JoinGroup: [30000, 'RoundRobinAssigner', [1, 2, 3]],
  Heartbeat: 'group',
  LeaveGroup: 'group',
  SyncGroup: [3, [1, 2, 3]],
  DescribeGroups: ['group', 'other'],
  ListGroups: null,
  ApiVersions: null,
  CreateTopics: ['events', 3, [{ name: 'retention.ms', value: '1000' }]],
  DeleteTopics: ['events'],
  InitProducerId: [null, 30000],
};

function versionsInCommon(name: string, minVersion: number, maxVersion: number): number[] {
  return requests[KAFKAJS_NAME[name] ?? name]!.versions.map(Number).filter((version) => version >= minVersion && version <= maxVersion);
}

test('every request kafkajs sends decodes, and re-encodes to the same bytes', async () => {
  let checked = 0;
  for (const api of KAFKA_CODECS) {
    for (const version of versionsInCommon(api.name, api.minVersion, api.maxVersion)) {
      const { request } = requests[KAFKAJS_NAME[api.name] ?? api.name]!.protocol({ version })(REQUEST_ARGUMENTS[api.name]!);
      assert.equal(request.apiVersion, version);
      const frame = (await encodeKafkajsFrame({ correlationId: 5, clientId: 'kafkajs-client', request })).buffer;
      const decoded = decodeRequestFrame(frame.subarray(4));
      assert.equal(decoded.kind, 'request', `${api.name} v${version}: ${decoded.kind === 'malformed' ? decoded.error.message : decoded.kind}`);
      if (decoded.kind !== 'request') continue;
      assert.deepEqual(decoded.header, { requestApiKey: api.apiKey, requestApiVersion: version, correlationId: 5, clientId: 'kafkajs-client' });
      assert.deepEqual(requestFacts(decoded.request), EXPECTED_FACTS[api.name], `${api.name} v${version}`);
      // The body as sent (encoding again would restamp Produce's batch timestamps): after the v1 header.
      const body = frame.subarray(4 + 10 + Buffer.byteLength('kafkajs-client'));
      const writer = new KafkaWriter();
      (api.request.write as (writer: KafkaWriter, version: number, message: unknown) => void)(writer, version, decoded.request.message);
      assert.deepEqual(Buffer.from(writer.toBytes()), body, `${api.name} v${version} re-encodes identically`);
      checked++;
    }
  }
  // Every (API, version) both implement: Produce 3-7, Fetch 4-11, ListOffsets 1-3, Metadata 0-6, OffsetCommit 2-5,
  // OffsetFetch 1-4, FindCoordinator 0-2, JoinGroup 0-5, Heartbeat/LeaveGroup/SyncGroup 0-3, DescribeGroups,
  // ListGroups and ApiVersions 0-2, CreateTopics 0-3, DeleteTopics and InitProducerId 0-1.
  assert.equal(checked, 69);
});

const throttle = (decoded: Record<string, unknown>): unknown => (decoded['clientSideThrottleTime'] ?? decoded['throttleTime']);

/** Responses we encode, what kafkajs must read back from them, and from which version throttle time exists. */
const RESPONSES: Record<string, { message: (version: number) => unknown; facts: (decoded: any) => unknown; expected: unknown; throttleSince: number }> = {
  ApiVersions: {
    message: () => ({ errorCode: 0, apiKeys: advertisedApiVersions(), throttleTimeMs: 5 }),
    facts: (decoded) => decoded.apiVersions.find((api: { apiKey: number }) => api.apiKey === 1),
    expected: { apiKey: 1, minVersion: 4, maxVersion: 11 },
    throttleSince: 1,
  },
  Metadata: {
    message: () => ({
      throttleTimeMs: 5, brokers: [{ nodeId: 1, host: 'h', port: 9092, rack: null }], clusterId: 'c', controllerId: 1,
      topics: [{ errorCode: 0, name: 't', isInternal: false, partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 1, leaderEpoch: -1, replicaNodes: [1, 2], isrNodes: [1], offlineReplicas: [] }] }],
    }),
    facts: (decoded) => [decoded.brokers[0].host, decoded.topicMetadata[0].topic, decoded.topicMetadata[0].partitionMetadata[0].replicas],
    expected: ['h', 't', [1, 2]],
    throttleSince: 3,
  },
  Produce: {
    message: () => ({ responses: [{ name: 't', partitionResponses: [{ index: 0, errorCode: 0, baseOffset: 41n, logAppendTimeMs: -1n, logStartOffset: 0n }] }], throttleTimeMs: 5 }),
    facts: (decoded) => decoded.topics[0].partitions[0].baseOffset,
    expected: '41',
    throttleSince: 1,
  },
  Fetch: {
    message: () => ({
      throttleTimeMs: 5, errorCode: 0, sessionId: 0,
      responses: [{ topic: 't', partitions: [{
        partitionIndex: 0, errorCode: 0, highWatermark: 12n, lastStableOffset: 12n, logStartOffset: 0n, abortedTransactions: null, preferredReadReplica: -1,
        records: buildRecordBatch({ baseOffset: 10n, records: [{ key: Buffer.from('k'), value: Buffer.from('v') }, { key: null, value: Buffer.from('w') }] }),
      }] }],
    }),
    facts: (decoded) => decoded.responses[0].partitions[0].messages.map((message: { offset: string; key: Buffer | null; value: Buffer }) => [message.offset, message.key?.toString() ?? null, message.value.toString()]),
    expected: [['10', 'k', 'v'], ['11', null, 'w']],
    throttleSince: 1,
  },
  ListOffsets: {
    message: () => ({ throttleTimeMs: 5, topics: [{ name: 't', partitions: [{ partitionIndex: 0, errorCode: 0, timestamp: -1n, offset: 123n, leaderEpoch: -1 }] }] }),
    facts: (decoded) => decoded.responses[0].partitions[0].offset,
    expected: '123',
    throttleSince: 2,
  },
  OffsetFetch: {
    message: () => ({ throttleTimeMs: 5, topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 77n, committedLeaderEpoch: -1, metadata: 'md', errorCode: 0 }] }], errorCode: 0 }),
    facts: (decoded) => [decoded.responses[0].partitions[0].offset, decoded.responses[0].partitions[0].metadata],
    expected: ['77', 'md'],
    throttleSince: 3,
  },
  FindCoordinator: {
    message: () => ({ throttleTimeMs: 5, errorCode: 0, errorMessage: null, nodeId: 2, host: 'h', port: 9092 }),
    facts: (decoded) => decoded.coordinator,
    expected: { nodeId: 2, host: 'h', port: 9092 },
    throttleSince: 1,
  },
  JoinGroup: {
    message: () => ({ throttleTimeMs: 5, errorCode: 0, generationId: 4, protocolName: 'rr', leader: 'm1', memberId: 'm2', members: [{ memberId: 'm1', groupInstanceId: null, metadata: new Uint8Array([1, 2]) }] }),
    facts: (decoded) => [decoded.generationId, decoded.groupProtocol, decoded.leaderId, decoded.memberId, [...decoded.members[0].memberMetadata]],
    expected: [4, 'rr', 'm1', 'm2', [1, 2]],
    throttleSince: 2,
  },
  SyncGroup: {
    message: () => ({ throttleTimeMs: 5, errorCode: 0, assignment: new Uint8Array([0, 1, 0, 0]) }),
    facts: (decoded) => [...decoded.memberAssignment],
    expected: [0, 1, 0, 0],
    throttleSince: 1,
  },
  InitProducerId: {
    message: () => ({ throttleTimeMs: 5, errorCode: 0, producerId: 1000n, producerEpoch: 2 }),
    facts: (decoded) => [decoded.producerId, decoded.producerEpoch],
    expected: ['1000', 2],
    throttleSince: 0,
  },
  CreateTopics: {
    message: () => ({ throttleTimeMs: 5, topics: [{ name: 't', errorCode: 36, errorMessage: null }] }),
    facts: (decoded) => [decoded.topicErrors[0].topic, decoded.topicErrors[0].errorCode],
    expected: ['t', 36],
    throttleSince: 2,
  },
  DescribeGroups: {
    message: () => ({
      throttleTimeMs: 5,
      groups: [{ errorCode: 0, groupId: 'g', groupState: 'Stable', protocolType: 'consumer', protocolData: 'rr', members: [{ memberId: 'm', groupInstanceId: null, clientId: 'c', clientHost: '/1.2.3.4', memberMetadata: new Uint8Array([1]), memberAssignment: new Uint8Array([2]) }], authorizedOperations: -2147483648 }],
    }),
    facts: (decoded) => [decoded.groups[0].state, decoded.groups[0].members[0].clientHost],
    expected: ['Stable', '/1.2.3.4'],
    throttleSince: 1,
  },
  ListGroups: {
    message: () => ({ throttleTimeMs: 5, errorCode: 0, groups: [{ groupId: 'g', protocolType: 'consumer' }] }),
    facts: (decoded) => decoded.groups,
    expected: [{ groupId: 'g', protocolType: 'consumer' }],
    throttleSince: 1,
  },
};

test('kafkajs decodes the responses we encode', async () => {
  let checked = 0;
  for (const api of KAFKA_CODECS) {
    const response = RESPONSES[api.name];
    if (response === undefined) continue;
    for (const version of versionsInCommon(api.name, api.minVersion, api.maxVersion)) {
      const writer = new KafkaWriter();
      (api.response.write as (writer: KafkaWriter, version: number, message: unknown) => void)(writer, version, response.message(version));
      const protocol = requests[KAFKAJS_NAME[api.name] ?? api.name]!.protocol({ version })({ ...REQUEST_ARGUMENTS[api.name] });
      const decoded = await protocol.response.decode(Buffer.from(writer.toBytes()));
      assert.deepEqual(response.facts(decoded), response.expected, `${api.name} v${version}`);
      if (version >= response.throttleSince) assert.equal(throttle(decoded), 5, `${api.name} v${version} throttle time`);
      checked++;
    }
  }
  assert.ok(checked >= 40, `checked ${checked} response versions`);
});

// ---------------------------------------------------------------------------------------------
// A real kafkajs client against a tiny in-process broker built on these codecs
// ---------------------------------------------------------------------------------------------

interface TinyBroker {
  readonly port: number;
  readonly received: { apiKey: number; apiVersion: number; clientId: string | null }[];
  readonly log: Uint8Array[];
  close(): Promise<void>;
}

function metadataTopics(names: readonly string[]): MetadataResponseTopic[] {
  return names.map((name) => ({
    errorCode: 0, name, isInternal: false,
    partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 1, leaderEpoch: 0, replicaNodes: [1], isrNodes: [1], offlineReplicas: [] }],
  }));
}

/** Assigns offsets the way the broker will: validate, rewrite baseOffset, append. */
function appendProduce(request: ProduceRequest, log: Uint8Array[], nextOffset: { value: bigint }): KafkaResponseMessage {
  const responses = request.topicData.map((topic) => ({
    name: topic.name,
    partitionResponses: topic.partitionData.map((partition) => {
      const records = partition.records!.slice();
      const baseOffset = nextOffset.value;
      for (const batch of readRecordBatches(records)) {
        setBaseOffset(records, batch.position, nextOffset.value);
        nextOffset.value += BigInt(batch.header.recordsCount);
      }
      log.push(records);
      return { index: partition.index, errorCode: 0, baseOffset, logAppendTimeMs: -1n, logStartOffset: 0n };
    }),
  }));
  return { apiKey: 0, message: { responses, throttleTimeMs: 0 } };
}

function answer(request: KafkaRequestMessage, port: number, log: Uint8Array[], nextOffset: { value: bigint }): KafkaResponseMessage | null {
  switch (request.apiKey) {
    case 18:
      return { apiKey: 18, message: { errorCode: 0, apiKeys: advertisedApiVersions(), throttleTimeMs: 0 } };
    case 3:
      return {
        apiKey: 3,
        message: {
          throttleTimeMs: 0, brokers: [{ nodeId: 1, host: '127.0.0.1', port, rack: null }], clusterId: 'tiny', controllerId: 1,
          topics: metadataTopics(request.message.topics === null ? ['events'] : request.message.topics.map((topic) => topic.name)),
        },
      };
    case 22:
      return { apiKey: 22, message: { throttleTimeMs: 0, errorCode: 0, producerId: 4242n, producerEpoch: 0 } };
    case 0:
      return request.message.acks === 0 ? null : appendProduce(request.message, log, nextOffset);
    default:
      throw new Error(`the tiny broker does not serve api key ${request.apiKey}`);
  }
}

async function startTinyBroker(): Promise<TinyBroker> {
  const received: TinyBroker['received'] = [];
  const log: Uint8Array[] = [];
  const nextOffset = { value: 0n };
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const frames = new KafkaFrameDecoder(1024 * 1024);
    socket.on('data', (chunk) => {
      for (const frame of frames.push(chunk)) {
        const decoded = decodeRequestFrame(frame);
        assert.equal(decoded.kind, 'request');
        if (decoded.kind !== 'request') return;
        const { header } = decoded;
        received.push({ apiKey: header.requestApiKey, apiVersion: header.requestApiVersion, clientId: header.clientId });
        const response = answer(decoded.request, (server.address() as AddressInfo).port, log, nextOffset);
        if (response !== null) socket.write(encodeResponseFrame(header.correlationId, header.requestApiVersion, response));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    log,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

test('kafkajs connects, reads metadata and produces (plain, gzip, idempotent) through our codecs', async () => {
  const { Kafka, CompressionTypes, logLevel } = require('kafkajs') as typeof import('kafkajs');
  const broker = await startTinyBroker();
  const clients: { disconnect(): Promise<void> }[] = [];
  try {
    const kafka = new Kafka({ clientId: 'cairn-test', brokers: [`127.0.0.1:${broker.port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    const admin = kafka.admin();
    const producer = kafka.producer();
    const idempotent = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 1 } });
    clients.push(admin, producer, idempotent);
    await admin.connect();
    assert.deepEqual(await admin.listTopics(), ['events']);
    // kafkajs asks for ApiVersions v2 first, then picks min(its max, our max) for Metadata.
    assert.deepEqual(broker.received.slice(0, 2).map(({ apiKey, apiVersion }) => [apiKey, apiVersion]), [[18, 2], [3, 6]]);
    assert.equal(broker.received[0]!.clientId, 'cairn-test');

    await producer.connect();
    const plain = await producer.send({ topic: 'events', messages: [{ key: 'a', value: 'one' }, { key: 'b', value: 'two' }] });
    const gzip = await producer.send({ topic: 'events', compression: CompressionTypes.GZIP, messages: [{ value: 'three', headers: { h: 'x' } }] });
    await idempotent.connect();
    const again = await idempotent.send({ topic: 'events', acks: -1, messages: [{ value: 'four' }] });
    assert.deepEqual([plain[0]!.baseOffset, gzip[0]!.baseOffset, again[0]!.baseOffset], ['0', '2', '3']);

    const produced = broker.received.filter((request) => request.apiKey === 0);
    assert.deepEqual(produced.map((request) => request.apiVersion), [7, 7, 7]);
    const batches = broker.log.map((records) => readRecordBatches(records)[0]!);
    assert.deepEqual(batches.map((batch) => [batch.header.baseOffset, batch.header.compression, batch.header.producerId]), [
      [0n, 'none', -1n], [2n, 'gzip', -1n], [3n, 'none', 4242n],
    ]);
    const values = batches.flatMap((batch) => decodeRecords(batch).map((record) => new TextDecoder().decode(record.value!)));
    assert.deepEqual(values, ['one', 'two', 'three', 'four']);
    assert.deepEqual(decodeRecords(batches[1]!)[0]!.headers.map((header) => header.key), ['h']);
    assert.equal(batches[2]!.header.baseSequence, 0);
  } finally {
    await Promise.allSettled(clients.map((client) => client.disconnect()));
    await broker.close();
  }
});

test('decoding a kafkajs Metadata request does not depend on the reader starting at offset 0', async () => {
  const { request } = requests['Metadata']!.protocol({ version: 6 })(REQUEST_ARGUMENTS['Metadata']!);
  const body = (await request.encode()).buffer;
  const padded = Buffer.concat([Buffer.from([9, 9, 9]), body]);
  const reader = new KafkaReader(padded, {}, 3);
  const metadata = KAFKA_CODECS.find((api) => api.name === 'Metadata')!;
  assert.deepEqual((metadata.request.decode(6, reader) as { topics: { name: string }[] }).topics.map((topic) => topic.name), ['events', 'other']);
});
