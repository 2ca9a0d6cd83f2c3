// The data of a chaos run: plans (what a scenario will do, decided by its seed), the entries of
// the recorded history (workload operations, observations, fault actions), and the verdicts.
// Everything here is plain JSON, so a history file alone is enough to re-run every checker.
import type { HistoryEntry } from '../check/history.ts';
import type { LinkToxic } from './faults/index.ts';

export type WorkloadKind = 'kv' | 'kafka' | 'both';

/** Who a fault hits, resolved when it starts (the leader then, or a follower chosen by `pick`). */
export type Target =
  | { readonly node: number }
  | { readonly role: 'leader' }
  /** A running node other than the leader: the one at floor(pick × count) in id order. */
  | { readonly role: 'follower'; readonly pick: number };

export type ShapeSpec =
  | { readonly kind: 'isolate'; readonly target: Target; readonly direction?: 'both' | 'inbound' | 'outbound' }
  /** A group of majority − 1 nodes cut from the rest; with or without the leader. */
  | { readonly kind: 'minority'; readonly withLeader: boolean; readonly pick: number }
  /** Groups of majority − 1 nodes: no side has a majority. */
  | { readonly kind: 'split-minorities' }
  | { readonly kind: 'bridge' }
  | { readonly kind: 'ring' };

/** A fault window: start() applies it, stop() undoes it (restart, heal, resume, clear). */
export type FaultSpec =
  | { readonly type: 'crash'; readonly targets: readonly Target[]; readonly signal: 'SIGKILL' | 'SIGTERM' }
  | { readonly type: 'pause'; readonly target: Target }
  | { readonly type: 'partition'; readonly shape: ShapeSpec; readonly mode: 'blackhole' | 'refuse' }
  | { readonly type: 'flapping'; readonly shape: ShapeSpec; readonly intervalMs: number }
  | { readonly type: 'link-toxic'; readonly toxic: LinkToxic }
  /** Real packet loss on every node's interface, both directions (network namespaces). */
  | { readonly type: 'packet-loss'; readonly probability: number }
  | { readonly type: 'clock-skew'; readonly target: Target; readonly offsetMs: number; readonly rate: number }
  /** Every node: SIGKILL, then power loss of unsynced writes on its disk; stop() starts them again. */
  | { readonly type: 'power-loss' }
  /** Remove the node from the membership and stop it; stop() starts it empty, adds and promotes it. */
  | { readonly type: 'remove-readd'; readonly target: Target }
  /** Leadership moves to a follower (a zero-length window). */
  | { readonly type: 'transfer-leader'; readonly pick: number }
  /** Isolate a follower; stop() waits until the leader's log starts past the follower's end (it needs a snapshot), then heals. */
  | { readonly type: 'hold-stale'; readonly target: Target; readonly waitMaxMs: number };

export interface ScheduledSpec {
  /** After the fault phase starts (the workload runs from the warm-up on). */
  readonly atMs: number;
  readonly durationMs: number;
  readonly fault: FaultSpec;
}

/** A moment of the run: when the action of a fault window's start or stop finished (from) or began (to). */
export interface Edge {
  readonly window: number;
  readonly edge: 'start' | 'stop';
}

/**
 * What must hold during parts of the run, on top of the safety checkers. An interval runs from
 * the end of the `from` action (plus settleMs) to the beginning of the `to` action.
 */
export type Expectation =
  /** No write (KV put/cas, Kafka send) called inside the interval is acknowledged inside it. */
  | { readonly kind: 'no-quorum'; readonly from: Edge; readonly to: Edge }
  /**
   * At least one write called inside the interval is acknowledged inside it. The interval ends at
   * `to`, or withinMs after its start (for the time after a restore, whatever comes next).
   */
  | { readonly kind: 'available'; readonly from: Edge; readonly to?: Edge; readonly withinMs?: number; readonly settleMs: number }
  /** The hold-stale window ended only once the leader had compacted past the held node. */
  | { readonly kind: 'needs-snapshot'; readonly window: number };

