// Everything a Cairn node can be told, with defaults, checked once: a bad value fails with a
// CairnNodeError that names the setting (`setting`), so the CLI can point at its flag.
import type { InjectedRaftBug } from '../../core/index.ts';
import type { NodeLogger } from '../../runtime/logger.ts';
import type { InjectedRuntimeBug } from '../../runtime/ready-processor.ts';
import { RAFT_NODE_DEFAULTS } from '../../runtime/raft-node.ts';
import { DEFAULT_KV_LIMITS } from '../../state/kv/commands.ts';
import { splitEndpoint } from '../http/http-json.ts';

export type CairnNodeErrorCode =
  | 'invalid-option'
  | 'data-dir-locked'
  | 'node-id-mismatch'
  | 'cluster-id-mismatch'
  | 'identity-missing'
  | 'already-initialized'
  | 'join-refused'
  | 'join-failed'
  | 'start-failed';

export class CairnNodeError extends Error {
  override name = 'CairnNodeError';
  readonly code: CairnNodeErrorCode;
  /** For 'invalid-option': the option's name in CairnNodeOptions. */
  readonly setting: string | undefined;

  constructor(code: CairnNodeErrorCode, message: string, setting?: string) {
    super(message);
    this.code = code;
    this.setting = setting;
  }
}

export interface CairnNodeOptions {
  /** Where the node keeps everything: raft/ (WAL, snapshots), state/ (lmdb), node.json, LOCK. */
  readonly dataDir: string;
  /**
   * This node's id (>= 1). Optional: on restart it is read from node.json; `init` defaults to 1;
   * a joining node without one picks a random id. Given and different from node.json: refused.
   */
  readonly nodeId?: number;
  /** A human name shown in status output. */
  readonly name?: string;
  /** Optional: generated at init, learned when joining. Given and different from node.json: refused. */
  readonly clusterId?: string;
  /** Shared by every member: authenticates peer connections and join requests. */
  readonly clusterSecret: string;
  /** host:port the peer (Raft) listener binds. Default 127.0.0.1:0 (an ephemeral port). */
  readonly peerListen?: string;
  /** host:port other members dial. Default: the bound listen address (needed when binding 0.0.0.0). */
  readonly peerAdvertise?: string;
  /** host:port the HTTP API binds. Default 127.0.0.1:0. */
  readonly clientListen?: string;
  readonly clientAdvertise?: string;
  /** host:port the Kafka protocol listener binds. Default 127.0.0.1:0. */
  readonly kafkaListen?: string;
  /** host:port given to Kafka clients in Metadata. Default: the bound listen address. */
  readonly kafkaAdvertise?: string;
  /** Create a topic when a client asks for an unknown one (Metadata, Produce), as Kafka does by default. */
  readonly kafkaAutoCreateTopics?: boolean;
  /** Partitions of auto-created topics. */
  readonly kafkaDefaultPartitions?: number;
  /** Create a new cluster with this node as its only voter, if the data directory is empty. */
  readonly init?: boolean;
  /** Client (HTTP) addresses of running members: join their cluster as a learner, if empty. */
  readonly join?: readonly string[];
  /** With join: stay a learner (never promoted automatically). */
  readonly learner?: boolean;
  /** Peers to contact before this node has a membership of its own: node id -> peer host:port. */
  readonly seedPeers?: Readonly<Record<string, string>>;
  /**
   * Peer addresses this node dials instead of those the cluster recorded: node id -> host:port.
   * For routing links through proxies (the chaos suite); other members are unaffected.
   */
  readonly peerAddressOverrides?: Readonly<Record<string, string>>;
  readonly tickMs?: number;
  readonly electionTimeoutTicks?: number;
  readonly heartbeatIntervalTicks?: number;
  /** Deadline of proposals, linearizable reads and membership changes. */
  readonly requestTimeoutMs?: number;
  /** Snapshot (and compact the log) after this many applied entries, or this many bytes of them. */
  readonly snapshotEveryEntries?: number;
  readonly snapshotEveryBytes?: number;
  /** The log tail kept behind a snapshot for slow followers: at most this many entries and bytes. */
  readonly entriesKeptAfterSnapshot?: number;
  readonly bytesKeptAfterSnapshot?: number;
  readonly pendingRequestsMax?: number;
  /** KV limits. Must be equal on every member (apply enforces them). */
  readonly maxKeyBytes?: number;
  readonly maxValueBytes?: number;
  readonly maxTxnOperations?: number;
  /** Largest HTTP request body. Default 2 × maxValueBytes + 1 MiB (a base64 value fits). */
  readonly maxRequestBodyBytes?: number;
  readonly maxUrlBytes?: number;
  readonly maxHeaderBytes?: number;
  readonly maxConnections?: number;
  readonly maxWatchers?: number;
  /** A watch whose client reads too slowly is cancelled ('watch-too-slow') past this many buffered events or bytes. */
  readonly watchMaxPendingEvents?: number;
  readonly watchMaxPendingBytes?: number;
  readonly httpHeadersTimeoutMs?: number;
  readonly httpRequestTimeoutMs?: number;
  readonly httpKeepAliveTimeoutMs?: number;
  readonly watchHeartbeatMs?: number;
  readonly readyTimeoutMs?: number;
  /** How often the leader checks for expired leases. */
  readonly leaseCheckIntervalMs?: number;
  /** How often the leader checkpoints remaining lease TTLs (so a failover does not renew them fully). */
  readonly leaseCheckpointIntervalMs?: number;
  /** The leader compacts KV history older than this many revisions (0: never). */
  readonly compactionRetainRevisions?: number;
  readonly compactionIntervalMs?: number;
  /** Give up joining after this long (retrying while the cluster has no leader). */
  readonly joinTimeoutMs?: number;
  /** A leader that stops hands leadership to another voter first (faster failover). */
  readonly transferLeadershipOnStop?: boolean;
  readonly walSegmentMaxBytes?: number;
  readonly lmdbMapSizeBytes?: number;
  /** A snapshot larger than this goes to a follower in parts of this size (a peer frame is at most 64 MiB). */
  readonly snapshotPartBytes?: number;
  /** Process metrics (CPU, memory, event loop) on /metrics. */
  readonly processMetrics?: boolean;
  /** pino (or anything with its four methods). Default: silent. */
  readonly logger?: NodeLogger;
}

