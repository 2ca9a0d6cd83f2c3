// Checkers for Raft's safety properties (Raft paper, Figure 3), fed by observations of a running
// cluster: who became leader in which term, which entry each node applied at each index, the
// nodes' logs, and which writes were acknowledged to clients. Shared by the simulator and chaos.

export type ViolationKind =
  | 'election-safety'
  | 'log-matching'
  | 'leader-completeness'
  | 'state-machine-safety'
  | 'lost-acknowledged-write'
  | 'liveness'
  | 'linearizability'
  | 'invariant';

export interface Violation {
  readonly kind: ViolationKind;
  readonly message: string;
  readonly timeMs: number;
}

/** An entry as the checker compares it: same index and term must mean same content. */
export interface ObservedEntry {
  readonly index: number;
  readonly term: number;
  /** Any stable text form of the entry's type and data. */
  readonly content: string;
}

export interface ObservedLog {
  readonly nodeId: number;
  /** Consecutive entries (the log after its snapshot). */
  readonly entries: readonly ObservedEntry[];
  /** The term of any index this log holds (including the snapshot's), undefined if not held. */
  termAt(index: number): number | undefined;
  readonly snapshotIndex: number;
}

/** What decides whether a node could win an election: its last entry and its configuration. */
export interface ElectionView {
  readonly nodeId: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly snapshotIndex: number;
  termAt(index: number): number | undefined;
  /** A voter of its own configuration with nothing preventing a campaign. */
  readonly canCampaign: boolean;
  /** The voter sets whose majorities it needs (one, or two in a joint configuration). */
  readonly voterSets: readonly (readonly number[])[];
}

function isMoreUpToDate(a: ElectionView, b: ElectionView): boolean {
  return a.lastTerm > b.lastTerm || (a.lastTerm === b.lastTerm && a.lastIndex > b.lastIndex);
}

function quorumIn(voters: readonly number[], supporters: readonly number[]): boolean {
  if (voters.length === 0) return true;
  const granted = voters.filter((id) => supporters.includes(id)).length;
  return granted >= Math.floor(voters.length / 2) + 1;
}

/** Every entry applied anywhere, by index; applied implies committed. */
interface AppliedRecord {
  readonly term: number;
  readonly content: string;
  readonly nodeId: number;
}

export class RaftSafetyChecker {
  readonly violations: Violation[] = [];
  private readonly leaders = new Map<number, number>();
  private readonly applied = new Map<number, AppliedRecord>();
  private highestApplied = 0;
  /** Violations beyond this many are counted but not kept (a broken run repeats itself). */
  readonly violationsKeptMax: number;
  violationCount = 0;

  constructor(violationsKeptMax = 20) {
    this.violationsKeptMax = violationsKeptMax;
  }

  report(kind: ViolationKind, message: string, timeMs: number): void {
    this.violationCount++;
    if (this.violations.length < this.violationsKeptMax) this.violations.push({ kind, message, timeMs });
  }

  get leaderTerms(): ReadonlyMap<number, number> {
    return this.leaders;
  }

  /** Election safety (at most one leader per term) and leader completeness (it holds every committed entry). */
  onLeader(term: number, nodeId: number, log: ObservedLog, timeMs: number): void {
    const previous = this.leaders.get(term);
    if (previous !== undefined && previous !== nodeId) {
      this.report('election-safety', `term ${term} has two leaders: ${previous} and ${nodeId}`, timeMs);
    }
    this.leaders.set(term, nodeId);
    for (const [index, record] of this.applied) {
      // Entries folded into the leader's snapshot are in its state, not its log.
      if (index <= log.snapshotIndex) continue;
      const held = log.termAt(index);
      if (held !== record.term) {
        this.report('leader-completeness',
          `leader ${nodeId} of term ${term} lacks committed entry ${record.term}/${index} (applied by ${record.nodeId}); it has term ${held ?? 'none'} there`,
          timeMs);
        return;
      }
    }
  }

