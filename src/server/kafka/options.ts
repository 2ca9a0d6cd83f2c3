// Options of the Kafka broker: where it listens, what it needs from the node, and a limit on
// everything that grows per connection and in total. Defaults follow Kafka's broker defaults where
// one exists (socket.request.max.bytes, connections.max.idle.ms, group.*.session.timeout.ms,
// log.retention.check.interval.ms, producer.id.expiration.ms).
import type { RaftStatus, RoleName } from '../../core/index.ts';
import { DEFAULT_DECODE_LIMITS } from '../../protocol/kafka/index.ts';
import type { KafkaDecodeLimits } from '../../protocol/kafka/index.ts';
import type { NodeLogger } from '../../runtime/logger.ts';
import type { LogState } from '../../state/log/index.ts';
import type { MemberDirectory } from '../../state/members/member-directory.ts';
import { SYSTEM_CLOCK } from '../../util/clock.ts';
import type { Clock } from '../../util/clock.ts';

/** The part of RaftNode the broker uses (RaftNode satisfies it). */
export interface BrokerRaft {
  readonly id: number;
  readonly role: RoleName;
  readonly leaderId: number;
  readonly term: number;
  readonly isStopped: boolean;
  /** Resolves with the apply result once committed and applied; forwards to the leader from a follower. */
  propose(data: Uint8Array, timeoutMs?: number): Promise<unknown>;
  /** Resolves once this node has applied everything committed before the call. */
  readBarrier(timeoutMs?: number): Promise<void>;
  raftStatus(): RaftStatus;
  onRole(listener: (change: { role: RoleName; leaderId: number; term: number }) => void): () => void;
}

/** What the broker needs from a running node; given at construction or later with attach(). */
export interface BrokerParts {
  /** This node's id: its Kafka broker id (Raft node ids are Kafka broker ids). */
  readonly nodeId: number;
  readonly raft: BrokerRaft;
  readonly log: LogState;
  /** The replicated member directory: every member's advertised Kafka address (`kafka`). */
  readonly members: MemberDirectory;
}

/** One answered request, for metrics and the dashboard (options.onRequestServed). */
export interface KafkaRequestObservation {
  readonly apiKey: number;
  /** From decoding to the answer (a Fetch's long-poll wait included, as in Kafka's TotalTimeMs). */
  readonly seconds: number;
  /** The answer carries an error code (top level or any partition of a Produce or Fetch). */
  readonly failed: boolean;
  /** Record bytes carried: sent by a Produce, returned by a Fetch; 0 for other requests. */
  readonly recordBytes: number;
}

export interface KafkaBrokerLimits {
  /** Largest request frame (Kafka socket.request.max.bytes). */
  readonly frameBytesMax: number;
  /** Bounds of every decoded array, string and bytes field. */
  readonly decode: KafkaDecodeLimits;
  readonly connectionsMax: number;
  /** Requests read but not yet answered on one connection; reading pauses beyond it. */
  readonly inFlightRequestsPerConnectionMax: number;
  /** Requests in flight over all connections; every connection pauses reading beyond it. */
  readonly inFlightRequestsMax: number;
  /** Bytes of request frames in flight over all connections; reading pauses beyond it. */
  readonly inFlightBytesMax: number;
  /** Connections idle this long are closed (Kafka connections.max.idle.ms). */
  readonly idleConnectionMs: number;
  /** A Fetch never waits longer than this, whatever its max wait says. */
  readonly fetchWaitMsMax: number;
  /**
   * A Fetch response carries at most this many record bytes, whatever it asks for (the first batch
   * excepted, KIP-74). The leader reads and encodes a response in one go on its event loop, where
   * Raft's heartbeats wait meanwhile, so this bounds how long one Fetch may hold them up.
   */
  readonly fetchResponseBytesMax: number;
  /**
   * Bytes of records or offsets in one log command: a request carrying more is split into several
   * proposals (a Raft entry must stay far below the peer transport's frame limit).
   */
  readonly proposalBytesMax: number;
  /** Produce, CreateTopics and the like wait at most this long for the commit. */
  readonly requestTimeoutMsMax: number;
  /** Consumer groups held in memory on the coordinator. */
  readonly groupsMax: number;
  readonly membersPerGroupMax: number;
}

