// One simulation run, entirely decided by its seed: a safety phase with faults and client load,
// then a liveness phase in which every fault heals and the cluster must elect a leader, finish
// all client operations and converge within a bound. Checkers run throughout and at the end.
import { checkLinearizability } from '../check/linearizability.ts';
import { kvRegisterModel } from '../check/kv-model.ts';
import type { Violation } from '../check/raft-safety.ts';
import { INJECTED_RAFT_BUGS } from '../core/index.ts';
import type { InjectedRaftBug } from '../core/index.ts';
import { INJECTED_RUNTIME_BUGS } from '../runtime/ready-processor.ts';
import type { InjectedRuntimeBug } from '../runtime/ready-processor.ts';
import type { NodeBackend } from './cluster.ts';
import { CoreBackend } from './core-backend.ts';
import { EventQueue } from './event-queue.ts';
import { RuntimeBackend } from './runtime-backend.ts';
import type { RuntimeTimings } from './runtime-backend.ts';
import { SeededRandom } from '../util/random.ts';
import { SimCluster } from './cluster.ts';
import { CALM_NETWORK } from './network.ts';
import { Nemesis } from './nemesis.ts';
import type { NodeTimings } from './node.ts';
import type { SimulatedNode } from './simulated-node.ts';
import { Workload } from './workload.ts';
import type { KvHistoryEntry } from './workload.ts';

/** 'core': the Raft core driven directly (fast); 'runtime': the real node runtime on a simulated disk. */
export type SimulationMode = 'core' | 'runtime';

export interface SimulationOptions {
  readonly seed: number;
  readonly mode?: SimulationMode;
  readonly nodes: number;
  readonly operations: number;
  readonly injectedBugs: ReadonlySet<InjectedBug>;
  /** Length of the faulty phase in simulated ms (default: drawn from the seed, 2–12 s). */
  readonly safetyPhaseMs?: number;
  /** Time the healed cluster gets to converge, in simulated ms. */
  readonly livenessBoundMs?: number;
  /** Keep the client history in the result (for --history output). */
  readonly keepHistory?: boolean;
}

export interface SeedResult {
  readonly seed: number;
  readonly nodes: number;
  readonly violations: Violation[];
  readonly violationCount: number;
  readonly operations: number;
  readonly operationsOk: number;
  readonly linearizability: 'ok' | 'illegal' | 'unknown';
  readonly simulatedMs: number;
  readonly faults: string[];
  readonly elapsedMs: number;
  readonly history?: KvHistoryEntry[];
}

function drawTimings(random: SeededRandom): NodeTimings {
  return {
    tickMs: 10,
    diskLatencyMaxMs: random.pick([1, 4, 12]),
    electionTimeoutTicks: 10,
    heartbeatIntervalTicks: random.pick([1, 2, 3]),
    appendBytesPerMessageMax: random.pick([64, 512, 4096]),
    inflightMessagesMax: random.pick([1, 2, 8, 64]),
    preVote: random.chance(0.75),
    checkQuorum: random.chance(0.75),
    // Drawn last so that the draws above keep their values for a given seed.
    lazyCommitPropagation: random.chance(0.5),
  };
}
const LOG_CHECK_INTERVAL_MS = 250;

export type InjectedBug = InjectedRaftBug | InjectedRuntimeBug;

function createBackend(mode: SimulationMode, events: EventQueue, random: SeededRandom, bugs: ReadonlySet<InjectedBug>): NodeBackend {
  const raftBugs = new Set([...bugs].filter((bug): bug is InjectedRaftBug => (INJECTED_RAFT_BUGS as readonly string[]).includes(bug)));
  const runtimeBugs = new Set([...bugs].filter((bug): bug is InjectedRuntimeBug => (INJECTED_RUNTIME_BUGS as readonly string[]).includes(bug)));
  if (mode === 'core') {
    if (runtimeBugs.size > 0) throw new Error(`${[...runtimeBugs].join(', ')} is a runtime bug: run it with --runtime`);
    return new CoreBackend(events, random.fork(), drawTimings(random), raftBugs);
  }
  return new RuntimeBackend(events, random.fork(), drawRuntimeTimings(random), raftBugs, runtimeBugs);
}

