// A member's /v1/dashboard/stats?scope=local answer is checked before it is merged: another
// version of Cairn, or something else on that port, must give "unreadable answer", never a 500
// or a chart of nonsense. Bounds: the window's seconds, the bucket count, the event limit.
import { WINDOW_SECONDS, LEADERSHIP_EVENTS_MAX } from './activity-recorder.ts';
import { BUCKET_COUNT } from './latency-buckets.ts';
import type { ActivityKind, WireKindSecond, WireLeadershipEvent, WireLocalStats, WireNodeSecond } from './wire-types.ts';

const KINDS: readonly ActivityKind[] = ['kv', 'produce', 'fetch'];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function kindSecond(value: unknown): WireKindSecond | undefined {
  if (!isRecord(value) || !isCount(value['count']) || !isCount(value['failed']) || !isCount(value['bytes'])) return undefined;
  const buckets = value['buckets'];
  if (!Array.isArray(buckets) || buckets.length > 2 * BUCKET_COUNT || buckets.length % 2 !== 0 || !buckets.every(isCount)) return undefined;
  for (let position = 0; position < buckets.length; position += 2) if ((buckets[position] as number) >= BUCKET_COUNT) return undefined;
  return { count: value['count'], failed: value['failed'], bytes: value['bytes'], buckets: buckets as number[] };
}

function nodeSecond(value: unknown): WireNodeSecond | undefined {
  if (!isRecord(value) || !isCount(value['second']) || !isRecord(value['kinds'])) return undefined;
  const kinds: Partial<Record<ActivityKind, WireKindSecond>> = {};
  for (const kind of KINDS) {
    const given = value['kinds'][kind];
    if (given === undefined) continue;
    const checked = kindSecond(given);
    if (checked === undefined) return undefined;
    kinds[kind] = checked;
  }
  return { second: value['second'], kinds };
}

function leadershipEvent(value: unknown): WireLeadershipEvent | undefined {
  if (!isRecord(value) || !isCount(value['timeMs']) || !isCount(value['term']) || !isCount(value['leaderId'])) return undefined;
  return { timeMs: value['timeMs'], term: value['term'], leaderId: value['leaderId'] };
}

/** The answer, or a message saying why it cannot be used. */
export function parseLocalStats(body: unknown): WireLocalStats | string {
  const unreadable = 'unreadable statistics (another Cairn version?)';
  if (!isRecord(body) || !isCount(body['nodeId']) || !isCount(body['nowMs']) || !Array.isArray(body['seconds']) || !Array.isArray(body['leadership'])) return unreadable;
  if (body['seconds'].length > WINDOW_SECONDS + 1 || body['leadership'].length > LEADERSHIP_EVENTS_MAX) return unreadable;
  const seconds: WireNodeSecond[] = [];
  for (const item of body['seconds']) {
    const checked = nodeSecond(item);
    if (checked === undefined) return unreadable;
    seconds.push(checked);
  }
  const leadership: WireLeadershipEvent[] = [];
  for (const item of body['leadership']) {
    const checked = leadershipEvent(item);
    if (checked === undefined) return unreadable;
    leadership.push(checked);
  }
  return { nodeId: body['nodeId'], nowMs: body['nowMs'], windowSeconds: WINDOW_SECONDS, seconds, leadership };
}
