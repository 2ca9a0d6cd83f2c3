// Turns a plan's fault windows into Faults for the FaultTimeline, bound to one ChaosCluster.
// Targets ("the leader", "a follower") are resolved when a window starts and kept for its stop.
// Every start and stop is recorded in the history (process "nemesis") with what it did; an action
// that fails is recorded as failed and never thrown, so the timeline goes on and the "faults"
// check reports it (a node that cannot be restarted is a finding, not a crash of the runner).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Fault, PartitionShape, ScheduledFault } from './faults/index.ts';
import { bridge, groupsPartition, isolate, majorityOf, ring, splitMinorities } from './faults/index.ts';
import type { ChaosCluster } from './environment.ts';
import type { HistoryRecorder } from './recorder.ts';
import { describeFault, describeTarget } from './schedule.ts';
import type { FaultSpec, ScenarioPlan, ScheduledSpec, ShapeSpec, Target } from './types.ts';

const LEADER_WAIT_MS = 4000;
const FLAP_MIN_MS = 50;

/** What a window's start did, for its stop. */
interface Started {
  readonly nodes: readonly number[];
  readonly undo: () => Promise<string>;
}

export interface NemesisState {
  /** What the windows in effect now did, by window index (for the progress line). */
  readonly active: Map<number, string>;
}

async function resolveTarget(cluster: ChaosCluster, target: Target, exclude: ReadonlySet<number>): Promise<number | undefined> {
  if ('node' in target) return exclude.has(target.node) ? undefined : target.node;
  if (target.role === 'leader') {
    const leader = await cluster.waitForLeader(LEADER_WAIT_MS);
    return leader === undefined || exclude.has(leader.id) ? undefined : leader.id;
  }
  const leader = await cluster.findLeader();
  const candidates = cluster.liveNodes().filter((id) => id !== leader?.id && !exclude.has(id));
  return candidates.length === 0 ? undefined : candidates[Math.min(candidates.length - 1, Math.floor(target.pick * candidates.length))];
}

async function requireTarget(cluster: ChaosCluster, target: Target, exclude: ReadonlySet<number> = new Set()): Promise<number> {
  const id = await resolveTarget(cluster, target, exclude);
  if (id === undefined) throw new Error(`no node to target as ${describeTarget(target)} (live: ${cluster.liveNodes().join(', ') || 'none'})`);
  return id;
}

async function resolveShape(cluster: ChaosCluster, shape: ShapeSpec): Promise<PartitionShape> {
  const ids = cluster.nodeIds();
  switch (shape.kind) {
    case 'isolate':
      return isolate(ids, await requireTarget(cluster, shape.target), shape.direction ?? 'both');
    case 'minority': {
      const size = Math.max(1, majorityOf(ids.length) - 1);
      const leader = await cluster.waitForLeader(LEADER_WAIT_MS);
      if (shape.withLeader && leader === undefined) throw new Error(`no leader within ${LEADER_WAIT_MS} ms to cut off with the minority`);
      const followers = ids.filter((id) => id !== leader?.id);
      const first = Math.floor(shape.pick * followers.length);
      const rotated = [...followers.slice(first), ...followers.slice(0, first)];
      const group = shape.withLeader && leader !== undefined ? [leader.id, ...rotated.slice(0, size - 1)] : rotated.slice(0, size);
      return groupsPartition([group.sort((a, b) => a - b), ids.filter((id) => !group.includes(id))]);
    }
    case 'split-minorities':
      return splitMinorities(ids);
    case 'bridge':
      return bridge(ids);
    case 'ring':
      return ring(ids);
  }
}

function blockedNodes(shape: PartitionShape): number[] {
  return [...new Set(shape.blocked.flat())].sort((a, b) => a - b);
}