function drawRuntimeTimings(random: SeededRandom): RuntimeTimings {
  return {
    tickMs: 10,
    electionTimeoutTicks: 10,
    heartbeatIntervalTicks: random.pick([1, 2]),
    diskLatencyMaxMs: random.pick([0, 2, 6]),
    snapshotEveryEntries: random.pick([20, 60, 500]),
    entriesKeptAfterSnapshot: random.pick([0, 5, 50]),
    segmentMaxBytes: random.pick([4096, 65536, 1 << 20]),
  };
}

export async function runSimulation(options: SimulationOptions): Promise<SeedResult> {
  const startedAt = performance.now();
  const random = new SeededRandom(options.seed);
  const mode = options.mode ?? 'core';
  const events = new EventQueue();
  const cluster = new SimCluster(events, createBackend(mode, events, random, options.injectedBugs), options.nodes);
  // Faults are cheap to simulate and client operations are not (each one is checked), so the
  // faulty phase is long and the clients pace their operations to last through it.
  const safetyPhaseMs = options.safetyPhaseMs ?? random.int(2_000, 12_000);
  const clients = random.int(2, 6);
  const thinkTimeMaxMs = Math.max(2, Math.round((2 * clients * safetyPhaseMs) / Math.max(1, options.operations)));
  const workload = new Workload(
    { clients, operations: options.operations, keys: random.int(1, 4), timeoutMs: 1500, thinkTimeMaxMs },
    cluster.events, random.fork(), () => cluster.liveNodes(),
  );
  const profile = random.pick(['mixed', 'mixed', 'crashes', 'crashes', 'partitions', 'membership', 'leader-churn', 'leader-churn', 'leader-churn'] as const);
  const nemesis = new Nemesis(cluster, random.fork(), { intervalMinMs: 10, intervalMaxMs: random.pick([80, 150, 400, 1000]), profile });
  nemesis.log.push(`profile ${profile}`);
  // Some seeds start with an unreliable network rather than waiting for the nemesis to make one.
  if (random.chance(0.3)) {
    Object.assign(cluster.network.faults, { dropProbability: 0.02, duplicateProbability: 0.02, delayMinMs: 1, delayMaxMs: 20, stragglerProbability: 0.05, stragglerDelayMaxMs: 200 });
    cluster.network.faultsChanged();
  }
  try {
    const run = mode === 'core'
      ? (until: number, stop: () => boolean) => events.runUntil(until, stop)
      : (until: number, stop: () => boolean) => events.runUntilAsync(until, stop);
    await runPhases(cluster, workload, nemesis, safetyPhaseMs, options.livenessBoundMs ?? 20_000, run);
  } catch (error) {
    // A broken invariant inside the core is a finding, not a crash of the simulator.
    cluster.checker.report('invariant', (error as Error).stack ?? String(error), cluster.events.now);
  }
  const linearizability = checkHistory(cluster, workload);
  return {
    seed: options.seed,
    nodes: options.nodes,
    violations: cluster.checker.violations,
    violationCount: cluster.checker.violationCount,
    operations: workload.history.length,
    operationsOk: workload.history.filter((entry) => entry.outcome === 'ok').length,
    linearizability,
    simulatedMs: cluster.events.now,
    faults: nemesis.log,
    elapsedMs: performance.now() - startedAt,
    ...(options.keepHistory ? { history: workload.history } : {}),
  };
}

type Runner = (untilMs: number, shouldStop: () => boolean) => void | Promise<void>;

async function runPhases(cluster: SimCluster, workload: Workload, nemesis: Nemesis, safetyPhaseMs: number, livenessBoundMs: number, run: Runner): Promise<void> {
  const { events, checker } = cluster;
  scheduleLogChecks(cluster);
  workload.start();
  nemesis.start();
  await run(safetyPhaseMs, () => checker.violationCount > 0);
  nemesis.stop();
  // Client operations already started must finish (they are bounded by their timeout); the
  // probe then proves that the healed cluster serves writes and reads again.
  workload.stop();
  if (checker.violationCount > 0) return;
  healEverything(cluster, nemesis);
  const deadline = events.now + livenessBoundMs;
  const probe = new Probe(cluster);
  await run(deadline, () => checker.violationCount > 0 || (workload.pending === 0 && probe.settled() && converged(cluster)));
  if (checker.violationCount > 0) return;
  if (workload.pending > 0) checker.report('liveness', `${workload.pending} client operations still pending ${livenessBoundMs}ms after healing: ${describeReplicas(cluster)}`, events.now);
  else if (!probe.settled()) checker.report('liveness', `no write and read served after healing (${probe.describe()})`, events.now);
  else if (!converged(cluster)) checker.report('liveness', `replicas did not converge after healing: ${describeReplicas(cluster)}`, events.now);
  cluster.checkLogMatching();
  for (const write of workload.acknowledged) checker.checkAcknowledged(write.index, write.term, write.content, events.now);
}

