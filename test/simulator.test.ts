// The deterministic simulator as part of every test run: thousands of seeds of 3- and 5-node
// clusters under faults must report no violation, and every known injected bug must be caught
// within a fixed budget of seeds (a checker that cannot fail proves nothing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { INJECTED_RAFT_BUGS } from '../src/core/index.ts';
import type { InjectedRaftBug } from '../src/core/index.ts';
import { defaultWorkers, runSeeds } from '../src/sim/run-seeds.ts';

/** CAIRN_SIM_SEEDS lowers the count for a quick local run; CI uses the full 2,000 (and 200 of the real runtime). */
const SEEDS = Number(process.env['CAIRN_SIM_SEEDS'] ?? 2000);
const RUNTIME_SEEDS = Math.max(1, Math.round(SEEDS / 10));
const BUG_SEED_BUDGET = 1500;
const EXPECTED_KINDS: Record<InjectedRaftBug, string[]> = {
  'vote-not-persisted': ['election-safety', 'leader-completeness', 'state-machine-safety', 'linearizability'],
  'commit-previous-term': ['leader-completeness', 'state-machine-safety', 'lost-acknowledged-write', 'linearizability', 'invariant'],
  'accept-append-without-match': ['log-matching', 'state-machine-safety', 'leader-completeness', 'invariant', 'linearizability'],
  'read-without-quorum': ['linearizability'],
  'commit-without-quorum': ['leader-completeness', 'state-machine-safety', 'lost-acknowledged-write', 'linearizability', 'invariant', 'log-matching'],
};

test(`${SEEDS} simulator seeds (3 and 5 nodes) under faults report no violation`, { timeout: 15 * 60_000 }, async () => {
  const seeds = Array.from({ length: SEEDS }, (_, offset) => offset + 1);
  const results = await runSeeds(
    { seeds, nodes: undefined, operations: 200, injectedBugs: [], workers: defaultWorkers(), stopOnFailure: false },
    () => {},
  );
  const failures = results.filter((result) => result.violationCount > 0);
  const report = failures.slice(0, 5).map((result) =>
    `seed ${result.seed} (${result.nodes} nodes): ${result.violations.map((violation) => `[${violation.kind}] ${violation.message}`).join('; ')}\n  replay: npm run sim -- --seed ${result.seed} --nodes ${result.nodes} --ops 200`);
  assert.equal(failures.length, 0, `violations found:\n${report.join('\n')}`);
  assert.equal(results.length, SEEDS);
  assert.ok(results.some((result) => result.nodes === 3) && results.some((result) => result.nodes === 5));
  const operationsOk = results.reduce((sum, result) => sum + result.operationsOk, 0);
  assert.ok(operationsOk > SEEDS * 20, `clients got only ${operationsOk} operations through; the workload is not exercising the cluster`);
});

test(`${RUNTIME_SEEDS} seeds of the real runtime (WAL on a simulated disk) under faults report no violation`, { timeout: 15 * 60_000 }, async () => {
  const seeds = Array.from({ length: RUNTIME_SEEDS }, (_, offset) => offset + 1);
  const results = await runSeeds(
    { seeds, nodes: undefined, operations: 200, injectedBugs: [], mode: 'runtime', workers: defaultWorkers(), stopOnFailure: false },
    () => {},
  );
  const failures = results.filter((result) => result.violationCount > 0);
  const report = failures.slice(0, 5).map((result) =>
    `seed ${result.seed} (${result.nodes} nodes): ${result.violations.map((violation) => `[${violation.kind}] ${violation.message}`).join('; ')}\n  replay: npm run sim -- --seed ${result.seed} --nodes ${result.nodes} --ops 200 --runtime`);
  assert.equal(failures.length, 0, `violations found:\n${report.join('\n')}`);
  assert.ok(results.reduce((sum, result) => sum + result.operationsOk, 0) > RUNTIME_SEEDS * 20);
});

test('the runtime simulator catches the injected durability bug ack-before-fsync within 200 seeds', { timeout: 10 * 60_000 }, async () => {
  const seeds = Array.from({ length: 200 }, (_, offset) => offset + 1);
  const results = await runSeeds(
    { seeds, nodes: undefined, operations: 200, injectedBugs: ['ack-before-fsync'], mode: 'runtime', workers: defaultWorkers(), stopOnFailure: true },
    () => {},
  );
  const caught = results.find((result) => result.violationCount > 0);
  assert.ok(caught !== undefined, `ack-before-fsync went unnoticed in ${results.length} seeds`);
});

for (const bug of INJECTED_RAFT_BUGS) {
  test(`the simulator catches the injected bug ${bug} within ${BUG_SEED_BUDGET} seeds`, { timeout: 10 * 60_000 }, async () => {
    const seeds = Array.from({ length: BUG_SEED_BUDGET }, (_, offset) => offset + 1);
    const results = await runSeeds(
      { seeds, nodes: undefined, operations: 200, injectedBugs: [bug], workers: defaultWorkers(), stopOnFailure: true },
      () => {},
    );
    const caught = results.find((result) => result.violationCount > 0);
    assert.ok(caught !== undefined, `${bug} went unnoticed in ${results.length} seeds`);
    const kinds = caught.violations.map((violation) => violation.kind);
    assert.ok(kinds.some((kind) => EXPECTED_KINDS[bug].includes(kind)), `${bug} was caught as ${kinds.join(', ')}, which is not a violation it can cause`);
  });
}

test('npm run sim: --json prints the summary last, exit code and replay command follow the verdict', () => {
  const sim = new URL('../src/sim/main.ts', import.meta.url).pathname;
  const output = execFileSync(process.execPath, [sim, '--seeds', '4', '--workers', '1', '--json'], { encoding: 'utf8' });
  const summary = JSON.parse(output.trim().split('\n').at(-1)!) as Record<string, unknown>;
  for (const key of ['seeds', 'failedSeeds', 'violations', 'opsChecked', 'elapsedMs']) assert.ok(key in summary, `summary lacks ${key}`);
  assert.equal(summary['seeds'], 4);
  assert.equal(summary['violations'], 0);

  let failed: { status: number | null; stdout: string } | undefined;
  try {
    execFileSync(process.execPath, [sim, '--seed', '4', '--nodes', '5', '--inject-bug', 'accept-append-without-match', '--json'], { encoding: 'utf8' });
  } catch (error) {
    failed = error as { status: number | null; stdout: string };
  }
  assert.ok(failed !== undefined, 'a failing seed must exit non-zero');
  assert.equal(failed.status, 1);
  assert.match(failed.stdout, /replay: npm run sim -- --seed 4 --nodes 5 --ops 200 --inject-bug accept-append-without-match/);
  const failedSummary = JSON.parse(failed.stdout.trim().split('\n').at(-1)!) as { violations: number; failedSeeds: number[] };
  assert.ok(failedSummary.violations > 0);
  assert.deepEqual(failedSummary.failedSeeds, [4]);
});
