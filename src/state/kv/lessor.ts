// Lease expiry, decided by the leader and replicated through Raft (after etcd's lessor). The
// state machine only stores leases (id, TTL, last checkpointed remaining TTL); deadlines live
// here, in memory, on the runtime side, measured with an injected clock. Only the leader tracks
// deadlines: when a node becomes leader it gives every lease a fresh deadline of now + TTL (or
// the checkpointed remaining TTL), so a failover can only make a lease live longer, never
// expire early. Keep-alives are leader-local (no log entry each); expired() tells the runtime
// which leases to revoke, and the revoke command, once applied, deletes the lease's keys on
// every replica.
import { kvError } from './errors.ts';
import type { KvError } from './errors.ts';
import type { LeaseCheckpointCommand, LeaseRevokeCommand } from './commands.ts';
import type { KvCommitNotice, KvState, LeaseInfo } from './kv-state.ts';

export interface LessorOptions {
  /** Milliseconds, monotonic. */
  readonly now: () => number;
  /** No lease expires sooner than this after a deadline is (re)set, e.g. 1.5 election timeouts. */
  readonly minTtlMs?: number;
  /** Report an expired lease again if it still exists this long after it was reported. */
  readonly revokeRetryMs?: number;
}

interface TrackedLease {
  readonly ttlSeconds: number;
  deadlineMs: number;
  reportedAtMs: number | undefined;
}

export class Lessor {
  readonly #kv: KvState;
  readonly #now: () => number;
  readonly #minTtlMs: number;
  readonly #revokeRetryMs: number;
  readonly #leases = new Map<number, TrackedLease>();
  readonly #unsubscribe: () => void;
  #leader = false;

  constructor(kv: KvState, options: LessorOptions) {
    this.#kv = kv;
    this.#now = options.now;
    this.#minTtlMs = options.minTtlMs ?? 0;
    this.#revokeRetryMs = options.revokeRetryMs ?? 5000;
    this.#unsubscribe = kv.subscribe((notice) => this.#onCommit(notice));
    this.#reload();
  }

  isLeader(): boolean {
    return this.#leader;
  }

  /** Call when this node becomes leader: every lease gets a full (or checkpointed) TTL from now. */
  becomeLeader(): void {
    this.#leader = true;
    this.#reload();
  }

  /** Call when this node stops being leader: deadlines are forgotten, keep-alives refused. */
  becomeFollower(): void {
    this.#leader = false;
  }

  /** Renews a lease for its full TTL. Leader only: followers answer 'not-leader'. */
  keepAlive(id: number): { id: number; ttlSeconds: number } | KvError {
    if (!this.#leader) return kvError('not-leader', 'lease keep-alives go to the leader; retry on the leader');
    const lease = this.#leases.get(id);
    if (lease === undefined) return kvError('lease-not-found', `lease ${id} does not exist (expired or revoked); grant a new one`);
    lease.deadlineMs = this.#deadline(lease.ttlSeconds * 1000);
    lease.reportedAtMs = undefined;
    return { id, ttlSeconds: lease.ttlSeconds };
  }

  /** The lease's TTL and, on the leader, the milliseconds left. */
  timeToLive(id: number): { id: number; ttlSeconds: number; remainingMs: number | undefined } | KvError {
    const lease = this.#leases.get(id);
    if (lease === undefined) return kvError('lease-not-found', `lease ${id} does not exist (expired or revoked)`);
    const remainingMs = this.#leader ? Math.max(0, lease.deadlineMs - this.#now()) : undefined;
    return { id, ttlSeconds: lease.ttlSeconds, remainingMs };
  }

  /**
   * Leases past their deadline, earliest first, at most `limit`: propose a revoke for each. A
   * lease is reported once, then again every revokeRetryMs while it still exists (the revoke
   * may have been lost in a leader change). Empty on followers.
   */
  expired(limit = 1000): number[] {
    if (!this.#leader) return [];
    const now = this.#now();
    const due: [number, TrackedLease][] = [];
    for (const [id, lease] of this.#leases) {
      if (lease.deadlineMs > now) continue;
      if (lease.reportedAtMs !== undefined && now - lease.reportedAtMs < this.#revokeRetryMs) continue;
      due.push([id, lease]);
    }
    due.sort((a, b) => a[1].deadlineMs - b[1].deadlineMs || a[0] - b[0]);
    const chosen = due.slice(0, limit);
    for (const [, lease] of chosen) lease.reportedAtMs = now;
    return chosen.map(([id]) => id);
  }

  /** expired() as the commands to propose. */
  revokeCommands(limit = 1000): LeaseRevokeCommand[] {
    return this.expired(limit).map((id) => ({ type: 'lease-revoke', id }));
  }

  /**
   * A checkpoint of the remaining TTLs that differ from the stored ones (at most `limit`, in id
   * order), or undefined when none do. Proposed periodically by the leader, it keeps a failover
   * from granting long leases their full TTL again; a keep-alive is checkpointed back to full.
   */
  checkpointCommand(limit = 1000): LeaseCheckpointCommand | undefined {
    if (!this.#leader) return undefined;
    const now = this.#now();
    const checkpoints: { id: number; remainingSeconds: number }[] = [];
    for (const id of [...this.#leases.keys()].sort((a, b) => a - b)) {
      if (checkpoints.length >= limit) break;
      const lease = this.#leases.get(id)!;
      const remainingSeconds = Math.min(lease.ttlSeconds, Math.max(1, Math.ceil((lease.deadlineMs - now) / 1000)));
      const stored = this.#kv.lease(id);
      if (stored === undefined) continue;
      if (remainingSeconds !== (stored.remainingSeconds === 0 ? stored.ttlSeconds : stored.remainingSeconds)) checkpoints.push({ id, remainingSeconds });
    }
    return checkpoints.length === 0 ? undefined : { type: 'lease-checkpoint', checkpoints };
  }

  close(): void {
    this.#unsubscribe();
  }

  #onCommit(notice: KvCommitNotice): void {
    if (notice.restored) return this.#reload();
    for (const lease of notice.leasesGranted) this.#track(lease);
    for (const id of notice.leasesRevoked) this.#leases.delete(id);
  }

  #reload(): void {
    this.#leases.clear();
    for (const lease of this.#kv.leases()) this.#track(lease);
  }

  #track(lease: LeaseInfo): void {
    const seconds = lease.remainingSeconds > 0 ? lease.remainingSeconds : lease.ttlSeconds;
    this.#leases.set(lease.id, { ttlSeconds: lease.ttlSeconds, deadlineMs: this.#deadline(seconds * 1000), reportedAtMs: undefined });
  }

  #deadline(ttlMs: number): number {
    return this.#now() + Math.max(ttlMs, this.#minTtlMs);
  }
}
