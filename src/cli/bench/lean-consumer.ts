// A minimal Kafka consume load generator on Cairn's own protocol codecs: one connection to the
// partitions' leader, Fetch v11 for every partition at its next offset, one request at a time
// (a consumer's next offsets depend on the last answer). When the leader moves
// (NOT_LEADER_OR_FOLLOWER or a closed connection) it asks the cluster for the new one and goes on
// from its cursors. Each batch's CRC-32C is checked and its records are decoded; offsets must
// follow each other without gaps or repeats, or the run fails.
// kafkajs (`--client kafkajs`) spends more CPU per message than the broker does to serve it, so
// on a small machine it measured the client more than the broker.
import { API_KEY, KAFKA_ERROR, encodeRequestFrame, decodeRecords, readRecordBatches } from '../../protocol/kafka/index.ts';
import type { FetchResponse, ListOffsetsResponse } from '../../protocol/kafka/index.ts';
import type { ConsumeLoadOptions, LoadFigures } from './kafka-load.ts';
import { loadFigures } from './kafka-load.ts';
import { KafkaConnection, findLeader, findMovedLeader } from './lean-connection.ts';

const FETCH_VERSION = 11;
const LIST_OFFSETS_VERSION = 1;
/** What the kafkajs consumer of `--client kafkajs` asks for too. */
const FETCH_MAX_BYTES = 64 * 1024 * 1024;
const FETCH_PARTITION_MAX_BYTES = 16 * 1024 * 1024;
const FETCH_MAX_WAIT_MS = 500;
/** A partition error is retried by fetching again; this many in one run end it. */
const PARTITION_ERRORS_MAX = 100;
const EARLIEST = -2n;
const LATEST = -1n;

interface PartitionCursor {
  readonly partition: number;
  next: bigint;
  readonly end: bigint;
}

async function listOffsets(connection: KafkaConnection, topic: string, partitions: readonly number[], timestamp: bigint): Promise<Map<number, bigint>> {
  const frame = encodeRequestFrame(0, 'cairn-bench', LIST_OFFSETS_VERSION, {
    apiKey: API_KEY.ListOffsets,
    message: { replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex, currentLeaderEpoch: -1, timestamp })) }] },
  } as never);
  const response = await connection.send(frame, API_KEY.ListOffsets, LIST_OFFSETS_VERSION) as ListOffsetsResponse;
  const offsets = new Map<number, bigint>();
  for (const partition of response.topics[0]?.partitions ?? []) {
    if (partition.errorCode !== 0) throw new Error(`ListOffsets for ${topic}/${partition.partitionIndex} failed with Kafka error ${partition.errorCode}`);
    offsets.set(partition.partitionIndex, partition.offset);
  }
  return offsets;
}

function fetchFrame(topic: string, cursors: readonly PartitionCursor[]): Uint8Array {
  return encodeRequestFrame(0, 'cairn-bench', FETCH_VERSION, {
    apiKey: API_KEY.Fetch,
    message: {
      replicaId: -1, maxWaitMs: FETCH_MAX_WAIT_MS, minBytes: 1, maxBytes: FETCH_MAX_BYTES, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic, partitions: cursors.map((cursor) => ({ partition: cursor.partition, currentLeaderEpoch: -1, fetchOffset: cursor.next, logStartOffset: -1n, partitionMaxBytes: FETCH_PARTITION_MAX_BYTES })) }],
      forgottenTopicsData: [], rackId: '',
    },
  } as never);
}