async function startCrash(cluster: ChaosCluster, fault: FaultSpec & { type: 'crash' }): Promise<Started & { detail: string }> {
  const nodes: number[] = [];
  const outcomes: string[] = [];
  for (const target of fault.targets) {
    const id = await requireTarget(cluster, target, new Set(nodes));
    if (!cluster.isRunning(id)) continue;
    outcomes.push(`node ${id} ${await cluster.crash(id, fault.signal)}`);
    nodes.push(id);
  }
  // A crash that hit nothing did not happen: the faults check must not count it as carried out.
  if (nodes.length === 0) throw new Error(`${fault.signal}: none of the targets was running (live: ${cluster.liveNodes().join(', ') || 'none'})`);
  return {
    nodes, detail: `${fault.signal}: ${outcomes.join(', ') || 'no node was running'}`,
    undo: async () => {
      for (const id of nodes) await cluster.start(id);
      if (nodes.length === 0) return 'nothing to restart';
      return `started node${nodes.length === 1 ? '' : 's'} ${nodes.join(', ')}, ${await cluster.waitRejoined(nodes)}`;
    },
  };
}

async function startPartition(cluster: ChaosCluster, shape: PartitionShape, mode: 'blackhole' | 'refuse'): Promise<Started & { detail: string }> {
  if (cluster.mesh !== undefined) await cluster.mesh.applyPartition(shape, mode);
  else await cluster.lab!.applyPartition(shape);
  return {
    nodes: blockedNodes(shape), detail: shape.name,
    undo: async () => {
      if (cluster.mesh !== undefined) await cluster.mesh.heal();
      else await cluster.lab!.clearRules();
      return `healed ${shape.name}`;
    },
  };
}

