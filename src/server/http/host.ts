// What the HTTP API needs from the node it serves (CairnNode implements it; tests may fake it).
import type { RaftNode } from '../../runtime/raft-node.ts';
import type { NodeLogger } from '../../runtime/logger.ts';
import type { KvState } from '../../state/kv/kv-state.ts';
import type { Lessor } from '../../state/kv/lessor.ts';
import type { WatchHub } from '../../state/kv/watch-hub.ts';
import type { MemberDirectory } from '../../state/members/member-directory.ts';
import type { LogReader } from '../../state/log/index.ts';
import type { TransportStats } from '../../transport/index.ts';
import type { ActivityRecorder } from './dashboard/activity-recorder.ts';
import type { JoinProofCheck } from './join-proof.ts';
import type { WireInitResponse, WireJoinRequest, WireNodeStatus } from './api-types.ts';

export type NodePhase = WireNodeStatus['phase'];

/** The parts that exist once the node belongs to a cluster. */
export interface RunningParts {
  readonly raft: RaftNode;
  readonly kv: KvState;
  readonly members: MemberDirectory;
  readonly watches: WatchHub;
  readonly lessor: Lessor;
  /** The Kafka log's applied state (topics, high watermarks, committed offsets), for the dashboard. */
  readonly log?: LogReader;
  transportStats(): TransportStats;
}

export interface ApiSettings {
  /** Largest request body accepted. */
  readonly maxRequestBodyBytes: number;
  /** Longest request target (path + query) accepted. */
  readonly maxUrlBytes: number;
  /** Default deadline of proposals and linearizable reads. */
  readonly requestTimeoutMs: number;
  /** /v1/ready: how long the read barrier that proves "caught up" may take. */
  readonly readyTimeoutMs: number;
  /** SSE comment / progress interval of watch streams. */
  readonly watchHeartbeatMs: number;
  /** A watch stream whose socket holds more than this many unsent bytes is paused (then cancelled by the hub's bounds). */
  readonly watchBufferBytes: number;
}

export interface ApiHost {
  readonly settings: ApiSettings;
  readonly logger: NodeLogger;
  /** 0 until the node knows its id. */
  nodeId(): number;
  clusterId(): string | undefined;
  phase(): NodePhase;
  running(): RunningParts | undefined;
  localStatus(): WireNodeStatus;
  /** The HTTP address other nodes and clients use for this node. */
  clientAddress(): string;
  /** The HTTP address of a member, from the replicated member directory. */
  memberClientAddress(nodeId: number): string | undefined;
  uptimeSeconds(): number;
  /** Creates a cluster with this node as its only voter (empty nodes only). */
  init(clusterId: string | undefined): Promise<WireInitResponse>;
  /** Whether a join request carries a valid proof of the cluster secret. */
  verifyJoinProof(request: WireJoinRequest): JoinProofCheck;
  /** Prometheus text exposition of the node's metrics. */
  metricsText(): Promise<{ contentType: string; body: string }>;
  /** Records the outcome of a proposal made for a client (applied, or failed before applying). */
  observeProposal(applied: boolean): void;
  /** Records a served request (route template, method, status, seconds). */
  observeRequest(route: string, method: string, status: number, seconds: number): void;
  /** The node's per-second activity and leader announcements, for the dashboard (absent: none kept). */
  activity?(): ActivityRecorder;
}