export const DEFAULT_KAFKA_BROKER_LIMITS: KafkaBrokerLimits = {
  frameBytesMax: 100 * 1024 * 1024,
  decode: DEFAULT_DECODE_LIMITS,
  connectionsMax: 10_000,
  inFlightRequestsPerConnectionMax: 100,
  inFlightRequestsMax: 20_000,
  inFlightBytesMax: 512 * 1024 * 1024,
  idleConnectionMs: 10 * 60 * 1000,
  fetchWaitMsMax: 30_000,
  // 8 MiB: a 48 MiB answer (three partitions at a consumer's 16 MiB each) held a leader's event
  // loop 150-630 ms here, long enough for its followers to elect another leader.
  fetchResponseBytesMax: 8 * 1024 * 1024,
  proposalBytesMax: 4 * 1024 * 1024,
  requestTimeoutMsMax: 60_000,
  groupsMax: 10_000,
  membersPerGroupMax: 1_000,
};

export interface KafkaGroupSettings {
  /** Kafka group.min.session.timeout.ms. */
  readonly minSessionTimeoutMs: number;
  /** Kafka group.max.session.timeout.ms. */
  readonly maxSessionTimeoutMs: number;
  /** Kafka group.initial.rebalance.delay.ms: how long a new group waits for more members. */
  readonly initialRebalanceDelayMs: number;
  /** How often the coordinator checks session and rebalance deadlines. */
  readonly checkIntervalMs: number;
}

export const DEFAULT_GROUP_SETTINGS: KafkaGroupSettings = {
  minSessionTimeoutMs: 6_000,
  maxSessionTimeoutMs: 1_800_000,
  initialRebalanceDelayMs: 3_000,
  checkIntervalMs: 100,
};

export interface KafkaBrokerOptions {
  /** Where to listen; port 0 binds an ephemeral port (read it back from start()). */
  readonly listen: { readonly host: string; readonly port: number };
  /**
   * host:port clients should use for this broker (Kafka advertised.listeners). Default: the bound
   * address, which must then not be a wildcard.
   */
  readonly advertisedAddress?: string;
  /** Kafka's cluster id in Metadata v2+. */
  readonly clusterId?: string;
  /** The node's parts; omit them to start listening before the node runs, then call attach(). */
  readonly parts?: BrokerParts;
  /** Monotonic time and timers (group sessions, long polls, duties). */
  readonly clock?: Clock;
  /** Wall-clock milliseconds since the epoch (append times, retention). */
  readonly wallClockMs?: () => number;
  readonly logger?: NodeLogger;
  readonly limits?: Partial<KafkaBrokerLimits>;
  readonly groups?: Partial<KafkaGroupSettings>;
  /** Create unknown topics named in Metadata (when the client allows it) and Produce. Default true. */
  readonly autoCreateTopics?: boolean;
  /** Partitions of auto-created topics and of CreateTopics with -1 (Kafka num.partitions). Default 1. */
  readonly defaultPartitions?: number;
  /** Replication factor recorded for topics created with -1 (informational: every node holds every partition). Default 3. */
  readonly defaultReplicationFactor?: number;
  /** How often the leader proposes retention trims and producer expiry (Kafka log.retention.check.interval.ms). */
  readonly retentionCheckIntervalMs?: number;
  /** Producer state idle this long is dropped (Kafka producer.id.expiration.ms). */
  readonly producerExpirationMs?: number;
  /**
   * A voter the leader has not heard from for this long leaves the ISR in Metadata (Kafka's
   * replica.lag.time.max.ms; Raft's check-quorum adds up to an election timeout). Default 3 s.
   */
  readonly isrWindowMs?: number;
  /** Called after every answered request (metrics, dashboard); must be cheap and must not throw. */
  readonly onRequestServed?: (observation: KafkaRequestObservation) => void;
}

