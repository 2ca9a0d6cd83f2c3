// Linearizability checking of recorded client histories (Porcupine's method; see
// linearizability-search.ts for the search itself). This file holds the public API: the Model a
// data type implements, history preparation (outcomes, partitions), the time budget split across
// partitions, and the counterexample a failing run reports.
//
// Outcomes: 'fail' operations did not happen and are dropped. 'unknown' ones may have happened at
// any time after their call, or never: they get return time +Infinity and an undefined output the
// model must accept whatever it would have returned. "Never" needs no special case: an operation
// linearized after every completed one is observed by nobody, which is the same as never.

import { assertHistoryEntry, type HistoryEntry } from './history.ts';
import { blockingPosition, searchWithOptimisticSubset, type SearchResult, type SearchVerdict } from './linearizability-search.ts';
import { shrinkCounterexample } from './linearizability-shrink.ts';

export { kvRegisterModel } from './kv-model.ts';
export type { KvInput, KvOutput, KvValue } from './kv-model.ts';

export type StepResult<State> = { ok: true; state: State } | { ok: false };

export interface Model<State, Input, Output> {
  init(): State;
  /**
   * Applies `input` to `state`. `output` is what the operation returned, or undefined when its
   * outcome is unknown: then it must be accepted (from any state) and return the state it would
   * have produced. Must be deterministic and must not mutate `state` (states are kept for
   * backtracking and caching).
   */
  step(state: State, input: Input, output: Output | undefined): StepResult<State>;
  equal(a: State, b: State): boolean;
  /** Equal states must hash equally (used as part of the cache key). */
  hash(state: State): string | number;
  /** Operations with different keys never interact and are checked independently. */
  partitionKey?(input: Input): string;
  describe(input: Input, output: Output | undefined): string;
  describeState?(state: State): string;
  /** Model-specific shape check of an entry's input and output: a reason when invalid. */
  validate?(entry: HistoryEntry<Input, Output>): string | undefined;
  /**
   * Optional rewrite of one partition's operations that keeps exactly the same verdict but is
   * cheaper to search (drop unknown reads, narrow unknown writes that a read proves happened...).
   * Returns new objects for changed operations; never mutates its argument.
   */
  simplify?(operations: readonly CheckOperation<Input, Output>[]): CheckOperation<Input, Output>[];
  /**
   * Optional: a subset of (simplified) operations made by deciding that some unknown-outcome
   * operations never took effect, typically writes nobody observed. "Never" is always one of the
   * allowed readings of an unknown outcome, so 'ok' on the subset is 'ok' for the whole; only an
   * 'illegal' needs the full search. Correct histories, the common case, then skip most of the
   * search cost of unknown outcomes. Requires that step accepts an unknown-outcome operation
   * from any state.
   */
  optimisticSubset?(operations: readonly CheckOperation<Input, Output>[]): CheckOperation<Input, Output>[];
  /**
   * Optional: true when a completed operation with this output cannot have changed the state (a
   * read; a cas that did not swap). Removing such an operation cannot make a linearizable history
   * illegal, so shrinking drops these outright instead of relaxing them to unknown outcomes.
   */
  readOnly?(input: Input, output: Output): boolean;
}

/** An operation as the search sees it. */
export interface CheckOperation<Input, Output> {
  /** Index of the entry in the history given to checkLinearizability. */
  id: number;
  input: Input;
  /** undefined exactly when `known` is false. */
  output: Output | undefined;
  known: boolean;
  callTime: number;
  /** +Infinity for unknown outcomes, unless `simplify` proved an earlier bound. */
  returnTime: number;
  /**
   * Set only by `simplify`: the id of an operation of the same partition that must be linearized
   * before this one. Lets a model break symmetries (interchangeable operations used in one order).
   */
  linearizedAfter?: number;
}

export type Verdict = SearchVerdict;

export interface CheckOptions {
  /** Wall-clock budget for the whole check, shrinking included (default 10 s). */
  timeBudgetMs?: number;
  /** Cap on the part of the budget spent shrinking a counterexample (default 3 s). */
  shrinkBudgetMs?: number;
  /** Approximate memory for each partition's search cache (default 256 MiB). */
  cacheBytesMax?: number;
  /** Whether to shrink a counterexample (default true). */
  shrink?: boolean;
}

export interface PartitionResult {
  key: string;
  verdict: Verdict;
  /** Entries with this key, all outcomes. */
  operations: number;
  /** Operations left to search after dropping failures and simplifying. */
  searchedOperations: number;
  /** Whether the optimistic subset (see Model.optimisticSubset) settled the partition. */
  settledOptimistically: boolean;
  elapsedMs: number;
  cacheEntries: number;
  /** The cache reached cacheBytesMax; the search went on without it (slower, still correct). */
  cacheFull: boolean;
}

