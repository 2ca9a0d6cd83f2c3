// Benchmark of the linearizability checker on a linearizable KV history generated from a seeded
// simulated execution (see src/check/kv-workload.ts). Prints the time to a verdict.
//
//   node bench/linearizability.ts [--ops N] [--keys K] [--clients C] [--seed S]
//                                 [--unknown-rate R] [--fail-rate R] [--budget-ms MS]
//                                 [--corrupt-read-at F] [--json]
//
// --corrupt-read-at F (0..1) makes the read at that fraction of all reads return a value never
// written, to time the illegal path: finding the violation and shrinking the counterexample.

import { summarizeHistory, formatHistorySummary } from '../src/check/history.ts';
import { checkLinearizability, kvRegisterModel } from '../src/check/linearizability.ts';
import { generateKvHistory } from '../src/check/kv-workload.ts';
import { createPrng } from '../src/check/prng.ts';
import { integerOption, numberOption, parseBenchArgs, usageError } from './args.ts';

const values = parseBenchArgs('node bench/linearizability.ts [options]\nTime to a verdict of the linearizability checker on a generated KV history.', {
  ops: { type: 'string', default: '10000', description: 'operations in the history' },
  keys: { type: 'string', default: '10', description: 'keys they use' },
  clients: { type: 'string', default: '10', description: 'concurrent clients' },
  seed: { type: 'string', default: '1', description: 'seed of the generated execution' },
  'unknown-rate': { type: 'string', default: '0.02', description: 'share of operations with an unknown outcome' },
  'fail-rate': { type: 'string', default: '0.01', description: 'share of operations that fail' },
  'budget-ms': { type: 'string', default: '10000', description: "the checker's time budget" },
  'corrupt-read-at': { type: 'string', description: 'make the read at this fraction (0..1) of all reads return a value never written' },
  json: { type: 'boolean', default: false, description: 'print the result as JSON too' },
});

function corruptRead(fraction: number): void {
  if (!(fraction >= 0 && fraction <= 1)) usageError(`--corrupt-read-at must be between 0 and 1, got ${fraction}`);
  const reads = history.flatMap((entry, index) => (entry.outcome === 'ok' && entry.input.kind === 'get' ? [index] : []));
  const victim = reads[Math.min(reads.length - 1, Math.floor(fraction * reads.length))];
  if (victim !== undefined) history[victim] = { ...history[victim]!, output: { value: 'never-written' } };
}

const settings = {
  operations: integerOption('ops', values.ops), keys: integerOption('keys', values.keys), clients: integerOption('clients', values.clients),
  seed: integerOption('seed', values.seed, 0), unknownRate: numberOption('unknown-rate', values['unknown-rate']),
  failRate: numberOption('fail-rate', values['fail-rate']), timeBudgetMs: integerOption('budget-ms', values['budget-ms']),
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
