// An in-process Cairn cluster for Kafka client tests: N RaftNodes over a MemoryNetwork (memory
// storage and state), and a real KafkaBroker per node on an ephemeral 127.0.0.1 port. Brokers
// listen first (their addresses go into the membership, as `cairn` nodes do), the cluster forms the
// way `cairn local up` forms one (bootstrap node 1, add the others as self-promoting learners),
// then every broker is attached to its node.
import { bootstrapCluster } from '../../src/runtime/bootstrap.ts';
import { RaftNode } from '../../src/runtime/raft-node.ts';
import { KafkaBroker } from '../../src/server/kafka/index.ts';
import type { KafkaBrokerOptions } from '../../src/server/kafka/index.ts';
import { openNodeState } from '../../src/state/open.ts';
import type { NodeState } from '../../src/state/open.ts';
import { encodeMembershipContext } from '../../src/state/members/member-directory.ts';
import type { MemberAddresses } from '../../src/state/members/member-directory.ts';
import { MemoryStorage } from '../../src/storage/index.ts';
import { MemoryNetwork } from '../../src/transport/index.ts';

export interface ClusterMember {
  readonly id: number;
  readonly raft: RaftNode;
  readonly state: NodeState;
  readonly broker: KafkaBroker;
  /** host:port of this node's Kafka listener. */
  readonly kafka: string;
  stopped: boolean;
}

export interface TestClusterOptions {
  readonly size?: number;
  readonly broker?: Omit<KafkaBrokerOptions, 'listen' | 'parts'>;
  readonly tickMs?: number;
}

export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Group settings that keep tests short (Kafka's 3 s initial rebalance delay would dominate them). */
export const TEST_GROUP_SETTINGS = { initialRebalanceDelayMs: 300, minSessionTimeoutMs: 1_000, checkIntervalMs: 50 } as const;

export class TestCluster {
  readonly network = new MemoryNetwork();
  readonly members: ClusterMember[] = [];

  static async start(options: TestClusterOptions = {}): Promise<TestCluster> {
    const cluster = new TestCluster();
    try {
      await cluster.#form(options);
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  async #form(options: TestClusterOptions): Promise<void> {
    const size = options.size ?? 3;
    // 20 ms ticks, 500 ms election timeout: quick failovers, yet no spurious elections on a loaded 2-core CI machine.
    const tickMs = options.tickMs ?? 20;
    for (let id = 1; id <= size; id++) {
      const state = openNodeState();
      const storage = new MemoryStorage();
      const transport = this.network.createTransport(id);
      await transport.start();
      const broker = new KafkaBroker({ groups: TEST_GROUP_SETTINGS, ...options.broker, listen: { host: '127.0.0.1', port: 0 } });
      await broker.start();
      const kafka = broker.advertisedAddress()!;
      if (id === 1) await bootstrapCluster(storage, 1, addresses(1, kafka));
      const raft = new RaftNode({
        id, storage, transport, state: state.state, members: state.members, tickMs, electionTimeoutTicks: 25,
        seedPeers: id === 1 ? new Map() : new Map([[1, 'node-1']]), requestTimeoutMs: 5_000, snapshotEveryEntries: 2_000, entriesKeptAfterSnapshot: 500,
      });
      raft.start();
      this.members.push({ id, raft, state, broker, kafka, stopped: false });
      if (id === 1) {
        await waitFor(() => raft.role === 'leader', 'node 1 to lead');
      } else {
        await this.members[0]!.raft.changeMembership({
          changes: [{ action: 'add-learner', nodeId: id }],
          context: encodeMembershipContext({ members: { [String(id)]: { ...addresses(id, kafka), autoPromote: true } } }),
        });
      }
    }
    await waitFor(() => this.members[0]!.raft.raftStatus().config.voters.length === size, `${size} voters`);
    for (const member of this.members) member.broker.attach({ nodeId: member.id, raft: member.raft, log: member.state.log, members: member.state.members });
    await waitFor(() => this.members.every((member) => member.state.members.members().size === size), 'every member to know every address');
  }

  leader(): ClusterMember {
    const leader = this.members.find((member) => !member.stopped && member.raft.role === 'leader');
    if (leader === undefined) throw new Error('no leader right now');
    return leader;
  }

  async waitForLeader(): Promise<ClusterMember> {
    await waitFor(() => this.members.some((member) => !member.stopped && member.raft.role === 'leader'), 'a leader');
    return this.leader();
  }

  followers(): ClusterMember[] {
    return this.members.filter((member) => !member.stopped && member.raft.role !== 'leader');
  }

  /** Bootstrap servers of the followers first (clients must work when they start there). */
  bootstrapFromFollower(): string[] {
    const follower = this.followers()[0];
    if (follower === undefined) throw new Error('no follower');
    return [follower.kafka];
  }

  /** Stops a node as a crash would look to the others: its broker drops every connection, its Raft node stops, the network isolates it. */
  async stopMember(member: ClusterMember): Promise<void> {
    member.stopped = true;
    this.network.isolate(member.id);
    await member.broker.stop();
    await member.raft.stop();
  }

  async close(): Promise<void> {
    for (const member of this.members) {
      await member.broker.stop();
      await member.raft.stop();
    }
    this.network.close();
  }
}

function addresses(id: number, kafka: string): MemberAddresses {
  return { peer: `node-${id}`, client: `http-${id}`, kafka };
}