/**
 * Known bugs switched on to prove that the chaos suite catches them (`CAIRN_INJECT_BUGS`, read by
 * `cairn serve`; set only by tests). Kept out of CairnNodeOptions, so no setting, flag or config
 * key can ever enable them.
 */
export interface InjectedNodeBugs {
  readonly raftBugs?: ReadonlySet<InjectedRaftBug>;
  readonly runtimeBugs?: ReadonlySet<InjectedRuntimeBug>;
}

export const CAIRN_NODE_DEFAULTS = {
  peerListen: '127.0.0.1:0',
  clientListen: '127.0.0.1:0',
  kafkaListen: '127.0.0.1:0',
  kafkaAutoCreateTopics: true,
  kafkaDefaultPartitions: 1,
  tickMs: RAFT_NODE_DEFAULTS.tickMs,
  electionTimeoutTicks: RAFT_NODE_DEFAULTS.electionTimeoutTicks,
  heartbeatIntervalTicks: RAFT_NODE_DEFAULTS.heartbeatIntervalTicks,
  requestTimeoutMs: RAFT_NODE_DEFAULTS.requestTimeoutMs,
  snapshotEveryEntries: RAFT_NODE_DEFAULTS.snapshotEveryEntries,
  snapshotEveryBytes: RAFT_NODE_DEFAULTS.snapshotEveryBytes,
  bytesKeptAfterSnapshot: RAFT_NODE_DEFAULTS.bytesKeptAfterSnapshot,
  entriesKeptAfterSnapshot: RAFT_NODE_DEFAULTS.entriesKeptAfterSnapshot,
  pendingRequestsMax: RAFT_NODE_DEFAULTS.pendingRequestsMax,
  maxKeyBytes: DEFAULT_KV_LIMITS.maxKeyBytes,
  maxValueBytes: DEFAULT_KV_LIMITS.maxValueBytes,
  maxTxnOperations: DEFAULT_KV_LIMITS.maxTxnOperations,
  maxUrlBytes: 32 * 1024,
  maxHeaderBytes: 48 * 1024,
  maxConnections: 10_000,
  maxWatchers: 10_000,
  watchMaxPendingEvents: 10_000,
  watchMaxPendingBytes: 16 * 1024 * 1024,
  httpHeadersTimeoutMs: 10_000,
  httpRequestTimeoutMs: 30_000,
  httpKeepAliveTimeoutMs: 65_000,
  watchHeartbeatMs: 10_000,
  readyTimeoutMs: 2_000,
  leaseCheckIntervalMs: 500,
  leaseCheckpointIntervalMs: 10_000,
  compactionRetainRevisions: 100_000,
  compactionIntervalMs: 60_000,
  joinTimeoutMs: 60_000,
  transferLeadershipOnStop: true,
  walSegmentMaxBytes: 64 * 1024 * 1024,
  lmdbMapSizeBytes: 64 * 1024 ** 3,
  snapshotPartBytes: 4 * 1024 * 1024,
  processMetrics: true,
} as const;

type Defaulted = { -readonly [K in keyof typeof CAIRN_NODE_DEFAULTS]: (typeof CAIRN_NODE_DEFAULTS)[K] extends boolean ? boolean : (typeof CAIRN_NODE_DEFAULTS)[K] extends string ? string : number };

export type ResolvedNodeOptions = Omit<CairnNodeOptions, keyof Defaulted | 'maxRequestBodyBytes'> & Defaulted & { readonly maxRequestBodyBytes: number };

const MAX_ID = Number.MAX_SAFE_INTEGER;

function invalid(setting: string, problem: string): never {
  throw new CairnNodeError('invalid-option', `option ${setting} ${problem}`, setting);
}

function checkInteger(options: Record<string, unknown>, name: string, min: number, max: number): void {
  const value = options[name];
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) invalid(name, `must be a whole number from ${min} to ${max} (got ${String(value)})`);
}

