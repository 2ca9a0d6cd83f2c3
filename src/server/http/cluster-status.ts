// The cluster as one node sees it (scope=local), and the cluster-wide view: every member asked
// for its own status in parallel (short deadline), merged with the leader's view of replication.
import type { ConfState, RaftStatus } from '../../core/index.ts';
import type { WireClusterConfig, WireClusterStatus, WireMember, WireMembership, WireProgress } from './api-types.ts';
import type { ApiHost } from './host.ts';
import { httpJson } from './http-json.ts';

/** A member further behind the leader than this is reported unhealthy. */
export const HEALTHY_LAG_ENTRIES = 1000;

const EMPTY_CONFIG: WireClusterConfig = { voters: [], learners: [], votersOutgoing: [], learnersNext: [], joint: false };

export function configToWire(config: ConfState): WireClusterConfig {
  return {
    voters: [...config.voters].sort((a, b) => a - b),
    learners: [...config.learners].sort((a, b) => a - b),
    votersOutgoing: [...config.votersOutgoing].sort((a, b) => a - b),
    learnersNext: [...config.learnersNext].sort((a, b) => a - b),
    joint: config.votersOutgoing.length > 0,
  };
}

function membershipOf(id: number, config: ConfState): WireMembership {
  const incoming = config.voters.includes(id);
  const outgoing = config.votersOutgoing.includes(id);
  const joint = config.votersOutgoing.length > 0;
  if (incoming && (outgoing || !joint)) return 'voter';
  if (incoming) return 'voter-incoming';
  if (outgoing) return 'voter-outgoing';
  if (config.learners.includes(id)) return 'learner';
  return 'none';
}

function progressOf(status: RaftStatus, id: number): WireProgress | undefined {
  const progress = status.progress?.[String(id)];
  if (progress === undefined) return undefined;
  return {
    match: progress.match, next: progress.next, state: progress.state, lagEntries: Math.max(0, status.lastIndex - progress.match),
    recentActive: progress.recentActive, paused: progress.paused, pendingSnapshot: progress.pendingSnapshot,
  };
}

export function localClusterStatus(host: ApiHost): WireClusterStatus {
  const node = host.localStatus();
  const parts = host.running();
  if (parts === undefined) return { clusterId: host.clusterId() ?? null, leaderId: 0, term: 0, config: EMPTY_CONFIG, members: [], node };
  const status = parts.raft.raftStatus();
  const directory = parts.members.members();
  const config = status.config;
  const ids = new Set([...config.voters, ...config.votersOutgoing, ...config.learners, ...directory.keys()]);
  const members: WireMember[] = [...ids].sort((a, b) => a - b).map((id) => {
    const record = directory.get(id);
    const progress = progressOf(status, id);
    return {
      id, peer: record?.peer ?? '', client: record?.client ?? '',
      ...(record?.kafka === undefined ? {} : { kafka: record.kafka }),
      ...(record?.name === undefined ? {} : { name: record.name }),
      ...(record?.autoPromote === true ? { autoPromote: true } : {}),
      membership: membershipOf(id, config), isLeader: id === status.leaderId,
      ...(progress === undefined ? {} : { progress }),
    };
  });
  return { clusterId: host.clusterId() ?? null, leaderId: status.leaderId, term: status.term, config: configToWire(config), members, node };
}

async function askMember(endpoint: string, timeoutMs: number): Promise<WireClusterStatus | string> {
  if (endpoint === '') return 'no client address is known for this member';
  try {
    const answer = await httpJson(endpoint, 'GET', '/v1/cluster?scope=local', { timeoutMs });
    if (answer.status !== 200) return `answered ${answer.status}: ${(answer.body as { message?: string } | null)?.message ?? ''}`;
    return answer.body as WireClusterStatus;
  } catch (error) {
    return (error as Error).message;
  }
}

export async function clusterStatus(host: ApiHost, timeoutMs: number): Promise<WireClusterStatus> {
  const local = localClusterStatus(host);
  const selfId = host.nodeId();
  const answers = await Promise.all(local.members.map((member) => (member.id === selfId ? Promise.resolve(local) : askMember(member.client, timeoutMs))));
  const byId = new Map(local.members.map((member, index) => [member.id, answers[index]!]));
  const leaderView = byId.get(local.leaderId);
  const leaderMembers = typeof leaderView === 'object' ? new Map(leaderView.members.map((member) => [member.id, member])) : undefined;
  const members = local.members.map((member): WireMember => {
    const answer = byId.get(member.id)!;
    const progress = leaderMembers?.get(member.id)?.progress ?? member.progress;
    const { progress: _ignored, ...rest } = member;
    const merged: WireMember = { ...rest, ...(progress === undefined ? {} : { progress }) };
    if (typeof answer === 'string') return { ...merged, statusError: answer, healthy: false };
    const caughtUp = member.id === local.leaderId || (progress !== undefined && progress.lagEntries <= HEALTHY_LAG_ENTRIES);
    return { ...merged, status: answer.node, healthy: answer.node.phase === 'running' && answer.node.leaderId !== 0 && caughtUp };
  });
  return { ...local, members };
}
