// Every checker of a chaos run, fed only by the recorded history (so `cairn chaos check` gives
// the same verdicts from history.jsonl): linearizability of the KV operations per key, the queue
// checker for Kafka, at most one leader per term, convergence after the heal, no committed entry
// lost from a restarted node's log, no write acknowledged without a quorum, writes accepted where
// the scenario says they must be, recovery after the heal, every fault action carried out, and a
// complete history.
import type { HistoryEntry } from '../check/history.ts';
import { kvRegisterModel } from '../check/kv-model.ts';
import type { KvInput, KvOutput } from '../check/kv-model.ts';
import { checkLinearizability } from '../check/linearizability.ts';
import { checkQueue, describeQueueResult } from '../check/queue.ts';
import type { QueueEntry } from '../check/queue.ts';
import { describeExpectation } from './schedule.ts';
import type { CheckOutcome, ConvergenceOutput, Edge, Expectation, NodeSample, ObservationInput, ScenarioPlan } from './types.ts';

const KV_KINDS = new Set(['get', 'put', 'cas', 'delete']);
const QUEUE_KINDS = new Set(['send', 'receive', 'commit', 'committed', 'drain']);
const EVIDENCE_LINES_MAX = 40;

export interface CheckOptions {
  /** Wall-clock budget of the linearizability search (default 20 s). */
  readonly linearizabilityBudgetMs?: number;
}

function kindOf(entry: HistoryEntry): string | undefined {
  const kind = (entry.input as { kind?: unknown } | null)?.kind;
  return typeof kind === 'string' ? kind : undefined;
}

export interface SplitHistory {
  readonly plan: ScenarioPlan | undefined;
  readonly kv: HistoryEntry<KvInput, KvOutput>[];
  readonly queue: QueueEntry[];
  readonly status: HistoryEntry<{ kind: 'status'; node: number }, NodeSample | { error: string }>[];
  readonly faults: HistoryEntry<ObservationInput & { kind: 'fault' }, { nodes?: number[]; detail?: string; error?: string }>[];
  readonly convergence: ConvergenceOutput | undefined;
  readonly runner: HistoryEntry<ObservationInput & { kind: 'runner' }, Record<string, unknown>>[];
}

/** One scenario's entries sorted by kind. */
export function splitHistory(entries: readonly HistoryEntry[]): SplitHistory {
  const split: { -readonly [K in keyof SplitHistory]: SplitHistory[K] } = { plan: undefined, kv: [], queue: [], status: [], faults: [], convergence: undefined, runner: [] };
  for (const entry of entries) {
    const kind = kindOf(entry);
    if (kind === undefined) continue;
    if (KV_KINDS.has(kind)) split.kv.push(entry as HistoryEntry<KvInput, KvOutput>);
    else if (QUEUE_KINDS.has(kind)) split.queue.push(entry as QueueEntry);
    else if (kind === 'status') split.status.push(entry as SplitHistory['status'][number]);
    else if (kind === 'fault') split.faults.push(entry as SplitHistory['faults'][number]);
    else if (kind === 'runner') split.runner.push(entry as SplitHistory['runner'][number]);
    else if (kind === 'plan') split.plan = (entry.input as { plan: ScenarioPlan }).plan;
    else if (kind === 'convergence' && entry.outcome === 'ok') split.convergence = entry.output as ConvergenceOutput;
  }
  return split;
}

function clip(lines: readonly string[]): string {
  return lines.length <= EVIDENCE_LINES_MAX ? lines.join('\n') : [...lines.slice(0, EVIDENCE_LINES_MAX), `... ${lines.length - EVIDENCE_LINES_MAX} more`].join('\n');
}