export interface EnvironmentPlan {
  /** Peer links through a proxy mesh (latency, partitions...) or nodes in network namespaces (packet loss). */
  readonly network: 'proxy' | 'netns';
  /** Data directories on ext4 loop images (power loss); root only. */
  readonly loopDisks: boolean;
  /** Every node runs under libfaketime (its wall clock can be skewed). */
  readonly clockSkew: boolean;
  /** Extra `cairn serve` flags of this scenario (e.g. frequent snapshots). */
  readonly serveArgs: readonly string[];
}

export interface WorkloadPlan {
  readonly kind: WorkloadKind;
  /** Operations per second of the KV workload (all clients together). */
  readonly kvRate: number;
  readonly kvClients: number;
  readonly kvKeys: number;
  /** Messages per second of the Kafka producers (all together). */
  readonly kafkaRate: number;
  readonly kafkaProducers: number;
  readonly kafkaConsumers: number;
  readonly kafkaPartitions: number;
  /** Extra bytes in each Kafka value (bandwidth scenarios). */
  readonly kafkaValuePaddingBytes: number;
}

/** Everything a scenario run does, decided by (scenario, nodes, seed, duration, workload, rate). */
export interface ScenarioPlan {
  readonly scenario: string;
  readonly nodes: number;
  readonly seed: number;
  readonly warmupMs: number;
  /** Length of the fault phase. */
  readonly durationMs: number;
  /** Workload after every fault stopped, before it stops and the checks begin. */
  readonly recoveryMs: number;
  readonly schedule: readonly ScheduledSpec[];
  readonly expectations: readonly Expectation[];
  readonly environment: EnvironmentPlan;
  readonly workload: WorkloadPlan;
}

/** What the observer records per node and poll (null fields: not answered). */
export interface NodeSample {
  readonly role: string | null;
  readonly term: number;
  readonly leaderId: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly revision: number;
  readonly voters: readonly number[];
}

export interface ConvergenceNode {
  readonly id: number;
  readonly commitIndex: number | null;
  readonly appliedIndex: number | null;
  readonly revision: number | null;
  /** sha256 of every key, value and mod revision at `revision`, read from the node itself. */
  readonly digest: string | null;
  readonly error?: string;
}

export interface ConvergenceOutput {
  readonly converged: boolean;
  readonly rounds: number;
  readonly boundMs: number;
  /** The leader's commit index and KV revision the nodes were compared at. */
  readonly targetCommitIndex: number | null;
  readonly targetRevision: number | null;
  readonly nodes: readonly ConvergenceNode[];
}

/** Inputs of the non-workload entries of a history. */
export type ObservationInput =
  | { readonly kind: 'plan'; readonly plan: ScenarioPlan }
  | { readonly kind: 'status'; readonly node: number }
  | { readonly kind: 'fault'; readonly window: number; readonly action: 'start' | 'stop'; readonly name: string }
  | { readonly kind: 'convergence' }
  /** A fault-free action of the runner (heal-all, final restarts). */
  | { readonly kind: 'runner'; readonly action: string };

/** One line of history.jsonl: a history entry tagged with its scenario. */
export type ChaosEntry = HistoryEntry<unknown, unknown> & { readonly scenario: string };

export type CheckStatus = 'pass' | 'fail' | 'unknown';

export interface CheckOutcome {
  /** e.g. 'linearizability', 'queue', 'leader-per-term', 'convergence', 'no-quorum', 'availability'. */
  readonly name: string;
  readonly status: CheckStatus;
  /** One line for the verdict table. */
  readonly summary: string;
  /** Evidence when it failed (a counterexample, lost offsets...), several lines. */
  readonly evidence?: string;
  /** Structured details for the HTML report. */
  readonly details?: unknown;
}

export type Verdict = 'pass' | 'fail' | 'error' | 'skipped';

export interface ScenarioResult {
  readonly scenario: string;
  readonly verdict: Verdict;
  readonly plan: ScenarioPlan | null;
  readonly checks: readonly CheckOutcome[];
  /** Why the run failed to complete (error) or did not run (skipped). */
  readonly reason?: string;
  readonly elapsedMs: number;
  readonly operations: { readonly kv: number; readonly kafka: number; readonly ok: number; readonly fail: number; readonly unknown: number };
  readonly faults: number;
  /** Directory with the nodes' logs of this scenario. */
  readonly logsDirectory: string | null;
}
