// The queue checker: what a Kafka-style log must guarantee to its producers and consumers, judged
// from a recorded history (after Jepsen's queue checkers, which found Redpanda's and Kafka's
// safety issues this way). The history holds:
//
//   send       a producer's attempt to append one unique value; ok carries the acknowledged
//              { partition, offset }; fail means it was certainly not appended; unknown: maybe
//   receive    a consumer (of a group) got { partition, offset, value }
//   commit     a consumer committed `offset` (the next offset to read) for a partition
//   committed  somebody read a group's committed offset of a partition: { offset } (-1: none)
//   drain      after the run, a partition read from the beginning to its end offset:
//              { endOffset, records: [offset, value][] }
//
// Verdicts (each a problem kind, with evidence):
//   lost             an acknowledged value is not in the drained log
//   ack-mismatch     an acknowledged value is in the log, but not at the offset it was acknowledged at
//   duplicate        a value sits at more than one offset (never allowed for idempotent producers)
//   offset-order     drained offsets are not strictly increasing, or do not start at 0 / have gaps
//   offset-conflict  two reads of one offset saw different values
//   phantom          a consumer (or the drain) saw a value nobody tried to send, or one whose send failed
//   commit-backwards a committed offset was seen lower than one committed or seen before
//   drain-incomplete the drain did not reach the partition's end offset (nothing can be claimed)
import type { HistoryEntry } from './history.ts';

export type QueueInput =
  | { readonly kind: 'send'; readonly topic: string; readonly partition: number; readonly value: string }
  | { readonly kind: 'receive'; readonly topic: string; readonly group: string }
  | { readonly kind: 'commit'; readonly topic: string; readonly group: string; readonly partition: number; readonly offset: number }
  | { readonly kind: 'committed'; readonly topic: string; readonly group: string; readonly partition: number }
  | { readonly kind: 'drain'; readonly topic: string; readonly partition: number };

export type QueueOutput =
  | { readonly partition: number; readonly offset: number }
  | { readonly partition: number; readonly offset: number; readonly value: string }
  | { readonly offset: number }
  | { readonly endOffset: number; readonly records: readonly (readonly [number, string])[] }
  | null;

export type QueueEntry = HistoryEntry<QueueInput, QueueOutput>;

export type QueueProblemKind =
  | 'lost' | 'ack-mismatch' | 'duplicate' | 'offset-order' | 'offset-conflict' | 'phantom' | 'commit-backwards' | 'drain-incomplete';

export const QUEUE_PROBLEM_KINDS: readonly QueueProblemKind[] = [
  'lost', 'ack-mismatch', 'duplicate', 'offset-order', 'offset-conflict', 'phantom', 'commit-backwards', 'drain-incomplete',
];

export interface QueueProblem {
  readonly kind: QueueProblemKind;
  readonly topic: string;
  readonly partition: number;
  readonly offset?: number;
  readonly value?: string;
  readonly message: string;
}

export interface QueueCheckOptions {
  /** Producers were idempotent: a duplicate is a violation (otherwise counted only). Default true. */
  readonly idempotent?: boolean;
  /** Offsets may skip numbers (compaction, transactions). Default false: 0, 1, 2, ... */
  readonly gapsAllowed?: boolean;
  /** Problems kept as evidence per kind (the counts stay exact). Default 50. */
  readonly evidencePerKindMax?: number;
}

export interface QueueCounts {
  readonly sent: { readonly ok: number; readonly fail: number; readonly unknown: number };
  /** Unknown-outcome sends whose value is in the log (they did happen). */
  readonly unknownFound: number;
  readonly received: number;
  /** Receives of an offset the same group had received before (at-least-once redelivery; allowed). */
  readonly redelivered: number;
  readonly drained: number;
  readonly commits: number;
  readonly committedReads: number;
  readonly byKind: Readonly<Record<QueueProblemKind, number>>;
}

export interface QueueCheckResult {
  readonly valid: boolean;
  readonly counts: QueueCounts;
  /** Evidence, at most evidencePerKindMax per kind, in a stable order. */
  readonly problems: readonly QueueProblem[];
}

interface PartitionLog {
  readonly byOffset: Map<number, string>;
  readonly endOffset: number;
}