function checkFaults(split: SplitHistory): CheckOutcome {
  const failed = split.faults.filter((entry) => entry.outcome !== 'ok');
  const expected = (split.plan?.schedule.length ?? 0);
  const started = new Set(split.faults.filter((entry) => entry.input.action === 'start').map((entry) => entry.input.window));
  const missing = Array.from({ length: expected }, (_, window) => window).filter((window) => !started.has(window));
  if (failed.length === 0 && missing.length === 0) {
    return { name: 'faults', status: 'pass', summary: `${split.faults.length} fault actions carried out` };
  }
  const lines = failed.map((entry) => `window ${entry.input.window} ${entry.input.action} (${entry.input.name}) at ${(entry.callTime / 1000).toFixed(1)} s failed: ${String((entry.output as { error?: string } | null)?.error ?? 'no answer')}`);
  for (const window of missing) lines.push(`window ${window} never started (the run ended early)`);
  return { name: 'faults', status: 'fail', summary: `${failed.length + missing.length} of ${expected * 2} fault actions failed or did not happen`, evidence: clip(lines) };
}

function checkKv(split: SplitHistory, budgetMs: number): CheckOutcome | undefined {
  if (split.kv.length === 0) return undefined;
  const history = split.kv.map(({ process, callTime, returnTime, input, output, outcome }) => ({ process, callTime, returnTime, input, output, outcome }));
  const result = checkLinearizability(kvRegisterModel, history, { timeBudgetMs: budgetMs });
  const counts = { ok: 0, fail: 0, unknown: 0 };
  for (const entry of history) counts[entry.outcome]++;
  const keys = result.partitions.length;
  const base = `${history.length} operations on ${keys} keys (${counts.ok} ok, ${counts.fail} failed, ${counts.unknown} unknown)`;
  if (result.verdict === 'ok') {
    // A write lost at the very end shows only if a later read misses it: without a successful
    // final read of a key, its history proves nothing about the last writes.
    const unread = keysWithoutFinalRead(split.kv);
    if (unread.length > 0) return { name: 'linearizability', status: 'unknown', summary: `${base}: linearizable, but the final read of ${unread.join(', ')} never succeeded, so writes lost at the end could go unseen` };
    return { name: 'linearizability', status: 'pass', summary: `${base}: linearizable (${Math.round(result.elapsedMs)} ms)` };
  }
  if (result.verdict === 'unknown') {
    const open = result.partitions.filter((partition) => partition.verdict === 'unknown').map((partition) => partition.key);
    return { name: 'linearizability', status: 'unknown', summary: `${base}: no verdict within ${budgetMs} ms (keys ${open.join(', ')})` };
  }
  const counterexample = result.counterexample!;
  const operations = counterexample.operations.map((entry) => `  ${entry.process}  ${entry.callTime.toFixed(1)}..${entry.returnTime === null ? '?' : entry.returnTime.toFixed(1)} ms  ${JSON.stringify(entry.input)} -> ${entry.outcome === 'ok' ? JSON.stringify(entry.output) : entry.outcome}`);
  return {
    name: 'linearizability', status: 'fail', summary: `${base}: NOT linearizable on key ${counterexample.key}`,
    evidence: clip([counterexample.explanation, `Smallest non-linearizable sub-history (${counterexample.operations.length} operations${counterexample.shrinkComplete ? '' : ', shrinking stopped early'}):`, ...operations]),
    details: counterexample,
  };
}

/** Keys that were written but have no successful read by the final-read processes (kv.ts). */
function keysWithoutFinalRead(kv: SplitHistory['kv']): string[] {
  const written = new Set<string>();
  const finallyRead = new Set<string>();
  for (const entry of kv) {
    if (entry.input.kind !== 'get' && entry.outcome !== 'fail') written.add(entry.input.key);
    if (entry.input.kind === 'get' && entry.outcome === 'ok' && String(entry.process).startsWith('final-')) finallyRead.add(entry.input.key);
  }
  return [...written].filter((key) => !finallyRead.has(key)).sort();
}

function checkKafka(split: SplitHistory): CheckOutcome | undefined {
  if (split.queue.length === 0) return undefined;
  const result = checkQueue(split.queue, { idempotent: true });
  const { counts } = result;
  const summary = `${counts.sent.ok} acknowledged of ${counts.sent.ok + counts.sent.unknown + counts.sent.fail} sent, ${counts.drained} drained, ${counts.received} received`;
  if (result.valid) return { name: 'queue', status: 'pass', summary: `${summary}: nothing lost, no duplicates, offsets in order` };
  const lost = result.problems.filter((problem) => problem.kind === 'lost');
  return {
    name: 'queue', status: 'fail', summary: `${summary}: ${counts.byKind.lost} lost, ${counts.byKind.duplicate} duplicated, ${Object.values(counts.byKind).reduce((a, b) => a + b, 0)} problems`,
    evidence: describeQueueResult(result, 30), details: { counts, lost: lost.map((problem) => ({ partition: problem.partition, offset: problem.offset, value: problem.value })) },
  };
}

