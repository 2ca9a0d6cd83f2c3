// The scenarios of `cairn chaos`: each a named fault schedule plus what must hold during it. A plan
// is a pure function of (scenario, nodes, seed, duration, workload, rate): the same seed gives the
// same schedule (targets such as "the leader" are resolved when a fault starts, the choice among
// followers by a seeded pick). Longer durations repeat a scenario's cycle, they do not stretch it.
import { createPrng } from '../check/prng.ts';
import type { Prng } from '../check/prng.ts';
import { LEADER, ScheduleBuilder, follower, nodeTarget, repeatCycles, start, stop } from './schedule.ts';
import type { EnvironmentPlan, ScenarioPlan, Target, WorkloadKind, WorkloadPlan } from './types.ts';

export type Requirement = 'root' | 'faketime';

export interface PlanContext {
  readonly nodes: number;
  readonly durationMs: number;
  readonly random: Prng;
  readonly schedule: ScheduleBuilder;
}

export interface ScenarioAdjustments {
  readonly environment?: Partial<EnvironmentPlan>;
  readonly workload?: Partial<WorkloadPlan>;
}

export interface ScenarioDefinition {
  readonly name: string;
  /** One line for `cairn chaos list`. */
  readonly summary: string;
  /** What the scenario checks beyond the checkers every scenario runs. */
  readonly checks: string;
  readonly requires: readonly Requirement[];
  /** Adds the windows and expectations to context.schedule. */
  plan(context: PlanContext): ScenarioAdjustments | void;
}

export const WARMUP_MS = 2000;
export const RECOVERY_MS = 2500;
/** Time a 3- or 5-node cluster gets to elect a new leader before it must take writes again. */
const ELECTION_SETTLE_MS = 2000;
const SETTLE_MS = 600;
/** A restore waits until the node rejoined (leader, caught up, links up): writes must follow at once. */
const RESTORED_WITHIN_MS = 3000;

/**
 * Scenarios that place several faults at fractions of --duration spread them over at least this
 * long: squeezed into a few seconds they overlap in ways the scenario does not mean (a restart
 * that waits for its links while a partition cuts them, a crash while a member is out).
 */
const FRACTIONAL_SPAN_MIN_MS = 12_000;

/**
 * Frequent snapshots; a small kept tail, so that the leader's hold for a follower behind it (4 x
 * the tail's bytes) runs out within a cycle and a held-off follower needs a snapshot; and small
 * parts, so that a snapshot crosses the faults as many frames.
 */
const SNAPSHOT_ARGS = ['--snapshot-every-entries', '100', '--entries-kept-after-snapshot', '20', '--bytes-kept-after-snapshot', '4KiB', '--snapshot-part-bytes', '8KiB'];

function majority(nodes: number): number {
  return Math.floor(nodes / 2) + 1;
}

/** Distinct node ids chosen at random (seeded). */
function pickNodes(random: Prng, nodes: number, count: number): number[] {
  const ids = Array.from({ length: nodes }, (_, index) => index + 1);
  for (let index = ids.length - 1; index > 0; index--) {
    const other = random.nextInt(index + 1);
    [ids[index], ids[other]] = [ids[other]!, ids[index]!];
  }
  return ids.slice(0, count).sort((a, b) => a - b);
}

const leaderCrash: ScenarioDefinition = {
  name: 'leader-crash', requires: [],
  summary: 'SIGKILL the leader, restart it later; repeated',
  checks: 'a new leader takes writes within 2 s of the crash',
  plan({ durationMs, schedule }) {
    repeatCycles(durationMs, 5000, (offset) => {
      const window = schedule.add(offset, 3500, { type: 'crash', targets: [LEADER], signal: 'SIGKILL' });
      schedule.availableDuring(window, ELECTION_SETTLE_MS);
    });
  },
};

const followerCrashRejoin: ScenarioDefinition = {
  name: 'follower-crash-rejoin', requires: [],
  summary: 'SIGKILL a follower, restart it after 3 s: it rejoins and catches up; repeated',
  checks: 'writes continue while the follower is down',
  plan({ durationMs, random, schedule }) {
    repeatCycles(durationMs, 5000, (offset) => {
      const window = schedule.add(offset, 3000, { type: 'crash', targets: [follower(random)], signal: 'SIGKILL' });
      schedule.availableDuring(window, SETTLE_MS);
    });
  },
};

