// The checkers that read the scenario's own records (the history-level ones have their tests in
// src/check/): durability from restart failures, and the expectations about fault windows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HistoryEntry } from '../check/history.ts';
import { checkDurability, runChecks, splitHistory } from './checks.ts';

function faultEntry(window: number, action: 'start' | 'stop', outcome: 'ok' | 'fail', output: unknown, atMs: number): HistoryEntry {
  return { process: 'nemesis', callTime: atMs, returnTime: atMs + 10, input: { kind: 'fault', window, action, name: 'power loss' }, output, outcome } as HistoryEntry;
}

test('durability: a restart refused because the log lost applied entries is reported as lost writes', () => {
  const error = 'node 3 exited while starting; the end of node.log:\nerror: cannot start: the state machine has applied up to 150 but the log ends at 0: the Raft log lost entries.';
  const bad = checkDurability(splitHistory([faultEntry(0, 'start', 'ok', {}, 1000), faultEntry(0, 'stop', 'fail', { error }, 2000)]));
  assert.equal(bad.status, 'fail');
  assert.match(bad.summary, /acknowledged writes lost/);
  assert.match(bad.evidence!, /node 3 had applied up to index 150, but its log ends at 0: 150 committed entries lost/);

  const otherFailure = checkDurability(splitHistory([faultEntry(0, 'stop', 'fail', { error: 'node 2 did not become ready in 30 s' }, 2000)]));
  assert.equal(otherFailure.status, 'pass', 'other restart failures are the faults check\'s business');
});

test('runChecks: an empty history is incomplete, and the durability check always runs', () => {
  const outcomes = runChecks([]);
  assert.equal(outcomes.find((outcome) => outcome.name === 'history')?.status, 'fail');
  assert.equal(outcomes.find((outcome) => outcome.name === 'durability')?.status, 'pass');
});

function kvEntry(process: string, input: object, output: unknown, outcome: 'ok' | 'fail' | 'unknown', atMs: number): HistoryEntry {
  return { process, callTime: atMs, returnTime: outcome === 'unknown' ? null : atMs + 5, input, output, outcome } as HistoryEntry;
}

test('linearizability: a written key without a successful final read cannot pass', () => {
  const put = kvEntry('kv-0.0', { kind: 'put', key: 'k1', value: 'a' }, null, 'ok', 100);
  const withoutFinal = runChecks([put]).find((outcome) => outcome.name === 'linearizability')!;
  assert.equal(withoutFinal.status, 'unknown');
  assert.match(withoutFinal.summary, /final read of k1 never succeeded/);
  const failedFinal = runChecks([put, kvEntry('final-0', { kind: 'get', key: 'k1' }, null, 'fail', 200)]).find((outcome) => outcome.name === 'linearizability')!;
  assert.equal(failedFinal.status, 'unknown');
  const withFinal = runChecks([put, kvEntry('final-0', { kind: 'get', key: 'k1' }, { value: 'a' }, 'ok', 200)]).find((outcome) => outcome.name === 'linearizability')!;
  assert.equal(withFinal.status, 'pass');
  const lost = runChecks([put, kvEntry('final-0', { kind: 'get', key: 'k1' }, { value: null }, 'ok', 200)]).find((outcome) => outcome.name === 'linearizability')!;
  assert.equal(lost.status, 'fail', 'the final read missing an acknowledged write is a violation');
});
