import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HistoryFormatError, type HistoryEntry, type Outcome } from './history.ts';
import {
  checkLinearizability, kvRegisterModel, type CheckResult, type KvInput, type KvOutput, type KvValue, type Model,
} from './linearizability.ts';
import type { KvState } from './kv-model.ts';
import { generateKvHistory } from './kv-workload.ts';
import { createPrng } from './prng.ts';

type Entry = HistoryEntry<KvInput, KvOutput>;

// Small builders: process, call time, return time (null for unknown), then the operation.
function entry(process: number, callTime: number, returnTime: number | null, input: KvInput, output: KvOutput, outcome: Outcome = 'ok'): Entry {
  return { process, callTime, returnTime, input, output, outcome };
}
const get = (process: number, call: number, ret: number, key: string, value: KvValue | null) =>
  entry(process, call, ret, { kind: 'get', key }, { value });
const put = (process: number, call: number, ret: number | null, key: string, value: KvValue, outcome: Outcome = 'ok') =>
  entry(process, call, ret, { kind: 'put', key, value }, null, outcome);
const cas = (process: number, call: number, ret: number | null, key: string, expected: KvValue | null, value: KvValue, swapped: boolean, outcome: Outcome = 'ok') =>
  entry(process, call, ret, { kind: 'cas', key, expected, value }, { swapped }, outcome);
const del = (process: number, call: number, ret: number | null, key: string, outcome: Outcome = 'ok') =>
  entry(process, call, ret, { kind: 'delete', key }, null, outcome);

const check = (history: readonly Entry[], options = {}) => checkLinearizability(kvRegisterModel, history, options);

/** The same model without its shortcuts: the plain search, to cross-check simplify. */
const plainKvModel: Model<KvState, KvInput, KvOutput> = { ...kvRegisterModel, simplify: undefined, optimisticSubset: undefined };

function assertIllegal(result: CheckResult<KvInput, KvOutput>): void {
  assert.equal(result.verdict, 'illegal');
  assert.ok(result.counterexample, 'an illegal verdict comes with a counterexample');
  // The counterexample must itself be illegal: it is evidence, not a guess.
  assert.equal(check(result.counterexample.operations, { shrink: false }).verdict, 'illegal');
}

test('an empty history and a sequential history are linearizable', () => {
  assert.deepEqual(check([]).verdict, 'ok');
  const result = check([put(1, 0, 1, 'x', 1), get(1, 2, 3, 'x', 1), cas(2, 4, 5, 'x', 1, 2, true), get(1, 6, 7, 'x', 2), del(2, 8, 9, 'x'), get(1, 10, 11, 'x', null)]);
  assert.equal(result.verdict, 'ok');
  assert.deepEqual(result.partitions.map(({ key, verdict, operations }) => ({ key, verdict, operations })), [{ key: 'x', verdict: 'ok', operations: 6 }]);
});

test('a stale read is illegal, and the counterexample shows the three operations involved', () => {
  const history = [put(1, 0, 10, 'x', 1), put(2, 20, 30, 'x', 2), get(3, 40, 50, 'x', 1)];
  const result = check(history);
  assertIllegal(result);
  assert.equal(result.counterexample!.key, 'x');
  assert.deepEqual(result.counterexample!.operations, history);
  assert.match(result.counterexample!.explanation, /get\(x\) -> 1 {2}\[process 3, 40\.\.50\] must take effect before it returned, but it is impossible from state 2/);
  assert.equal(result.counterexample!.shrinkComplete, true);
});

test('an acknowledged write that is never visible is illegal (lost write)', () => {
  assertIllegal(check([put(1, 0, 10, 'x', 1), get(2, 20, 30, 'x', null)]));
  // Overwrite order seen by one client, then the reverse: impossible.
  assertIllegal(check([put(1, 0, 10, 'x', 1), put(2, 0, 10, 'x', 2), get(3, 20, 30, 'x', 2), get(3, 40, 50, 'x', 1)]));
  // Either order alone is fine while the writes overlap.
  assert.equal(check([put(1, 0, 10, 'x', 1), put(2, 0, 10, 'x', 2), get(3, 20, 30, 'x', 1)]).verdict, 'ok');
});