const cascadingFailures: ScenarioDefinition = {
  name: 'cascading-failures', requires: [],
  summary: 'nodes fail one after another until the majority is gone, then come back',
  checks: 'works while a majority is up, refuses every write without one, recovers when one is back',
  plan({ nodes, durationMs, random, schedule }) {
    const survivable = nodes - majority(nodes);
    repeatCycles(durationMs, 10_000, (offset) => {
      const downFirst: number[] = [];
      for (let index = 0; index < survivable; index++) {
        downFirst.push(schedule.add(offset + index * 1200, 8000 - index * 1200, { type: 'crash', targets: [follower(random)], signal: 'SIGKILL' }));
      }
      const fatalAt = offset + survivable * 1200 + 1300;
      const fatalTarget: Target = random.next() < 0.5 ? LEADER : follower(random);
      const fatal = schedule.add(fatalAt, 2500, { type: 'crash', targets: [fatalTarget], signal: 'SIGKILL' });
      schedule.expect({ kind: 'available', from: start(downFirst.at(-1)!), to: start(fatal), settleMs: SETTLE_MS });
      schedule.noQuorumDuring(fatal);
      schedule.availableAfter(fatal, RESTORED_WITHIN_MS);
    });
  },
};

const concurrentFailures: ScenarioDefinition = {
  name: 'concurrent-failures', requires: [],
  summary: 'a majority of nodes killed at once (2 of 3), one restored, then the rest',
  checks: 'no write acknowledged while the majority is down; writes resume once one node is back',
  plan({ nodes, durationMs, random, schedule }) {
    const down = nodes - majority(nodes) + 1;
    repeatCycles(durationMs, 8000, (offset) => {
      const victims = pickNodes(random, nodes, down);
      const windows = victims.map((id, index) => schedule.add(offset, index === 0 ? 3000 : 6000, { type: 'crash', targets: [nodeTarget(id)], signal: 'SIGKILL' }));
      schedule.expect({ kind: 'no-quorum', from: start(windows.at(-1)!), to: stop(windows[0]!) });
      schedule.availableAfter(windows[0]!, RESTORED_WITHIN_MS);
    });
  },
};

const minorityPartition: ScenarioDefinition = {
  name: 'minority-partition', requires: [],
  summary: 'cut a minority off: first without the leader, then with it',
  checks: 'the majority side keeps taking writes (electing a new leader when needed)',
  plan({ durationMs, random, schedule }) {
    repeatCycles(durationMs, 7000, (offset) => {
      const first = schedule.add(offset, 3000, { type: 'partition', shape: { kind: 'minority', withLeader: false, pick: random.next() }, mode: 'blackhole' });
      schedule.availableDuring(first, SETTLE_MS);
      const second = schedule.add(offset + 3500, 3000, { type: 'partition', shape: { kind: 'minority', withLeader: true, pick: random.next() }, mode: 'blackhole' });
      schedule.availableDuring(second, ELECTION_SETTLE_MS);
    });
  },
};

const splitBrain: ScenarioDefinition = {
  name: 'split-brain', requires: [],
  summary: 'split the cluster into minorities: no majority anywhere',
  checks: 'no write is acknowledged while split; writes resume after the heal',
  plan({ durationMs, schedule }) {
    repeatCycles(durationMs, 6500, (offset, index) => {
      const window = schedule.add(offset, 4000, { type: 'partition', shape: { kind: 'split-minorities' }, mode: index % 2 === 0 ? 'blackhole' : 'refuse' });
      schedule.noQuorumDuring(window);
    });
  },
};

