// The simulated cluster: the clock (an event queue), the network, every node that ever existed,
// and the safety checker observing them all.
import type { Entry, InjectedRaftBug, Message } from '../core/index.ts';
import { RaftSafetyChecker } from '../check/raft-safety.ts';
import type { ElectionView } from '../check/raft-safety.ts';
import type { SeededRandom } from '../util/random.ts';
import { EventQueue } from './event-queue.ts';
import { SimNetwork } from './network.ts';
import { entryContent, SimNode } from './node.ts';
import type { NodeTimings } from './node.ts';

/** How many nodes may be added over a run (fresh ids: a removed member never comes back under its id). */
const SPARE_NODES_MAX = 4;

export class SimCluster {
  readonly events = new EventQueue();
  readonly network: SimNetwork;
  readonly checker = new RaftSafetyChecker();
  readonly nodes = new Map<number, SimNode>();
  private readonly random: SeededRandom;
  private readonly timings: NodeTimings;
  private readonly bugs: ReadonlySet<InjectedRaftBug>;
  /** Called when a node announces it became leader (the nemesis may target it). */
  onLeaderElected: (leader: SimNode) => void = () => {};
  private nextSpareId: number;
  private readonly lastSpareId: number;

  constructor(initialNodes: number, random: SeededRandom, timings: NodeTimings, bugs: ReadonlySet<InjectedRaftBug>) {
    this.random = random;
    this.timings = timings;
    this.bugs = bugs;
    this.network = new SimNetwork(this.events, random.fork(), (message) => this.nodes.get(message.to)?.receive(message) ?? false,
      (message, cause) => this.nodes.get(message.from)?.onSendFailed(message, cause));
    this.network.onSnapshotDelivered = (message) => this.nodes.get(message.from)?.onSnapshotDelivered(message.to);
    const voters = Array.from({ length: initialNodes }, (_, position) => position + 1);
    for (const id of voters) {
      const node = this.createNode(id);
      node.bootstrap({ voters, learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false });
      node.start();
    }
    this.nextSpareId = initialNodes + 1;
    this.lastSpareId = initialNodes + SPARE_NODES_MAX;
  }

  private createNode(id: number): SimNode {
    const node = new SimNode(id, this.events, this.random.fork(), {
      send: (message: Message) => this.network.send(message),
      onLeader: (leader, term) => {
        this.checker.onLeader(term, leader.id, leader.observedLog(), this.events.now);
        this.onLeaderElected(leader);
      },
      onApply: (applier, entry: Entry) => {
        const firstApply = this.checker.onApply(applier.id, { index: entry.index, term: entry.term, content: entryContent(entry) }, this.events.now);
        if (firstApply) this.checker.checkCommitDurable(entry.index, entry.term, this.electionViews(), this.events.now);
      },
    }, this.timings, this.bugs);
    this.nodes.set(id, node);
    return node;
  }

  spareIdsLeft(): number {
    return this.lastSpareId - this.nextSpareId + 1;
  }

  /** Starts a brand-new node with an empty disk; it joins once a leader adds it. */
  startSpare(): SimNode {
    const node = this.createNode(this.nextSpareId++);
    node.start();
    return node;
  }

  allIds(): number[] {
    return [...this.nodes.keys()].sort((a, b) => a - b);
  }

  liveNodes(): SimNode[] {
    return this.allIds().map((id) => this.nodes.get(id)!).filter((node) => node.up);
  }

  downNodes(): SimNode[] {
    return this.allIds().map((id) => this.nodes.get(id)!).filter((node) => !node.up);
  }

  /** The live node that believes it leads with the highest term, if any. */
  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const node of this.liveNodes()) {
      const raft = node.raw!.raft;
      if (raft.role === 'leader' && (best === undefined || raft.term > best.raw!.raft.term)) best = node;
    }
    return best;
  }

  electionViews(): ElectionView[] {
    return [...this.nodes.values()].map((node) => node.electionView());
  }

  checkLogMatching(): void {
    this.checker.checkLogMatching([...this.nodes.values()].map((node) => node.observedLog()), this.events.now);
  }
}