/** Validates the shape of one queue entry (see EntryValidator in history.ts). */
export function validateQueueEntry(entry: HistoryEntry): string | undefined {
  const input = entry.input as Partial<Record<string, unknown>> | null;
  if (typeof input !== 'object' || input === null || typeof input.topic !== 'string') return 'a queue entry needs an input with a "topic"';
  const kinds = ['send', 'receive', 'commit', 'committed', 'drain'];
  if (!kinds.includes(input.kind as string)) return `"input.kind" must be one of ${kinds.join(', ')}`;
  if (input.kind !== 'receive' && !Number.isInteger(input.partition)) return `"input.partition" of ${String(input.kind)} must be an integer`;
  if (input.kind === 'send' && typeof input.value !== 'string') return '"input.value" of send must be a string';
  if (entry.outcome !== 'ok') return undefined;
  const output = entry.output as Partial<Record<string, unknown>> | null;
  if (input.kind === 'drain' && (output === null || !Array.isArray(output.records) || !Number.isInteger(output.endOffset))) return 'an ok drain needs { endOffset, records }';
  if ((input.kind === 'send' || input.kind === 'receive') && (output === null || !Number.isInteger(output.offset) || !Number.isInteger(output.partition))) {
    return `an ok ${String(input.kind)} needs { partition, offset }`;
  }
  if (input.kind === 'receive' && typeof output!.value !== 'string') return 'an ok receive needs a string "value"';
  if (input.kind === 'committed' && (output === null || !Number.isInteger(output.offset))) return 'an ok committed read needs { offset }';
  return undefined;
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

class Problems {
  readonly #max: number;
  readonly #kept: QueueProblem[] = [];
  readonly counts = Object.fromEntries(QUEUE_PROBLEM_KINDS.map((kind) => [kind, 0])) as Record<QueueProblemKind, number>;

  constructor(max: number) {
    this.#max = max;
  }

  add(problem: QueueProblem): void {
    this.counts[problem.kind]++;
    if (this.counts[problem.kind] <= this.#max) this.#kept.push(problem);
  }

  list(): QueueProblem[] {
    return this.#kept;
  }
}

function drainedLogs(entries: readonly QueueEntry[], problems: Problems, gapsAllowed: boolean): Map<string, PartitionLog> {
  const logs = new Map<string, PartitionLog>();
  for (const entry of entries) {
    const input = entry.input;
    if (input.kind !== 'drain') continue;
    const where = { topic: input.topic, partition: input.partition };
    if (entry.outcome !== 'ok') {
      problems.add({ kind: 'drain-incomplete', ...where, message: `the final read of ${partitionKey(input.topic, input.partition)} failed: nothing can be said about its contents` });
      continue;
    }
    const output = entry.output as { endOffset: number; records: readonly (readonly [number, string])[] };
    const byOffset = new Map<number, string>();
    let previous = -1;
    for (const [offset, value] of output.records) {
      if (offset <= previous || (!gapsAllowed && offset !== previous + 1)) {
        problems.add({ kind: 'offset-order', ...where, offset, value, message: `offset ${offset} follows offset ${previous} in the drained log${offset <= previous ? ' (not increasing)' : ' (a gap)'}` });
      }
      if (byOffset.has(offset) && byOffset.get(offset) !== value) {
        problems.add({ kind: 'offset-conflict', ...where, offset, value, message: `offset ${offset} was read twice in the drain with different values ${JSON.stringify(byOffset.get(offset))} and ${JSON.stringify(value)}` });
      }
      byOffset.set(offset, value);
      previous = Math.max(previous, offset);
    }
    if (previous + 1 < output.endOffset) {
      problems.add({ kind: 'drain-incomplete', ...where, offset: previous + 1, message: `the drain stopped at offset ${previous + 1}, below the end offset ${output.endOffset}` });
    }
    logs.set(partitionKey(input.topic, input.partition), { byOffset, endOffset: output.endOffset });
  }
  return logs;
}

/** Where each value sits in the drained logs (a value may sit at several places: duplicates). */
function locations(logs: ReadonlyMap<string, PartitionLog>): Map<string, { key: string; offset: number }[]> {
  const byValue = new Map<string, { key: string; offset: number }[]>();
  for (const [key, log] of logs) {
    for (const [offset, value] of log.byOffset) {
      let list = byValue.get(value);
      if (list === undefined) byValue.set(value, (list = []));
      list.push({ key, offset });
    }
  }
  return byValue;
}

/** One problem per value that sits at more than one offset. */
function checkDuplicates(where: ReadonlyMap<string, { key: string; offset: number }[]>, problems: Problems): void {
  for (const [value, places] of where) {
    if (places.length < 2) continue;
    const [topic, partition] = splitKey(places[1]!.key);
    problems.add({ kind: 'duplicate', topic, partition, offset: places[1]!.offset, value, message: `value ${JSON.stringify(value)} is in the log ${places.length} times: ${places.map((place) => `${place.key}@${place.offset}`).join(', ')}` });
  }
}

function splitKey(key: string): [string, number] {
  const slash = key.lastIndexOf('/');
  return [key.slice(0, slash), Number(key.slice(slash + 1))];
}

interface SendFacts {
  readonly attempted: Set<string>;
  readonly failed: Set<string>;
  readonly counts: { ok: number; fail: number; unknown: number };
  unknownFound: number;
}

function checkSends(entries: readonly QueueEntry[], logs: ReadonlyMap<string, PartitionLog>, where: ReadonlyMap<string, { key: string; offset: number }[]>, problems: Problems): SendFacts {
  const facts: SendFacts = { attempted: new Set(), failed: new Set(), counts: { ok: 0, fail: 0, unknown: 0 }, unknownFound: 0 };
  for (const entry of entries) {
    const input = entry.input;
    if (input.kind !== 'send') continue;
    facts.counts[entry.outcome]++;
    facts.attempted.add(input.value);
    if (entry.outcome === 'fail') facts.failed.add(input.value);
    if (entry.outcome === 'unknown' && where.has(input.value)) facts.unknownFound++;
    if (entry.outcome !== 'ok') continue;
    const acked = entry.output as { partition: number; offset: number };
    const key = partitionKey(input.topic, acked.partition);
    const log = logs.get(key);
    if (log === undefined) continue; // not drained: reported as drain-incomplete when it failed
    const places = where.get(input.value) ?? [];
    if (places.length === 0) {
      const there = log.byOffset.get(acked.offset);
      problems.add({
        kind: 'lost', topic: input.topic, partition: acked.partition, offset: acked.offset, value: input.value,
        message: `value ${JSON.stringify(input.value)} was acknowledged at ${key}@${acked.offset} (at ${entry.returnTime}) but is not in the log; ` +
          (there === undefined ? `the log ends at offset ${log.endOffset}` : `that offset holds ${JSON.stringify(there)}`),
      });
    } else if (!places.some((place) => place.key === key && place.offset === acked.offset)) {
      problems.add({
        kind: 'ack-mismatch', topic: input.topic, partition: acked.partition, offset: acked.offset, value: input.value,
        message: `value ${JSON.stringify(input.value)} was acknowledged at ${key}@${acked.offset} but the log holds it at ${places.map((place) => `${place.key}@${place.offset}`).join(', ')}`,
      });
    }
  }
  return facts;
}

function checkPhantoms(where: ReadonlyMap<string, { key: string; offset: number }[]>, sends: SendFacts, problems: Problems): void {
  for (const [value, places] of where) {
    if (sends.attempted.has(value) && !sends.failed.has(value)) continue;
    const [topic, partition] = splitKey(places[0]!.key);
    const why = sends.attempted.has(value) ? 'its send failed (certainly not appended)' : 'nobody sent it';
    problems.add({ kind: 'phantom', topic, partition, offset: places[0]!.offset, value, message: `the log holds ${JSON.stringify(value)} at ${places[0]!.key}@${places[0]!.offset}, but ${why}` });
  }
}

function checkReceives(entries: readonly QueueEntry[], logs: ReadonlyMap<string, PartitionLog>, sends: SendFacts, problems: Problems): { received: number; redelivered: number } {
  let received = 0;
  let redelivered = 0;
  const seen = new Map<string, string>();
  for (const entry of entries) {
    const input = entry.input;
    if (input.kind !== 'receive' || entry.outcome !== 'ok') continue;
    received++;
    const { partition, offset, value } = entry.output as { partition: number; offset: number; value: string };
    const key = partitionKey(input.topic, partition);
    const where = { topic: input.topic, partition, offset, value };
    const earlier = seen.get(`${input.group}|${key}@${offset}`);
    if (earlier !== undefined) redelivered++;
    seen.set(`${input.group}|${key}@${offset}`, value);
    if (!sends.attempted.has(value) || sends.failed.has(value)) {
      problems.add({ kind: 'phantom', ...where, message: `consumer ${entry.process} received ${JSON.stringify(value)} at ${key}@${offset}, but ${sends.attempted.has(value) ? 'its send failed' : 'nobody sent it'}` });
      continue;
    }
    const logged = logs.get(key)?.byOffset.get(offset);
    if (logs.has(key) && logged !== value) {
      problems.add({
        kind: 'offset-conflict', ...where,
        message: `consumer ${entry.process} received ${JSON.stringify(value)} at ${key}@${offset}, but the drained log has ${logged === undefined ? 'nothing' : JSON.stringify(logged)} there`,
      });
    }
  }
  return { received, redelivered };
}

interface CommitEvent {
  readonly entry: QueueEntry;
  readonly offset: number;
  readonly callTime: number;
  readonly returnTime: number;
}

/**
 * Committed offsets never go backwards: for two events a, b of one (group, partition) where a
 * returned before b was called, b's offset >= a's. Events are acknowledged commits and reads of the
 * committed offset. One sweep in call order, with the events that returned before it.
 */
function checkCommits(entries: readonly QueueEntry[], problems: Problems): { commits: number; committedReads: number } {
  const byPartition = new Map<string, CommitEvent[]>();
  let commits = 0;
  let committedReads = 0;
  for (const entry of entries) {
    const input = entry.input;
    if ((input.kind !== 'commit' && input.kind !== 'committed') || entry.outcome !== 'ok') continue;
    const offset = input.kind === 'commit' ? input.offset : (entry.output as { offset: number }).offset;
    if (input.kind === 'commit') commits++;
    else committedReads++;
    if (offset < 0) continue; // nothing committed yet
    const key = `${input.group}|${partitionKey(input.topic, input.partition)}`;
    let list = byPartition.get(key);
    if (list === undefined) byPartition.set(key, (list = []));
    list.push({ entry, offset, callTime: entry.callTime, returnTime: entry.returnTime! });
  }
  for (const events of byPartition.values()) {
    const byReturn = [...events].sort((a, b) => a.returnTime - b.returnTime);
    const byCall = [...events].sort((a, b) => a.callTime - b.callTime);
    let highest: CommitEvent | undefined;
    let next = 0;
    for (const event of byCall) {
      while (next < byReturn.length && byReturn[next]!.returnTime < event.callTime) {
        if (highest === undefined || byReturn[next]!.offset > highest.offset) highest = byReturn[next];
        next++;
      }
      if (highest === undefined || event.offset >= highest.offset) continue;
      const input = event.entry.input as { topic: string; group: string; partition: number };
      const what = (candidate: CommitEvent) => `${candidate.entry.input.kind === 'commit' ? 'committed' : 'read as committed'} by ${candidate.entry.process} at ${candidate.callTime}..${candidate.returnTime}`;
      problems.add({
        kind: 'commit-backwards', topic: input.topic, partition: input.partition, offset: event.offset,
        message: `group ${input.group}'s committed offset of ${partitionKey(input.topic, input.partition)} went back from ${highest.offset} (${what(highest)}) to ${event.offset} (${what(event)})`,
      });
    }
  }
  return { commits, committedReads };
}

export function checkQueue(entries: readonly QueueEntry[], options: QueueCheckOptions = {}): QueueCheckResult {
  const problems = new Problems(options.evidencePerKindMax ?? 50);
  const logs = drainedLogs(entries, problems, options.gapsAllowed ?? false);
  const where = locations(logs);
  checkDuplicates(where, problems);
  const sends = checkSends(entries, logs, where, problems);
  checkPhantoms(where, sends, problems);
  const { received, redelivered } = checkReceives(entries, logs, sends, problems);
  const { commits, committedReads } = checkCommits(entries, problems);
  const idempotent = options.idempotent ?? true;
  const counted = { ...problems.counts };
  const violations = QUEUE_PROBLEM_KINDS.filter((kind) => counted[kind] > 0 && (kind !== 'duplicate' || idempotent));
  const drained = [...logs.values()].reduce((total, log) => total + log.byOffset.size, 0);
  return {
    valid: violations.length === 0,
    counts: { sent: sends.counts, unknownFound: sends.unknownFound, received, redelivered, drained, commits, committedReads, byKind: counted },
    problems: problems.list(),
  };
}

/** One paragraph for reports: the counts and the first problems. */
export function describeQueueResult(result: QueueCheckResult, problemsShown = 10): string {
  const { counts } = result;
  const lines = [
    `${counts.sent.ok + counts.sent.fail + counts.sent.unknown} sends (${counts.sent.ok} acknowledged, ${counts.sent.unknown} unknown of which ${counts.unknownFound} in the log, ${counts.sent.fail} failed); ` +
    `${counts.drained} records drained; ${counts.received} received by consumers (${counts.redelivered} redelivered); ${counts.commits} commits, ${counts.committedReads} committed-offset reads`,
  ];
  const found = QUEUE_PROBLEM_KINDS.filter((kind) => counts.byKind[kind] > 0).map((kind) => `${counts.byKind[kind]} ${kind}`);
  lines.push(found.length === 0 ? 'no problems' : `problems: ${found.join(', ')}`);
  for (const problem of result.problems.slice(0, problemsShown)) lines.push(`  ${problem.kind}: ${problem.message}`);
  return lines.join('\n');
}