/** Counts the records of one partition's answer at and after the cursor (messages and value bytes) into `tally`, moving the cursor. */
function consumeRecords(topic: string, cursor: PartitionCursor, records: Uint8Array, tally: { messages: number; bytes: number }): void {
  for (const batch of readRecordBatches(records, { allowTruncatedTail: true, batchesMax: 1_000_000 })) {
    const base = batch.header.baseOffset;
    // A Fetch may start with the batch that contains the offset asked for.
    if (base + BigInt(batch.header.lastOffsetDelta) < cursor.next) continue;
    // Views, not copies, of keys and values: the records are counted, not kept (as librdkafka hands
    // out pointers into its fetch buffer). Copies were a third of the generator's CPU.
    for (const record of decodeRecords(batch, {}, { views: true })) {
      const offset = base + BigInt(record.offsetDelta);
      if (offset < cursor.next) continue;
      if (offset !== cursor.next) throw new Error(`${topic}/${cursor.partition}: expected offset ${cursor.next}, got ${offset} (a gap or a repeat)`);
      cursor.next = offset + 1n;
      tally.messages++;
      tally.bytes += record.value?.byteLength ?? 0;
    }
  }
}

/** Fetches at the open cursors once and counts what came; 'moved' when the answer says (or the connection shows) that the leader moved. */
async function fetchOnce(connection: KafkaConnection, topic: string, cursors: PartitionCursor[], tally: { messages: number; bytes: number; errors: number }): Promise<'moved' | undefined> {
  const open = cursors.filter((cursor) => cursor.next < cursor.end);
  let response: FetchResponse;
  try {
    response = await connection.send(fetchFrame(topic, open), API_KEY.Fetch, FETCH_VERSION) as FetchResponse;
  } catch {
    tally.errors++;
    return 'moved';
  }
  if (response.errorCode !== 0) throw new Error(`Fetch failed with Kafka error ${response.errorCode}`);
  let moved = false;
  for (const partition of response.responses[0]?.partitions ?? []) {
    const cursor = cursors.find((item) => item.partition === partition.partitionIndex);
    if (cursor === undefined) continue;
    if (partition.errorCode !== 0) {
      if (++tally.errors >= PARTITION_ERRORS_MAX) throw new Error(`${topic}/${partition.partitionIndex}: Fetch keeps failing (Kafka error ${partition.errorCode}); is the cluster changing leaders?`);
      moved ||= partition.errorCode === KAFKA_ERROR.NOT_LEADER_OR_FOLLOWER;
      continue;
    }
    if (partition.records !== null) consumeRecords(topic, cursor, partition.records, tally);
  }
  return moved ? 'moved' : undefined;
}

/** Reads the topic from its first offsets to the ends it had at the start, as fast as the broker serves it. */
export async function runLeanConsumeLoad(options: ConsumeLoadOptions): Promise<LoadFigures> {
  const layout = await findLeader(options.brokers, options.topic);
  let connection = await KafkaConnection.open(layout.leader);
  const tally = { messages: 0, bytes: 0, errors: 0 };
  let leaderMoves = 0;
  let startedAt = 0;
  let cpuAtStart = process.cpuUsage();
  const progressTimer = setInterval(() => options.onProgress?.({ elapsedMs: startedAt === 0 ? 0 : performance.now() - startedAt, ...tally }), 1000);
  try {
    const starts = await listOffsets(connection, options.topic, layout.partitions, EARLIEST);
    const ends = await listOffsets(connection, options.topic, layout.partitions, LATEST);
    const cursors: PartitionCursor[] = layout.partitions.map((partition) => ({ partition, next: starts.get(partition) ?? 0n, end: ends.get(partition) ?? 0n }));
    const available = cursors.reduce((sum, cursor) => sum + Number(cursor.end - cursor.next), 0);
    const wanted = Math.min(options.messages, available);
    // Time is counted from the first Fetch sent: its answer may hold tens of MB.
    startedAt = performance.now();
    cpuAtStart = process.cpuUsage();
    const deadline = startedAt + options.timeoutMs;
    for (let fetches = 1; tally.messages < wanted && performance.now() < deadline; fetches++) {
      await options.beforeFetch?.(fetches);
      if (await fetchOnce(connection, options.topic, cursors, tally) !== 'moved') continue;
      connection.close();
      connection = await KafkaConnection.open((await findMovedLeader(options.brokers, options.topic, ++leaderMoves)).leader);
    }
  } finally {
    clearInterval(progressTimer);
    connection.close();
  }
  return loadFigures(tally.messages, tally.bytes, tally.errors, startedAt === 0 ? performance.now() : startedAt, cpuAtStart);
}
