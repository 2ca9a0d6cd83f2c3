// Configuration of one Raft node, validated at construction: a bad value is a programmer or
// operator error that must be reported with the field's name before anything runs.
import type { NodeId } from '../types.ts';
import type { LogStorage } from './storage.ts';

/**
 * Known bugs the simulator can switch on to prove its checkers catch them. Never set outside
 * tests: each one breaks a Raft safety property on purpose.
 */
export type InjectedRaftBug = 'vote-not-persisted' | 'commit-previous-term' | 'accept-append-without-match' | 'read-without-quorum' | 'commit-without-quorum';
export const INJECTED_RAFT_BUGS: readonly InjectedRaftBug[] = ['vote-not-persisted', 'commit-previous-term', 'accept-append-without-match', 'read-without-quorum', 'commit-without-quorum'];

export interface RaftLogger {
  info(message: string): void;
  warn(message: string): void;
  /** Lines repeated while something retries (a snapshot resent every heartbeat): left out unless given. */
  debug?(message: string): void;
}

export interface RaftConfig {
  readonly id: NodeId;
  readonly storage: LogStorage;
  /** A uniform random number in [0, 1); seeded in the simulator. Drives election timeouts. */
  readonly random: () => number;
  /** Ticks without hearing from a leader before campaigning; randomized in [n, 2n). */
  readonly electionTimeoutTicks?: number;
  /** Ticks between leader heartbeats; must be smaller than electionTimeoutTicks. */
  readonly heartbeatIntervalTicks?: number;
  /** The index the application has already applied (its state survived a restart). */
  readonly appliedIndex?: number;
  readonly appendBytesPerMessageMax?: number;
  readonly inflightMessagesMax?: number;
  /** Bytes in flight to one follower; 0 = unlimited. */
  readonly inflightBytesMax?: number;
  /** Bytes of proposed but uncommitted entries the leader accepts before refusing proposals. */
  readonly uncommittedBytesMax?: number;
  /** Bytes of committed entries handed to the application in one Ready. */
  readonly applyBytesPerReadyMax?: number;
  readonly readIndexRequestsMax?: number;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  /**
   * Followers learn a new commit index from the next append rather than from an empty append of
   * its own. Halves the messages per write under load (each empty append wakes a follower and
   * comes back as an acknowledgement). Once writes stop, the next heartbeat tells them, or the
   * application sooner with RawNode.propagateCommit().
   */
  readonly lazyCommitPropagation?: boolean;
  readonly logger?: RaftLogger;
  readonly injectedBugs?: ReadonlySet<InjectedRaftBug>;
}

export type ResolvedRaftConfig = Required<Omit<RaftConfig, 'logger'>> & { readonly logger: RaftLogger | undefined };

export class RaftConfigError extends Error {
  override name = 'RaftConfigError';
  readonly field: string;

  constructor(field: string, message: string) {
    super(`invalid Raft config field "${field}": ${message}`);
    this.field = field;
  }
}

const DEFAULTS = {
  electionTimeoutTicks: 10,
  heartbeatIntervalTicks: 1,
  appliedIndex: 0,
  appendBytesPerMessageMax: 1024 * 1024,
  inflightMessagesMax: 256,
  inflightBytesMax: 32 * 1024 * 1024,
  uncommittedBytesMax: 64 * 1024 * 1024,
  applyBytesPerReadyMax: 64 * 1024 * 1024,
  readIndexRequestsMax: 4096,
  preVote: true,
  checkQuorum: true,
  lazyCommitPropagation: false,
} as const;

function requirePositiveInteger(field: string, value: number, allowZero = false): void {
  if (!Number.isSafeInteger(value) || value < 0 || (!allowZero && value === 0)) {
    throw new RaftConfigError(field, `must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${String(value)}`);
  }
}

export function resolveRaftConfig(config: RaftConfig): ResolvedRaftConfig {
  const resolved: ResolvedRaftConfig = {
    ...DEFAULTS,
    injectedBugs: new Set(),
    ...config,
    logger: config.logger,
  };
  requirePositiveInteger('id', resolved.id);
  if (typeof resolved.random !== 'function') throw new RaftConfigError('random', 'must be a function returning [0, 1)');
  if (resolved.storage === undefined || resolved.storage === null) throw new RaftConfigError('storage', 'is required');
  requirePositiveInteger('electionTimeoutTicks', resolved.electionTimeoutTicks);
  requirePositiveInteger('heartbeatIntervalTicks', resolved.heartbeatIntervalTicks);
  if (resolved.electionTimeoutTicks <= resolved.heartbeatIntervalTicks) {
    throw new RaftConfigError('electionTimeoutTicks', `must be greater than heartbeatIntervalTicks (${resolved.heartbeatIntervalTicks})`);
  }
  requirePositiveInteger('appliedIndex', resolved.appliedIndex, true);
  requirePositiveInteger('appendBytesPerMessageMax', resolved.appendBytesPerMessageMax);
  requirePositiveInteger('inflightMessagesMax', resolved.inflightMessagesMax);
  requirePositiveInteger('inflightBytesMax', resolved.inflightBytesMax, true);
  requirePositiveInteger('uncommittedBytesMax', resolved.uncommittedBytesMax);
  requirePositiveInteger('applyBytesPerReadyMax', resolved.applyBytesPerReadyMax);
  requirePositiveInteger('readIndexRequestsMax', resolved.readIndexRequestsMax);
  if (resolved.inflightBytesMax > 0 && resolved.inflightBytesMax < resolved.appendBytesPerMessageMax) {
    throw new RaftConfigError('inflightBytesMax', `must be 0 (unlimited) or at least appendBytesPerMessageMax (${resolved.appendBytesPerMessageMax})`);
  }
  for (const bug of resolved.injectedBugs) {
    if (!INJECTED_RAFT_BUGS.includes(bug)) throw new RaftConfigError('injectedBugs', `unknown bug ${JSON.stringify(bug)}`);
  }
  // An applied index past the persisted commit is fine (commit is synced lazily) but one past the
  // end of the log means the log lost entries the application already applied.
  const lastIndex = resolved.storage.lastIndex();
  if (resolved.appliedIndex > lastIndex) {
    throw new RaftConfigError('appliedIndex', `${resolved.appliedIndex} is beyond the last log index ${lastIndex}: the log lost applied entries`);
  }
  return resolved;
}
