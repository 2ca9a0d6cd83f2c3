// The key-value register model the workloads check: get, put, delete and compare-and-swap on
// independent keys, so each key is its own partition and its state is a single value (null when
// the key is absent). Values are compared with ===, so use strings or numbers; workloads should
// write unique values, which lets `simplify` settle unknown-outcome writes cheaply.

import type { HistoryEntry } from './history.ts';
import type { CheckOperation, Model, StepResult } from './linearizability.ts';

export type KvValue = string | number;

export type KvInput =
  | { kind: 'get'; key: string }
  | { kind: 'put'; key: string; value: KvValue }
  | { kind: 'delete'; key: string }
  /** expected null means "the key is absent". */
  | { kind: 'cas'; key: string; expected: KvValue | null; value: KvValue };

/** get: { value } (null when absent); cas: { swapped }; put and delete: null. */
export type KvOutput = { value: KvValue | null } | { swapped: boolean } | null;

export type KvState = KvValue | null;

type KvOperation = CheckOperation<KvInput, KvOutput>;

const ILLEGAL: StepResult<never> = { ok: false };

function readValue(output: KvOutput | undefined): KvValue | null {
  return (output as { value: KvValue | null }).value;
}

function swapped(output: KvOutput | undefined): boolean {
  return (output as { swapped: boolean }).swapped;
}

export const kvRegisterModel: Model<KvState, KvInput, KvOutput> = {
  init: () => null,
  step(state, input, output) {
    switch (input.kind) {
      case 'get':
        return output === undefined || readValue(output) === state ? { ok: true, state } : ILLEGAL;
      case 'put':
        return { ok: true, state: input.value };
      case 'delete':
        return { ok: true, state: null };
      case 'cas': {
        const matches = state === input.expected;
        // Unknown outcome: it did whatever it would have done from this state.
        if (output !== undefined && swapped(output) !== matches) return ILLEGAL;
        return { ok: true, state: matches ? input.value : state };
      }
    }
  },
  equal: (a, b) => a === b,
  hash: (state) => (state === null ? '\u0000absent' : state),
  partitionKey: (input) => input.key,
  describe: describeKvOperation,
  describeState: (state) => (state === null ? 'absent' : JSON.stringify(state)),
  validate: validateKvEntry,
  simplify: simplifyKvOperations,
  optimisticSubset: withoutUnobservedUnknownWrites,
  readOnly: (input, output) => input.kind === 'get' || (input.kind === 'cas' && !swapped(output)),
};

export function describeKvOperation(input: KvInput, output: KvOutput | undefined): string {
  const show = (value: KvValue | null) => (value === null ? 'absent' : JSON.stringify(value));
  switch (input.kind) {
    case 'get':
      return `get(${input.key}) -> ${output === undefined ? '?' : show(readValue(output))}`;
    case 'put':
      return `put(${input.key}, ${show(input.value)})${output === undefined ? ' -> ?' : ''}`;
    case 'delete':
      return `delete(${input.key})${output === undefined ? ' -> ?' : ''}`;
    case 'cas': {
      const result = output === undefined ? '?' : swapped(output) ? 'swapped' : 'not swapped';
      return `cas(${input.key}, ${show(input.expected)} -> ${show(input.value)}) -> ${result}`;
    }
  }
}

const isValue = (value: unknown): value is KvValue => typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));

/** Shape check for KV entries (see EntryValidator in history.ts). */
export function validateKvEntry(entry: HistoryEntry<KvInput, KvOutput>): string | undefined {
  const input = entry.input as Partial<Record<string, unknown>> | null;
  if (typeof input !== 'object' || input === null) return '"input" must be an object';
  if (typeof input.key !== 'string') return '"input.key" must be a string';
  const kind = input.kind;
  if (kind !== 'get' && kind !== 'put' && kind !== 'delete' && kind !== 'cas') return '"input.kind" must be get, put, delete or cas';
  if ((kind === 'put' || kind === 'cas') && !isValue(input.value)) return `"input.value" of ${kind} must be a string or a finite number`;
  if (kind === 'cas' && input.expected !== null && !isValue(input.expected)) return '"input.expected" of cas must be a string, a number or null';
  if (entry.outcome !== 'ok') return undefined;
  const output = entry.output as Partial<Record<string, unknown>> | null;
  if (kind === 'get' && (typeof output !== 'object' || output === null || (output.value !== null && !isValue(output.value)))) {
    return 'the output of an ok get must be { "value": <string, number or null> }';
  }
  if (kind === 'cas' && (typeof output !== 'object' || output === null || typeof output.swapped !== 'boolean')) {
    return 'the output of an ok cas must be { "swapped": true | false }';
  }
  return undefined;
}

/** The value a write leaves in the register when it takes effect; undefined for reads. */
function writtenValue(input: KvInput): KvState | undefined {
  switch (input.kind) {
    case 'put':
    case 'cas':
      return input.value;
    case 'delete':
      return null;
    case 'get':
      return undefined;
  }
}

/** Whether the operation may have changed the register (a completed cas that did not swap did not). */
function mayWrite(operation: KvOperation): boolean {
  if (operation.input.kind === 'get') return false;
  return operation.input.kind !== 'cas' || !operation.known || swapped(operation.output);
}

