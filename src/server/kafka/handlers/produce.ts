// Produce and InitProducerId. Produce is served by the Raft leader only (followers answer
// NOT_LEADER_OR_FOLLOWER so the client refreshes metadata): every batch is validated in full
// (checkProduceRecords, CRC included) before it is proposed, and the answer waits until the append
// is committed and applied, whatever acks says (acks=1 and acks=all are the same here: Raft
// acknowledges only after a majority). Offsets are assigned at apply.
import { KAFKA_ERROR } from '../../../protocol/kafka/index.ts';
import type { InitProducerIdRequest, InitProducerIdResponse, PartitionProduceResponse, ProduceRequest, ProduceResponse } from '../../../protocol/kafka/index.ts';
import { checkProduceRecords } from '../../../state/log/index.ts';
import type { AppendPartition, AppendResult } from '../../../state/log/index.ts';
import { chunkItems } from '../chunks.ts';
import { proposalErrorCode } from '../errors.ts';
import type { RequestContext } from './context.ts';

interface Slot {
  readonly topic: string;
  readonly partition: number;
  response: PartitionProduceResponse;
}

function answer(partition: number, errorCode: number, baseOffset = -1, logStartOffset = -1): PartitionProduceResponse {
  return { index: partition, errorCode, baseOffset: BigInt(baseOffset), logAppendTimeMs: -1n, logStartOffset: BigInt(logStartOffset) };
}

/** The response, or null for acks=0 (no response is sent). */
export async function handleProduce(context: RequestContext, request: ProduceRequest): Promise<ProduceResponse | null> {
  const slots: Slot[] = request.topicData.flatMap((topic) => topic.partitionData.map((partition) => (
    { topic: topic.name, partition: partition.index, response: answer(partition.index, KAFKA_ERROR.NONE) })));
  const records = request.topicData.flatMap((topic) => topic.partitionData.map((partition) => partition.records));
  if (request.acks !== 0 && request.acks !== 1 && request.acks !== -1) {
    for (const slot of slots) slot.response = answer(slot.partition, KAFKA_ERROR.INVALID_REQUIRED_ACKS);
  } else {
    // Issue the proposals in arrival order (see RequestContext.inOrder), then wait for them.
    const issued = await context.inOrder(() => issueAppends(context, request, slots, records));
    await issued.completion;
  }
  if (request.acks === 0) return null;
  let position = 0;
  return {
    throttleTimeMs: 0,
    responses: request.topicData.map((topic) => ({ name: topic.name, partitionResponses: topic.partitionData.map(() => slots[position++]!.response) })),
  };
}

/**
 * Validates and proposes; returns the appends' completion wrapped in an object (a bare promise
 * would be awaited by inOrder, holding back the next request's proposals until this one commits).
 */
async function issueAppends(context: RequestContext, request: ProduceRequest, slots: Slot[], records: (Uint8Array | null)[]): Promise<{ completion: Promise<void> }> {
  const { core } = context;
  const parts = core.parts;
  if (parts === undefined || !core.isLeader()) {
    for (const slot of slots) slot.response = answer(slot.partition, KAFKA_ERROR.NOT_LEADER_OR_FOLLOWER);
    return { completion: Promise.resolve() };
  }
  if (core.options.autoCreateTopics) {
    const unknown = slots.filter((slot) => parts.log.describeTopic(slot.topic) === undefined).map((slot) => slot.topic);
    if (unknown.length > 0) await core.autoCreate(unknown);
  }
  const items: { slot: Slot; append: AppendPartition }[] = [];
  slots.forEach((slot, position) => {
    const problem = checkPartition(context, slot, records[position] ?? null);
    if (problem !== undefined) slot.response = answer(slot.partition, problem);
    else items.push({ slot, append: { topic: slot.topic, partition: slot.partition, records: records[position]! } });
  });
  if (items.length === 0) return { completion: Promise.resolve() };
  const timeoutMs = core.requestTimeoutMs(request.timeoutMs);
  const proposals: Promise<void>[] = [];
  const { limits } = core.options;
  for (const chunk of chunkItems(items, (item) => item.append.records.length + item.append.topic.length, parts.log.limits.maxCommandItems, limits.proposalBytesMax)) {
    const command = { type: 'append' as const, timestampMs: core.options.wallClockMs(), partitions: chunk.map((item) => item.append) };
    proposals.push(core.propose(command, timeoutMs).then(
      (result: AppendResult) => result.partitions.forEach((outcome, index) => {
        chunk[index]!.slot.response = answer(outcome.partition, outcome.errorCode, outcome.baseOffset, outcome.logStartOffset);
      }),
      (error: unknown) => {
        const errorCode = proposalErrorCode(error);
        for (const item of chunk) item.slot.response = answer(item.slot.partition, errorCode);
      },
    ));
  }
  return { completion: Promise.all(proposals).then(() => undefined) };
}

/** The partition's Kafka error before proposing, or undefined when its batch may be proposed. */
function checkPartition(context: RequestContext, slot: Slot, records: Uint8Array | null): number | undefined {
  const log = context.core.parts!.log;
  const topic = log.describeTopic(slot.topic);
  if (topic === undefined || slot.partition < 0 || slot.partition >= topic.partitions) return KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION;
  if (records === null || records.length === 0) return KAFKA_ERROR.CORRUPT_MESSAGE;
  const problem = checkProduceRecords(records, topic.config.maxMessageBytes, log.limits.maxBatchBytes);
  if (problem !== undefined) {
    context.core.options.logger.debug({ topic: slot.topic, partition: slot.partition, client: context.clientId, error: problem.errorMessage }, 'produce refused a batch');
    return problem.errorCode;
  }
  return undefined;
}

/**
 * A new producer id through Raft (any node: a follower's proposal is forwarded to the leader).
 * Transactional ids are refused with INVALID_REQUEST: transactions are not supported.
 */
export async function handleInitProducerId(context: RequestContext, request: InitProducerIdRequest): Promise<InitProducerIdResponse> {
  const refuse = (errorCode: number): InitProducerIdResponse => ({ throttleTimeMs: 0, errorCode, producerId: -1n, producerEpoch: -1 });
  const { core } = context;
  if (request.transactionalId !== null) return refuse(KAFKA_ERROR.INVALID_REQUEST);
  if (core.parts === undefined) return refuse(KAFKA_ERROR.COORDINATOR_NOT_AVAILABLE);
  try {
    const result = await core.propose({ type: 'init-producer-id' }, core.options.limits.requestTimeoutMsMax);
    return { throttleTimeMs: 0, errorCode: KAFKA_ERROR.NONE, producerId: BigInt(result.producerId), producerEpoch: result.producerEpoch };
  } catch (error) {
    // Retriable for every client: they look for a broker again and retry.
    const errorCode = proposalErrorCode(error) === KAFKA_ERROR.NOT_LEADER_OR_FOLLOWER ? KAFKA_ERROR.COORDINATOR_NOT_AVAILABLE : KAFKA_ERROR.REQUEST_TIMED_OUT;
    return refuse(errorCode);
  }
}
