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

/**
 * When each voter was last seen active by this leader. The Raft core's `recentActive` flags are
 * cleared at every check-quorum round and set again by the next responses, so sampled alone they
 * would drop every follower from the ISR for a moment each election timeout; remembering the last
 * time each was active, within a window, gives a steady answer.
 */
export class VoterActivity {
  readonly #lastActiveMs = new Map<number, number>();
  readonly #windowMs: number;

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** A new leader counts every voter as active now (a quorum just voted for it). */
  reset(voters: readonly number[], nowMs: number): void {
    this.#lastActiveMs.clear();
    for (const voter of voters) this.#lastActiveMs.set(voter, nowMs);
  }

  /** Records the voters the leader's progress shows as recently active. */
  sample(status: RaftStatus, nowMs: number): void {
    if (status.role !== 'leader' || status.progress === undefined) return;
    for (const [id, progress] of Object.entries(status.progress)) {
      if (progress.recentActive || Number(id) === status.id) this.#lastActiveMs.set(Number(id), nowMs);
    }
  }

  isActive(voter: number, nowMs: number): boolean {
    const last = this.#lastActiveMs.get(voter);
    return last !== undefined && nowMs - last <= this.#windowMs;
  }
}

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

/**
 * On the leader, the ISR is itself plus the voters active within the activity window and within
 * ISR_LAG_ENTRIES_MAX of the commit index. A follower cannot see replication progress: it reports
 * every voter as in sync (documented in README.md).
 */
function inSync(status: RaftStatus, voters: readonly number[], activity: VoterActivity, nowMs: number): { isr: number[]; offline: number[] } {
  if (status.role !== 'leader' || status.progress === undefined) return { isr: [...voters], offline: [] };
  activity.sample(status, nowMs);
  const isr: number[] = [];
  const offline: number[] = [];
  for (const voter of voters) {
    const progress = status.progress[String(voter)];
    const active = voter === status.id || activity.isActive(voter, nowMs);
    if (active && (voter === status.id || (progress !== undefined && progress.match + ISR_LAG_ENTRIES_MAX >= status.commit))) isr.push(voter);
    if (!active) offline.push(voter);
  }
  return { isr, offline };
}

export function clusterView(parts: BrokerParts | undefined, self: BrokerAddress, activity: VoterActivity, nowMs: number): ClusterView {
  // Not attached yet (or stopped): this broker alone when it knows its id, no leader.
  if (parts === undefined || parts.raft.isStopped) return { brokers: self.nodeId >= 0 ? [self] : [], leaderId: -1, replicas: [], isr: [], offline: [] };
  const brokers = brokerAddresses(parts, self);
  const status = parts.raft.raftStatus();
  const voters = votersOf(status);
  const { isr, offline } = inSync(status, voters, activity, nowMs);
  const leaderKnown = status.leaderId !== 0 && brokers.some((broker) => broker.nodeId === status.leaderId);
  return { brokers, leaderId: leaderKnown ? status.leaderId : -1, replicas: voters, isr, offline };
}

/** Voters of the current configuration (both halves of a joint one), sorted. */
export function votersOf(status: RaftStatus): number[] {
  return [...new Set([...status.config.voters, ...status.config.votersOutgoing])].sort((a, b) => a - b);
}