function healEverything(cluster: SimCluster, nemesis: Nemesis): void {
  cluster.network.heal();
  Object.assign(cluster.network.faults, CALM_NETWORK);
  cluster.network.faultsChanged();
  for (const node of cluster.downNodes()) node.start();
  nemesis.log.push(`${cluster.events.now}ms heal everything (liveness phase)`);
}

function scheduleLogChecks(cluster: SimCluster): void {
  const check = (): void => {
    cluster.checkLogMatching();
    if (cluster.checker.violationCount === 0) cluster.events.schedule(LOG_CHECK_INTERVAL_MS, check);
  };
  cluster.events.schedule(LOG_CHECK_INTERVAL_MS, check);
}

/** The members as the leader sees them: they must all hold the same applied state. */
function members(cluster: SimCluster): SimulatedNode[] | undefined {
  const leader = cluster.leader();
  if (leader === undefined) return undefined;
  const config = leader.view()!.config;
  if (config.votersOutgoing.length > 0) return undefined; // still in a joint configuration
  return [...config.voters, ...config.learners].map((id) => cluster.nodes.get(id)!).filter((node) => node !== undefined);
}

function converged(cluster: SimCluster): boolean {
  const nodes = members(cluster);
  if (nodes === undefined || nodes.some((node) => !node.up)) return false;
  const leader = cluster.leader()!;
  const commit = leader.view()!.commit;
  if (!nodes.every((node) => node.appliedIndex() === commit)) return false;
  const digest = leader.digest();
  return nodes.every((node) => node.digest() === digest);
}

function describeReplicas(cluster: SimCluster): string {
  const leaderView = cluster.leader()?.describeProgress() ?? 'no leader';
  return cluster.allIds()
    .map((id) => {
      const node = cluster.nodes.get(id)!;
      const view = node.view();
      return view === undefined ? `${id}:down` : `${id}:${view.role}/t${view.term}/c${view.commit}/a${node.appliedIndex()}`;
    })
    .join(' ') + ` | leader's view: ${leaderView}`;
}

/** After healing, keeps trying a write and then a linearizable read through the leader until both succeed. */
class Probe {
  private applied = false;
  private read = false;
  private attempts = 0;
  private readonly cluster: SimCluster;

  constructor(cluster: SimCluster) {
    this.cluster = cluster;
    this.attempt();
  }

  private attempt(): void {
    if (this.applied && this.read) return;
    this.attempts++;
    const leader = this.cluster.leader();
    if (!this.applied) {
      leader?.write({ op: 'put', key: 'probe', value: `p${this.attempts}` }, (outcome) => {
        if (outcome.kind === 'applied') this.applied = true;
      });
    } else {
      leader?.read('probe', (outcome) => {
        if (outcome.kind === 'read' && outcome.value !== null) this.read = true;
      });
    }
    this.cluster.events.schedule(200, () => this.attempt());
  }

  settled(): boolean {
    return this.applied && this.read;
  }

  describe(): string {
    return `${this.attempts} attempts, replicas ${describeReplicas(this.cluster)}`;
  }
}

function checkHistory(cluster: SimCluster, workload: Workload): 'ok' | 'illegal' | 'unknown' {
  const result = checkLinearizability(kvRegisterModel, workload.history, { timeBudgetMs: 5_000, shrinkBudgetMs: 2_000 });
  if (result.verdict === 'illegal') {
    const example = result.counterexample;
    const operations = example?.operations.map((entry) => `${entry.process}:${JSON.stringify(entry.input)}->${JSON.stringify(entry.output)}@${entry.callTime}-${entry.returnTime ?? '?'}/${entry.outcome}`) ?? [];
    cluster.checker.report('linearizability', `key ${example?.key}: ${example?.explanation ?? ''}\n    ${operations.join('\n    ')}`, cluster.events.now);
  }
  return result.verdict;
}