function checkAddress(options: Record<string, unknown>, name: string, mayBePortZero: boolean): void {
  const value = options[name];
  if (value === undefined) return;
  const zero = typeof value === 'string' && /:0$/.test(value);
  if (typeof value !== 'string' || (splitEndpoint(value) === undefined && !(mayBePortZero && zero && splitEndpoint(value.replace(/:0$/, ':1')) !== undefined))) {
    invalid(name, `must be host:port (IPv6 as [addr]:port), got ${JSON.stringify(value)}`);
  }
}

export function resolveNodeOptions(options: CairnNodeOptions): ResolvedNodeOptions {
  const raw = options as unknown as Record<string, unknown>;
  if (typeof options.dataDir !== 'string' || options.dataDir.length === 0) invalid('dataDir', 'is required (a directory path)');
  if (typeof options.clusterSecret !== 'string' || options.clusterSecret.length < 8) invalid('clusterSecret', 'is required: a shared secret of at least 8 characters');
  checkInteger(raw, 'nodeId', 1, MAX_ID);
  if (options.clusterId !== undefined && (typeof options.clusterId !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(options.clusterId))) invalid('clusterId', 'must be 1-64 letters, digits, ".", "_" or "-"');
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name.length > 128)) invalid('name', 'must be a string of at most 128 characters');
  for (const name of ['peerListen', 'clientListen', 'kafkaListen']) checkAddress(raw, name, true);
  for (const name of ['peerAdvertise', 'clientAdvertise', 'kafkaAdvertise']) checkAddress(raw, name, false);
  if (options.init === true && options.join !== undefined && options.join.length > 0) invalid('join', 'cannot be combined with init: a node either creates a cluster or joins one');
  if (options.join !== undefined) {
    if (!Array.isArray(options.join) || options.join.length === 0) invalid('join', 'must list at least one member client address');
    options.join.forEach((endpoint, index) => checkAddress({ [`join[${index}]`]: endpoint }, `join[${index}]`, false));
  }
  for (const name of ['seedPeers', 'peerAddressOverrides'] as const) {
    for (const [id, address] of Object.entries(options[name] ?? {})) {
      if (!/^[1-9][0-9]{0,15}$/.test(id)) invalid(name, `has a key ${JSON.stringify(id)} that is not a node id`);
      checkAddress({ [name]: address }, name, false);
    }
  }
  const bounds: [string, number, number][] = [
    ['tickMs', 1, 60_000], ['electionTimeoutTicks', 2, 10_000], ['heartbeatIntervalTicks', 1, 10_000], ['requestTimeoutMs', 1, 600_000],
    ['snapshotEveryEntries', 1, 1e9], ['entriesKeptAfterSnapshot', 0, 1e9], ['snapshotEveryBytes', 1024, 2 ** 40], ['bytesKeptAfterSnapshot', 0, 2 ** 40], ['pendingRequestsMax', 1, 1e7],
    ['maxKeyBytes', 1, 1_000_000], ['maxValueBytes', 1, 64 * 1024 * 1024], ['maxTxnOperations', 1, 100_000],
    ['maxRequestBodyBytes', 1024, 1024 * 1024 * 1024], ['maxUrlBytes', 256, 1024 * 1024], ['maxHeaderBytes', 1024, 1024 * 1024],
    ['maxConnections', 1, 1_000_000], ['maxWatchers', 1, 1_000_000], ['watchMaxPendingEvents', 1, 10_000_000], ['watchMaxPendingBytes', 1024, 2 ** 40], ['httpHeadersTimeoutMs', 100, 600_000], ['httpRequestTimeoutMs', 100, 3_600_000],
    ['httpKeepAliveTimeoutMs', 100, 3_600_000], ['watchHeartbeatMs', 100, 600_000], ['readyTimeoutMs', 1, 600_000],
    ['leaseCheckIntervalMs', 10, 600_000], ['leaseCheckpointIntervalMs', 100, 3_600_000], ['compactionRetainRevisions', 0, MAX_ID],
    ['compactionIntervalMs', 100, 86_400_000], ['joinTimeoutMs', 1, 86_400_000], ['walSegmentMaxBytes', 1024 * 1024, 1024 ** 4],
    ['lmdbMapSizeBytes', 1024 * 1024, 2 ** 50], ['kafkaDefaultPartitions', 1, 10_000], ['snapshotPartBytes', 4096, 64 * 1024 * 1024 - 1024],
  ];
  for (const [name, min, max] of bounds) checkInteger(raw, name, min, max);
  if (options.heartbeatIntervalTicks !== undefined && options.electionTimeoutTicks !== undefined && options.heartbeatIntervalTicks >= options.electionTimeoutTicks) {
    invalid('heartbeatIntervalTicks', 'must be below electionTimeoutTicks');
  }
  const defined = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
  const merged = { ...CAIRN_NODE_DEFAULTS, ...defined } as unknown as ResolvedNodeOptions;
  const maxRequestBodyBytes = options.maxRequestBodyBytes ?? 2 * merged.maxValueBytes + 1024 * 1024;
  return { ...merged, maxRequestBodyBytes };
}