/** Index of the first element of ascending `sorted` greater than `time` (or equal, if `inclusive`). */
function firstAbove(sorted: readonly number[], time: number, inclusive: boolean): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! > time || (inclusive && sorted[middle] === time)) high = middle;
    else low = middle + 1;
  }
  return low;
}

/** Looks up the minimum (or maximum) value among the (key, value) pairs whose key is above a time. */
function suffixExtremes(pairs: [number, number][], pick: (a: number, b: number) => number, empty: number) {
  pairs.sort((a, b) => a[0] - b[0]);
  const keys = pairs.map(([key]) => key);
  const extremes = pairs.map(([, value]) => value);
  for (let index = extremes.length - 2; index >= 0; index--) extremes[index] = pick(extremes[index]!, extremes[index + 1]!);
  /** The extreme over the entries whose key is greater than `time` (or equal, if `inclusive`). */
  return { at: (time: number, inclusive: boolean) => extremes[firstAbove(keys, time, inclusive)] ?? empty };
}

interface Observations {
  /** Value -> how many operations may have seen it in the register (read it, or matched it by a cas). */
  seers: Map<KvState, number>;
  /** Value -> earliest return time of a completed operation that certainly saw it. */
  certainlySeenBy: Map<KvState, number>;
  /** Value -> the operations that may have written it. */
  writers: Map<KvState, KvOperation[]>;
}

function observe(operations: readonly KvOperation[]): Observations {
  const seen: Observations = { seers: new Map(), certainlySeenBy: new Map(), writers: new Map() };
  const possibly = (value: KvState) => seen.seers.set(value, (seen.seers.get(value) ?? 0) + 1);
  const certainly = (value: KvState, time: number) => {
    possibly(value);
    seen.certainlySeenBy.set(value, Math.min(time, seen.certainlySeenBy.get(value) ?? Infinity));
  };
  for (const operation of operations) {
    const { input, output, known, returnTime } = operation;
    if (mayWrite(operation)) {
      const written = writtenValue(input)!;
      const writers = seen.writers.get(written);
      if (writers === undefined) seen.writers.set(written, [operation]);
      else writers.push(operation);
    }
    if (input.kind === 'get' && known) certainly(readValue(output), returnTime);
    if (input.kind !== 'cas') continue;
    if (!known) possibly(input.expected);
    else if (swapped(output)) certainly(input.expected, returnTime);
  }
  return seen;
}

/**
 * For value e: a time after which no valid linearization can have e in the register, so a failed
 * cas expecting e cannot have been failed "because of" a write after that time. e written by one
 * completed write x is gone for good once a later completed write y (called after x returned)
 * has returned, since values are not written twice; null is gone after the first completed write
 * when nothing deletes. Otherwise: never provably gone (+Infinity).
 */
function goneAfterFunction(operations: readonly KvOperation[], seen: Observations): (value: KvState) => number {
  const knownWrites = operations.filter((operation) => operation.known && mayWrite(operation));
  const earliestReturnCalledAfter = suffixExtremes(
    knownWrites.map((operation): [number, number] => [operation.callTime, operation.returnTime]), Math.min, Infinity).at;
  return (value) => {
    const writers = seen.writers.get(value) ?? [];
    // Strictly after: operations whose times are equal count as concurrent, so are not ordered.
    if (value === null) return writers.length > 0 ? Infinity : earliestReturnCalledAfter(-Infinity, false);
    if (writers.length === 0) return -Infinity; // never in the register at all
    const writer = writers[0]!;
    return writers.length === 1 && writer.known ? earliestReturnCalledAfter(writer.returnTime, false) : Infinity;
  };
}

/**
 * Whether some completed failed cas may have failed only because of a write called at `time`:
 * one that could be linearized after `time` (returned at or after it: equal times are
 * concurrent) whose expected value might still be in the register then.
 */
function failedCasMightDepend(operations: readonly KvOperation[], seen: Observations): (time: number) => boolean {
  const goneAfter = goneAfterFunction(operations, seen);
  const failed = operations.filter((operation) => operation.known && operation.input.kind === 'cas' && !swapped(operation.output));
  const latestGone = suffixExtremes(
    failed.map((operation): [number, number] => [operation.returnTime, goneAfter((operation.input as { expected: KvState }).expected)]),
    Math.max, -Infinity).at;
  return (time) => latestGone(time, true) >= time;
}

/**
 * The unknown-outcome writes that `mayDrop` allows and whose value nobody may have seen, to a
 * fixpoint: dropping an unknown cas also drops its possible sighting of its expected value, which
 * can leave that value's own unknown writer unseen in turn (chains of cas).
 */
