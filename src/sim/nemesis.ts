// The fault schedule of a simulation: at seeded intervals it partitions the network (symmetric
// or one way), changes loss/duplication/delay, crashes and restarts nodes, changes membership
// (learners, promotion, removal of any voter including the leader, joint replacement),
// transfers leadership and compacts logs. Every action is logged for the failure report.
import type { SeededRandom } from '../util/random.ts';
import type { SimCluster } from './cluster.ts';
import type { SimulatedNode } from './simulated-node.ts';

export interface NemesisOptions {
  readonly intervalMinMs: number;
  readonly intervalMaxMs: number;
  readonly profile: NemesisProfile;
}

type Action = (cluster: SimCluster, random: SeededRandom) => string | undefined;

const partitionRandom: Action = (cluster, random) => {
  const ids = random.shuffle(cluster.allIds());
  const cut = random.int(1, Math.max(1, ids.length - 1));
  const groups = [ids.slice(0, cut), ids.slice(cut)];
  cluster.network.partition(groups);
  return `partition ${groups.map((group) => `(${group.join(' ')})`).join(' ')}`;
};

const isolateLeader: Action = (cluster) => {
  const leader = cluster.leader();
  if (leader === undefined) return undefined;
  const others = cluster.allIds().filter((id) => id !== leader.id);
  cluster.network.partition([[leader.id], others]);
  return `isolate leader ${leader.id}`;
};

const oneWayCut: Action = (cluster, random) => {
  const ids = cluster.allIds();
  const from = random.pick(ids);
  const to = random.pick(ids.filter((id) => id !== from));
  cluster.network.cutLink(from, to);
  return `cut ${from}->${to}`;
};

const heal: Action = (cluster) => {
  cluster.network.heal();
  return 'heal';
};

const flakyNetwork: Action = (cluster, random) => {
  const faults = cluster.network.faults;
  faults.dropProbability = random.pick([0, 0, 0.05, 0.2, 0.4]);
  faults.duplicateProbability = random.pick([0, 0, 0.05, 0.2]);
  faults.delayMinMs = random.int(0, 5);
  faults.delayMaxMs = faults.delayMinMs + random.pick([2, 10, 40, 150]);
  faults.stragglerProbability = random.pick([0, 0.02, 0.1]);
  faults.stragglerDelayMaxMs = random.pick([50, 300]);
  cluster.network.faultsChanged();
  return `network drop=${faults.dropProbability} duplicate=${faults.duplicateProbability} delay=${faults.delayMinMs}-${faults.delayMaxMs}ms stragglers=${faults.stragglerProbability}/${faults.stragglerDelayMaxMs}ms`;
};

const crashNode: Action = (cluster, random) => {
  const live = cluster.liveNodes();
  if (live.length === 0) return undefined;
  const leader = cluster.leader();
  const victim = leader !== undefined && random.chance(0.4) ? leader : random.pick(live);
  victim.crash();
  return `crash ${victim.id}`;
};

const restartNode: Action = (cluster, random) => {
  const down = cluster.downNodes();
  if (down.length === 0) return undefined;
  const node = random.pick(down);
  node.start();
  return `restart ${node.id}`;
};

/** Crash and come back moments later, like a process killed and restarted by its supervisor. */
const bounceNode: Action = (cluster, random) => {
  const live = cluster.liveNodes();
  if (live.length === 0) return undefined;
  // Most interesting: a node in the middle of an election, or one that just cast a vote.
  const electing = live.filter((node) => {
    const view = node.view();
    if (view === undefined) return false;
    return view.role !== 'follower' || (view.vote !== 0 && view.vote !== node.id && view.leaderId === 0);
  });
  const victim = electing.length > 0 && random.chance(0.7) ? random.pick(electing) : random.pick(live);
  victim.crash();
  const downtime = random.pick([random.int(1, 10), random.int(1, 80)]);
  cluster.events.schedule(downtime, () => {
    if (!victim.up) victim.start();
  });
  return `bounce ${victim.id} (down for ${downtime}ms)`;
};

