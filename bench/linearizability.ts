// Benchmark of the linearizability checker on a linearizable KV history generated from a seeded
// simulated execution (see src/check/kv-workload.ts). Prints the time to a verdict.
//
//   node bench/linearizability.ts [--ops N] [--keys K] [--clients C] [--seed S]
//                                 [--unknown-rate R] [--fail-rate R] [--budget-ms MS]
//                                 [--corrupt-read-at F] [--json]
//
// --corrupt-read-at F (0..1) makes the read at that fraction of all reads return a value never
// written, to time the illegal path: finding the violation and shrinking the counterexample.

import { parseArgs } from 'node:util';
import { summarizeHistory, formatHistorySummary } from '../src/check/history.ts';
import { checkLinearizability, kvRegisterModel } from '../src/check/linearizability.ts';
import { generateKvHistory } from '../src/check/kv-workload.ts';
import { createPrng } from '../src/check/prng.ts';

const { values } = parseArgs({
  options: {
    ops: { type: 'string', default: '10000' },
    keys: { type: 'string', default: '10' },
    clients: { type: 'string', default: '10' },
    seed: { type: 'string', default: '1' },
    'unknown-rate': { type: 'string', default: '0.02' },
    'fail-rate': { type: 'string', default: '0.01' },
    'budget-ms': { type: 'string', default: '10000' },
    'corrupt-read-at': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

function corruptRead(fraction: number): void {
  if (!(fraction >= 0 && fraction <= 1)) throw new Error(`--corrupt-read-at must be between 0 and 1, got ${fraction}`);
  const reads = history.flatMap((entry, index) => (entry.outcome === 'ok' && entry.input.kind === 'get' ? [index] : []));
  const victim = reads[Math.min(reads.length - 1, Math.floor(fraction * reads.length))];
  if (victim !== undefined) history[victim] = { ...history[victim]!, output: { value: 'never-written' } };
}

function numberOption(name: keyof typeof values): number {
  const parsed = Number(values[name]);
  if (!Number.isFinite(parsed) || parsed < 0) throw new Error(`--${name} must be a non-negative number, got ${values[name]}`);
  return parsed;
}

const settings = {
  operations: numberOption('ops'), keys: numberOption('keys'), clients: numberOption('clients'),
  seed: numberOption('seed'), unknownRate: numberOption('unknown-rate'), failRate: numberOption('fail-rate'),
  timeBudgetMs: numberOption('budget-ms'),
};
const prng = createPrng(settings.seed);
const history = generateKvHistory({
  random: prng.next, operations: settings.operations, keys: settings.keys, clients: settings.clients,
  unknownRate: settings.unknownRate, failRate: settings.failRate, mix: { get: 5, put: 3, cas: 2, delete: 0.5 },
});
if (values['corrupt-read-at'] !== undefined) corruptRead(Number(values['corrupt-read-at']));
const result = checkLinearizability(kvRegisterModel, history, { timeBudgetMs: settings.timeBudgetMs });
const slowest = [...result.partitions].sort((a, b) => b.elapsedMs - a.elapsedMs)[0];

if (values.json) {
  const counterexample = result.counterexample === undefined ? undefined
    : { key: result.counterexample.key, operations: result.counterexample.operations.length, shrinkComplete: result.counterexample.shrinkComplete };
  console.log(JSON.stringify({ ...settings, verdict: result.verdict, elapsedMs: Math.round(result.elapsedMs), counterexample, partitions: result.partitions }));
} else {
  console.log(formatHistorySummary(summarizeHistory(history)));
  console.log(`verdict: ${result.verdict}`);
  console.log(`elapsed: ${result.elapsedMs.toFixed(0)} ms over ${result.partitions.length} partitions` +
    (slowest === undefined ? '' : ` (slowest ${slowest.key}: ${slowest.elapsedMs.toFixed(0)} ms, ${slowest.searchedOperations} operations searched, ${slowest.cacheEntries} cache entries)`));
  if (result.counterexample !== undefined) {
    console.log(`counterexample (${result.counterexample.shrinkComplete ? 'fully shrunk' : 'shrinking cut short'}):`);
    console.log(result.counterexample.explanation);
  }
}
