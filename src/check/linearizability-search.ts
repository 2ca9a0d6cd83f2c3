// The search at the heart of the linearizability checker: Lowe's refinement of Wing & Gong's
// algorithm, as Porcupine implements it. Call and return events sit in one time-ordered doubly
// linked list. Walking it from the front, a call may be linearized now if the model accepts it
// from the current state; then its call and return are lifted out of the list (dancing links:
// the removed nodes keep their pointers, so unlifting in reverse order restores the list in O(1))
// and the walk restarts at the front. Reaching a return means that operation had to take effect
// before this point and did not: backtrack. A cache of (set of linearized operations, state)
// prunes configurations already explored; two paths reaching the same set and state have the same
// future, which is what turns the naive n! search into something usable.

import { assert } from '../core/assert.ts';
import type { CheckOperation, Model } from './linearizability.ts';

export type SearchVerdict = 'ok' | 'illegal' | 'unknown';

export interface SearchLimits {
  /** performance.now() value after which the search gives up with 'unknown'. */
  deadline: number;
  /** Approximate memory the cache may use; past it the search goes on without caching more. */
  cacheBytesMax: number;
}

export interface SearchResult {
  verdict: SearchVerdict;
  /**
   * Positions (into the searched operations) of the longest linearization found, in order. For
   * 'ok' it is a full linearization; for 'illegal' it is the deepest dead end, which is the
   * evidence a reader needs ("this much works, then nothing can come next").
   */
  longest: number[];
  cacheEntries: number;
  cacheFull: boolean;
}

const HEAD = 0;
const NIL = -1;
/** How many loop iterations between clock reads; reading the clock each step costs too much. */
const ITERATIONS_PER_CLOCK_CHECK = 1024;

/** The event list: node 0 is the head sentinel, nodes 1..2n are calls and returns in time order. */
interface EventList {
  next: Int32Array;
  previous: Int32Array;
  /** Position of the node's operation. */
  operationOf: Int32Array;
  /** For a call node, its return node; NIL for return nodes. */
  returnOf: Int32Array;
}

export function searchLinearization<State, Input, Output>(
  model: Model<State, Input, Output>,
  operations: readonly CheckOperation<Input, Output>[],
  limits: SearchLimits,
): SearchResult {
  const search = new LinearizationSearch(model, operations, limits);
  const verdict = search.run();
  return { verdict, longest: search.path.toArray(), cacheEntries: search.cache.entries, cacheFull: search.cache.full };
}

/**
 * One search. On top of the plain algorithm it prunes moves that cannot matter, each of which
 * keeps the search complete (a configuration fails only if no linearization extends it):
 * - a possible read is a forced step (see enter);
 * - an unknown-outcome operation is not placed where it would change nothing (see tryCall);
 * - a configuration is dropped when the same one without some open-ended unknown-outcome
 *   operation already failed: that operation could have gone last instead (see dominated);
 * - at each configuration completed operations are tried before unknown-outcome ones (phase),
 *   so the configurations that dominate are explored first.
 */
class LinearizationSearch<State, Input, Output> {
  readonly cache: LinearizationCache<State, Input, Output>;
  readonly path: LongestPath;
  private readonly model: Model<State, Input, Output>;
  private readonly operations: readonly CheckOperation<Input, Output>[];
  private readonly deadline: number;
  private readonly list: EventList;
  private readonly rankOf: Int32Array;
  private readonly predecessorRankOf: Int32Array;
  private readonly keys: Int32Array;
  private readonly readOnlyAt: Uint8Array;
  /** By rank: 1 for unknown-outcome operations without a return bound (they may go last). */
  private readonly openEndedAt: Uint8Array;
  private readonly stack: SearchStack<State>;
  private linearized: LinearizedSet = { first: 0, rest: [], keyLow: 0, keyHigh: 0 };
  private state: State;
  private knownRemaining: number;
  private node = NIL;
  /** 0: trying completed operations; 1: trying unknown-outcome ones. */
  private phase = 0;
  private entering = true;

  constructor(model: Model<State, Input, Output>, operations: readonly CheckOperation<Input, Output>[], limits: SearchLimits) {
    this.model = model;
    this.operations = operations;
    this.deadline = limits.deadline;
    this.list = buildEventList(operations);
    this.rankOf = returnOrderRanks(operations);
    this.predecessorRankOf = predecessorRanks(operations, this.rankOf);
    this.keys = zobristKeys(operations.length);
    this.readOnlyAt = Uint8Array.from(operations, (operation) =>
      (operation.known && model.readOnly?.(operation.input, operation.output!) === true ? 1 : 0));
    this.openEndedAt = new Uint8Array(operations.length);
    operations.forEach((operation, position) => {
      if (!operation.known && operation.returnTime === Infinity) this.openEndedAt[this.rankOf[position]!] = 1;
    });
    this.cache = new LinearizationCache(model, limits.cacheBytesMax);
    this.stack = new SearchStack<State>(operations.length);
    this.path = new LongestPath(operations.length);
    this.state = model.init();
    this.knownRemaining = operations.filter((operation) => operation.known).length;
  }