const partitionHealConsistency: ScenarioDefinition = {
  name: 'partition-heal-consistency', requires: [],
  summary: 'a series of partition shapes (isolated leader, bridge, one-way, flapping, ring), each healed',
  checks: 'writes continue through every shape; after the final heal all nodes converge on the same commit index and state digest',
  plan({ nodes, durationMs, random, schedule }) {
    const shapes = [
      { type: 'partition', shape: { kind: 'isolate', target: LEADER }, mode: 'blackhole' },
      { type: 'partition', shape: { kind: 'bridge' }, mode: 'blackhole' },
      { type: 'partition', shape: { kind: 'isolate', target: LEADER, direction: 'inbound' }, mode: 'blackhole' },
      { type: 'flapping', shape: { kind: 'isolate', target: follower(random) }, intervalMs: 300 },
      ...(nodes >= 5 ? [{ type: 'partition', shape: { kind: 'ring' }, mode: 'blackhole' } as const] : []),
    ] as const;
    const slotMs = 2500;
    repeatCycles(durationMs, slotMs * shapes.length, (offset) => {
      shapes.forEach((fault, index) => schedule.add(offset + index * slotMs, slotMs - 500, fault));
    });
  },
};

const staleNodeCatchUp: ScenarioDefinition = {
  name: 'stale-node-catch-up', requires: [],
  summary: 'hold a follower off until the leader has compacted its log past it, then heal',
  checks: 'the follower needed a snapshot, got it and converged (snapshots every 100 entries)',
  plan({ durationMs, random, schedule }) {
    const cycleMs = Math.max(6000, Math.min(durationMs, 20_000));
    repeatCycles(durationMs, cycleMs, (offset) => {
      const window = schedule.add(offset, 0.6 * cycleMs, { type: 'hold-stale', target: follower(random), waitMaxMs: 20_000 });
      schedule.expect({ kind: 'needs-snapshot', window });
    });
    return { environment: { serveArgs: SNAPSHOT_ARGS } };
  },
};

const gracefulRejoin: ScenarioDefinition = {
  name: 'graceful-rejoin', requires: [],
  summary: 'SIGTERM the leader (it hands leadership over), then a follower; each restarted',
  checks: 'writes continue through graceful stops',
  plan({ durationMs, random, schedule }) {
    // A restart waits until the node rejoined (a few seconds): the follower's turn comes after that.
    repeatCycles(durationMs, 11_000, (offset) => {
      schedule.availableDuring(schedule.add(offset, 3000, { type: 'crash', targets: [LEADER], signal: 'SIGTERM' }), ELECTION_SETTLE_MS);
      schedule.availableDuring(schedule.add(offset + 7000, 3000, { type: 'crash', targets: [follower(random)], signal: 'SIGTERM' }), SETTLE_MS);
    });
  },
};

const sigkillWalRecovery: ScenarioDefinition = {
  name: 'sigkill-wal-recovery', requires: [],
  summary: 'SIGKILL random nodes mid-write, then every node at once; each restarts from its WAL',
  checks: 'no acknowledged write is lost across kill -9 of every node',
  plan({ nodes, durationMs, random, schedule }) {
    const killPhaseMs = Math.max(2000, durationMs - 3500);
    repeatCycles(killPhaseMs, 2000, (offset) => {
      schedule.add(offset, 1000, { type: 'crash', targets: [nodeTarget(1 + random.nextInt(nodes))], signal: 'SIGKILL' });
    });
    const all = Array.from({ length: nodes }, (_, index) => nodeTarget(index + 1));
    schedule.add(killPhaseMs + 500, 1500, { type: 'crash', targets: all, signal: 'SIGKILL' });
  },
};

const rollingRestart: ScenarioDefinition = {
  name: 'rolling-restart-under-load', requires: [],
  summary: 'restart every node in turn (SIGTERM, start, wait until ready) under load',
  checks: 'writes continue through the whole rolling restart',
  plan({ nodes, durationMs, schedule }) {
    const slotMs = Math.max(3000, Math.min(6000, Math.floor(durationMs / nodes)));
    repeatCycles(durationMs, slotMs * nodes, (offset) => {
      for (let id = 1; id <= nodes; id++) {
        schedule.availableDuring(schedule.add(offset + (id - 1) * slotMs, 1500, { type: 'crash', targets: [nodeTarget(id)], signal: 'SIGTERM' }), 0);
      }
    });
  },
};