export interface Counterexample<Input, Output> {
  key: string;
  /**
   * A sub-history that cannot be linearized, in call order. Shrinking only drops or relaxes
   * operations in ways that cannot turn a linearizable history into an illegal one (truncating
   * at a time, treating an operation's outcome as unknown), so it is evidence about the real
   * history. Relaxed operations still needed to explain a read appear with outcome 'unknown'.
   */
  operations: HistoryEntry<Input, Output>[];
  explanation: string;
  /** False when the time budget ran out before shrinking finished. */
  shrinkComplete: boolean;
}

export interface CheckResult<Input, Output> {
  verdict: Verdict;
  partitions: PartitionResult[];
  counterexample?: Counterexample<Input, Output>;
  elapsedMs: number;
}

interface Partition<Input, Output> {
  key: string;
  entries: number;
  /** Prepared operations before simplification (what shrinking starts from). */
  operations: CheckOperation<Input, Output>[];
  searched: CheckOperation<Input, Output>[];
}

export function checkLinearizability<State, Input, Output>(
  model: Model<State, Input, Output>,
  history: readonly HistoryEntry<Input, Output>[],
  options: CheckOptions = {},
): CheckResult<Input, Output> {
  const startedAt = performance.now();
  const deadline = startedAt + (options.timeBudgetMs ?? 10_000);
  const cacheBytesMax = options.cacheBytesMax ?? 256 * 1024 * 1024;
  const validate = model.validate === undefined ? undefined : (entry: HistoryEntry<Input, Output>) => model.validate!(entry);
  history.forEach((entry, index) => assertHistoryEntry(entry, `history entry ${index}`, validate));
  const partitions = partitionHistory(model, history);
  const searches = new Map<string, SearchResult>();
  const results = checkPartitions(model, partitions, deadline, cacheBytesMax, searches);
  const verdict = overallVerdict(results);
  const result: CheckResult<Input, Output> = { verdict, partitions: results, elapsedMs: 0 };
  if (verdict === 'illegal') {
    const shrinkDeadline = options.shrink === false ? 0 : Math.min(deadline, performance.now() + (options.shrinkBudgetMs ?? 3_000));
    result.counterexample = buildCounterexample(model, history, partitions, results, searches, shrinkDeadline, cacheBytesMax);
  }
  result.elapsedMs = performance.now() - startedAt;
  return result;
}

function overallVerdict(results: readonly PartitionResult[]): Verdict {
  if (results.some((partition) => partition.verdict === 'illegal')) return 'illegal';
  return results.some((partition) => partition.verdict === 'unknown') ? 'unknown' : 'ok';
}

/** Groups entries by key, drops failed operations, and turns unknown outcomes into open intervals. */
function partitionHistory<State, Input, Output>(
  model: Model<State, Input, Output>,
  history: readonly HistoryEntry<Input, Output>[],
): Partition<Input, Output>[] {
  const byKey = new Map<string, Partition<Input, Output>>();
  history.forEach((entry, id) => {
    const key = model.partitionKey?.(entry.input) ?? '';
    let partition = byKey.get(key);
    if (partition === undefined) byKey.set(key, (partition = { key, entries: 0, operations: [], searched: [] }));
    partition.entries++;
    const operation = toCheckOperation(entry, id);
    if (operation !== undefined) partition.operations.push(operation);
  });
  const partitions = [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const partition of partitions) partition.searched = model.simplify?.(partition.operations) ?? partition.operations;
  return partitions;
}

function toCheckOperation<Input, Output>(entry: HistoryEntry<Input, Output>, id: number): CheckOperation<Input, Output> | undefined {
  if (entry.outcome === 'fail') return undefined;
  if (entry.outcome === 'unknown') {
    return { id, input: entry.input, output: undefined, known: false, callTime: entry.callTime, returnTime: Infinity };
  }
  // An 'ok' entry without output (operations returning nothing) is normalized to null, so that
  // undefined keeps meaning "unknown" for the model.
  const output = (entry.output ?? null) as Output;
  return { id, input: entry.input, output, known: true, callTime: entry.callTime, returnTime: entry.returnTime! };
}

/**
 * Checks partitions smallest first, each with a fair share of what is left of the budget: quick
 * partitions finish early and hand their unused time to the large ones at the end, and one
 * pathological partition cannot starve all the others of a verdict.
 */
