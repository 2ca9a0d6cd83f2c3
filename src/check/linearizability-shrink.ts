// Shrinking an illegal partition to a small sub-history a person can read.
//
// Dropping arbitrary operations is not sound evidence: removing a write can make a read illegal
// that was fine ("read of a value never written") and the report would blame the wrong thing.
// So only two moves are used, each of which can only make a history easier to linearize; if the
// result is still illegal, the original was illegal for a reason that survives in the result:
//   1. truncate at time T: drop operations called after T; operations still running at T become
//      unknown-outcome (linearizability is prefix-closed).
//   2. relax an operation to an unknown outcome (it may have happened at any time after its call,
//      or never; its output is forgotten). The model's simplify then drops relaxed writes nobody
//      observed, which is where the history actually gets smaller.
//   3. drop an operation that cannot have changed the state (Model.readOnly: a read, a failed
//      cas): taking it out of a valid linearization leaves a valid linearization. Relaxing those
//      instead would be weaker (an unknown cas may swap) and slower to search.
// All are monotone, so binary search finds a good truncation time and a long relaxable prefix
// before the final one-operation-at-a-time pass. The first try is the one that most often makes
// everything after it cheap: keep only the operation the search could not place (alone, then
// with the writes).

import type { CheckOperation, Model } from './linearizability.ts';
import { blockingPosition, searchWithOptimisticSubset, type SearchResult } from './linearizability-search.ts';

export interface ShrinkState<Input, Output> {
  /** The candidate before simplification (what the moves apply to). */
  operations: readonly CheckOperation<Input, Output>[];
  /** After model.simplify: what was searched, and what the counterexample shows. */
  searched: readonly CheckOperation<Input, Output>[];
  /** The illegal search result for `searched`. */
  search: SearchResult;
}

export interface ShrinkResult<Input, Output> extends ShrinkState<Input, Output> {
  complete: boolean;
}

interface ShrinkLimits {
  deadline: number;
  cacheBytesMax: number;
}

/** Shortest time one candidate check may take, so tiny remainders still try something. */
const CANDIDATE_CHECK_MIN_MS = 10;

class Shrinker<State, Input, Output> {
  current: ShrinkState<Input, Output>;
  /** Set when a candidate check was cut short or the deadline passed. */
  cutShort = false;
  readonly relax: Relax<Input, Output>;
  private readonly model: Model<State, Input, Output>;
  private readonly limits: ShrinkLimits;

  constructor(model: Model<State, Input, Output>, start: ShrinkState<Input, Output>, limits: ShrinkLimits) {
    this.model = model;
    this.relax = relaxWith(model);
    this.current = start;
    this.limits = limits;
  }

  outOfTime(): boolean {
    const over = performance.now() >= this.limits.deadline;
    if (over) this.cutShort = true;
    return over;
  }

  /** Adopts `candidate` when it is verifiably illegal; a check that runs out of time counts as no. */
  tryCandidate(candidate: readonly CheckOperation<Input, Output>[]): boolean {
    if (this.outOfTime()) return false;
    const now = performance.now();
    const deadline = Math.min(this.limits.deadline, now + Math.max(CANDIDATE_CHECK_MIN_MS, (this.limits.deadline - now) / 6));
    const searched = this.model.simplify?.(candidate) ?? candidate;
    const { search } = searchWithOptimisticSubset(this.model, searched, { deadline, cacheBytesMax: this.limits.cacheBytesMax });
    if (search.verdict === 'unknown') this.cutShort = true;
    if (search.verdict !== 'illegal') return false;
    this.current = { operations: candidate, searched, search };
    return true;
  }
}

export function shrinkCounterexample<State, Input, Output>(
  model: Model<State, Input, Output>,
  operations: readonly CheckOperation<Input, Output>[],
  start: { searched: readonly CheckOperation<Input, Output>[]; search: SearchResult },
  limits: ShrinkLimits,
): ShrinkResult<Input, Output> {
  const shrinker = new Shrinker(model, { operations, ...start }, limits);
  keepOnlyBlocking(shrinker);
  dropReadOnlyButBlocking(shrinker);
  truncateEarliest(shrinker);
  relaxLongestPrefix(shrinker);
  relaxOneByOne(shrinker);
  return { ...shrinker.current, complete: !shrinker.cutShort };
}

/** The operation made unknown-outcome, or undefined when it is read-only and simply dropped. */
type Relax<Input, Output> = (operation: CheckOperation<Input, Output>) => CheckOperation<Input, Output> | undefined;