const netLatency: ScenarioDefinition = {
  name: 'net-latency', requires: [],
  summary: '100 ms ± 50 on every peer link; a leader crash and sliced packets in the middle',
  checks: 'writes continue and elections complete at WAN-like latency',
  plan({ durationMs, schedule }) {
    const latency = schedule.add(0, durationMs, { type: 'link-toxic', toxic: { name: 'wan', type: 'latency', latencyMs: 100, jitterMs: 50 } });
    schedule.availableDuring(latency, 1000);
    schedule.add(0.5 * durationMs, 0.5 * durationMs, { type: 'link-toxic', toxic: { name: 'slicer', type: 'slicer', averageSizeBytes: 64, sizeVariationBytes: 32, delayMs: 1 } });
    schedule.add(0.3 * durationMs, 3000, { type: 'crash', targets: [LEADER], signal: 'SIGKILL' });
  },
};

const netPacketLoss: ScenarioDefinition = {
  name: 'net-packet-loss', requires: ['root'],
  summary: '20% packet loss on every node (network namespaces, iptables statistic)',
  checks: 'writes continue under real packet loss',
  plan({ durationMs, schedule }) {
    schedule.availableDuring(schedule.add(0, durationMs, { type: 'packet-loss', probability: 0.2 }), 1000);
    return { environment: { network: 'netns' } };
  },
};

const netSlowClose: ScenarioDefinition = {
  name: 'net-slow-close', requires: [],
  summary: 'every peer connection closes 2 s late; a follower restart, a refused partition and a leader crash meanwhile',
  checks: 'half-closed connections do not wedge replication',
  plan({ durationMs, random, schedule }) {
    const spanMs = Math.max(durationMs, FRACTIONAL_SPAN_MIN_MS);
    schedule.add(0, spanMs, { type: 'link-toxic', toxic: { name: 'slow-close', type: 'slow_close', delayMs: 2000 } });
    schedule.add(0.1 * spanMs, 2000, { type: 'crash', targets: [follower(random)], signal: 'SIGTERM' });
    schedule.add(0.4 * spanMs, 2500, { type: 'partition', shape: { kind: 'isolate', target: LEADER }, mode: 'refuse' });
    // Down for 4.5 s: writes must be acknowledged in the 2.5 s after the 2 s election allowance
    // (with 2.5 s the interval was 0.5 s and a slow client round trip failed it: seed 11).
    schedule.availableDuring(schedule.add(0.65 * spanMs, 4500, { type: 'crash', targets: [LEADER], signal: 'SIGKILL' }), ELECTION_SETTLE_MS);
  },
};

const netBandwidth: ScenarioDefinition = {
  name: 'net-bandwidth', requires: [],
  summary: 'peer links limited to 16 KiB/s per direction, larger Kafka values',
  checks: 'replication keeps up or backs off without losing or reordering anything',
  plan({ durationMs, schedule }) {
    schedule.availableDuring(schedule.add(0, durationMs, { type: 'link-toxic', toxic: { name: 'narrow', type: 'bandwidth', bytesPerSecond: 16 * 1024 } }), 1000);
    return { workload: { kafkaValuePaddingBytes: 512 } };
  },
};

const leaderPause: ScenarioDefinition = {
  name: 'leader-pause', requires: [],
  summary: 'SIGSTOP the leader for 3.5 s (a GC pause), then SIGCONT; repeated',
  checks: 'a new leader takes over; the woken old leader neither commits nor serves stale reads',
  plan({ durationMs, schedule }) {
    repeatCycles(durationMs, 5000, (offset) => {
      schedule.availableDuring(schedule.add(offset, 3500, { type: 'pause', target: LEADER }), ELECTION_SETTLE_MS);
    });
  },
};

const clockSkew: ScenarioDefinition = {
  name: 'clock-skew', requires: ['faketime'],
  summary: 'the leader\'s wall clock 30 s ahead, a follower\'s 30 s behind at 3x speed, a leader crash meanwhile',
  checks: 'nothing depends on wall clocks agreeing',
  plan({ durationMs, random, schedule }) {
    repeatCycles(durationMs, 6000, (offset) => {
      schedule.add(offset, 5500, { type: 'clock-skew', target: LEADER, offsetMs: 30_000, rate: 1 });
      schedule.add(offset + 500, 5000, { type: 'clock-skew', target: follower(random), offsetMs: -30_000, rate: 3 });
      schedule.add(offset + 2500, 2000, { type: 'crash', targets: [LEADER], signal: 'SIGKILL' });
    });
    return { environment: { clockSkew: true } };
  },
};

