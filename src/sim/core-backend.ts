// Core mode: each node is the Raft core driven directly (node.ts) over the simulator's own
// network model (delays, loss, duplication, reordering), fast enough for thousands of seeds.
import type { InjectedRaftBug } from '../core/index.ts';
import type { SeededRandom } from '../util/random.ts';
import type { ClusterObserver, NodeBackend } from './cluster.ts';
import type { EventQueue } from './event-queue.ts';
import { SimNetwork } from './network.ts';
import { entryContent, SimNode } from './node.ts';
import type { NodeTimings } from './node.ts';
import type { SimulatedNode } from './simulated-node.ts';

export class CoreBackend implements NodeBackend {
  readonly network: SimNetwork;
  private readonly nodes = new Map<number, SimNode>();
  private readonly events: EventQueue;
  private readonly random: SeededRandom;
  private readonly timings: NodeTimings;
  private readonly bugs: ReadonlySet<InjectedRaftBug>;

  constructor(events: EventQueue, random: SeededRandom, timings: NodeTimings, bugs: ReadonlySet<InjectedRaftBug>) {
    this.events = events;
    this.random = random;
    this.timings = timings;
    this.bugs = bugs;
    this.network = new SimNetwork(events, random.fork(), (message) => this.nodes.get(message.to)?.receive(message) ?? false,
      (message, cause) => this.nodes.get(message.from)?.onSendFailed(message, cause));
    this.network.onSnapshotDelivered = (message) => this.nodes.get(message.from)?.onSnapshotDelivered(message.to);
  }

  createNode(id: number, foundingVoters: readonly number[] | undefined, observer: ClusterObserver): SimulatedNode {
    const node: SimNode = new SimNode(id, this.events, this.random.fork(), {
      send: (message) => this.network.send(message),
      onLeader: (leader, term) => observer.onLeader(leader, term),
      onApply: (applier, entry) => observer.onApply(applier, entry.index, entry.term, entryContent(entry)),
    }, this.timings, this.bugs);
    if (foundingVoters !== undefined) {
      node.bootstrap({ voters: [...foundingVoters], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false });
    }
    this.nodes.set(id, node);
    return node;
  }
}
