// The series a scenario's charts are drawn from, computed from its history once the scenario has
// run (so a long run keeps these, not every entry): operation latencies by outcome, throughput
// per bucket, the fault windows, and the leader and term the observer saw over time.
import type { HistoryEntry, Outcome } from '../../check/history.ts';

export interface LatencyPoint {
  readonly timeMs: number;
  readonly latencyMs: number;
  readonly outcome: Outcome;
  readonly workload: 'kv' | 'kafka';
}

export interface ThroughputBucket {
  readonly timeMs: number;
  readonly ok: number;
  readonly fail: number;
  readonly unknown: number;
}

export interface FaultWindow {
  readonly window: number;
  readonly name: string;
  readonly detail: string;
  readonly startMs: number;
  readonly stopMs: number | null;
  readonly failed: boolean;
}

export interface LeaderSegment {
  readonly startMs: number;
  readonly endMs: number;
  /** 0: no leader seen. */
  readonly leader: number;
  readonly term: number;
}

export interface ScenarioCharts {
  readonly endMs: number;
  readonly latency: readonly LatencyPoint[];
  /** Points not drawn because there were too many (ok ones only; fail/unknown are always kept). */
  readonly latencyDropped: number;
  readonly bucketMs: number;
  readonly throughput: readonly ThroughputBucket[];
  readonly faults: readonly FaultWindow[];
  readonly leaders: readonly LeaderSegment[];
  readonly nodes: readonly number[];
}

const LATENCY_POINTS_MAX = 4000;
const BUCKETS_TARGET = 120;
const WORKLOAD_KINDS: Readonly<Record<string, 'kv' | 'kafka'>> = { get: 'kv', put: 'kv', cas: 'kv', delete: 'kv', send: 'kafka' };

function kindOf(entry: HistoryEntry): string | undefined {
  const kind = (entry.input as { kind?: unknown } | null)?.kind;
  return typeof kind === 'string' ? kind : undefined;
}

function latencyPoints(operations: readonly HistoryEntry[]): { points: LatencyPoint[]; dropped: number } {
  const all = operations.map((entry): LatencyPoint => ({
    timeMs: entry.callTime, latencyMs: Math.max(0.1, (entry.returnTime ?? entry.callTime) - entry.callTime), outcome: entry.outcome,
    workload: WORKLOAD_KINDS[kindOf(entry)!]!,
  }));
  const ok = all.filter((point) => point.outcome === 'ok');
  if (all.length <= LATENCY_POINTS_MAX) return { points: all, dropped: 0 };
  // Keep every failure and unknown, and an even sample of the rest.
  const keep = Math.max(1, LATENCY_POINTS_MAX - (all.length - ok.length));
  const step = ok.length / keep;
  const sampled = Array.from({ length: Math.min(keep, ok.length) }, (_, index) => ok[Math.floor(index * step)]!);
  return { points: [...sampled, ...all.filter((point) => point.outcome !== 'ok')].sort((a, b) => a.timeMs - b.timeMs), dropped: ok.length - sampled.length };
}

function throughput(operations: readonly HistoryEntry[], endMs: number, bucketMs: number): ThroughputBucket[] {
  const buckets = Array.from({ length: Math.max(1, Math.ceil(endMs / bucketMs)) }, (_, index) => ({ timeMs: index * bucketMs, ok: 0, fail: 0, unknown: 0 }));
  for (const entry of operations) {
    const at = entry.outcome === 'ok' ? entry.returnTime ?? entry.callTime : entry.callTime;
    const bucket = buckets[Math.min(buckets.length - 1, Math.max(0, Math.floor(at / bucketMs)))]!;
    bucket[entry.outcome]++;
  }
  return buckets;
}

function faultWindows(entries: readonly HistoryEntry[]): FaultWindow[] {
  const windows = new Map<number, { name: string; detail: string; startMs: number; stopMs: number | null; failed: boolean }>();
  for (const entry of entries) {
    if (kindOf(entry) !== 'fault') continue;
    const input = entry.input as { window: number; action: 'start' | 'stop'; name: string };
    const output = entry.output as { detail?: string; error?: string } | null;
    const failed = entry.outcome !== 'ok';
    if (input.action === 'start') {
      windows.set(input.window, { name: input.name, detail: failed ? `FAILED: ${output?.error ?? ''}` : output?.detail ?? '', startMs: entry.returnTime ?? entry.callTime, stopMs: null, failed });
    } else {
      const window = windows.get(input.window);
      if (window === undefined) continue;
      window.stopMs = entry.callTime;
      window.failed ||= failed;
    }
  }
  return [...windows].map(([window, facts]) => ({ window, ...facts }));
}

/** The leader at each poll (the highest-term node saying it leads), merged into segments. */
function leaderSegments(entries: readonly HistoryEntry[], endMs: number): { segments: LeaderSegment[]; nodes: number[] } {
  const polls = new Map<number, { leader: number; term: number }>();
  const nodes = new Set<number>();
  for (const entry of entries) {
    if (kindOf(entry) !== 'status') continue;
    nodes.add((entry.input as { node: number }).node);
    if (entry.outcome !== 'ok') continue;
    const sample = entry.output as { role: string | null; term: number };
    const at = Math.round(entry.callTime / 50) * 50;
    const current = polls.get(at) ?? { leader: 0, term: 0 };
    if (sample.term > current.term) current.term = sample.term;
    if (sample.role === 'leader' && sample.term >= current.term) current.leader = (entry.input as { node: number }).node;
    polls.set(at, current);
  }
  const segments: LeaderSegment[] = [];
  for (const [at, poll] of [...polls].sort((a, b) => a[0] - b[0])) {
    const last = segments.at(-1);
    if (last !== undefined && last.leader === poll.leader && last.term === poll.term) continue;
    if (last !== undefined) segments[segments.length - 1] = { ...last, endMs: at };
    segments.push({ startMs: at, endMs: endMs, leader: poll.leader, term: poll.term });
  }
  return { segments, nodes: [...nodes].sort((a, b) => a - b) };
}

export function chartData(entries: readonly HistoryEntry[]): ScenarioCharts {
  const operations = entries.filter((entry) => WORKLOAD_KINDS[kindOf(entry) ?? ''] !== undefined);
  const endMs = Math.max(1000, ...entries.map((entry) => entry.returnTime ?? entry.callTime));
  const bucketMs = Math.max(100, Math.ceil(endMs / BUCKETS_TARGET / 100) * 100);
  const { points, dropped } = latencyPoints(operations);
  const { segments, nodes } = leaderSegments(entries, endMs);
  return { endMs, latency: points, latencyDropped: dropped, bucketMs, throughput: throughput(operations, endMs, bucketMs), faults: faultWindows(entries), leaders: segments, nodes };
}