/** At most one leader per term: nodes that said they lead, and the leaders nodes named. */
export function checkLeaderPerTerm(split: SplitHistory): CheckOutcome {
  const leaders = new Map<number, Map<number, string>>();
  let samples = 0;
  for (const entry of split.status) {
    if (entry.outcome !== 'ok') continue;
    samples++;
    const sample = entry.output as NodeSample;
    const claims: [number, string][] = [];
    if (sample.role === 'leader') claims.push([entry.input.node, `node ${entry.input.node} said it leads, at ${(entry.callTime / 1000).toFixed(2)} s`]);
    if (sample.leaderId !== 0) claims.push([sample.leaderId, `node ${entry.input.node} named node ${sample.leaderId} leader, at ${(entry.callTime / 1000).toFixed(2)} s`]);
    for (const [leader, evidence] of claims) {
      let byLeader = leaders.get(sample.term);
      if (byLeader === undefined) leaders.set(sample.term, (byLeader = new Map()));
      if (!byLeader.has(leader)) byLeader.set(leader, evidence);
    }
  }
  const split2 = [...leaders].filter(([, byLeader]) => byLeader.size > 1);
  const terms = [...leaders.keys()].sort((a, b) => a - b);
  const range = terms.length === 0 ? 'no leader seen' : `terms ${terms[0]}..${terms.at(-1)}, ${terms.length} with a leader`;
  if (samples === 0) return { name: 'leader-per-term', status: 'unknown', summary: 'no status sample was recorded' };
  if (split2.length === 0) return { name: 'leader-per-term', status: 'pass', summary: `${samples} status samples, ${range}: one leader per term` };
  const lines = split2.flatMap(([term, byLeader]) => [`term ${term} had ${byLeader.size} leaders:`, ...[...byLeader.values()].map((line) => `  ${line}`)]);
  return { name: 'leader-per-term', status: 'fail', summary: `${split2.length} terms with two leaders (split brain)`, evidence: clip(lines) };
}

function checkConvergence(split: SplitHistory): CheckOutcome {
  const convergence = split.convergence;
  if (convergence === undefined) return { name: 'convergence', status: 'unknown', summary: 'the run ended before the convergence check' };
  const table = convergence.nodes.map((node) => `  node ${node.id}: commit ${node.commitIndex ?? '-'}, applied ${node.appliedIndex ?? '-'}, revision ${node.revision ?? '-'}, digest ${node.digest ?? '-'}${node.error === undefined ? '' : ` (${node.error})`}`);
  const target = `leader commit ${convergence.targetCommitIndex ?? '-'}, revision ${convergence.targetRevision ?? '-'}`;
  if (convergence.converged) {
    return { name: 'convergence', status: 'pass', summary: `all ${convergence.nodes.length} nodes at commit ${convergence.nodes[0]!.commitIndex}, digest ${convergence.nodes[0]!.digest} (round ${convergence.rounds})` };
  }
  return { name: 'convergence', status: 'fail', summary: `nodes did not converge within ${convergence.boundMs / 1000} s (${target})`, evidence: table.join('\n'), details: convergence };
}

function isAcknowledgedWrite(entry: HistoryEntry): boolean {
  const kind = kindOf(entry);
  return entry.outcome === 'ok' && (kind === 'put' || kind === 'cas' || kind === 'delete' || kind === 'send');
}

type FaultEntry = SplitHistory['faults'][number];

function edgeTime(faults: readonly FaultEntry[], edge: Edge, end: 'from' | 'to'): number | string {
  const entry = faults.find((candidate) => candidate.input.window === edge.window && candidate.input.action === edge.edge);
  if (entry === undefined) return `the ${edge.edge} of window ${edge.window} was not recorded`;
  if (entry.outcome !== 'ok') return `the ${edge.edge} of window ${edge.window} failed`;
  return end === 'from' ? entry.returnTime! : entry.callTime;
}