const powerLoss: ScenarioDefinition = {
  name: 'power-loss-unsynced', requires: ['root'],
  summary: 'power loss of every node: what was not fsynced is gone (ext4 loop images copied without sync)',
  checks: 'every acknowledged write survives losing all unsynced data on every node',
  plan({ durationMs, schedule }) {
    repeatCycles(durationMs, Math.max(4000, Math.min(15_000, durationMs / 2)), (offset) => {
      schedule.add(offset + 1500, 1000, { type: 'power-loss' });
    });
    return { environment: { loopDisks: true } };
  },
};

const membershipUnderFaults: ScenarioDefinition = {
  name: 'membership-under-faults', requires: [],
  summary: 'remove a follower and add it back empty, transfer leadership, crash the leader, all under link latency',
  checks: 'membership changes complete and stay safe while other faults are active',
  plan({ durationMs, random, schedule }) {
    // The leader crash must wait until the removed node is back (re-adding it takes a few
    // seconds): while it is out, the cluster has 2 voters and a crash would leave no quorum.
    const spanMs = Math.max(durationMs, FRACTIONAL_SPAN_MIN_MS);
    schedule.add(0, spanMs, { type: 'link-toxic', toxic: { name: 'latency', type: 'latency', latencyMs: 20, jitterMs: 10 } });
    schedule.add(0.05 * spanMs, 3000, { type: 'remove-readd', target: follower(random) });
    schedule.add(0.15 * spanMs, 0, { type: 'transfer-leader', pick: random.next() });
    schedule.availableDuring(schedule.add(0.6 * spanMs, 3500, { type: 'crash', targets: [LEADER], signal: 'SIGKILL' }), ELECTION_SETTLE_MS);
    schedule.add(0.85 * spanMs, 0, { type: 'transfer-leader', pick: random.next() });
  },
};

export const SCENARIOS: readonly ScenarioDefinition[] = [
  leaderCrash, followerCrashRejoin, cascadingFailures, concurrentFailures, minorityPartition, splitBrain,
  partitionHealConsistency, staleNodeCatchUp, gracefulRejoin, sigkillWalRecovery, rollingRestart, netLatency,
  netPacketLoss, netSlowClose, netBandwidth, leaderPause, clockSkew, powerLoss, membershipUnderFaults,
];

export function scenarioByName(name: string): ScenarioDefinition | undefined {
  return SCENARIOS.find((scenario) => scenario.name === name);
}

export interface PlanOptions {
  readonly nodes: number;
  readonly seed: number;
  readonly durationMs: number;
  readonly workload: WorkloadKind;
  /** Operations per second of each workload (KV ops; Kafka messages at half of it). */
  readonly rate: number;
}

/** A 32-bit hash of a name, so each scenario draws its own numbers from one --seed. */
function nameHash(name: string): number {
  let hash = 0x811c9dc5;
  for (const character of name) hash = Math.imul(hash ^ character.charCodeAt(0), 0x01000193) >>> 0;
  return hash;
}

export function planScenario(definition: ScenarioDefinition, options: PlanOptions): ScenarioPlan {
  const schedule = new ScheduleBuilder();
  const random = createPrng((options.seed ^ nameHash(definition.name)) >>> 0);
  const adjustments = definition.plan({ nodes: options.nodes, durationMs: options.durationMs, random, schedule }) ?? {};
  const environment: EnvironmentPlan = { network: 'proxy', loopDisks: false, clockSkew: false, serveArgs: [], ...adjustments.environment };
  const workload: WorkloadPlan = {
    kind: options.workload, kvRate: options.rate, kvClients: 4, kvKeys: 3,
    kafkaRate: Math.max(1, Math.round(options.rate / 2)), kafkaProducers: 2, kafkaConsumers: 2, kafkaPartitions: 3, kafkaValuePaddingBytes: 0,
    ...adjustments.workload,
  };
  return {
    scenario: definition.name, nodes: options.nodes, seed: options.seed, warmupMs: WARMUP_MS, durationMs: options.durationMs, recoveryMs: RECOVERY_MS,
    schedule: schedule.windows, expectations: schedule.expectations, environment, workload,
  };
}