function unseenUnknownWrites(
  operations: readonly KvOperation[], seen: Observations, mayDrop: (operation: KvOperation) => boolean,
): { dropped: Set<KvOperation>; seers: Map<KvState, number> } {
  const seers = new Map(seen.seers);
  const unknownWriters = new Map<KvState, KvOperation[]>();
  const pending: KvOperation[] = [];
  for (const operation of operations) {
    if (operation.known || operation.input.kind === 'get') continue;
    const written = writtenValue(operation.input)!;
    unknownWriters.set(written, [...(unknownWriters.get(written) ?? []), operation]);
    pending.push(operation);
  }
  const dropped = new Set<KvOperation>();
  while (pending.length > 0) {
    const operation = pending.pop()!;
    if (dropped.has(operation) || (seers.get(writtenValue(operation.input)!) ?? 0) > 0 || !mayDrop(operation)) continue;
    dropped.add(operation);
    if (operation.input.kind !== 'cas') continue;
    const expected = operation.input.expected;
    const remaining = seers.get(expected)! - 1;
    seers.set(expected, remaining);
    if (remaining === 0) pending.push(...(unknownWriters.get(expected) ?? []));
  }
  return { dropped, seers };
}

/**
 * Unknown-outcome operations that no operation can tell apart are interchangeable: in any
 * linearization the ones used can be swapped for the earliest-called ones of their group, in call
 * order (each still placed after its call; unused ones go last, which is allowed). Chaining each
 * group in call order turns the 2^m subsets the search would try into m + 1. Groups: operations
 * with the same effect (deletes; puts of one value; cas with the same expected and new value),
 * and puts of values nobody may have seen and no failed cas expected (their values differ but
 * nothing observes the difference). Only open-ended operations are chained, since swapping
 * ignores return times.
 */
function chainInterchangeableUnknowns(kept: KvOperation[], seers: ReadonlyMap<KvState, number>): KvOperation[] {
  const expectedByFailedCas = new Set(kept.flatMap((operation) =>
    operation.known && operation.input.kind === 'cas' && !swapped(operation.output) ? [operation.input.expected] : []));
  const groupOf = (operation: KvOperation): string | undefined => {
    const input = operation.input;
    if (operation.known || operation.returnTime !== Infinity || input.kind === 'get') return undefined;
    if (input.kind === 'cas') return JSON.stringify(['cas', input.expected, input.value]);
    const written = writtenValue(input)!;
    if (input.kind === 'put' && (seers.get(written) ?? 0) === 0 && !expectedByFailedCas.has(written)) return 'unseen';
    return JSON.stringify(['write', written]);
  };
  const groups = new Map<string, KvOperation[]>();
  for (const operation of kept) {
    const group = groupOf(operation);
    if (group !== undefined) groups.set(group, [...(groups.get(group) ?? []), operation]);
  }
  const predecessorOf = new Map<KvOperation, number>();
  for (const members of groups.values()) {
    members.sort((a, b) => a.callTime - b.callTime || a.id - b.id);
    members.slice(1).forEach((operation, index) => predecessorOf.set(operation, members[index]!.id));
  }
  return kept.map((operation) => {
    const predecessor = predecessorOf.get(operation);
    return predecessor === undefined ? operation : { ...operation, linearizedAfter: predecessor };
  });
}

/**
 * Rewrites that keep the verdict exactly and shrink the search (each argued below):
 * - An unknown get constrains nothing: drop it.
 * - An unknown write w whose value nobody may have seen can be dropped unless a completed failed
 *   cas may depend on it (failedCasMightDepend). Take any linearization with w; between w and the
 *   next write the register held w's value, so nothing read there and no cas swapped there;
 *   unknown cas operations there did not swap (move them to the end, where nobody sees them);
 *   completed failed cas operations there expected a value e that, by the condition, was not the
 *   value before w either. So removing w leaves a valid linearization. Facts computed before
 *   dropping stay valid after it (fewer writers only make them more conservative).
 * - An unknown write of a value nobody else writes, certainly seen by a completed operation,
 *   happened before that operation returned: give it that return time (what etcd does with unique
 *   values seen in later reads).
 * - Unknown operations nobody can tell apart are used in call order (chainInterchangeableUnknowns).
 */
export function simplifyKvOperations(operations: readonly KvOperation[]): KvOperation[] {
  const seen = observe(operations);
  const mightDepend = failedCasMightDepend(operations, seen);
  const { dropped, seers } = unseenUnknownWrites(operations, seen, (operation) => !mightDepend(operation.callTime));
  const result: KvOperation[] = [];
  for (const operation of operations) {
    if (operation.known) {
      result.push(operation);
      continue;
    }
    if (operation.input.kind === 'get' || dropped.has(operation)) continue;
    const written = writtenValue(operation.input)!;
    const seenBy = seen.certainlySeenBy.get(written);
    const unique = written !== null && seen.writers.get(written)!.length === 1;
    if (unique && seenBy !== undefined && seenBy >= operation.callTime && seenBy < operation.returnTime) {
      result.push({ ...operation, returnTime: seenBy });
    } else {
      result.push(operation);
    }
  }
  return chainInterchangeableUnknowns(result, seers);
}

/** Decides that unknown writes whose value nobody may have seen never happened (see Model.optimisticSubset). */
export function withoutUnobservedUnknownWrites(operations: readonly KvOperation[]): KvOperation[] {
  const { dropped } = unseenUnknownWrites(operations, observe(operations), () => true);
  return operations.filter((operation) => !dropped.has(operation));
}