function checkPartitions<State, Input, Output>(
  model: Model<State, Input, Output>,
  partitions: readonly Partition<Input, Output>[],
  deadline: number,
  cacheBytesMax: number,
  searches: Map<string, SearchResult>,
): PartitionResult[] {
  const bySize = [...partitions].sort((a, b) => a.searched.length - b.searched.length);
  const results = new Map<string, PartitionResult>();
  bySize.forEach((partition, index) => {
    const startedAt = performance.now();
    const share = (deadline - startedAt) / (bySize.length - index);
    const { search, optimistic } = searchWithOptimisticSubset(model, partition.searched, { deadline: startedAt + share, cacheBytesMax });
    searches.set(partition.key, search);
    results.set(partition.key, {
      key: partition.key, verdict: search.verdict, operations: partition.entries,
      searchedOperations: partition.searched.length, settledOptimistically: optimistic,
      elapsedMs: performance.now() - startedAt, cacheEntries: search.cacheEntries, cacheFull: search.cacheFull,
    });
  });
  return partitions.map((partition) => results.get(partition.key)!);
}

/** Shrinks the smallest illegal partition (the quickest to shrink) and explains it. */
function buildCounterexample<State, Input, Output>(
  model: Model<State, Input, Output>,
  history: readonly HistoryEntry<Input, Output>[],
  partitions: readonly Partition<Input, Output>[],
  results: readonly PartitionResult[],
  searches: ReadonlyMap<string, SearchResult>,
  deadline: number,
  cacheBytesMax: number,
): Counterexample<Input, Output> {
  const illegal = partitions
    .filter((_, index) => results[index]!.verdict === 'illegal')
    .sort((a, b) => a.searched.length - b.searched.length)[0]!;
  const shrunk = shrinkCounterexample(model, illegal.operations,
    { searched: illegal.searched, search: searches.get(illegal.key)! }, { deadline, cacheBytesMax });
  const operations = shrunk.searched.map((operation) => displayEntry(history[operation.id]!, operation));
  operations.sort((a, b) => a.callTime - b.callTime);
  return {
    key: illegal.key,
    operations,
    explanation: explainIllegal(model, illegal.key, history, shrunk.searched, shrunk.search.longest),
    shrinkComplete: shrunk.complete,
  };
}

/** The entry as the counterexample shows it: relaxed operations appear with an unknown outcome. */
function displayEntry<Input, Output>(entry: HistoryEntry<Input, Output>, operation: CheckOperation<Input, Output>): HistoryEntry<Input, Output> {
  if (operation.known || entry.outcome === 'unknown') return entry;
  return { ...entry, outcome: 'unknown', returnTime: null, output: null as Output };
}

/**
 * Readable evidence: the longest linearizable prefix the search found, the state it leads to, and
 * the operation that must come next (the earliest-returning one left) but cannot.
 */
export function explainIllegal<State, Input, Output>(
  model: Model<State, Input, Output>,
  key: string,
  history: readonly HistoryEntry<Input, Output>[],
  operations: readonly CheckOperation<Input, Output>[],
  longest: readonly number[],
): string {
  const describeState = (state: State) => model.describeState?.(state) ?? JSON.stringify(state);
  const describe = (operation: CheckOperation<Input, Output>) => {
    const entry = history[operation.id]!;
    const returned = operation.known ? String(entry.returnTime) : '?';
    return `${model.describe(operation.input, operation.output)}  [process ${entry.process}, ${entry.callTime}..${returned}]`;
  };
  const lines = [`${operations.length} operations${key === '' ? '' : ` on key ${JSON.stringify(key)}`} cannot be linearized.`];
  let state = model.init();
  lines.push(`Longest linearizable prefix found (${longest.length} of ${operations.length}), from state ${describeState(state)}:`);
  longest.forEach((position, index) => {
    const operation = operations[position]!;
    const stepped = model.step(state, operation.input, operation.output);
    if (stepped.ok) state = stepped.state;
    lines.push(`  ${index + 1}. ${describe(operation)}  -> ${describeState(state)}`);
  });
  const blockingAt = blockingPosition(operations, longest);
  if (blockingAt === undefined) return lines.join('\n'); // not illegal after all: nothing to blame
  const blocking = operations[blockingAt]!;
  const placed = new Set(longest);
  const concurrent = operations.filter((operation, position) =>
    !placed.has(position) && operation !== blocking && operation.callTime <= blocking.returnTime);
  const possible = model.step(state, blocking.input, blocking.output).ok;
  lines.push(`Then ${describe(blocking)} must take effect before it returned, but ` +
    (possible ? `every order of it and the operations concurrent with it leads to a dead end.`
      : `it is impossible from state ${describeState(state)}.`));
  if (concurrent.length > 0) lines.push(`Concurrent operations not yet placed: ${concurrent.map(describe).join('; ')}`);
  if (operations.some((operation) => !operation.known)) {
    lines.push(`("?" marks an outcome taken as unknown: it may have happened at any time after its call, or never.)`);
  }
  return lines.join('\n');
}
