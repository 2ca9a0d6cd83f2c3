// The simulated cluster: the clock (an event queue), the network, every node that ever existed,
// and the safety checker observing them all. How nodes run is the backend's business (the core
// driven directly, or the real runtime); the cluster only sees SimulatedNode.
import { RaftSafetyChecker } from '../check/raft-safety.ts';
import type { ElectionView } from '../check/raft-safety.ts';
import { EventQueue } from './event-queue.ts';
import type { NetworkFaults } from './network.ts';
import type { SimulatedNode } from './simulated-node.ts';

/** How many nodes may be added over a run (fresh ids: a removed member never comes back under its id). */
const SPARE_NODES_MAX = 4;

/** What nodes report to the cluster's checkers. */
export interface ClusterObserver {
  onLeader(node: SimulatedNode, term: number): void;
  onApply(node: SimulatedNode, index: number, term: number, content: string): void;
  /** The node failed in a way a correct implementation never does (a refused recovery, a fatal error). */
  onFailure(node: SimulatedNode, message: string): void;
}

/** The faults the nemesis can inflict on a network. */
export interface NetworkControl {
  readonly faults: NetworkFaults;
  /** Call after changing `faults`. */
  faultsChanged(): void;
  partition(groups: readonly (readonly number[])[]): void;
  cutLink(from: number, to: number): void;
  heal(): void;
}

export interface NodeBackend {
  readonly network: NetworkControl;
  /** A new node; founding members start with `foundingVoters` as the membership. */
  createNode(id: number, foundingVoters: readonly number[] | undefined, observer: ClusterObserver): SimulatedNode;
}

export class SimCluster {
  readonly events: EventQueue;
  readonly network: NetworkControl;
  readonly checker = new RaftSafetyChecker();
  readonly nodes = new Map<number, SimulatedNode>();
  /** Called when a node announces it became leader (the nemesis may target it). */
  onLeaderElected: (leader: SimulatedNode) => void = () => {};
  private readonly backend: NodeBackend;
  private readonly observer: ClusterObserver;
  private nextSpareId: number;
  private readonly lastSpareId: number;

  constructor(events: EventQueue, backend: NodeBackend, initialNodes: number) {
    this.events = events;
    this.backend = backend;
    this.network = backend.network;
    this.observer = {
      onLeader: (leader, term) => {
        this.checker.onLeader(term, leader.id, leader.observedLog(), this.events.now);
        this.onLeaderElected(leader);
      },
      onApply: (node, index, term, content) => {
        const firstApply = this.checker.onApply(node.id, { index, term, content }, this.events.now);
        if (firstApply) this.checker.checkCommitDurable(index, term, this.electionViews(), this.events.now);
      },
      onFailure: (node, message) => this.checker.report('invariant', `node ${node.id}: ${message}`, this.events.now),
    };
    const voters = Array.from({ length: initialNodes }, (_, position) => position + 1);
    for (const id of voters) this.addNode(id, voters).start();
    this.nextSpareId = initialNodes + 1;
    this.lastSpareId = initialNodes + SPARE_NODES_MAX;
  }

  private addNode(id: number, foundingVoters: readonly number[] | undefined): SimulatedNode {
    const node = this.backend.createNode(id, foundingVoters, this.observer);
    this.nodes.set(id, node);
    return node;
  }

  spareIdsLeft(): number {
    return this.lastSpareId - this.nextSpareId + 1;
  }

  /** Starts a brand-new node with an empty disk; it joins once a leader adds it. */
  startSpare(): SimulatedNode {
    const node = this.addNode(this.nextSpareId++, undefined);
    node.start();
    return node;
  }

  allIds(): number[] {
    return [...this.nodes.keys()].sort((a, b) => a - b);
  }

  liveNodes(): SimulatedNode[] {
    return this.allIds().map((id) => this.nodes.get(id)!).filter((node) => node.up);
  }

  downNodes(): SimulatedNode[] {
    return this.allIds().map((id) => this.nodes.get(id)!).filter((node) => !node.up);
  }

  /** The live node that believes it leads with the highest term, if any. */
  leader(): SimulatedNode | undefined {
    let best: SimulatedNode | undefined;
    let bestTerm = -1;
    for (const node of this.liveNodes()) {
      const view = node.view();
      if (view?.role === 'leader' && view.term > bestTerm) {
        best = node;
        bestTerm = view.term;
      }
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
