// Keeps the transport's peer list equal to the cluster's members (minus this node), with the
// addresses from the replicated member directory. A joining node also starts with the peers it
// was told about, until its directory has caught up.
import type { ConfState } from '../core/index.ts';
import type { MemberRecord } from '../state/members/member-directory.ts';
import type { Transport } from '../transport/index.ts';

export interface PeerLogger {
  warn(fields: object, message: string): void;
}

export class PeerSync {
  private readonly configured = new Map<number, string>();
  private readonly transport: Transport;
  private readonly selfId: number;
  private readonly logger: PeerLogger;
  private readonly seeds: ReadonlyMap<number, string>;
  private readonly overrides: ReadonlyMap<number, string>;

  /**
   * `overrides` replace the directory's address of some peers for this node only (the chaos
   * suite routes each link through its own fault-injecting proxy this way).
   */
  constructor(transport: Transport, selfId: number, seeds: ReadonlyMap<number, string>, logger: PeerLogger, overrides: ReadonlyMap<number, string> = new Map()) {
    this.transport = transport;
    this.selfId = selfId;
    this.seeds = seeds;
    this.logger = logger;
    this.overrides = overrides;
  }

  /** Applies the current membership and directory to the transport. */
  update(config: ConfState, directory: ReadonlyMap<number, MemberRecord>): void {
    const wanted = new Map<number, string>();
    const members = new Set([...config.voters, ...config.votersOutgoing, ...config.learners]);
    // Until this node has a configuration of its own (a newcomer), talk to the seeds it was given.
    const ids = members.size > 0 ? members : new Set(this.seeds.keys());
    for (const id of ids) {
      if (id === this.selfId) continue;
      const address = this.overrides.get(id) ?? directory.get(id)?.peer ?? this.seeds.get(id);
      if (address !== undefined) wanted.set(id, address);
    }
    for (const [id, address] of wanted) {
      if (this.configured.get(id) === address) continue;
      try {
        this.transport.setPeer(id, address);
        this.configured.set(id, address);
      } catch (error) {
        this.logger.warn({ peer: id, address, error: (error as Error).message }, 'cannot use the peer address from the member directory');
      }
    }
    for (const id of [...this.configured.keys()]) {
      if (wanted.has(id)) continue;
      this.transport.removePeer(id);
      this.configured.delete(id);
    }
  }
}