test('two concurrent cas on the same expected value cannot both succeed', () => {
  const base = [put(1, 0, 5, 'x', 0)];
  assertIllegal(check([...base, cas(2, 10, 20, 'x', 0, 1, true), cas(3, 12, 22, 'x', 0, 2, true)]));
  assert.equal(check([...base, cas(2, 10, 20, 'x', 0, 1, true), cas(3, 12, 22, 'x', 0, 2, false), get(1, 30, 31, 'x', 1)]).verdict, 'ok');
  // cas with expected null means "absent".
  assert.equal(check([cas(1, 0, 1, 'y', null, 7, true), get(1, 2, 3, 'y', 7)]).verdict, 'ok');
  assertIllegal(check([put(1, 0, 1, 'y', 3), cas(1, 2, 3, 'y', null, 7, true)]));
});

test('a read of a value never written is illegal', () => {
  const result = check([put(1, 0, 10, 'x', 1), get(2, 5, 15, 'x', 42)]);
  assertIllegal(result);
  assert.match(result.counterexample!.explanation, /get\(x\) -> 42/);
});

test('an unknown-outcome write may show up later, or never', () => {
  // It shows up: it happened some time after its call.
  assert.equal(check([get(2, 0, 5, 'x', null), put(1, 1, null, 'x', 1, 'unknown'), get(2, 50, 60, 'x', null), get(2, 70, 80, 'x', 1)]).verdict, 'ok');
  // It never shows: it did not happen (or happened after everything).
  assert.equal(check([put(1, 0, null, 'x', 1, 'unknown'), get(2, 50, 60, 'x', null), get(2, 70, 80, 'x', null)]).verdict, 'ok');
  // An unknown cas behaves like a cas when it happens.
  assert.equal(check([put(1, 0, 1, 'x', 1), cas(2, 2, null, 'x', 1, 2, false, 'unknown'), get(1, 10, 11, 'x', 2)]).verdict, 'ok');
  assertIllegal(check([put(1, 0, 1, 'x', 1), cas(2, 2, null, 'x', 5, 2, false, 'unknown'), get(1, 10, 11, 'x', 2)]));
  // But it takes effect once: seen, then gone again without another write, is illegal.
  assertIllegal(check([put(1, 0, null, 'x', 1, 'unknown'), get(2, 10, 20, 'x', 1), get(2, 30, 40, 'x', null)]));
  // And not before its call.
  assertIllegal(check([get(2, 0, 5, 'x', 1), put(1, 10, null, 'x', 1, 'unknown')]));
});

test('an unknown write nobody read stays relevant to a failed cas', () => {
  // The failed cas is explained only if the unknown put(x, 2) happened before it.
  const history = [put(1, 0, 1, 'x', 1), put(2, 2, null, 'x', 2, 'unknown'), cas(3, 5, 6, 'x', 1, 3, false), put(1, 7, 8, 'x', 4), get(1, 9, 10, 'x', 4)];
  assert.equal(check(history).verdict, 'ok');
  assert.equal(checkLinearizability(plainKvModel, history).verdict, 'ok');
});

test('a failed write whose value is read is illegal', () => {
  assertIllegal(check([put(1, 0, 10, 'x', 1, 'fail'), get(2, 20, 30, 'x', 1)]));
  assert.equal(check([put(1, 0, 10, 'x', 1, 'fail'), get(2, 20, 30, 'x', null)]).verdict, 'ok');
});

test('overlapping operations linearizable only in an order unlike their call order', () => {
  const history = [
    put(1, 0, 100, 'x', 1), // called first, must take effect third
    put(2, 10, 20, 'x', 2),
    get(3, 25, 30, 'x', 2),
    get(4, 50, 115, 'x', 1),
    get(3, 110, 120, 'x', 1),
    cas(2, 105, 130, 'x', 1, 3, true),
    get(4, 140, 150, 'x', 3),
  ];
  assert.equal(check(history).verdict, 'ok');
  assert.equal(checkLinearizability(plainKvModel, history).verdict, 'ok');
  // put(x, 1) returned at 100, so a read from 110 cannot still see 2.
  assertIllegal(check(history.map((item, index) => (index === 4 ? get(3, 110, 120, 'x', 2) : item))));
});

