// The cluster's activity from every member's own seconds: counts add up, latency histograms add
// up bucket by bucket (so the p99 is the cluster's, not an average of p99s), leader announcements
// are merged by (term, leader) at the earliest time any member saw them. A member that did not
// answer is listed with its error and simply contributes nothing.
import { quantileSeconds } from './latency-buckets.ts';
import type {
  ActivityKind, WireClusterLeadershipEvent, WireClusterPoint, WireClusterStats, WireKindPoint, WireLocalStats, WireStatsSource,
} from './wire-types.ts';
import { ACTIVITY_KINDS, WINDOW_SECONDS } from './activity-recorder.ts';

export interface MemberStatsAnswer {
  readonly nodeId: number;
  /** The member's local stats, or why it has none. */
  readonly answer: WireLocalStats | string;
}

/** Leader announcements returned at most. */
export const MERGED_LEADERSHIP_MAX = 100;

interface KindSum {
  count: number;
  failed: number;
  bytes: number;
  buckets: number[];
}

function kindPoint(sum: KindSum | undefined): WireKindPoint {
  if (sum === undefined || sum.count === 0) return { rate: 0, failed: 0, bytes: 0, p99Ms: null };
  const p99 = quantileSeconds(sum.buckets, 0.99);
  return { rate: sum.count, failed: sum.failed, bytes: sum.bytes, p99Ms: p99 === null ? null : Math.round(p99 * 1e6) / 1e3 };
}

/** The first second to report: after `sinceSecond`, within the window, before the current second. */
export function firstSecond(sinceSecond: number, nowMs: number): number {
  return Math.max(sinceSecond + 1, Math.floor(nowMs / 1000) - WINDOW_SECONDS);
}

export function mergeStats(answers: readonly MemberStatsAnswer[], sinceSecond: number, nowMs: number): WireClusterStats {
  const toSecond = Math.floor(nowMs / 1000);
  const fromSecond = Math.min(toSecond, firstSecond(sinceSecond, nowMs));
  const sums = new Map<number, Partial<Record<ActivityKind, KindSum>>>();
  const sources: WireStatsSource[] = [];
  for (const { nodeId, answer } of answers) {
    if (typeof answer === 'string') {
      sources.push({ nodeId, ok: false, error: answer });
      continue;
    }
    const last: Record<ActivityKind, number> = { kv: 0, produce: 0, fetch: 0 };
    for (const { second, kinds } of answer.seconds) {
      if (second < fromSecond || second >= toSecond) continue;
      const bySecond = sums.get(second) ?? {};
      sums.set(second, bySecond);
      for (const kind of ACTIVITY_KINDS) {
        const counts = kinds[kind];
        if (counts === undefined) continue;
        const sum = bySecond[kind] ??= { count: 0, failed: 0, bytes: 0, buckets: [] };
        sum.count += counts.count;
        sum.failed += counts.failed;
        sum.bytes += counts.bytes;
        sum.buckets.push(...counts.buckets);
        if (second === toSecond - 1) last[kind] = counts.count;
      }
    }
    sources.push({ nodeId, ok: true, lastSecond: last });
  }
  const points: WireClusterPoint[] = [];
  for (let second = fromSecond; second < toSecond; second++) {
    const bySecond = sums.get(second);
    points.push({ second, kv: kindPoint(bySecond?.kv), produce: kindPoint(bySecond?.produce), fetch: kindPoint(bySecond?.fetch) });
  }
  return { nowMs, windowSeconds: WINDOW_SECONDS, fromSecond, toSecond, points, sources, leadership: mergeLeadership(answers) };
}

export function mergeLeadership(answers: readonly MemberStatsAnswer[]): WireClusterLeadershipEvent[] {
  const byKey = new Map<string, { timeMs: number; term: number; leaderId: number; seenBy: Set<number> }>();
  for (const { nodeId, answer } of answers) {
    if (typeof answer === 'string') continue;
    for (const event of answer.leadership) {
      const key = `${event.term}/${event.leaderId}`;
      const known = byKey.get(key);
      if (known === undefined) byKey.set(key, { ...event, seenBy: new Set([nodeId]) });
      else {
        known.timeMs = Math.min(known.timeMs, event.timeMs);
        known.seenBy.add(nodeId);
      }
    }
  }
  return [...byKey.values()]
    .sort((a, b) => a.term - b.term || a.timeMs - b.timeMs)
    .slice(-MERGED_LEADERSHIP_MAX)
    .map((event) => ({ timeMs: event.timeMs, term: event.term, leaderId: event.leaderId, seenBy: [...event.seenBy].sort((a, b) => a - b) }));
}
