import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SCENARIOS, planScenario, scenarioByName } from './scenarios.ts';
import { describeExpectation, describeFault } from './schedule.ts';
import type { Expectation } from './types.ts';

const OPTIONS = { nodes: 3, seed: 42, durationMs: 8000, workload: 'both', rate: 40 } as const;

test('the catalog has the 19 scenarios of the issue, with unique names', () => {
  const names = SCENARIOS.map((scenario) => scenario.name);
  assert.deepEqual(names, [
    'leader-crash', 'follower-crash-rejoin', 'cascading-failures', 'concurrent-failures', 'minority-partition', 'split-brain',
    'partition-heal-consistency', 'stale-node-catch-up', 'graceful-rejoin', 'sigkill-wal-recovery', 'rolling-restart-under-load', 'net-latency',
    'net-packet-loss', 'net-slow-close', 'net-bandwidth', 'leader-pause', 'clock-skew', 'power-loss-unsynced', 'membership-under-faults',
  ]);
  assert.equal(new Set(names).size, names.length);
  assert.equal(scenarioByName('nope'), undefined);
});

test('the same seed gives the same plan; another seed changes the random choices', () => {
  for (const scenario of SCENARIOS) {
    assert.deepEqual(planScenario(scenario, OPTIONS), planScenario(scenario, OPTIONS), scenario.name);
  }
  const differs = SCENARIOS.some((scenario) => JSON.stringify(planScenario(scenario, OPTIONS)) !== JSON.stringify(planScenario(scenario, { ...OPTIONS, seed: 43 })));
  assert.ok(differs, 'no scenario drew anything from its seed');
});

function edgesOf(expectation: Expectation): number[] {
  if (expectation.kind === 'needs-snapshot') return [expectation.window];
  return [expectation.from.window, ...(expectation.kind === 'available' && expectation.to === undefined ? [] : [expectation.to!.window])];
}

test('every plan is well formed for 3 and 5 nodes, short and long', () => {
  for (const nodes of [3, 5]) {
    for (const durationMs of [6000, 8000, 300_000]) {
      for (const scenario of SCENARIOS) {
        const plan = planScenario(scenario, { ...OPTIONS, nodes, durationMs });
        assert.ok(plan.schedule.length > 0, `${scenario.name} has no fault`);
        for (const window of plan.schedule) {
          assert.ok(window.atMs >= 0 && window.durationMs >= 0, `${scenario.name}: negative time`);
          // One whole cycle always runs, even when it is longer than a short --duration.
          assert.ok(window.atMs < Math.max(durationMs, 16_000), `${scenario.name}: a window starts after the fault phase`);
          assert.ok(describeFault(window.fault).length > 0);
          for (const target of 'targets' in window.fault ? window.fault.targets : []) {
            if ('node' in target) assert.ok(target.node >= 1 && target.node <= nodes, `${scenario.name}: node ${target.node} of ${nodes}`);
          }
        }
        for (const expectation of plan.expectations) {
          for (const window of edgesOf(expectation)) assert.ok(window >= 0 && window < plan.schedule.length, `${scenario.name}: ${describeExpectation(expectation)}`);
        }
        if (durationMs === 300_000 && scenario.name !== 'net-latency' && scenario.name !== 'net-packet-loss' && scenario.name !== 'net-bandwidth' && scenario.name !== 'net-slow-close' && scenario.name !== 'membership-under-faults') {
          assert.ok(plan.schedule.length > planScenario(scenario, { ...OPTIONS, nodes }).schedule.length, `${scenario.name}: a soak repeats the cycle`);
        }
      }
    }
  }
});

test('scenarios that need a majority gone ask for no-quorum intervals, the others for availability', () => {
  const kinds = (name: string) => new Set(planScenario(scenarioByName(name)!, OPTIONS).expectations.map((expectation) => expectation.kind));
  for (const name of ['cascading-failures', 'concurrent-failures', 'split-brain']) assert.ok(kinds(name).has('no-quorum'), name);
  for (const name of ['leader-crash', 'minority-partition', 'leader-pause', 'net-packet-loss']) assert.ok(kinds(name).has('available'), name);
  assert.ok(kinds('stale-node-catch-up').has('needs-snapshot'));
  const concurrent = planScenario(scenarioByName('concurrent-failures')!, { ...OPTIONS, nodes: 5 });
  assert.equal(concurrent.schedule.filter((window) => window.atMs === 0).length, 3, '3 of 5 nodes at once');
});

test('environment needs follow the faults', () => {
  assert.equal(planScenario(scenarioByName('net-packet-loss')!, OPTIONS).environment.network, 'netns');
  assert.equal(planScenario(scenarioByName('power-loss-unsynced')!, OPTIONS).environment.loopDisks, true);
  assert.equal(planScenario(scenarioByName('clock-skew')!, OPTIONS).environment.clockSkew, true);
  assert.ok(planScenario(scenarioByName('stale-node-catch-up')!, OPTIONS).environment.serveArgs.includes('--snapshot-every-entries'));
  assert.equal(planScenario(scenarioByName('leader-crash')!, OPTIONS).environment.network, 'proxy');
  assert.deepEqual(scenarioByName('power-loss-unsynced')!.requires, ['root']);
});