export interface ResolvedBrokerOptions {
  readonly listen: { readonly host: string; readonly port: number };
  readonly advertisedAddress: string | undefined;
  readonly clusterId: string;
  readonly clock: Clock;
  readonly wallClockMs: () => number;
  readonly logger: NodeLogger;
  readonly limits: KafkaBrokerLimits;
  readonly groups: KafkaGroupSettings;
  readonly autoCreateTopics: boolean;
  readonly defaultPartitions: number;
  readonly defaultReplicationFactor: number;
  readonly retentionCheckIntervalMs: number;
  readonly producerExpirationMs: number;
  readonly isrWindowMs: number;
  readonly onRequestServed: ((observation: KafkaRequestObservation) => void) | undefined;
}

const SILENT: NodeLogger = { debug() {}, info() {}, warn() {}, error() {} };

export class KafkaBrokerError extends Error {
  override name = 'KafkaBrokerError';
  readonly code: 'invalid-option' | 'listen-failed' | 'already-started' | 'already-attached';

  constructor(code: KafkaBrokerError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new KafkaBrokerError('invalid-option', `Kafka broker option ${name} must be a whole number >= 1 (got ${value})`);
  return value;
}

export function resolveBrokerOptions(options: KafkaBrokerOptions): ResolvedBrokerOptions {
  const limits = { ...DEFAULT_KAFKA_BROKER_LIMITS, ...options.limits, decode: { ...DEFAULT_DECODE_LIMITS, ...options.limits?.decode } };
  for (const [name, value] of Object.entries(limits)) if (typeof value === 'number') positiveInteger(value, `limits.${name}`);
  const groups = { ...DEFAULT_GROUP_SETTINGS, ...options.groups };
  for (const [name, value] of Object.entries(groups)) if (name !== 'initialRebalanceDelayMs') positiveInteger(value, `groups.${name}`);
  if (!Number.isSafeInteger(groups.initialRebalanceDelayMs) || groups.initialRebalanceDelayMs < 0) {
    throw new KafkaBrokerError('invalid-option', 'Kafka broker option groups.initialRebalanceDelayMs must be a whole number >= 0');
  }
  if (groups.minSessionTimeoutMs > groups.maxSessionTimeoutMs) throw new KafkaBrokerError('invalid-option', 'groups.minSessionTimeoutMs exceeds groups.maxSessionTimeoutMs');
  const port = options.listen.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new KafkaBrokerError('invalid-option', `Kafka listen port ${port} is not a port number (0 = ephemeral)`);
  return {
    listen: options.listen,
    advertisedAddress: options.advertisedAddress,
    clusterId: options.clusterId ?? 'cairn',
    clock: options.clock ?? SYSTEM_CLOCK,
    wallClockMs: options.wallClockMs ?? Date.now,
    logger: options.logger ?? SILENT,
    limits,
    groups,
    autoCreateTopics: options.autoCreateTopics ?? true,
    defaultPartitions: positiveInteger(options.defaultPartitions ?? 1, 'defaultPartitions'),
    defaultReplicationFactor: positiveInteger(options.defaultReplicationFactor ?? 3, 'defaultReplicationFactor'),
    retentionCheckIntervalMs: positiveInteger(options.retentionCheckIntervalMs ?? 300_000, 'retentionCheckIntervalMs'),
    producerExpirationMs: positiveInteger(options.producerExpirationMs ?? 24 * 3600 * 1000, 'producerExpirationMs'),
    isrWindowMs: positiveInteger(options.isrWindowMs ?? 3_000, 'isrWindowMs'),
    onRequestServed: options.onRequestServed,
  };
}