function relaxWith<State, Input, Output>(model: Model<State, Input, Output>): Relax<Input, Output> {
  return (operation) => {
    if (!operation.known) return operation;
    if (model.readOnly?.(operation.input, operation.output!) === true) return undefined;
    return { ...operation, known: false, output: undefined, returnTime: Infinity };
  };
}

function truncateAt<Input, Output>(
  operations: readonly CheckOperation<Input, Output>[], time: number, relax: Relax<Input, Output>,
): CheckOperation<Input, Output>[] {
  return operations
    .filter((operation) => operation.callTime <= time)
    .flatMap((operation) => (operation.known && operation.returnTime <= time ? operation : relax(operation) ?? []));
}

/** Binary search for the earliest return time at which the truncated history is still illegal. */
function truncateEarliest<State, Input, Output>(shrinker: Shrinker<State, Input, Output>): void {
  const operations = shrinker.current.operations;
  const times = [...new Set(operations.filter((operation) => operation.known).map((operation) => operation.returnTime))]
    .sort((a, b) => a - b);
  let low = 0;
  let high = times.length; // times.length stands for "no truncation", known to be illegal
  while (low < high && !shrinker.outOfTime()) {
    const middle = (low + high) >>> 1;
    if (shrinker.tryCandidate(truncateAt(operations, times[middle]!, shrinker.relax))) high = middle;
    else low = middle + 1;
  }
}

/** Id of the operation the current search could not place. */
function blockingId<Input, Output>(state: ShrinkState<Input, Output>): number | undefined {
  const position = blockingPosition(state.searched, state.search.longest);
  return position === undefined ? undefined : state.searched[position]!.id;
}

/**
 * The cheapest try: the operation the search could not place, everything else relaxed. Settles
 * at once a read of a value nobody wrote; otherwise fails fast, the history left being tiny.
 */
function keepOnlyBlocking<State, Input, Output>(shrinker: Shrinker<State, Input, Output>): void {
  const blocking = blockingId(shrinker.current);
  const operations = shrinker.current.operations;
  const others = new Set(operations.filter((operation) => operation.known && operation.id !== blocking));
  if (blocking !== undefined && others.size > 0) shrinker.tryCandidate(relaxing(operations, others, shrinker.relax));
}

/**
 * One cheap try that usually pays: drop every read-only operation except the one the search
 * could not place. Most violations are about that one read, and without the other reads (and
 * failed cas operations, which keep unknown writes relevant) relaxed writes become droppable.
 */
function dropReadOnlyButBlocking<State, Input, Output>(shrinker: Shrinker<State, Input, Output>): void {
  const blocking = blockingId(shrinker.current);
  const operations = shrinker.current.operations;
  const candidate = operations.filter((operation) =>
    operation.id === blocking || !operation.known || shrinker.relax(operation) !== undefined);
  if (candidate.length < operations.length) shrinker.tryCandidate(candidate);
}

function knownByCallTime<Input, Output>(operations: readonly CheckOperation<Input, Output>[]): CheckOperation<Input, Output>[] {
  return operations.filter((operation) => operation.known).sort((a, b) => a.callTime - b.callTime || a.id - b.id);
}

function relaxing<Input, Output>(
  operations: readonly CheckOperation<Input, Output>[],
  chosen: ReadonlySet<CheckOperation<Input, Output>>,
  relax: Relax<Input, Output>,
): CheckOperation<Input, Output>[] {
  return operations.flatMap((operation) => (chosen.has(operation) ? relax(operation) ?? [] : operation));
}

/** Binary search for the largest k such that relaxing the k earliest-called operations stays illegal. */
function relaxLongestPrefix<State, Input, Output>(shrinker: Shrinker<State, Input, Output>): void {
  const operations = shrinker.current.operations;
  const ordered = knownByCallTime(operations);
  let low = 0; // relaxing nothing: known to be illegal
  let high = ordered.length - 1; // relaxing everything leaves nothing to contradict
  while (low < high && !shrinker.outOfTime()) {
    const middle = (low + high + 1) >>> 1;
    if (shrinker.tryCandidate(relaxing(operations, new Set(ordered.slice(0, middle)), shrinker.relax))) low = middle;
    else high = middle - 1;
  }
}

/** Relaxes each remaining known operation, latest first, keeping every relaxation that stays illegal. */
function relaxOneByOne<State, Input, Output>(shrinker: Shrinker<State, Input, Output>): void {
  const candidates = knownByCallTime(shrinker.current.operations).reverse();
  for (const operation of candidates) {
    if (shrinker.outOfTime()) return;
    const current = shrinker.current.operations;
    shrinker.tryCandidate(relaxing(current, new Set([operation]), shrinker.relax));
  }
}
