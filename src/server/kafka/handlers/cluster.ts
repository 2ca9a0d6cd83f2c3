// ApiVersions, Metadata and FindCoordinator: what a client needs to find its way around the
// cluster. Every node answers them alike (from its own view of the membership and the leader).
import { KAFKA_ERROR, advertisedApiVersions, supportedApi, API_KEY } from '../../../protocol/kafka/index.ts';
import type {
  ApiVersionsResponse, FindCoordinatorRequest, FindCoordinatorResponse, MetadataRequest, MetadataResponse, MetadataResponseTopic,
} from '../../../protocol/kafka/index.ts';
import { checkTopicName } from '../../../state/log/index.ts';
import type { ClusterView } from '../cluster-view.ts';
import type { RequestContext } from './context.ts';

export function apiVersionsResponse(errorCode: number = KAFKA_ERROR.NONE): ApiVersionsResponse {
  return { errorCode, apiKeys: advertisedApiVersions(), throttleTimeMs: 0 };
}

/** An ApiVersions version we do not serve: a v0 body with UNSUPPORTED_VERSION and the ApiVersions range (KIP-511). */
export function unsupportedApiVersionsResponse(): ApiVersionsResponse {
  const own = supportedApi(API_KEY.ApiVersions)!;
  return { errorCode: KAFKA_ERROR.UNSUPPORTED_VERSION, apiKeys: [{ apiKey: own.apiKey, minVersion: own.minVersion, maxVersion: own.maxVersion }], throttleTimeMs: 0 };
}

/** v0: an empty list means every topic; v1+: null means every topic, empty means none. */
function requestedTopics(version: number, request: MetadataRequest): string[] | null {
  if (request.topics === null || (version === 0 && request.topics.length === 0)) return null;
  return [...new Set(request.topics.map((topic) => topic.name))];
}

export async function handleMetadata(context: RequestContext, request: MetadataRequest): Promise<MetadataResponse> {
  const { core, version } = context;
  const parts = core.parts;
  const names = requestedTopics(version, request);
  const creatable = parts !== undefined && names !== null && core.options.autoCreateTopics && request.allowAutoTopicCreation;
  const missing = creatable ? names.filter((name) => parts.log.describeTopic(name) === undefined) : [];
  // Without a leader nothing can be created: answer at once (LEADER_NOT_AVAILABLE, retriable) rather than hold the request.
  if (missing.length > 0 && core.view().leaderId !== -1) await core.autoCreate(missing);
  else if (!creatable && parts !== undefined && names !== null && core.view().leaderId !== -1) {
    // A topic created through another node may not be applied here yet (followers learn of
    // commits a little later): confirm its absence with a read barrier, so that every topic whose
    // creation was acknowledged before this request is in the answer.
    await core.seeTopics(names);
  }
  const view = core.view();
  const all = parts === undefined ? [] : parts.log.listTopics().map((topic) => topic.name);
  return {
    throttleTimeMs: 0,
    brokers: view.brokers.map((broker) => ({ nodeId: broker.nodeId, host: broker.host, port: broker.port, rack: null })),
    clusterId: core.options.clusterId,
    // kafka-python's admin client sends CreateTopics to the controller: it must be a real broker.
    controllerId: view.leaderId !== -1 ? view.leaderId : view.brokers.length > 0 ? core.self.nodeId : -1,
    topics: (names ?? all).map((name) => topicMetadata(context, name, view, missing.includes(name))),
  };
}

/** `creating`: an auto-creation was attempted (or is impossible right now); if the topic is still missing, the client should retry. */
function topicMetadata(context: RequestContext, name: string, view: ClusterView, creating: boolean): MetadataResponseTopic {
  const invalid = checkTopicName(name);
  const topic = invalid === undefined ? context.core.parts?.log.describeTopic(name) : undefined;
  if (topic === undefined) {
    const errorCode = invalid !== undefined ? KAFKA_ERROR.INVALID_TOPIC_EXCEPTION
      : context.core.parts === undefined || creating ? KAFKA_ERROR.LEADER_NOT_AVAILABLE : KAFKA_ERROR.UNKNOWN_TOPIC_OR_PARTITION;
    return { errorCode, name, isInternal: false, partitions: [] };
  }
  const partitionError = view.leaderId === -1 ? KAFKA_ERROR.LEADER_NOT_AVAILABLE : KAFKA_ERROR.NONE;
  return {
    errorCode: KAFKA_ERROR.NONE,
    name,
    isInternal: false,
    partitions: Array.from({ length: topic.partitions }, (_, partitionIndex) => ({
      errorCode: partitionError, partitionIndex, leaderId: view.leaderId,
      replicaNodes: [...view.replicas], isrNodes: [...view.isr], offlineReplicas: [...view.offline],
    })),
  };
}

/** The group coordinator is the Raft leader; any node tells where it is. Transactions have no coordinator (not supported). */
export function handleFindCoordinator(context: RequestContext, request: FindCoordinatorRequest): FindCoordinatorResponse {
  const refuse = (errorCode: number, errorMessage: string): FindCoordinatorResponse =>
    ({ throttleTimeMs: 0, errorCode, errorMessage, nodeId: -1, host: '', port: -1 });
  if (request.keyType !== 0) return refuse(KAFKA_ERROR.COORDINATOR_NOT_AVAILABLE, 'transactions are not supported: there is no transaction coordinator');
  const view = context.core.view();
  const leader = view.brokers.find((broker) => broker.nodeId === view.leaderId);
  if (leader === undefined) return refuse(KAFKA_ERROR.COORDINATOR_NOT_AVAILABLE, 'no leader is known right now (an election is in progress); retry');
  return { throttleTimeMs: 0, errorCode: KAFKA_ERROR.NONE, errorMessage: null, nodeId: leader.nodeId, host: leader.host, port: leader.port };
}