function expectationOutcome(expectation: Expectation, split: SplitHistory, writes: readonly HistoryEntry[], reads: readonly HistoryEntry[]): { status: CheckOutcome['status']; line: string } {
  const description = describeExpectation(expectation);
  if (expectation.kind === 'needs-snapshot') {
    const stopEntry = split.faults.find((entry) => entry.input.window === expectation.window && entry.input.action === 'stop' && entry.outcome === 'ok');
    const facts = stopEntry === undefined ? undefined : JSON.parse((stopEntry.output as { detail?: string }).detail ?? '{}') as { needsSnapshot?: boolean; leaderFirstIndex?: number; nodeLastIndex?: number };
    if (facts?.needsSnapshot === true) return { status: 'pass', line: `${description}: leader log starts at ${facts.leaderFirstIndex}, the node ended at ${facts.nodeLastIndex}` };
    return { status: 'fail', line: `${description}: NOT achieved (${facts === undefined ? 'the stop was not recorded' : `leader log starts at ${facts.leaderFirstIndex}, the node ended at ${facts.nodeLastIndex}`})` };
  }
  const from = edgeTime(split.faults, expectation.from, 'from');
  const start = typeof from === 'string' ? from : from + (expectation.kind === 'available' ? expectation.settleMs : 0);
  const to = expectation.kind === 'available' && expectation.to === undefined
    ? (typeof start === 'string' ? start : start + (expectation.withinMs ?? 0))
    : edgeTime(split.faults, expectation.to!, 'to');
  if (typeof start === 'string' || typeof to === 'string') return { status: 'fail', line: `${description}: cannot be judged: ${typeof start === 'string' ? start : to}` };
  const inside = writes.filter((entry) => entry.callTime >= start && entry.returnTime! <= to);
  const span = `${(start / 1000).toFixed(2)}..${(to / 1000).toFixed(2)} s`;
  if (expectation.kind === 'no-quorum') {
    // A linearizable read needs a majority too (ReadIndex confirms leadership with one).
    const readsInside = reads.filter((entry) => entry.callTime >= start && entry.returnTime! <= to);
    if (inside.length === 0 && readsInside.length === 0) return { status: 'pass', line: `${description} (${span}): none` };
    const shown = [...inside, ...readsInside].slice(0, 5).map((entry) => `${entry.process} ${JSON.stringify(entry.input)} ${entry.callTime.toFixed(0)}..${entry.returnTime!.toFixed(0)} ms`);
    return { status: 'fail', line: `${description} (${span}): ${inside.length} writes acknowledged and ${readsInside.length} linearizable reads answered without a quorum: ${shown.join('; ')}` };
  }
  if (to <= start) return { status: 'fail', line: `${description}: the interval ${span} is empty (the faults took longer than planned)` };
  return inside.length > 0 ? { status: 'pass', line: `${description} (${span}): ${inside.length} writes acknowledged` } : { status: 'fail', line: `${description} (${span}): no write acknowledged` };
}

function checkExpectations(split: SplitHistory): CheckOutcome[] {
  const expectations = split.plan?.expectations ?? [];
  const writes = [...split.kv, ...split.queue].filter(isAcknowledgedWrite);
  const reads = split.kv.filter((entry) => entry.outcome === 'ok' && entry.input.kind === 'get');
  const groups: [string, Expectation['kind'][]][] = [['no-quorum', ['no-quorum']], ['availability', ['available']], ['needs-snapshot', ['needs-snapshot']]];
  const outcomes: CheckOutcome[] = [];
  for (const [name, kinds] of groups) {
    const selected = expectations.filter((expectation) => kinds.includes(expectation.kind));
    if (selected.length === 0) continue;
    const results = selected.map((expectation) => expectationOutcome(expectation, split, writes, reads));
    const failed = results.filter((result) => result.status !== 'pass');
    outcomes.push({
      name, status: failed.length === 0 ? 'pass' : 'fail',
      summary: failed.length === 0 ? `${selected.length} interval${selected.length === 1 ? '' : 's'} as expected` : `${failed.length} of ${selected.length} intervals not as expected`,
      evidence: results.map((result) => `${result.status === 'pass' ? 'ok  ' : 'FAIL'} ${result.line}`).join('\n'),
    });
  }
  return outcomes;
}