  run(): SearchVerdict {
    const list = this.list;
    let iterations = 0;
    while (list.next[HEAD] !== NIL) {
      if (++iterations % ITERATIONS_PER_CLOCK_CHECK === 0 && performance.now() > this.deadline) return 'unknown';
      if (this.entering) {
        if (!this.enter()) return 'illegal';
      } else if (list.returnOf[this.node] !== NIL) {
        this.tryCall();
      } else if (this.phase === 0) {
        // Reached the first return: now try the unknown-outcome operations called before it.
        this.phase = 1;
        this.node = list.next[HEAD]!;
      } else if (!this.backtrack()) {
        // A return whose operation is not linearized yet, and no choice left anywhere.
        return 'illegal';
      }
    }
    return 'ok';
  }

  /**
   * A read that is possible now can always go now: it changes nothing, and placing it earlier only
   * frees what it blocked. So it is a forced step, not a choice to branch on. False: illegal.
   */
  private enter(): boolean {
    this.entering = false;
    this.phase = 0;
    const forced = findPossibleRead(this.model, this.operations, this.list, this.readOnlyAt, this.state);
    if (forced === undefined) {
      this.node = this.list.next[HEAD]!;
      return true;
    }
    return this.advance(forced.node, forced.state, true) || this.backtrack();
  }

  private tryCall(): void {
    const node = this.node;
    const position = this.list.operationOf[node]!;
    const operation = this.operations[position]!;
    this.node = this.list.next[node]!;
    if (operation.known !== (this.phase === 0)) return;
    const predecessor = this.predecessorRankOf[position]!;
    if (predecessor !== NIL && !contains(this.linearized, predecessor)) return;
    const stepped = this.model.step(this.state, operation.input, operation.output);
    if (!stepped.ok) return;
    // An unknown-outcome operation that would change nothing here can as well go after
    // everything else (models accept those in any state): not worth a branch.
    if (!operation.known && this.knownRemaining > 0 && this.model.equal(stepped.state, this.state)) return;
    this.advance(node, stepped.state, false);
  }

  /** Linearizes the call at `callNode` unless the resulting configuration is known to fail. */
  private advance(callNode: number, nextState: State, forced: boolean): boolean {
    const position = this.list.operationOf[callNode]!;
    const rank = this.rankOf[position]!;
    const next = withOperation(this.linearized, rank, this.keys);
    const stateHash = this.cache.hashState(nextState);
    if (this.dominated(next, rank, nextState, stateHash) || !this.cache.addIfAbsent(next, nextState, stateHash)) return false;
    this.stack.push(callNode, this.state, this.linearized, forced);
    if (this.operations[position]!.known) this.knownRemaining--;
    this.state = nextState;
    this.linearized = next;
    lift(this.list, callNode);
    this.path.record(this.stack, this.list);
    this.entering = true;
    return true;
  }

  /**
   * Whether the same configuration without one of its open-ended unknown-outcome operations was
   * already explored. Every cached configuration off the current path has failed, and one on it
   * cannot be `next` minus an operation other than the one just added. That one is skipped.
   */
  private dominated(next: LinearizedSet, added: number, nextState: State, stateHash: number): boolean {
    for (const rank of next.rest) {
      if (rank === added || this.openEndedAt[rank] === 0) continue;
      const keyLow = next.keyLow ^ this.keys[2 * rank]!;
      const keyHigh = next.keyHigh ^ this.keys[2 * rank + 1]!;
      if (this.cache.containsWithout(next, rank, keyLow, keyHigh, nextState, stateHash)) return true;
    }
    return false;
  }

  /**
   * Leaves the current configuration, known to fail. A forced step does not count as a choice,
   * so its parent fails too. Moves to the next choice of the nearest configuration that has one;
   * false when none is left.
   */
  private backtrack(): boolean {
    while (this.stack.depth > 0) {
      const forced = this.stack.topForced();
      const callNode = this.stack.pop();
      this.state = this.stack.poppedState();
      this.linearized = this.stack.poppedLinearized();
      unlift(this.list, callNode);
      const known = this.operations[this.list.operationOf[callNode]!]!.known;
      if (known) this.knownRemaining++;
      this.path.backtrackedTo(this.stack.depth);
      if (!forced) {
        this.node = this.list.next[callNode]!;
        this.phase = known ? 0 : 1;
        return true;
      }
    }
    return false;
  }
}

