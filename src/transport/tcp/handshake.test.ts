import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RepeatFilter } from '../repeat-filter.ts';
import type { TransportClock } from '../types.ts';
import { backoffDelayMs } from './backoff.ts';
import { checkHello, chooseVersion, computeProof, newNonce, proofMatches } from './handshake.ts';
import type { Transcript } from './handshake.ts';

const secret = new TextEncoder().encode('s3cret');
const transcript: Transcript = {
  version: 1, clusterId: 'c1', dialerId: 1, listenerId: 2, dialerNonce: newNonce(), listenerNonce: newNonce(),
};

test('a proof is bound to the secret, the role and every transcript field', () => {
  const proof = computeProof(secret, 'dialer', transcript);
  assert.equal(proof.length, 32);
  assert.ok(proofMatches(proof, computeProof(secret, 'dialer', transcript)));
  const variants: [string, Uint8Array][] = [
    ['other secret', computeProof(new TextEncoder().encode('other'), 'dialer', transcript)],
    ['listener role', computeProof(secret, 'listener', transcript)],
    ['version', computeProof(secret, 'dialer', { ...transcript, version: 2 })],
    ['cluster id', computeProof(secret, 'dialer', { ...transcript, clusterId: 'c2' })],
    ['dialer id', computeProof(secret, 'dialer', { ...transcript, dialerId: 3 })],
    ['listener id', computeProof(secret, 'dialer', { ...transcript, listenerId: 3 })],
    ['dialer nonce (a replayed proof)', computeProof(secret, 'dialer', { ...transcript, dialerNonce: newNonce() })],
    ['listener nonce (a replayed proof)', computeProof(secret, 'dialer', { ...transcript, listenerNonce: newNonce() })],
  ];
  for (const [what, other] of variants) assert.ok(!proofMatches(proof, other), what);
  assert.ok(!proofMatches(proof, proof.subarray(0, 31)));
});

test('nonces are fresh', () => {
  assert.notDeepEqual(newNonce(), newNonce());
});

test('the listener checks version, cluster and node before any secret is involved', () => {
  const hello = { kind: 'hello' as const, versionMin: 1, versionMax: 1, clusterId: 'c1', from: 1, to: 2, nonce: newNonce() };
  const local = { clusterId: 'c1', nodeId: 2 };
  assert.deepEqual(checkHello(hello, local), { ok: true, version: 1 });
  assert.deepEqual(checkHello({ ...hello, versionMax: 2 }, local), { ok: true, version: 2 });
  assert.equal(checkHello({ ...hello, versionMin: 3, versionMax: 4 }, local).ok, false);
  const codes = [
    checkHello({ ...hello, versionMin: 3, versionMax: 4 }, local),
    checkHello({ ...hello, clusterId: 'c2' }, local),
    checkHello({ ...hello, to: 3 }, local),
    checkHello({ ...hello, from: 2 }, local),
  ].map((verdict) => (verdict.ok ? 'ok' : verdict.code));
  assert.deepEqual(codes, ['HANDSHAKE_VERSION_UNSUPPORTED', 'HANDSHAKE_CLUSTER_MISMATCH', 'HANDSHAKE_WRONG_NODE', 'HANDSHAKE_WRONG_NODE']);
  const mismatch = checkHello({ ...hello, clusterId: 'c2' }, local);
  assert.ok(!mismatch.ok && !mismatch.message.includes('c1'), 'the refusal does not reveal our cluster id');
});

test('version choice picks the highest common version', () => {
  assert.equal(chooseVersion(1, 5), 2);
  assert.equal(chooseVersion(1, 1), 1);
  assert.equal(chooseVersion(2, 2), 2);
  assert.equal(chooseVersion(3, 5), undefined);
});

test('backoff grows exponentially, is capped and jittered within [ceiling/2, ceiling)', () => {
  const options = { initialMs: 100, maxMs: 1000 };
  assert.deepEqual([1, 2, 3, 4, 5, 50].map((failures) => backoffDelayMs(failures, options, () => 0)), [50, 100, 200, 400, 500, 500]);
  assert.equal(backoffDelayMs(2, options, () => 0.999999), 199.9999);
  assert.equal(backoffDelayMs(1000, options, () => 0.5), 750);
});

test('the repeat filter logs a key once per reason, again after a change, a clear or a quiet period', () => {
  let nowMs = 0;
  const clock: TransportClock = { now: () => nowMs, setTimer: () => undefined, clearTimer: () => {} };
  const filter = new RepeatFilter(clock, 1000);
  assert.equal(filter.shouldLog('out:2', 'AUTH'), true);
  assert.equal(filter.shouldLog('out:2', 'AUTH'), false);
  assert.equal(filter.shouldLog('out:3', 'AUTH'), true, 'keys are independent');
  assert.equal(filter.shouldLog('out:2', 'REFUSED'), true, 'a new reason is logged');
  assert.equal(filter.shouldLog('out:2', 'REFUSED'), false);
  nowMs = 999;
  assert.equal(filter.shouldLog('out:2', 'REFUSED'), false);
  nowMs = 1000;
  assert.equal(filter.shouldLog('out:2', 'REFUSED'), true, 'a reminder after the quiet period');
  assert.equal(filter.clear('out:2'), true);
  assert.equal(filter.clear('out:2'), false);
  assert.equal(filter.shouldLog('out:2', 'REFUSED'), true, 'a recurrence after recovery is logged');
  for (let i = 0; i < 5000; i++) filter.shouldLog(`in:${i}`, 'X');
  assert.equal(filter.shouldLog('in:4999', 'X'), false, 'recent keys are kept when the map is full');
});