/** A crash-looping process: down and up again many times in quick succession. */
const crashLoop: Action = (cluster, random) => {
  const live = cluster.liveNodes();
  if (live.length === 0) return undefined;
  const followers = live.filter((node) => node.view()?.role !== 'leader');
  const victim = followers.length > 0 ? random.pick(followers) : random.pick(live);
  const cycles = random.int(3, 40);
  const cycle = (remaining: number): void => {
    if (remaining === 0) return;
    if (victim.up) victim.crash();
    cluster.events.schedule(random.int(1, 8), () => {
      if (!victim.up) victim.start();
      cluster.events.schedule(random.int(5, 60), () => cycle(remaining - 1));
    });
  };
  cycle(cycles);
  return `crash-loop ${victim.id} (${cycles} cycles)`;
};

const addLearner: Action = (cluster) => {
  const leader = cluster.leader();
  if (leader === undefined || cluster.spareIdsLeft() === 0) return undefined;
  const node = cluster.startSpare();
  const result = leader.proposeConfChange({ changes: [{ action: 'add-learner', nodeId: node.id }] });
  return `add learner ${node.id} via ${leader.id}: ${result}`;
};

const promoteLearner: Action = (cluster, random) => {
  const leader = cluster.leader();
  const learners = leader?.view()?.config.learners ?? [];
  if (leader === undefined || learners.length === 0) return undefined;
  const nodeId = random.pick(learners);
  const result = leader.proposeConfChange({ changes: [{ action: 'add-voter', nodeId }] });
  return `promote ${nodeId} via ${leader.id}: ${result}`;
};

const removeVoter: Action = (cluster, random) => {
  const leader = cluster.leader();
  const voters = leader?.view()?.config.voters ?? [];
  if (leader === undefined || voters.length < 3) return undefined;
  const nodeId = random.chance(0.3) ? leader.id : random.pick(voters);
  const result = leader.proposeConfChange({ changes: [{ action: 'remove', nodeId }] });
  return `remove ${nodeId} via ${leader.id}: ${result}`;
};

/** Replaces a voter by a new node in one joint-consensus change. */
const replaceVoterJoint: Action = (cluster, random) => {
  const leader = cluster.leader();
  const voters = leader?.view()?.config.voters ?? [];
  if (leader === undefined || voters.length < 2 || cluster.spareIdsLeft() === 0) return undefined;
  const removed = random.pick(voters);
  const node = cluster.startSpare();
  const transition = random.chance(0.5) ? 'auto' : 'joint-implicit';
  const result = leader.proposeConfChange({
    changes: [{ action: 'add-voter', nodeId: node.id }, { action: 'remove', nodeId: removed }],
    transition,
  });
  return `joint replace ${removed} by ${node.id} via ${leader.id}: ${result}`;
};

const transferLeader: Action = (cluster, random) => {
  const leader = cluster.leader();
  const voters = leader?.view()?.config.voters.filter((id) => id !== leader.id) ?? [];
  if (leader === undefined || voters.length === 0) return undefined;
  const target = random.pick(voters);
  return `transfer ${leader.id} -> ${target}: ${leader.transferLeader(target)}`;
};

const compactLog: Action = (cluster, random) => {
  const live = cluster.liveNodes();
  if (live.length === 0) return undefined;
  const node = random.pick(live);
  const index = node.compact(random.int(0, 5));
  return index === undefined ? undefined : `compact ${node.id} at ${index}`;
};

/**
 * Each seed draws a profile, so that some runs concentrate on one kind of fault (a bug that
 * needs three crashes in a row is found by crash-heavy runs, not by an even mix).
 */
export type NemesisProfile = 'mixed' | 'crashes' | 'partitions' | 'membership' | 'leader-churn';

type Weights = readonly [Action, number][];