/** Isolates the node; the undo first waits until the leader's log starts past the node's last entry. */
async function startHoldStale(cluster: ChaosCluster, fault: FaultSpec & { type: 'hold-stale' }): Promise<Started & { detail: string }> {
  const id = await requireTarget(cluster, fault.target);
  const held = await startPartition(cluster, isolate(cluster.nodeIds(), id), 'blackhole');
  return {
    nodes: [id], detail: `holding node ${id} off`,
    undo: async () => {
      const deadline = performance.now() + fault.waitMaxMs;
      const started = performance.now();
      let facts = { leaderFirstIndex: -1, nodeLastIndex: -1 };
      for (;;) {
        const leader = await cluster.findLeader();
        const node = await cluster.sample(id);
        if (leader !== undefined && 'sample' in node) facts = { leaderFirstIndex: leader.sample.firstIndex, nodeLastIndex: node.sample.lastIndex };
        if (facts.leaderFirstIndex > facts.nodeLastIndex + 1 || performance.now() >= deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      await held.undo();
      const needsSnapshot = facts.leaderFirstIndex > facts.nodeLastIndex + 1;
      return JSON.stringify({ needsSnapshot, ...facts, waitedMs: Math.round(performance.now() - started) });
    },
  };
}

async function startWindow(cluster: ChaosCluster, fault: FaultSpec): Promise<Started & { detail: string }> {
  switch (fault.type) {
    case 'crash':
      return startCrash(cluster, fault);
    case 'pause': {
      const id = await requireTarget(cluster, fault.target);
      await cluster.pause(id);
      return { nodes: [id], detail: `SIGSTOP node ${id}`, undo: async () => (await cluster.resume(id), `SIGCONT node ${id}`) };
    }
    case 'partition':
      return startPartition(cluster, await resolveShape(cluster, fault.shape), fault.mode);
    case 'flapping': {
      const shape = await resolveShape(cluster, fault.shape);
      const flapping = cluster.mesh!.flappingFault(shape, Math.max(FLAP_MIN_MS, fault.intervalMs));
      await flapping.start();
      return { nodes: blockedNodes(shape), detail: `flapping ${shape.name}`, undo: async () => (await flapping.stop(), `stopped flapping ${shape.name}`) };
    }
    case 'link-toxic':
      cluster.mesh!.addLinkToxic(fault.toxic);
      return { nodes: [], detail: `${fault.toxic.type} on every link`, undo: async () => (cluster.mesh!.removeLinkToxic(fault.toxic.name), `removed ${fault.toxic.type}`) };
    case 'packet-loss':
      for (const id of cluster.nodeIds()) await cluster.lab!.packetLoss(id, fault.probability);
      return { nodes: cluster.nodeIds(), detail: `${Math.round(fault.probability * 100)}% inbound loss on every node`, undo: async () => (await cluster.lab!.clearRules(), 'loss rules removed') };
    case 'clock-skew': {
      const id = await requireTarget(cluster, fault.target);
      const skew = cluster.skews.get(id);
      if (skew === undefined) throw new Error('clock skew needs the nodes started under libfaketime (environment.clockSkew)');
      skew.set(fault.offsetMs, fault.rate);
      return { nodes: [id], detail: `node ${id} clock ${skew.spec}`, undo: async () => (skew.clear(), `node ${id} clock restored`) };
    }
    case 'power-loss': {
      const detail = await cluster.powerLoss();
      const nodes = cluster.nodeIds();
      return {
        nodes, detail,
        undo: async () => {
          await Promise.all(nodes.map((id) => cluster.start(id)));
          return `started nodes ${nodes.join(', ')}, ${await cluster.waitRejoined(nodes)}`;
        },
      };
    }
    case 'remove-readd': {
      const id = await requireTarget(cluster, fault.target);
      await cluster.local.removeNode(id, { timeoutMs: 15_000 });
      return { nodes: [id], detail: `removed node ${id}`, undo: async () => (await cluster.local.rejoinNode(id, { timeoutMs: 30_000 }), `node ${id} added back and promoted`) };
    }
    case 'transfer-leader': {
      const id = await requireTarget(cluster, { role: 'follower', pick: fault.pick });
      const leader = await cluster.transferLeader(id);
      if (leader !== id) throw new Error(`leadership went to node ${leader}, not to node ${id}`);
      return { nodes: [id], detail: `leadership transferred to node ${leader}`, undo: async () => '' };
    }
    case 'hold-stale':
      return startHoldStale(cluster, fault);
  }
}

interface WindowContext {
  readonly cluster: ChaosCluster;
  readonly recorder: HistoryRecorder;
  readonly state: NemesisState;
  readonly signal: AbortSignal | undefined;
}

/**
 * A window holds its fault for at least its planned duration counted from the END of its start
 * action (a kill or restart can take seconds on a loaded machine): a stop that comes early waits,
 * and the rest of the timeline shifts with it, so every interval a check judges has its length.
 */
function windowFault(index: number, window: ScheduledSpec, context: WindowContext): Fault {
  const { cluster, recorder, state, signal } = context;
  const fault = window.fault;
  const name = describeFault(fault);
  let started: Started | undefined;
  let startedAt = 0;
  return {
    name,
    async start() {
      const handle = recorder.begin('nemesis', { kind: 'fault', window: index, action: 'start', name });
      try {
        const result = await startWindow(cluster, fault);
        startedAt = performance.now();
        started = result;
        state.active.set(index, result.detail);
        handle.ok({ nodes: result.nodes, detail: result.detail });
      } catch (error) {
        handle.fail({ error: (error as Error).message });
      }
    },
    async stop() {
      if (started === undefined) return;
      const holdMs = startedAt + window.durationMs - performance.now();
      if (holdMs > 0 && signal?.aborted !== true) await sleep(holdMs, undefined, { signal }).catch(() => undefined);
      const handle = recorder.begin('nemesis', { kind: 'fault', window: index, action: 'stop', name });
      const current = started;
      started = undefined;
      state.active.delete(index);
      try {
        handle.ok({ nodes: current.nodes, detail: await current.undo() });
      } catch (error) {
        handle.fail({ error: (error as Error).message });
      }
    },
  };
}

/** The plan's windows as timeline entries (offset by the warm-up: t = 0 is the workload's start). */
export function scheduledFaults(plan: ScenarioPlan, cluster: ChaosCluster, recorder: HistoryRecorder, state: NemesisState, signal?: AbortSignal): ScheduledFault[] {
  return plan.schedule.map((window, index) => ({
    atMs: window.atMs, durationMs: window.durationMs, fault: windowFault(index, window, { cluster, recorder, state, signal }),
  }));
}