/** The first read-only operation callable now that the model accepts in `state`. */
function findPossibleRead<State, Input, Output>(
  model: Model<State, Input, Output>,
  operations: readonly CheckOperation<Input, Output>[],
  list: EventList,
  readOnlyAt: Uint8Array,
  state: State,
): { node: number; state: State } | undefined {
  for (let node = list.next[HEAD]!; node !== NIL && list.returnOf[node] !== NIL; node = list.next[node]!) {
    const position = list.operationOf[node]!;
    if (readOnlyAt[position] === 0) continue;
    const operation = operations[position]!;
    const stepped = model.step(state, operation.input, operation.output);
    if (stepped.ok) return { node, state: stepped.state };
  }
  return undefined;
}

/**
 * Searches the optimistic subset first when the model offers one and it is smaller; its 'ok' is
 * final. Anything else is settled by the full search, with half of the time share left for it.
 */
export function searchWithOptimisticSubset<State, Input, Output>(
  model: Model<State, Input, Output>,
  operations: readonly CheckOperation<Input, Output>[],
  limits: SearchLimits,
): { search: SearchResult; optimistic: boolean } {
  const subset = model.optimisticSubset?.(operations);
  if (subset !== undefined && subset.length < operations.length) {
    const halfway = performance.now() + (limits.deadline - performance.now()) / 2;
    const search = searchLinearization(model, subset, { ...limits, deadline: halfway });
    if (search.verdict === 'ok') return { search, optimistic: true };
  }
  return { search: searchLinearization(model, operations, limits), optimistic: false };
}

/**
 * The set of linearized operations, in a form whose size does not grow with the history.
 * Operations are ranked by return time. Every operation ranked below the first unlinearized one
 * (`first`) is linearized (it returned before that one, so it had to be), and the few linearized
 * operations ranked above it (concurrent with it, or of unknown outcome) are listed in `rest`,
 * sorted. A bitset would cost n/8 bytes per cache entry, which on a long single-key history fills
 * any sane memory bound long before the search is done. Values are immutable: the search stack
 * keeps the previous one, so backtracking restores it instead of recomputing.
 */
interface LinearizedSet {
  first: number;
  rest: readonly number[];
  /** Zobrist hash of the set: XOR of one random 64-bit key (two halves) per member. */
  keyLow: number;
  keyHigh: number;
}

function withOperation(set: LinearizedSet, rank: number, keys: Int32Array): LinearizedSet {
  const keyLow = set.keyLow ^ keys[2 * rank]!;
  const keyHigh = set.keyHigh ^ keys[2 * rank + 1]!;
  if (rank !== set.first) {
    const rest = set.rest.slice();
    let index = rest.length;
    while (index > 0 && rest[index - 1]! > rank) index--;
    rest.splice(index, 0, rank);
    return { first: set.first, rest, keyLow, keyHigh };
  }
  // The first gap is filled: it moves up past the members of `rest` that now join the prefix.
  let first = rank + 1;
  let consumed = 0;
  while (consumed < set.rest.length && set.rest[consumed] === first) {
    first++;
    consumed++;
  }
  return { first, rest: consumed === 0 ? set.rest : set.rest.slice(consumed), keyLow, keyHigh };
}

function contains(set: LinearizedSet, rank: number): boolean {
  return rank < set.first || set.rest.includes(rank);
}

function sameSet(a: LinearizedSet, b: LinearizedSet): boolean {
  if (a.keyHigh !== b.keyHigh || a.first !== b.first || a.rest.length !== b.rest.length) return false;
  for (let index = 0; index < a.rest.length; index++) if (a.rest[index] !== b.rest[index]) return false;
  return true;
}

/** Rank of each operation in return-time order (ties by position, so ranks are a permutation). */
function returnOrderRanks<Input, Output>(operations: readonly CheckOperation<Input, Output>[]): Int32Array {
  const order = operations.map((_, position) => position);
  order.sort((a, b) => operations[a]!.returnTime - operations[b]!.returnTime || a - b);
  const ranks = new Int32Array(operations.length);
  order.forEach((position, rank) => (ranks[position] = rank));
  return ranks;
}