test('keys are independent partitions', () => {
  const result = check([put(1, 0, 1, 'x', 1), get(2, 2, 3, 'y', null), put(2, 4, 5, 'y', 1), get(1, 6, 7, 'x', 1), get(1, 8, 9, 'y', 2)]);
  assert.equal(result.verdict, 'illegal');
  assert.deepEqual(result.partitions.map(({ key, verdict }) => [key, verdict]), [['x', 'ok'], ['y', 'illegal']]);
  assert.equal(result.counterexample!.key, 'y');
});

/** Thirty writes that all overlap, and a read no order explains: the search space is 2^30. */
function pathologicalPartition(key: string): Entry[] {
  const writes = Array.from({ length: 30 }, (_, index) => put(index, index, 1000, key, index));
  return [...writes, get(99, 0, 1000, key, 'never-written')];
}

test('the time budget turns a hopeless search into unknown instead of a hang', () => {
  const result = check(pathologicalPartition('x'), { timeBudgetMs: 100 });
  assert.equal(result.verdict, 'unknown');
  assert.equal(result.partitions[0]!.verdict, 'unknown');
  assert.equal(result.counterexample, undefined);
});

test('an illegal partition is reported even when another one runs out of time', () => {
  const result = check([...pathologicalPartition('slow'), put(1, 0, 10, 'x', 1), put(2, 20, 30, 'x', 2), get(3, 40, 50, 'x', 1)], { timeBudgetMs: 200 });
  assert.equal(result.verdict, 'illegal');
  assert.deepEqual(result.partitions.map(({ key, verdict }) => [key, verdict]), [['slow', 'unknown'], ['x', 'illegal']]);
  assert.equal(result.counterexample!.key, 'x');
});

test('a tiny cache bound still gives exact verdicts', () => {
  const history = generateKvHistory({ random: createPrng(7).next, operations: 300, keys: 1, clients: 5, unknownRate: 0.05 });
  const result = check(history, { cacheBytesMax: 1000 });
  assert.equal(result.verdict, 'ok');
  assert.equal(result.partitions[0]!.cacheFull, true);
  assertIllegal(check([put(1, 0, 10, 'x', 1), put(2, 20, 30, 'x', 2), get(3, 40, 50, 'x', 1)], { cacheBytesMax: 0 }));
});

test('malformed entries are rejected with a stable code', () => {
  assert.throws(() => check([{ ...get(1, 5, 3, 'x', null) }]), (error: unknown) =>
    error instanceof HistoryFormatError && error.code === 'HISTORY_FORMAT' && /history entry 0: "returnTime" is before "callTime"/.test(error.message));
  assert.throws(() => check([entry(1, 0, 1, { kind: 'get', key: 'x' }, null)]), /history entry 0: the output of an ok get/);
});

test('a violation buried in a long history shrinks to a few operations', () => {
  const history = generateKvHistory({ random: createPrng(11).next, operations: 400, keys: 1, clients: 4, unknownRate: 0.05, failRate: 0.02 });
  const reads = history.flatMap((item, index) => (item.outcome === 'ok' && item.input.kind === 'get' ? [index] : []));
  const victim = reads[Math.floor(reads.length / 2)]!;
  const mutated = history.map((item, index) => (index === victim ? { ...item, output: { value: 'phantom' } } : item));
  const result = check(mutated);
  assertIllegal(result);
  assert.ok(result.counterexample!.shrinkComplete);
  assert.ok(result.counterexample!.operations.length <= 3, `shrunk to ${result.counterexample!.operations.length} operations`);
  assert.ok(result.counterexample!.operations.some((item) => item.input.kind === 'get' && (item.output as { value: unknown }).value === 'phantom'));
});

