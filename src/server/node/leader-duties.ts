// What the leader does on its own, on timers: revoke expired leases (the Lessor decides, the
// revoke goes through the log so every replica deletes the keys), checkpoint remaining lease TTLs,
// and compact old KV history. Followers only keep their Lessor in follower mode.
import type { RaftNode } from '../../runtime/raft-node.ts';
import type { NodeLogger } from '../../runtime/logger.ts';
import { encodeKvCommand } from '../../state/kv/commands.ts';
import type { KvCommand } from '../../state/kv/commands.ts';
import type { KvState } from '../../state/kv/kv-state.ts';
import type { Lessor } from '../../state/kv/lessor.ts';

export interface LeaderDutiesOptions {
  readonly raft: RaftNode;
  readonly kv: KvState;
  readonly lessor: Lessor;
  readonly logger: NodeLogger;
  readonly leaseCheckIntervalMs: number;
  readonly leaseCheckpointIntervalMs: number;
  readonly compactionRetainRevisions: number;
  readonly compactionIntervalMs: number;
  readonly proposalTimeoutMs: number;
  readonly observeProposal: (applied: boolean) => void;
}

/** Revokes proposed per check, so a burst of expiries cannot flood the log in one go. */
const REVOKES_PER_CHECK_MAX = 500;

export class LeaderDuties {
  readonly #options: LeaderDutiesOptions;
  readonly #timers: NodeJS.Timeout[] = [];
  #unsubscribe: (() => void) | undefined;
  #revokesInFlight = 0;

  constructor(options: LeaderDutiesOptions) {
    this.#options = options;
  }

  start(): void {
    const { raft, lessor } = this.#options;
    this.#unsubscribe = raft.onRole(({ role }) => {
      if (role === 'leader' && !lessor.isLeader()) lessor.becomeLeader();
      else if (role !== 'leader' && lessor.isLeader()) lessor.becomeFollower();
    });
    this.#every(this.#options.leaseCheckIntervalMs, () => this.#revokeExpired());
    this.#every(this.#options.leaseCheckpointIntervalMs, () => this.#checkpoint());
    if (this.#options.compactionRetainRevisions > 0) this.#every(this.#options.compactionIntervalMs, () => this.#compact());
  }

  stop(): void {
    this.#unsubscribe?.();
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers.length = 0;
    this.#options.lessor.becomeFollower();
  }

  #every(intervalMs: number, duty: () => void): void {
    const timer = setInterval(duty, intervalMs);
    timer.unref();
    this.#timers.push(timer);
  }

  #isLeader(): boolean {
    return !this.#options.raft.isStopped && this.#options.raft.role === 'leader';
  }

  #propose(command: KvCommand, what: string): Promise<void> {
    const { raft, logger, proposalTimeoutMs, observeProposal } = this.#options;
    return raft.propose(encodeKvCommand(command), proposalTimeoutMs).then(
      () => observeProposal(true),
      (error: Error) => {
        observeProposal(false);
        logger.debug({ error: error.message }, `${what} failed; the next check retries`);
      },
    );
  }

  #revokeExpired(): void {
    if (!this.#isLeader() || this.#revokesInFlight > 0) return;
    const commands = this.#options.lessor.revokeCommands(REVOKES_PER_CHECK_MAX);
    if (commands.length === 0) return;
    this.#options.logger.info({ leases: commands.map((command) => command.id).slice(0, 20), count: commands.length }, 'revoking expired leases');
    this.#revokesInFlight = commands.length;
    for (const command of commands) {
      void this.#propose(command, 'revoking an expired lease').finally(() => this.#revokesInFlight--);
    }
  }

  #checkpoint(): void {
    if (!this.#isLeader()) return;
    const command = this.#options.lessor.checkpointCommand();
    if (command !== undefined) void this.#propose(command, 'checkpointing lease TTLs');
  }

  #compact(): void {
    if (!this.#isLeader()) return;
    const { kv, compactionRetainRevisions } = this.#options;
    const target = kv.currentRevision() - compactionRetainRevisions;
    // Compact in steps of at least a tenth of the retention, not on every new revision.
    if (target <= kv.compactRevision() + Math.max(1, Math.floor(compactionRetainRevisions / 10))) return;
    this.#options.logger.info({ revision: target }, 'compacting KV history');
    void this.#propose({ type: 'compact', revision: target }, 'compacting KV history');
  }
}
