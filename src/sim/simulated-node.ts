// What the simulator needs from a node, whichever way it runs: the Raft core driven directly
// (core mode, node.ts) or the real runtime with its WAL on a simulated disk (runtime mode,
// runtime-node.ts). The workload, the nemesis and the checkers only use this.
import type { ConfChange, ConfState, RoleName } from '../core/index.ts';
import type { ElectionView, ObservedLog } from '../check/raft-safety.ts';
import type { RegisterCommand, RegisterResult } from './register-store.ts';

export type WriteOutcome =
  | { readonly kind: 'applied'; readonly index: number; readonly term: number; readonly content: string; readonly result: RegisterResult }
  | { readonly kind: 'refused'; readonly reason: string; readonly leaderId: number }
  | { readonly kind: 'lost'; readonly reason: string }
  | { readonly kind: 'unknown'; readonly reason: string };

export type ReadOutcome =
  | { readonly kind: 'read'; readonly value: string | null }
  | { readonly kind: 'refused'; readonly reason: string; readonly leaderId: number }
  | { readonly kind: 'unknown'; readonly reason: string };

export interface NodeView {
  readonly role: RoleName;
  readonly term: number;
  readonly leaderId: number;
  readonly vote: number;
  readonly commit: number;
  readonly config: ConfState;
}

export interface SimulatedNode {
  readonly id: number;
  readonly up: boolean;
  /** Changes at every crash. */
  readonly incarnation: number;
  /** The node's Raft state, undefined while it is down. */
  view(): NodeView | undefined;
  /** Starts (or restarts) from what is on the node's disk. */
  start(): void;
  /** Power failure: unsynced writes are lost, requests in flight end unknown. */
  crash(): void;
  write(command: RegisterCommand, resolve: (outcome: WriteOutcome) => void): void;
  read(key: string, resolve: (outcome: ReadOutcome) => void): void;
  /** Proposes a membership change as the leader; returns a description for the fault log. */
  proposeConfChange(change: ConfChange): string;
  transferLeader(target: number): string;
  /** Takes a snapshot now and compacts the log (core mode; the runtime does it by itself). */
  compact(keepEntries: number): number | undefined;
  observedLog(): ObservedLog;
  electionView(): ElectionView;
  appliedIndex(): number;
  /** A digest of the state machine, to compare replicas. */
  digest(): string;
  /** Leader's view of each follower, for failure reports. */
  describeProgress(): string;
}