test('a stale read buried in a long history shrinks to the writes that prove it stale', () => {
  const history = generateKvHistory({ random: createPrng(5).next, operations: 400, keys: 1, clients: 4, unknownRate: 0.05, failRate: 0.02 });
  const reads = history.flatMap((item, index) => (item.outcome === 'ok' && item.input.kind === 'get' ? [index] : []));
  const victim = history[reads[Math.floor(reads.length * 0.7)]!]!;
  // A value whose put completed long before the read began, and which was overwritten since.
  const puts = history.filter((item) => item.outcome === 'ok' && item.input.kind === 'put' && item.returnTime! < victim.callTime - 30);
  const stale = (puts.at(-3)!.input as { value: KvValue }).value;
  const result = check(history.map((item) => (item === victim ? { ...item, output: { value: stale } } : item)));
  assertIllegal(result);
  const shown = result.counterexample!.operations;
  assert.ok(shown.length <= 4, `shrunk to ${shown.length} operations:\n${result.counterexample!.explanation}`);
  assert.ok(shown.some((item) => item.process === victim.process && item.callTime === victim.callTime));
  assert.ok(shown.some((item) => item.input.kind === 'put' && item.input.value === stale));
});

// ---------------------------------------------------------------------------------------------
// Properties.

type WorkloadParameters = {
  seed: number; operations: number; keys: number; clients: number; unknownRate: number; failRate: number; deleteWeight: number;
};

const workloadArbitrary: fc.Arbitrary<WorkloadParameters> = fc.record({
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  operations: fc.integer({ min: 1, max: 150 }),
  keys: fc.integer({ min: 1, max: 3 }),
  clients: fc.integer({ min: 1, max: 6 }),
  unknownRate: fc.double({ min: 0, max: 0.2, noNaN: true }),
  failRate: fc.double({ min: 0, max: 0.1, noNaN: true }),
  deleteWeight: fc.integer({ min: 0, max: 2 }),
});

function workload(options: WorkloadParameters) {
  const { seed, deleteWeight, ...rest } = options;
  return generateKvHistory({ ...rest, random: createPrng(seed).next, mix: { delete: deleteWeight } });
}

test('property: histories of a correct register are linearizable', () => {
  fc.assert(fc.property(workloadArbitrary, (options) => {
    const result = check(workload(options));
    assert.equal(result.verdict, 'ok', JSON.stringify(result.partitions));
  }), { numRuns: 150 });
});

test('property: changing one read to a value never written makes the history illegal', () => {
  fc.assert(fc.property(workloadArbitrary, fc.nat(), (options, choice) => {
    const history = workload(options);
    const reads = history.flatMap((item, index) => (item.outcome === 'ok' && item.input.kind === 'get' ? [index] : []));
    fc.pre(reads.length > 0);
    const victim = reads[choice % reads.length]!;
    const mutated = history.map((item, index) => (index === victim ? { ...item, output: { value: 'never-written' } } : item));
    const result = check(mutated);
    assertIllegal(result);
    assert.equal(result.counterexample!.key, history[victim]!.input.key);
  }), { numRuns: 100 });
});

/**
 * Reference checker by brute force over every order that respects real time: an operation may go
 * next if no remaining operation returned before it was called. Unknown outcomes may be left out.
 */
function bruteForceLinearizable(history: readonly Entry[]): boolean {
  const operations = history.filter((item) => item.outcome !== 'fail').map((item) => ({
    input: item.input, output: item.outcome === 'ok' ? item.output : undefined, known: item.outcome === 'ok',
    callTime: item.callTime, returnTime: item.outcome === 'ok' ? item.returnTime! : Infinity,
  }));
  const byKey = Map.groupBy(operations, (operation) => operation.input.key);
  const search = (remaining: typeof operations, state: KvState): boolean => {
    if (remaining.every((operation) => !operation.known)) return true;
    return remaining.some((operation, index) => {
      if (remaining.some((other) => other.returnTime < operation.callTime)) return false;
      const stepped = kvRegisterModel.step(state, operation.input, operation.output);
      return stepped.ok && search(remaining.filter((_, other) => other !== index), stepped.state);
    });
  };
  return [...byKey.values()].every((partition) => search(partition, null));
}