function checkRecovery(split: SplitHistory): CheckOutcome {
  const healed = split.runner.find((entry) => entry.input.action === 'heal' && entry.outcome === 'ok');
  if (healed === undefined) return { name: 'recovery', status: 'fail', summary: 'the cluster was not restored after the faults', evidence: JSON.stringify(split.runner.find((entry) => entry.input.action === 'heal')?.output ?? null) };
  const after = [...split.kv, ...split.queue].filter((entry) => isAcknowledgedWrite(entry) && entry.callTime >= healed.returnTime!);
  if (after.length === 0) return { name: 'recovery', status: 'fail', summary: 'no write was acknowledged after the heal' };
  const first = Math.min(...after.map((entry) => entry.returnTime!)) - healed.returnTime!;
  return { name: 'recovery', status: 'pass', summary: `${after.length} writes acknowledged after the heal, the first after ${Math.round(first)} ms` };
}

function checkComplete(split: SplitHistory): CheckOutcome {
  const done = split.runner.find((entry) => entry.input.action === 'done');
  if (done === undefined) return { name: 'history', status: 'fail', summary: 'the run did not finish: the history is incomplete' };
  if (done.output?.['truncated'] === true) return { name: 'history', status: 'fail', summary: 'the history was truncated (too many entries): raise the limit or lower --rate' };
  return { name: 'history', status: 'pass', summary: 'complete' };
}

/**
 * What a restarting node says when its Raft log lost entries its state machine had already
 * applied (src/runtime/raft-node.ts): committed, hence acknowledged, writes gone from its log.
 */
const LOG_LOST_APPLIED_ENTRIES = /the state machine has applied up to (\d+) but the log ends at (\d+)/;

/** Acknowledged writes lost from a node's log, as restarted nodes report them (power loss, crashes). */
export function checkDurability(split: SplitHistory): CheckOutcome {
  const lines: string[] = [];
  for (const entry of split.faults) {
    const error = (entry.output as { error?: unknown } | null)?.error;
    const match = typeof error === 'string' ? LOG_LOST_APPLIED_ENTRIES.exec(error) : null;
    if (match === null) continue;
    const node = /node (\d+)/.exec(String(error))?.[1] ?? '?';
    lines.push(`window ${entry.input.window} (${entry.input.name}): node ${node} had applied up to index ${match[1]}, but its log ends at ${match[2]}: ${Number(match[1]) - Number(match[2])} committed entries lost; it refused to start`);
  }
  if (lines.length === 0) return { name: 'durability', status: 'pass', summary: 'no restarted node lost committed entries from its log' };
  return { name: 'durability', status: 'fail', summary: `acknowledged writes lost: ${lines.length} restart${lines.length === 1 ? '' : 's'} found committed entries missing from the log`, evidence: clip(lines) };
}

/** Every check of one scenario's history. */
export function runChecks(entries: readonly HistoryEntry[], options: CheckOptions = {}): CheckOutcome[] {
  const split = splitHistory(entries);
  const outcomes: CheckOutcome[] = [checkComplete(split), checkFaults(split)];
  const kv = checkKv(split, options.linearizabilityBudgetMs ?? 20_000);
  if (kv !== undefined) outcomes.push(kv);
  const queue = checkKafka(split);
  if (queue !== undefined) outcomes.push(queue);
  outcomes.push(checkLeaderPerTerm(split), checkConvergence(split), checkDurability(split), ...checkExpectations(split), checkRecovery(split));
  return outcomes;
}

/** Groups the lines of a multi-scenario history.jsonl by scenario (in order of appearance). */
export function groupByScenario(entries: readonly (HistoryEntry & { scenario?: unknown })[]): Map<string, HistoryEntry[]> {
  const groups = new Map<string, HistoryEntry[]>();
  for (const entry of entries) {
    const scenario = typeof entry.scenario === 'string' ? entry.scenario : 'unnamed';
    let list = groups.get(scenario);
    if (list === undefined) groups.set(scenario, (list = []));
    list.push(entry);
  }
  return groups;
}