const PROFILES: Readonly<Record<NemesisProfile, Weights>> = {
  mixed: [
    [partitionRandom, 6], [isolateLeader, 3], [oneWayCut, 3], [heal, 8], [flakyNetwork, 4], [crashNode, 5],
    [restartNode, 7], [bounceNode, 3], [crashLoop, 2], [addLearner, 2], [promoteLearner, 3], [removeVoter, 2], [replaceVoterJoint, 2],
    [transferLeader, 3], [compactLog, 6],
  ],
  crashes: [
    [crashNode, 6], [bounceNode, 8], [crashLoop, 6], [restartNode, 8], [isolateLeader, 2], [heal, 3], [flakyNetwork, 2], [compactLog, 2],
    [transferLeader, 1],
  ],
  partitions: [
    [partitionRandom, 8], [isolateLeader, 6], [oneWayCut, 5], [heal, 6], [flakyNetwork, 4], [bounceNode, 2], [compactLog, 2],
  ],
  // Leaders are also attacked right after each election (see Nemesis.onLeaderElected).
  'leader-churn': [[heal, 6], [restartNode, 6], [bounceNode, 2], [crashLoop, 3], [flakyNetwork, 1], [compactLog, 1]],
  membership: [
    [addLearner, 4], [promoteLearner, 5], [removeVoter, 3], [replaceVoterJoint, 4], [transferLeader, 3], [heal, 4],
    [partitionRandom, 2], [bounceNode, 2], [compactLog, 3], [restartNode, 3],
  ],
};

export class Nemesis {
  readonly log: string[] = [];
  private active = false;
  private readonly cluster: SimCluster;
  private readonly random: SeededRandom;
  private readonly options: NemesisOptions;

  constructor(cluster: SimCluster, random: SeededRandom, options: NemesisOptions) {
    this.cluster = cluster;
    this.random = random;
    this.options = options;
  }

  start(): void {
    this.active = true;
    this.scheduleNext();
    if (this.options.profile === 'leader-churn') this.cluster.onLeaderElected = (leader) => this.attackNewLeader(leader);
  }

  /**
   * Cuts off or kills a fresh leader moments after its election, often before its first entries
   * reach a majority: the schedule behind Figure 8 of the Raft paper, where entries of old terms
   * sit on minorities while leadership moves around.
   */
  private attackNewLeader(leader: SimulatedNode): void {
    if (!this.random.chance(0.85)) return;
    const life = leader.incarnation;
    const delay = this.random.int(0, 60);
    const attack = this.random.pick(['isolate', 'isolate', 'crash', 'bounce'] as const);
    this.cluster.events.schedule(delay, () => {
      if (!this.active || !leader.up || leader.incarnation !== life) return;
      if (attack === 'isolate') {
        this.cluster.network.partition([[leader.id], this.cluster.allIds().filter((id) => id !== leader.id)]);
        // Let it back soon, with whatever it appended alone, to compete with the next leader.
        this.cluster.events.schedule(this.random.int(20, 200), () => this.active && this.cluster.network.heal());
      } else {
        leader.crash();
        this.cluster.events.schedule(this.random.int(5, 150), () => leader.up || leader.start());
      }
      this.log.push(`${this.cluster.events.now}ms ${attack} new leader ${leader.id}`);
    });
  }

  stop(): void {
    this.active = false;
    this.cluster.onLeaderElected = () => {};
  }

  private scheduleNext(): void {
    const delay = this.random.int(this.options.intervalMinMs, this.options.intervalMaxMs);
    this.cluster.events.schedule(delay, () => {
      if (!this.active) return;
      this.act();
      this.scheduleNext();
    });
  }

  private act(): void {
    const actions = PROFILES[this.options.profile];
    const total = actions.reduce((sum, [, weight]) => sum + weight, 0);
    let roll = this.random.int(1, total);
    for (const [action, weight] of actions) {
      roll -= weight;
      if (roll > 0) continue;
      const description = action(this.cluster, this.random);
      if (description !== undefined) this.log.push(`${this.cluster.events.now}ms ${description}`);
      return;
    }
  }
}