/** Rank of each operation's `linearizedAfter` operation, or NIL. */
function predecessorRanks<Input, Output>(operations: readonly CheckOperation<Input, Output>[], rankOf: Int32Array): Int32Array {
  const positionOfId = new Map(operations.map((operation, position) => [operation.id, position]));
  return Int32Array.from(operations, (operation) => {
    if (operation.linearizedAfter === undefined) return NIL;
    const position = positionOfId.get(operation.linearizedAfter);
    assert(position !== undefined, `operation ${operation.id} must follow ${operation.linearizedAfter}, which is not in its partition`);
    return rankOf[position]!;
  });
}

/** The linearization so far: call node, state before it, and linearized set before it. */
class SearchStack<State> {
  depth = 0;
  readonly nodes: Int32Array;
  /** 1 when the step was forced (a possible read), so backtracking must not try siblings. */
  private readonly forced: Uint8Array;
  private readonly states: State[];
  private readonly sets: LinearizedSet[];

  constructor(capacity: number) {
    this.nodes = new Int32Array(capacity);
    this.forced = new Uint8Array(capacity);
    this.states = new Array<State>(capacity);
    this.sets = new Array<LinearizedSet>(capacity);
  }

  push(node: number, state: State, set: LinearizedSet, forced: boolean): void {
    this.nodes[this.depth] = node;
    this.forced[this.depth] = forced ? 1 : 0;
    this.states[this.depth] = state;
    this.sets[this.depth] = set;
    this.depth++;
  }

  topForced(): boolean {
    return this.forced[this.depth - 1] === 1;
  }

  pop(): number {
    return this.nodes[--this.depth]!;
  }

  poppedState(): State {
    return this.states[this.depth]!;
  }

  poppedLinearized(): LinearizedSet {
    return this.sets[this.depth]!;
  }
}

/**
 * Calls before returns at equal times: two operations whose intervals only touch are treated as
 * concurrent, the lenient reading, since equal clock readings cannot order them.
 */
function buildEventList<Input, Output>(operations: readonly CheckOperation<Input, Output>[]): EventList {
  const count = operations.length;
  const events: { time: number; isReturn: number; position: number }[] = [];
  operations.forEach((operation, position) => {
    events.push({ time: operation.callTime, isReturn: 0, position });
    events.push({ time: operation.returnTime, isReturn: 1, position });
  });
  events.sort((a, b) => a.time - b.time || a.isReturn - b.isReturn || a.position - b.position);
  const nodes = 2 * count + 1;
  const list: EventList = {
    next: new Int32Array(nodes), previous: new Int32Array(nodes),
    operationOf: new Int32Array(nodes).fill(NIL), returnOf: new Int32Array(nodes).fill(NIL),
  };
  const callNodeOf = new Int32Array(count);
  events.forEach((event, index) => {
    const node = index + 1;
    list.operationOf[node] = event.position;
    list.previous[node] = node - 1;
    list.next[node - 1] = node;
    if (event.isReturn) list.returnOf[callNodeOf[event.position]!] = node;
    else callNodeOf[event.position] = node;
  });
  list.next[nodes - 1] = NIL;
  return list;
}

function unlink(list: EventList, node: number): void {
  const next = list.next[node]!;
  list.next[list.previous[node]!] = next;
  if (next !== NIL) list.previous[next] = list.previous[node]!;
}

function relink(list: EventList, node: number): void {
  const next = list.next[node]!;
  list.next[list.previous[node]!] = node;
  if (next !== NIL) list.previous[next] = node;
}

/** Removes a call and its return from the list; their own pointers stay for unlift. */
function lift(list: EventList, callNode: number): void {
  unlink(list, callNode);
  unlink(list, list.returnOf[callNode]!);
}

/** Exact inverse of lift, valid because lifts are undone in reverse order (a stack). */
function unlift(list: EventList, callNode: number): void {
  relink(list, list.returnOf[callNode]!);
  relink(list, callNode);
}

/**
 * Zobrist keys: one random 64-bit key (two 32-bit halves) per operation, so the set's hash is
 * updated in O(1) per step instead of being recomputed. A fixed seed keeps runs reproducible.
 */
function zobristKeys(count: number): Int32Array {
  const keys = new Int32Array(2 * count);
  let seed = 0x2545f491;
  for (let index = 0; index < keys.length; index++) {
    seed = (seed + 0x9e3779b9) | 0;
    let mixed = Math.imul(seed ^ (seed >>> 16), 0x85ebca6b);
    mixed = Math.imul(mixed ^ (mixed >>> 13), 0xc2b2ae35);
    keys[index] = mixed ^ (mixed >>> 16);
  }
  return keys;
}

interface CacheEntry<State> {
  set: LinearizedSet;
  state: State;
}

/** Per-entry overhead besides the `rest` members: objects, array headers, bucket slot. An estimate. */
const CACHE_ENTRY_OVERHEAD_BYTES = 160;
const CACHE_BYTES_PER_MEMBER = 8;

