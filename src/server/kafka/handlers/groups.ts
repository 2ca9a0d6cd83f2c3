// Consumer group requests. The coordinator is the Raft leader; every other node answers
// NOT_COORDINATOR so the client asks FindCoordinator again. Membership lives in the leader's memory
// (GroupCoordinator); committed offsets go through Raft and are read back from the log state.
import { KAFKA_ERROR } from '../../../protocol/kafka/index.ts';
import type {
  DescribeGroupsRequest, DescribeGroupsResponse, DescribedGroup, HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse,
  LeaveGroupRequest, LeaveGroupResponse, ListGroupsResponse, OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest,
  OffsetFetchResponse, OffsetFetchResponseTopic, SyncGroupRequest, SyncGroupResponse,
} from '../../../protocol/kafka/index.ts';
import { checkGroupId } from '../../../state/log/index.ts';
import type { CommitOffset, CommittedOffset } from '../../../state/log/index.ts';
import { chunkItems } from '../chunks.ts';
import { proposalErrorCode } from '../errors.ts';
import type { RequestContext } from './context.ts';

const EMPTY = new Uint8Array(0);
/** DescribeGroups v3+: "authorized operations not requested". */
const OPERATIONS_NOT_REQUESTED = -2147483648;

function coordinating(context: RequestContext): boolean {
  return context.core.parts !== undefined && context.core.isLeader();
}

function invalidGroup(context: RequestContext, groupId: string): boolean {
  return groupId === '' || checkGroupId(groupId, context.core.parts!.log.limits) !== undefined;
}

export async function handleJoinGroup(context: RequestContext, request: JoinGroupRequest): Promise<JoinGroupResponse> {
  const refuse = (errorCode: number): JoinGroupResponse =>
    ({ throttleTimeMs: 0, errorCode, generationId: -1, protocolName: '', leader: '', memberId: request.memberId, members: [] });
  if (!coordinating(context)) return refuse(KAFKA_ERROR.NOT_COORDINATOR);
  if (invalidGroup(context, request.groupId)) return refuse(KAFKA_ERROR.INVALID_GROUP_ID);
  const outcome = await context.core.groups.join(request, { clientId: context.clientId, clientHost: context.clientHost });
  return { throttleTimeMs: 0, ...outcome };
}

export async function handleSyncGroup(context: RequestContext, request: SyncGroupRequest): Promise<SyncGroupResponse> {
  if (!coordinating(context)) return { throttleTimeMs: 0, errorCode: KAFKA_ERROR.NOT_COORDINATOR, assignment: EMPTY };
  const outcome = await context.core.groups.sync(request.groupId, request.generationId, request.memberId, request.assignments);
  return { throttleTimeMs: 0, ...outcome };
}

export function handleHeartbeat(context: RequestContext, request: HeartbeatRequest): HeartbeatResponse {
  if (!coordinating(context)) return { throttleTimeMs: 0, errorCode: KAFKA_ERROR.NOT_COORDINATOR };
  return { throttleTimeMs: 0, errorCode: context.core.groups.heartbeat(request.groupId, request.generationId, request.memberId) };
}

/** v0–2 name one member; v3 a list, answered per member. */
export function handleLeaveGroup(context: RequestContext, request: LeaveGroupRequest): LeaveGroupResponse {
  const leaving = context.version >= 3 ? request.members : [{ memberId: request.memberId, groupInstanceId: null }];
  if (!coordinating(context)) return { throttleTimeMs: 0, errorCode: KAFKA_ERROR.NOT_COORDINATOR, members: [] };
  const codes = context.core.groups.leave(request.groupId, leaving.map((member) => member.memberId));
  const members = leaving.map((member, index) => ({ memberId: member.memberId, groupInstanceId: member.groupInstanceId, errorCode: codes[index]! }));
  const errorCode = context.version >= 3 ? KAFKA_ERROR.NONE : codes[0]!;
  return { throttleTimeMs: 0, errorCode, members: context.version >= 3 ? members : [] };
}

export function handleDescribeGroups(context: RequestContext, request: DescribeGroupsRequest): DescribeGroupsResponse {
  const describe = (groupId: string): DescribedGroup => {
    const base = { groupId, protocolType: '', protocolData: '', members: [], authorizedOperations: OPERATIONS_NOT_REQUESTED };
    if (!coordinating(context)) return { ...base, errorCode: KAFKA_ERROR.NOT_COORDINATOR, groupState: '' };
    if (invalidGroup(context, groupId)) return { ...base, errorCode: KAFKA_ERROR.INVALID_GROUP_ID, groupState: '' };
    const group = context.core.groups.describe(groupId);
    if (group === undefined) {
      // Not in memory: "Empty" when it has committed offsets (as Kafka shows them), else "Dead".
      const hasOffsets = context.core.parts!.log.fetchOffsets(groupId).length > 0;
      return { ...base, errorCode: KAFKA_ERROR.NONE, groupState: hasOffsets ? 'Empty' : 'Dead' };
    }
    return {
      ...base, errorCode: KAFKA_ERROR.NONE, groupState: group.state, protocolType: group.protocolType, protocolData: group.protocolName,
      members: group.members.map((member) => ({
        memberId: member.memberId, groupInstanceId: member.groupInstanceId, clientId: member.clientId, clientHost: member.clientHost,
        memberMetadata: member.metadata, memberAssignment: member.assignment,
      })),
    };
  };
  return { throttleTimeMs: 0, groups: request.groups.map(describe) };
}

/**
 * The groups this node coordinates: on the leader, the live ones and those with committed
 * offsets; on a follower none (admin clients ask every broker and merge the answers).
 */
