// The JSON answers of the dashboard's endpoints (docs/monitoring.md). The browser code
// (assets/*.js) is type-checked against these through its own tsconfig.json.
import type { WireClusterStatus } from '../api-types.ts';

/** What the charts show: KV requests (HTTP /v1/kv*, /v1/txn), Kafka Produce and Kafka Fetch. */
export type ActivityKind = 'kv' | 'produce' | 'fetch';

/** One kind of request in one second on one node. */
export interface WireKindSecond {
  readonly count: number;
  /** Requests that failed (HTTP 5xx; Kafka answers carrying an error code). */
  readonly failed: number;
  /** Record bytes produced or fetched (0 for KV). */
  readonly bytes: number;
  /** Latency histogram as sparse [bucket, count, bucket, count, ...] pairs (latency-buckets.ts). */
  readonly buckets: readonly number[];
}

export interface WireNodeSecond {
  /** Unix time in whole seconds (wall clock of the node). */
  readonly second: number;
  readonly kinds: Partial<Record<ActivityKind, WireKindSecond>>;
}

/** A leader announcement one node saw. */
export interface WireLeadershipEvent {
  /** Wall-clock time (ms since the epoch) at which the node learnt of this leader. */
  readonly timeMs: number;
  readonly term: number;
  readonly leaderId: number;
}

/** GET /v1/dashboard/stats?scope=local: this node's completed seconds after `sinceSecond`. */
export interface WireLocalStats {
  readonly nodeId: number;
  readonly nowMs: number;
  readonly windowSeconds: number;
  /** Completed seconds with any activity, oldest first (seconds without any are left out). */
  readonly seconds: readonly WireNodeSecond[];
  readonly leadership: readonly WireLeadershipEvent[];
}

/** One kind of request in one second, over every member that answered. */
export interface WireKindPoint {
  /** Requests per second. */
  readonly rate: number;
  readonly failed: number;
  /** Record bytes per second. */
  readonly bytes: number;
  /** 99th percentile latency in milliseconds (bucket upper bound); null without requests. */
  readonly p99Ms: number | null;
}

export interface WireClusterPoint {
  readonly second: number;
  readonly kv: WireKindPoint;
  readonly produce: WireKindPoint;
  readonly fetch: WireKindPoint;
}

export interface WireStatsSource {
  readonly nodeId: number;
  readonly ok: boolean;
  readonly error?: string;
  /** Requests of the last completed second (by kind) on this node. */
  readonly lastSecond?: Readonly<Record<ActivityKind, number>>;
}

/** A leader announcement merged over members: the earliest time any of them saw it. */
export interface WireClusterLeadershipEvent extends WireLeadershipEvent {
  /** The members that reported it. */
  readonly seenBy: readonly number[];
}

/** GET /v1/dashboard/stats (scope=cluster): every member's seconds merged. */
export interface WireClusterStats {
  readonly nowMs: number;
  readonly windowSeconds: number;
  /** Points for every second in [fromSecond, toSecond), zeros included. */
  readonly fromSecond: number;
  readonly toSecond: number;
  readonly points: readonly WireClusterPoint[];
  readonly sources: readonly WireStatsSource[];
  readonly leadership: readonly WireClusterLeadershipEvent[];
}

export interface WirePartitionView {
  readonly partition: number;
  readonly logStartOffset: number;
  readonly highWatermark: number;
  readonly sizeBytes: number;
}

export interface WireTopicView {
  readonly name: string;
  readonly partitionCount: number;
  readonly replicationFactor: number;
  /** Up to the partition limit; `partitionCount` says how many there are. */
  readonly partitions: readonly WirePartitionView[];
}

export interface WireGroupPartitionView {
  readonly topic: string;
  readonly partition: number;
  readonly committedOffset: number;
  readonly highWatermark: number;
  /** highWatermark − committedOffset (never below 0). */
  readonly lag: number;
}

export interface WireGroupView {
  readonly group: string;
  readonly totalLag: number;
  readonly partitions: readonly WireGroupPartitionView[];
}

/** GET /v1/dashboard/topics: the Kafka log as this node has applied it. */
export interface WireTopicsView {
  /** False until the node runs (no log state yet). */
  readonly available: boolean;
  readonly nodeId: number;
  readonly appliedIndex: number;
  readonly topics: readonly WireTopicView[];
  readonly groups: readonly WireGroupView[];
  /** True when a limit left topics, partitions or groups out. */
  readonly truncated: boolean;
}

/** GET /v1/dashboard/state: everything the page shows, in one round trip per second. */
export interface WireDashboardState {
  readonly timeMs: number;
  readonly servedBy: number;
  readonly cluster: WireClusterStatus;
  readonly stats: WireClusterStats;
  readonly topics: WireTopicsView;
}