const tinyHistoryArbitrary = fc.array(fc.record({
  process: fc.integer({ min: 0, max: 3 }),
  callTime: fc.integer({ min: 0, max: 12 }),
  duration: fc.integer({ min: 0, max: 6 }),
  outcome: fc.constantFrom<Outcome>('ok', 'ok', 'ok', 'unknown', 'fail'),
  kind: fc.constantFrom('get', 'put', 'cas', 'delete'),
  value: fc.integer({ min: 1, max: 3 }),
  expected: fc.option(fc.integer({ min: 1, max: 3 })),
  seen: fc.option(fc.integer({ min: 1, max: 3 })),
  swapped: fc.boolean(),
}), { maxLength: 7 }).map((items) => items.map((item): Entry => {
  const returnTime = item.outcome === 'unknown' ? null : item.callTime + item.duration;
  switch (item.kind) {
    case 'get': return entry(item.process, item.callTime, returnTime, { kind: 'get', key: 'x' }, { value: item.seen }, item.outcome);
    case 'put': return put(item.process, item.callTime, returnTime, 'x', item.value, item.outcome);
    case 'delete': return del(item.process, item.callTime, returnTime, 'x', item.outcome);
    default: return cas(item.process, item.callTime, returnTime, 'x', item.expected, item.value, item.swapped, item.outcome);
  }
}));

test('property: the checker agrees with brute force on tiny histories, with and without its shortcuts', () => {
  fc.assert(fc.property(tinyHistoryArbitrary, (history) => {
    const expected = bruteForceLinearizable(history) ? 'ok' : 'illegal';
    assert.equal(check(history).verdict, expected);
    assert.equal(checkLinearizability(plainKvModel, history).verdict, expected);
  }), { numRuns: 3000 });
});

/** One mutation of a workload history: a read sees another value, or a cas reports the opposite. */
function mutate(history: readonly Entry[], choice: number, valueChoice: number): Entry[] {
  const targets = history.flatMap((item, index) => (item.outcome === 'ok' && (item.input.kind === 'get' || item.input.kind === 'cas') ? [index] : []));
  if (targets.length === 0) return [...history];
  const victim = targets[choice % targets.length]!;
  const written = [null, ...history.flatMap((item) => (item.input.kind === 'put' || item.input.kind === 'cas' ? [item.input.value] : []))];
  return history.map((item, index) => {
    if (index !== victim) return item;
    if (item.input.kind === 'cas') return { ...item, output: { swapped: !(item.output as { swapped: boolean }).swapped } };
    return { ...item, output: { value: written[valueChoice % written.length]! } };
  });
}

test('property: the checker agrees with brute force on small workload histories with unique values', () => {
  const small = fc.record({
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }), operations: fc.integer({ min: 1, max: 8 }), keys: fc.constant(1),
    clients: fc.integer({ min: 1, max: 4 }), unknownRate: fc.double({ min: 0, max: 0.5, noNaN: true }),
    failRate: fc.double({ min: 0, max: 0.2, noNaN: true }), deleteWeight: fc.integer({ min: 0, max: 2 }),
  });
  fc.assert(fc.property(small, fc.boolean(), fc.nat(), fc.nat(), (options, corrupt, choice, valueChoice) => {
    const generated = generateKvHistory({ ...options, random: createPrng(options.seed).next, mix: { delete: options.deleteWeight }, latencyMax: 4, thinkTimeMax: 1 });
    const history = corrupt ? mutate(generated, choice, valueChoice) : generated;
    const expected = bruteForceLinearizable(history) ? 'ok' : 'illegal';
    assert.equal(check(history).verdict, expected);
    assert.equal(checkLinearizability(plainKvModel, history).verdict, expected);
  }), { numRuns: 1500 });
});
