// CreateTopics and DeleteTopics, served by every node: the command is proposed through Raft (a
// follower forwards it to the leader), and the answer waits until this node's own log state shows
// the change, so a Metadata request to the same node right after sees it.
import { KAFKA_ERROR } from '../../../protocol/kafka/index.ts';
import type { CreatableTopic, CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse } from '../../../protocol/kafka/index.ts';
import { checkTopicSpec, resolveTopicConfig } from '../../../state/log/index.ts';
import type { CreateTopicSpec } from '../../../state/log/index.ts';
import { proposalErrorCode } from '../errors.ts';
import type { RequestContext } from './context.ts';

interface TopicAnswer {
  name: string;
  errorCode: number;
  errorMessage: string | null;
}

/** The spec to create, or the answer when the request itself is wrong. */
function toSpec(context: RequestContext, topic: CreatableTopic): CreateTopicSpec | TopicAnswer {
  const { defaultPartitions, defaultReplicationFactor } = context.core.options;
  const refuse = (errorCode: number, errorMessage: string): TopicAnswer => ({ name: topic.name, errorCode, errorMessage });
  // A manual assignment names brokers per partition; every Cairn node holds every partition, so only its size matters.
  if (topic.assignments.length > 0 && topic.numPartitions !== -1) return refuse(KAFKA_ERROR.INVALID_REQUEST, 'give either numPartitions or a manual assignment, not both');
  const partitions = topic.assignments.length > 0 ? topic.assignments.length : topic.numPartitions === -1 ? defaultPartitions : topic.numPartitions;
  const replicationFactor = topic.replicationFactor === -1 ? defaultReplicationFactor : topic.replicationFactor;
  const configs: Record<string, string> = {};
  for (const config of topic.configs) if (config.value !== null) configs[config.name] = config.value;
  return { name: topic.name, partitions, replicationFactor, configs };
}

export async function handleCreateTopics(context: RequestContext, request: CreateTopicsRequest): Promise<CreateTopicsResponse> {
  const { core, version } = context;
  const answers = new Map<number, TopicAnswer>();
  const specs: { position: number; spec: CreateTopicSpec }[] = [];
  const counts = new Map<string, number>();
  for (const topic of request.topics) counts.set(topic.name, (counts.get(topic.name) ?? 0) + 1);
  request.topics.forEach((topic, position) => {
    if (counts.get(topic.name)! > 1) {
      answers.set(position, { name: topic.name, errorCode: KAFKA_ERROR.INVALID_REQUEST, errorMessage: `topic "${topic.name}" appears more than once in the request` });
      return;
    }
    const spec = toSpec(context, topic);
    if ('errorCode' in spec) answers.set(position, spec);
    else specs.push({ position, spec });
  });
  const log = core.parts?.log;
  if (log === undefined) {
    for (const { position, spec } of specs) answers.set(position, { name: spec.name, errorCode: KAFKA_ERROR.NOT_CONTROLLER, errorMessage: 'this node is not part of a running cluster yet' });
  } else if (request.validateOnly) {
    for (const { position, spec } of specs) answers.set(position, validateOnly(context, spec));
  } else if (specs.length > 0) {
    await create(context, specs, answers, request.timeoutMs);
  }
  return {
    throttleTimeMs: 0,
    topics: request.topics.map((topic, position) => {
      const answer = answers.get(position) ?? { name: topic.name, errorCode: KAFKA_ERROR.NONE, errorMessage: null };
      return { name: answer.name, errorCode: answer.errorCode, errorMessage: version >= 1 ? answer.errorMessage : null };
    }),
  };
}

function validateOnly(context: RequestContext, spec: CreateTopicSpec): TopicAnswer {
  const log = context.core.parts!.log;
  const problem = checkTopicSpec(spec, log.limits);
  if (problem !== undefined) return { name: spec.name, ...problem };
  if (log.describeTopic(spec.name) !== undefined) return { name: spec.name, errorCode: KAFKA_ERROR.TOPIC_ALREADY_EXISTS, errorMessage: `topic "${spec.name}" already exists` };
  const config = resolveTopicConfig(spec.configs ?? {}, log.topicDefaults, log.limits);
  if ('errorCode' in config) return { name: spec.name, ...config };
  return { name: spec.name, errorCode: KAFKA_ERROR.NONE, errorMessage: null };
}

async function create(context: RequestContext, specs: { position: number; spec: CreateTopicSpec }[], answers: Map<number, TopicAnswer>, timeoutMs: number): Promise<void> {
  const { core } = context;
  const chunkSize = core.parts!.log.limits.maxCommandItems;
  for (let start = 0; start < specs.length; start += chunkSize) {
    const chunk = specs.slice(start, start + chunkSize);
    try {
      const result = await core.propose({ type: 'create-topics', topics: chunk.map((item) => item.spec) }, core.requestTimeoutMs(timeoutMs));
      result.topics.forEach((outcome, index) => {
        answers.set(chunk[index]!.position, { name: outcome.name, errorCode: outcome.errorCode, errorMessage: outcome.errorMessage ?? null });
      });
    } catch (error) {
      const errorCode = proposalErrorCode(error) === KAFKA_ERROR.NOT_LEADER_OR_FOLLOWER ? KAFKA_ERROR.NOT_CONTROLLER : proposalErrorCode(error);
      for (const item of chunk) answers.set(item.position, { name: item.spec.name, errorCode, errorMessage: (error as Error).message });
    }
  }
  await core.seeTopics(specs.map((item) => item.spec.name));
}

export async function handleDeleteTopics(context: RequestContext, request: DeleteTopicsRequest): Promise<DeleteTopicsResponse> {
  const { core } = context;
  const names = request.topicNames;
  const codes = names.map(() => KAFKA_ERROR.NONE as number);
  if (core.parts === undefined) return { throttleTimeMs: 0, responses: names.map((name) => ({ name, errorCode: KAFKA_ERROR.NOT_CONTROLLER })) };
  const unique = [...new Set(names)];
  const chunkSize = core.parts.log.limits.maxCommandItems;
  const byName = new Map<string, number>();
  for (let start = 0; start < unique.length; start += chunkSize) {
    const chunk = unique.slice(start, start + chunkSize);
    try {
      const result = await core.propose({ type: 'delete-topics', topics: chunk }, core.requestTimeoutMs(request.timeoutMs));
      for (const outcome of result.topics) byName.set(outcome.name, outcome.errorCode);
    } catch (error) {
      const errorCode = proposalErrorCode(error) === KAFKA_ERROR.NOT_LEADER_OR_FOLLOWER ? KAFKA_ERROR.NOT_CONTROLLER : proposalErrorCode(error);
      for (const name of chunk) byName.set(name, errorCode);
    }
  }
  // Wait until this node has applied the deletions too (a Metadata right after must not show them).
  if (unique.some((name) => byName.get(name) === KAFKA_ERROR.NONE && core.parts!.log.describeTopic(name) !== undefined)) {
    await core.parts.raft.readBarrier().catch(() => undefined);
  }
  names.forEach((name, index) => { codes[index] = byName.get(name) ?? KAFKA_ERROR.UNKNOWN_SERVER_ERROR; });
  return { throttleTimeMs: 0, responses: names.map((name, index) => ({ name, errorCode: codes[index]! })) };
}
