// Fetch and ListOffsets, served by the Raft leader (followers answer NOT_LEADER_OR_FOLLOWER, as
// Kafka's followers do for consumers). Reads see the applied state: everything below the high
// watermark (= the applied end offset) and nothing above it. A Fetch with less than minBytes waits
// up to maxWaitMs (capped) for the log's commit notices on its partitions. Fetch sessions are not
// kept: every response carries session id 0, so clients keep sending full fetch requests.
import { KAFKA_ERROR } from '../../../protocol/kafka/index.ts';
import type {
  FetchRequest, FetchResponse, FetchableTopicResponse, ListOffsetsRequest, ListOffsetsResponse, PartitionData,
} from '../../../protocol/kafka/index.ts';
import { proposalErrorCode } from '../errors.ts';
import { partitionKey } from '../partition-waiters.ts';
import type { RequestContext } from './context.ts';

const EMPTY = new Uint8Array(0);

function partitionError(partitionIndex: number, errorCode: number, highWatermark = -1, logStartOffset = -1): PartitionData {
  return {
    partitionIndex, errorCode, highWatermark: BigInt(highWatermark), lastStableOffset: BigInt(highWatermark), logStartOffset: BigInt(logStartOffset),
    abortedTransactions: null, preferredReadReplica: -1, records: EMPTY,
  };
}

function everyPartition(request: FetchRequest, errorCode: number): FetchableTopicResponse[] {
  return request.topics.map((topic) => ({ topic: topic.topic, partitions: topic.partitions.map((partition) => partitionError(partition.partition, errorCode)) }));
}

export async function handleFetch(context: RequestContext, request: FetchRequest): Promise<FetchResponse> {
  const { core } = context;
  const response = (errorCode: number, responses: FetchableTopicResponse[]): FetchResponse => ({ throttleTimeMs: 0, errorCode, sessionId: 0, responses });
  // We never hand out a session id, so a client naming one is confused: tell it to start over.
  if (request.sessionId !== 0) return response(KAFKA_ERROR.FETCH_SESSION_ID_NOT_FOUND, []);
  if (core.parts === undefined || !core.isLeader()) return response(KAFKA_ERROR.NONE, everyPartition(request, KAFKA_ERROR.NOT_LEADER_OR_FOLLOWER));
  try {
    await core.leaderCaughtUp();
  } catch (error) {
    return response(KAFKA_ERROR.NONE, everyPartition(request, proposalErrorCode(error)));
  }
  const { clock, limits } = core.options;
  const deadline = clock.now() + Math.min(Math.max(request.maxWaitMs, 0), limits.fetchWaitMsMax);
  const keys = request.topics.flatMap((topic) => topic.partitions.map((partition) => partitionKey(topic.topic, partition.partition)));
  for (;;) {
    const read = readAll(context, request);
    const remainingMs = deadline - clock.now();
    if (read.bytes >= request.minBytes || read.failed || remainingMs <= 0 || !core.isLeader()) return response(KAFKA_ERROR.NONE, read.responses);
    await core.waiters.wait(keys, remainingMs);
  }
}

function readAll(context: RequestContext, request: FetchRequest): { responses: FetchableTopicResponse[]; bytes: number; failed: boolean } {
  const { core } = context;
  const log = core.parts!.log;
  const leading = core.isLeader();
  const requestedBytes = request.maxBytes > 0 ? request.maxBytes : core.options.limits.fetchResponseBytesMax;
  let remaining = Math.min(requestedBytes, core.options.limits.fetchResponseBytesMax);
  let bytes = 0;
  let failed = false;
  const responses = request.topics.map((topic): FetchableTopicResponse => ({
    topic: topic.topic,
    partitions: topic.partitions.map((partition): PartitionData => {
      if (!leading) return partitionError(partition.partition, KAFKA_ERROR.NOT_LEADER_OR_FOLLOWER);
      const offset = partition.fetchOffset <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(partition.fetchOffset) : Number.MAX_SAFE_INTEGER;
      // KIP-74: the first batch with data is returned whole even beyond the limits, so a consumer always progresses.
      const maxBytes = Math.max(0, Math.min(partition.partitionMaxBytes, remaining));
      const result = log.read(topic.topic, partition.partition, offset, maxBytes, { minOneBatch: bytes === 0 });
      if (result.errorCode !== KAFKA_ERROR.NONE) {
        failed = true;
        return partitionError(partition.partition, result.errorCode, result.highWatermark, result.logStartOffset);
      }
      bytes += result.records.length;
      remaining = Math.max(0, remaining - result.records.length);
      return {
        ...partitionError(partition.partition, KAFKA_ERROR.NONE, result.highWatermark, result.logStartOffset),
        abortedTransactions: request.isolationLevel === 1 ? [] : null,
        records: result.records,
      };
    }),
  }));
  return { responses, bytes, failed };
}

export async function handleListOffsets(context: RequestContext, request: ListOffsetsRequest): Promise<ListOffsetsResponse> {
  const { core } = context;
  const every = (errorCode: number): ListOffsetsResponse => ({
    throttleTimeMs: 0,
    topics: request.topics.map((topic) => ({
      name: topic.name, partitions: topic.partitions.map((partition) => ({ partitionIndex: partition.partitionIndex, errorCode, timestamp: -1n, offset: -1n, leaderEpoch: -1 })),
    })),
  });
  if (core.parts === undefined || !core.isLeader()) return every(KAFKA_ERROR.NOT_LEADER_OR_FOLLOWER);
  try {
    await core.leaderCaughtUp();
  } catch (error) {
    return every(proposalErrorCode(error));
  }
  const log = core.parts.log;
  return {
    throttleTimeMs: 0,
    topics: request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((partition) => {
        const timestamp = partition.timestamp < -2n || partition.timestamp > BigInt(Number.MAX_SAFE_INTEGER) ? Number.NaN : Number(partition.timestamp);
        const found = Number.isNaN(timestamp) ? { errorCode: KAFKA_ERROR.INVALID_REQUEST, offset: -1, timestamp: -1 } : log.listOffset(topic.name, partition.partitionIndex, timestamp);
        return { partitionIndex: partition.partitionIndex, errorCode: found.errorCode, timestamp: BigInt(found.timestamp), offset: BigInt(found.offset), leaderEpoch: -1 };
      }),
    })),
  };
}