class LinearizationCache<State, Input, Output> {
  entries = 0;
  full = false;
  private bytes = 0;
  private readonly buckets = new Map<number, CacheEntry<State>[]>();
  private readonly model: Model<State, Input, Output>;
  private readonly bytesMax: number;

  constructor(model: Model<State, Input, Output>, bytesMax: number) {
    this.model = model;
    this.bytesMax = bytesMax;
  }

  hashState(state: State): number {
    return Math.imul(hashToInt(this.model.hash(state)), 0x9e3779b1);
  }

  /** Records (set, state); false when it was already there. Once full it only looks things up. */
  addIfAbsent(set: LinearizedSet, state: State, stateHash: number): boolean {
    const bucketKey = (set.keyLow ^ stateHash) | 0;
    const bucket = this.buckets.get(bucketKey);
    if (bucket !== undefined) {
      for (const entry of bucket) if (sameSet(entry.set, set) && this.model.equal(entry.state, state)) return false;
    }
    const entryBytes = CACHE_ENTRY_OVERHEAD_BYTES + CACHE_BYTES_PER_MEMBER * set.rest.length;
    if (this.bytes + entryBytes > this.bytesMax) {
      this.full = true;
      return true;
    }
    const entry = { set, state };
    if (bucket === undefined) this.buckets.set(bucketKey, [entry]);
    else bucket.push(entry);
    this.entries++;
    this.bytes += entryBytes;
    return true;
  }

  /** Whether (set minus the member `removed`, state) is cached; the caller gives that set's keys. */
  containsWithout(set: LinearizedSet, removed: number, keyLow: number, keyHigh: number, state: State, stateHash: number): boolean {
    const bucket = this.buckets.get((keyLow ^ stateHash) | 0);
    if (bucket === undefined) return false;
    for (const entry of bucket) {
      const cached = entry.set;
      if (cached.keyHigh !== keyHigh || cached.first !== set.first || cached.rest.length !== set.rest.length - 1) continue;
      if (sameMembersWithout(cached.rest, set.rest, removed) && this.model.equal(entry.state, state)) return true;
    }
    return false;
  }
}

/** Whether sorted `smaller` equals sorted `larger` with `removed` taken out. */
function sameMembersWithout(smaller: readonly number[], larger: readonly number[], removed: number): boolean {
  let skipped = 0;
  for (let index = 0; index < smaller.length; index++) {
    if (larger[index + skipped] === removed) skipped = 1;
    if (smaller[index] !== larger[index + skipped]) return false;
  }
  return skipped === 1 || larger[larger.length - 1] === removed;
}

/** Folds a model's state hash into a 32-bit integer (FNV-1a for strings and non-integers). */
export function hashToInt(hash: string | number): number {
  if (typeof hash === 'number' && Number.isInteger(hash) && Math.abs(hash) <= 0x7fffffff) return hash | 0;
  const text = typeof hash === 'string' ? hash : `#${hash}`;
  let result = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) result = Math.imul(result ^ text.charCodeAt(index), 0x01000193);
  return result | 0;
}

/**
 * The deepest linearization reached so far. Only the part of the stack that changed since the
 * last record is copied (everything below the lowest point we backtracked to is unchanged), so
 * keeping it costs amortized O(1) per step instead of O(depth).
 */
class LongestPath {
  private readonly positions: Int32Array;
  private length = 0;
  private unchangedBelow = 0;

  constructor(count: number) {
    this.positions = new Int32Array(count);
  }

  record<State>(stack: SearchStack<State>, list: EventList): void {
    const depth = stack.depth;
    if (depth <= this.length) return;
    for (let index = this.unchangedBelow; index < depth; index++) this.positions[index] = list.operationOf[stack.nodes[index]!]!;
    this.length = depth;
    this.unchangedBelow = depth;
  }

  backtrackedTo(depth: number): void {
    if (depth < this.unchangedBelow) this.unchangedBelow = depth;
  }

  toArray(): number[] {
    return Array.from(this.positions.subarray(0, this.length));
  }
}

/**
 * Position of the operation a failed search blames: of those the longest linearization left out,
 * the one that returned first, so it had to be placed next and could not be.
 */
export function blockingPosition<Input, Output>(operations: readonly CheckOperation<Input, Output>[], longest: readonly number[]): number | undefined {
  const placed = new Set(longest);
  let blocking: number | undefined;
  operations.forEach((operation, position) => {
    if (!placed.has(position) && (blocking === undefined || operation.returnTime < operations[blocking]!.returnTime)) blocking = position;
  });
  return blocking;
}
