// What Metadata and FindCoordinator say about the cluster, taken from live Raft state and the
// replicated member directory (never hard-coded): every member with an advertised Kafka address
// is a broker; the Raft leader is the controller, every partition's leader and the group
// coordinator (one Raft group holds every partition today); replicas are the voters; the ISR is
// the voters the leader sees as caught up.
import type { RaftStatus } from '../../core/index.ts';
import type { BrokerParts } from './options.ts';

export interface BrokerAddress {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

export interface ClusterView {
  /** Sorted by node id; always includes this node. */
  readonly brokers: readonly BrokerAddress[];
  /** The Raft leader when it is known and reachable for Kafka clients, else -1. */
  readonly leaderId: number;
  /** Voters of the current configuration (both halves of a joint one). */
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  /** Voters the leader has not heard from recently (only known on the leader). */
  readonly offline: readonly number[];
}

/** A voter this far behind the commit index is out of the ISR (Kafka's replica.lag.time.max.ms is time-based; Raft gives us entries). */
const ISR_LAG_ENTRIES_MAX = 10_000;

/** "host:port" or "[ipv6]:port" → parts; undefined for anything else. */
export function parseHostPort(address: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  if (match === null) return undefined;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: (match[1] ?? match[2])!, port };
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function brokerAddresses(parts: BrokerParts, self: BrokerAddress): BrokerAddress[] {
  const brokers = new Map<number, BrokerAddress>([[self.nodeId, self]]);
  for (const [id, member] of parts.members.members()) {
    if (id === self.nodeId || member.kafka === undefined || !Number.isInteger(id) || id < 0 || id > 0x7fffffff) continue;
    const address = parseHostPort(member.kafka);
    if (address !== undefined) brokers.set(id, { nodeId: id, ...address });
  }
  return [...brokers.values()].sort((a, b) => a.nodeId - b.nodeId);
}

function votersOf(status: RaftStatus): number[] {
  return [...new Set([...status.config.voters, ...status.config.votersOutgoing])].sort((a, b) => a - b);
}

/**
 * On the leader, the ISR is itself plus the voters that answered recently and are within
 * ISR_LAG_ENTRIES_MAX of the commit index. A follower cannot see replication progress: it
 * reports every voter as in sync (documented in README.md).
 */
function inSync(status: RaftStatus, voters: readonly number[]): { isr: number[]; offline: number[] } {
  if (status.role !== 'leader' || status.progress === undefined) return { isr: [...voters], offline: [] };
  const isr: number[] = [];
  const offline: number[] = [];
  for (const voter of voters) {
    const progress = status.progress[String(voter)];
    const caughtUp = progress !== undefined && progress.match + ISR_LAG_ENTRIES_MAX >= status.commit;
    if (voter === status.id || (progress?.recentActive === true && caughtUp)) isr.push(voter);
    if (voter !== status.id && progress?.recentActive !== true) offline.push(voter);
  }
  return { isr, offline };
}

export function clusterView(parts: BrokerParts | undefined, self: BrokerAddress): ClusterView {
  // Not attached yet (or stopped): this broker alone when it knows its id, no leader.
  if (parts === undefined || parts.raft.isStopped) return { brokers: self.nodeId >= 0 ? [self] : [], leaderId: -1, replicas: [], isr: [], offline: [] };
  const brokers = brokerAddresses(parts, self);
  const status = parts.raft.raftStatus();
  const voters = votersOf(status);
  const { isr, offline } = inSync(status, voters);
  const leaderKnown = status.leaderId !== 0 && brokers.some((broker) => broker.nodeId === status.leaderId);
  return { brokers, leaderId: leaderKnown ? status.leaderId : -1, replicas: voters, isr, offline };
}