export function handleListGroups(context: RequestContext): ListGroupsResponse {
  if (!coordinating(context)) return { throttleTimeMs: 0, errorCode: KAFKA_ERROR.NONE, groups: [] };
  const groups = new Map<string, string>();
  for (const groupId of context.core.parts!.log.listGroups()) groups.set(groupId, '');
  for (const group of context.core.groups.list()) groups.set(group.groupId, group.protocolType);
  return { throttleTimeMs: 0, errorCode: KAFKA_ERROR.NONE, groups: [...groups].map(([groupId, protocolType]) => ({ groupId, protocolType })) };
}

export async function handleOffsetCommit(context: RequestContext, request: OffsetCommitRequest): Promise<OffsetCommitResponse> {
  const codes = request.topics.map((topic) => topic.partitions.map(() => KAFKA_ERROR.NONE as number));
  const respond = (): OffsetCommitResponse => ({
    throttleTimeMs: 0,
    topics: request.topics.map((topic, t) => ({ name: topic.name, partitions: topic.partitions.map((partition, p) => ({ partitionIndex: partition.partitionIndex, errorCode: codes[t]![p]! })) })),
  });
  const everyone = (errorCode: number): OffsetCommitResponse => {
    for (const list of codes) list.fill(errorCode);
    return respond();
  };
  if (!coordinating(context)) return everyone(KAFKA_ERROR.NOT_COORDINATOR);
  if (invalidGroup(context, request.groupId)) return everyone(KAFKA_ERROR.INVALID_GROUP_ID);
  const allowed = context.core.groups.checkCommit(request.groupId, request.generationIdOrMemberEpoch, request.memberId);
  if (allowed !== KAFKA_ERROR.NONE) return everyone(allowed);
  const offsets: { at: [number, number]; offset: CommitOffset }[] = [];
  request.topics.forEach((topic, t) => topic.partitions.forEach((partition, p) => {
    if (partition.committedOffset > BigInt(Number.MAX_SAFE_INTEGER) || partition.committedOffset < -1n) {
      codes[t]![p] = KAFKA_ERROR.OFFSET_OUT_OF_RANGE;
      return;
    }
    offsets.push({
      at: [t, p],
      offset: {
        topic: topic.name, partition: partition.partitionIndex, offset: Number(partition.committedOffset),
        ...(partition.committedLeaderEpoch >= 0 ? { leaderEpoch: partition.committedLeaderEpoch } : {}),
        ...(partition.committedMetadata === null ? {} : { metadata: partition.committedMetadata }),
      },
    });
  }));
  await commitInChunks(context, request.groupId, offsets, codes);
  return respond();
}

async function commitInChunks(context: RequestContext, group: string, offsets: { at: [number, number]; offset: CommitOffset }[], codes: number[][]): Promise<void> {
  const { core } = context;
  const chunks: Promise<void>[] = [];
  const sizeOf = (item: { offset: CommitOffset }): number => 32 + item.offset.topic.length + (item.offset.metadata?.length ?? 0);
  for (const chunk of chunkItems(offsets, sizeOf, core.parts!.log.limits.maxCommandItems, core.options.limits.proposalBytesMax)) {
    const command = { type: 'commit-offsets' as const, group, timestampMs: core.options.wallClockMs(), offsets: chunk.map((item) => item.offset) };
    chunks.push(core.propose(command, core.options.limits.requestTimeoutMsMax).then(
      (result) => result.partitions.forEach((outcome, index) => {
        const [t, p] = chunk[index]!.at;
        codes[t]![p] = outcome.errorCode;
      }),
      (error: unknown) => {
        const errorCode = proposalErrorCode(error, 'coordinator');
        for (const { at: [t, p] } of chunk) codes[t]![p] = errorCode;
      },
    ));
  }
  await Promise.all(chunks);
}

export async function handleOffsetFetch(context: RequestContext, request: OffsetFetchRequest): Promise<OffsetFetchResponse> {
  const { core, version } = context;
  const refuse = (errorCode: number): OffsetFetchResponse => ({
    throttleTimeMs: 0,
    errorCode: version >= 2 ? errorCode : KAFKA_ERROR.NONE,
    topics: (request.topics ?? []).map((topic) => ({
      name: topic.name,
      partitions: topic.partitionIndexes.map((partitionIndex) => ({ partitionIndex, committedOffset: -1n, committedLeaderEpoch: -1, metadata: '', errorCode })),
    })),
  });
  if (!coordinating(context)) return refuse(KAFKA_ERROR.NOT_COORDINATOR);
  if (invalidGroup(context, request.groupId)) return refuse(KAFKA_ERROR.INVALID_GROUP_ID);
  try {
    // After a failover, the new leader first applies every commit an earlier leader acknowledged.
    await core.leaderCaughtUp();
  } catch (error) {
    return refuse(proposalErrorCode(error, 'coordinator'));
  }
  const log = core.parts!.log;
  const wanted = request.topics?.flatMap((topic) => topic.partitionIndexes.map((partition) => ({ topic: topic.name, partition })));
  const found = log.fetchOffsets(request.groupId, wanted);
  return { throttleTimeMs: 0, errorCode: KAFKA_ERROR.NONE, topics: byTopic(found) };
}

function byTopic(offsets: readonly CommittedOffset[]): OffsetFetchResponseTopic[] {
  const topics = new Map<string, OffsetFetchResponseTopic>();
  for (const offset of offsets) {
    let topic = topics.get(offset.topic);
    if (topic === undefined) topics.set(offset.topic, (topic = { name: offset.topic, partitions: [] }));
    topic.partitions.push({
      partitionIndex: offset.partition, committedOffset: BigInt(offset.offset), committedLeaderEpoch: offset.leaderEpoch,
      metadata: offset.metadata, errorCode: offset.errorCode,
    });
  }
  return [...topics.values()];
}
