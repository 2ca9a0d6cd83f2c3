// Building blocks of scenario plans: targets, windows that repeat to fill a duration, and the
// human-readable text of every fault (for `cairn chaos list`, the report and docs/chaos.md).
import type { Prng } from '../check/prng.ts';
import type { LinkToxic } from './faults/index.ts';
import type { Edge, Expectation, FaultSpec, ScheduledSpec, ShapeSpec, Target } from './types.ts';

export const LEADER: Target = { role: 'leader' };

export function follower(random: Prng): Target {
  return { role: 'follower', pick: Math.round(random.next() * 1000) / 1000 };
}

export function nodeTarget(id: number): Target {
  return { node: id };
}

/** A schedule under construction: windows in order, with edges to build expectations from. */
export class ScheduleBuilder {
  readonly #windows: ScheduledSpec[] = [];
  readonly #expectations: Expectation[] = [];

  /** Adds a fault window; returns its index. */
  add(atMs: number, durationMs: number, fault: FaultSpec): number {
    this.#windows.push({ atMs: Math.round(atMs), durationMs: Math.round(durationMs), fault });
    return this.#windows.length - 1;
  }

  expect(expectation: Expectation): void {
    this.#expectations.push(expectation);
  }

  /** The interval where a window is active: from its start (+ settle) to its stop. */
  availableDuring(window: number, settleMs: number): void {
    this.expect({ kind: 'available', from: start(window), to: stop(window), settleMs });
  }

  /** Writes acknowledged within withinMs after a window's stop (it restored a quorum). */
  availableAfter(window: number, withinMs: number): void {
    this.expect({ kind: 'available', from: stop(window), withinMs, settleMs: 0 });
  }

  noQuorumDuring(window: number): void {
    this.expect({ kind: 'no-quorum', from: start(window), to: stop(window) });
  }

  get windows(): readonly ScheduledSpec[] {
    return this.#windows;
  }

  get expectations(): readonly Expectation[] {
    return this.#expectations;
  }
}

export function start(window: number): Edge {
  return { window, edge: 'start' };
}

export function stop(window: number): Edge {
  return { window, edge: 'stop' };
}

/**
 * Calls `cycle(offsetMs, index)` for as many whole cycles of cycleMs as fit in durationMs (at
 * least one), so a longer --duration repeats the same pattern instead of stretching it.
 */
export function repeatCycles(durationMs: number, cycleMs: number, cycle: (offsetMs: number, index: number) => void): void {
  const count = Math.max(1, Math.floor(durationMs / cycleMs));
  for (let index = 0; index < count; index++) cycle(index * cycleMs, index);
}

export function describeTarget(target: Target): string {
  if ('node' in target) return `node ${target.node}`;
  return target.role === 'leader' ? 'the leader' : `a follower (pick ${target.pick})`;
}

export function describeShape(shape: ShapeSpec): string {
  switch (shape.kind) {
    case 'isolate':
      return `isolate ${describeTarget(shape.target)}${shape.direction === undefined || shape.direction === 'both' ? '' : ` (${shape.direction} only)`}`;
    case 'minority':
      return `cut a minority ${shape.withLeader ? 'with' : 'without'} the leader from the rest`;
    case 'split-minorities':
      return 'split into minorities (no side has a majority)';
    case 'bridge':
      return 'bridge (two halves, one node sees both)';
    case 'ring':
      return 'ring (every node sees a majority, no two the same)';
  }
}

export function describeFault(fault: FaultSpec): string {
  switch (fault.type) {
    case 'crash':
      return `${fault.signal} ${fault.targets.map(describeTarget).join(' and ')}, then restart`;
    case 'pause':
      return `SIGSTOP ${describeTarget(fault.target)}, then SIGCONT`;
    case 'partition':
      return `partition: ${describeShape(fault.shape)}${fault.mode === 'refuse' ? ' (connections reset and refused)' : ''}, then heal`;
    case 'flapping':
      return `flapping partition every ${fault.intervalMs} ms: ${describeShape(fault.shape)}`;
    case 'link-toxic':
      return `peer links: ${describeToxic(fault.toxic)}`;
    case 'packet-loss':
      return `packet loss ${Math.round(fault.probability * 100)}% on every node (iptables statistic, both directions)`;
    case 'clock-skew':
      return `clock skew ${fault.offsetMs >= 0 ? '+' : ''}${fault.offsetMs / 1000} s${fault.rate === 1 ? '' : `, rate x${fault.rate}`} on ${describeTarget(fault.target)}`;
    case 'power-loss':
      return 'power loss of every node (SIGKILL, unsynced writes lost), then restart';
    case 'remove-readd':
      return `remove ${describeTarget(fault.target)} from the membership, then add it back empty (learner, promoted)`;
    case 'transfer-leader':
      return 'transfer leadership to a follower';
    case 'hold-stale':
      return `isolate ${describeTarget(fault.target)} until the leader compacted its log past it (at most ${fault.waitMaxMs / 1000} s more), then heal`;
  }
}

function describeToxic(toxic: LinkToxic): string {
  switch (toxic.type) {
    case 'latency':
      return `latency ${toxic.latencyMs} ms ± ${toxic.jitterMs ?? 0}`;
    case 'bandwidth':
      return `bandwidth ${Math.round(toxic.bytesPerSecond / 1024)} KiB/s per direction`;
    case 'slow_close':
      return `slow close (FIN delayed ${toxic.delayMs} ms)`;
    case 'slicer':
      return `slicer (${toxic.averageSizeBytes}-byte pieces, ${toxic.delayMs ?? 0} ms apart)`;
    case 'reset_peer':
      return `reset connections after ${toxic.timeoutMs} ms`;
    case 'blackhole':
      return 'blackhole';
    case 'timeout':
      return `timeout ${toxic.timeoutMs} ms`;
    case 'limit_data':
      return `close after ${toxic.bytes} bytes`;
  }
}

export function describeEdge(edge: Edge): string {
  return `${edge.edge} of window ${edge.window}`;
}

export function describeExpectation(expectation: Expectation): string {
  switch (expectation.kind) {
    case 'no-quorum':
      return `no write acknowledged from the ${describeEdge(expectation.from)} to the ${describeEdge(expectation.to)}`;
    case 'available':
      return `writes acknowledged from ${expectation.settleMs} ms after the ${describeEdge(expectation.from)} ` +
        (expectation.to === undefined ? `for ${expectation.withinMs ?? 0} ms` : `to the ${describeEdge(expectation.to)}`);
    case 'needs-snapshot':
      return `window ${expectation.window} held its node off until it needed a snapshot`;
  }
}