  /**
   * State machine safety: every node applies the same entry at the same index. Returns true when
   * this is the first time any node applies an entry at this index (a new commit to examine).
   */
  onApply(nodeId: number, entry: ObservedEntry, timeMs: number): boolean {
    const existing = this.applied.get(entry.index);
    if (existing === undefined) {
      this.applied.set(entry.index, { term: entry.term, content: entry.content, nodeId });
      this.highestApplied = Math.max(this.highestApplied, entry.index);
      return true;
    }
    if (existing.term !== entry.term || existing.content !== entry.content) {
      this.report('state-machine-safety',
        `node ${nodeId} applied ${entry.term}/${entry.index} ${entry.content.slice(0, 60)} but node ${existing.nodeId} applied ${existing.term}/${entry.index} ${existing.content.slice(0, 60)}`,
        timeMs);
    }
    return false;
  }

  /**
   * Committed entries must survive every election that could still happen: no node lacking a
   * newly committed entry may be able to win, i.e. collect a quorum of its own configuration
   * among nodes whose logs are not more up to date than its own (Raft §5.4: a correct commit
   * always leaves a majority that refuses such a candidate). Checked when an entry is first
   * applied, this sees an unsafe commit at once instead of waiting for the election that would
   * expose it.
   */
  checkCommitDurable(index: number, term: number, views: readonly ElectionView[], timeMs: number): void {
    for (const candidate of views) {
      if (!candidate.canCampaign || index <= candidate.snapshotIndex || candidate.termAt(index) === term) continue;
      const supporters = views.filter((voter) => !isMoreUpToDate(voter, candidate)).map((voter) => voter.nodeId);
      if (candidate.voterSets.every((voters) => quorumIn(voters, supporters))) {
        this.report('leader-completeness',
          `entry ${term}/${index} was committed, yet node ${candidate.nodeId} (last ${candidate.lastTerm}/${candidate.lastIndex}) lacks it and could be elected by ${supporters.join(',')}`,
          timeMs);
        return;
      }
    }
  }

  /** Log matching: if two logs hold an entry with the same index and term, they agree up to it. */
  checkLogMatching(logs: readonly ObservedLog[], timeMs: number): void {
    for (let first = 0; first < logs.length; first++) {
      for (let second = first + 1; second < logs.length; second++) {
        const problem = compareLogs(logs[first]!, logs[second]!);
        if (problem !== undefined) {
          this.report('log-matching', problem, timeMs);
          return;
        }
      }
    }
  }

  /** A write the cluster acknowledged at (index, term) must be what was applied there. */
  checkAcknowledged(index: number, term: number, content: string, timeMs: number): void {
    const record = this.applied.get(index);
    if (record === undefined) {
      this.report('lost-acknowledged-write', `write acknowledged at ${term}/${index} was never applied by any node`, timeMs);
    } else if (record.term !== term || record.content !== content) {
      this.report('lost-acknowledged-write', `write acknowledged at ${term}/${index} but ${record.term}/${index} was applied there`, timeMs);
    }
  }

  appliedCount(): number {
    return this.applied.size;
  }
}

function compareLogs(a: ObservedLog, b: ObservedLog): string | undefined {
  const byIndexB = new Map(b.entries.map((entry) => [entry.index, entry]));
  let divergedAt: number | undefined;
  for (const entry of a.entries) {
    const other = byIndexB.get(entry.index);
    if (other === undefined) continue;
    const same = other.term === entry.term && other.content === entry.content;
    if (other.term === entry.term && !same) {
      return `nodes ${a.nodeId} and ${b.nodeId} hold different entries with the same index and term ${entry.term}/${entry.index}`;
    }
    if (!same) divergedAt ??= entry.index;
    else if (divergedAt !== undefined) {
      return `nodes ${a.nodeId} and ${b.nodeId} agree at ${entry.term}/${entry.index} but differ at ${divergedAt}`;
    }
  }
  return undefined;
}
