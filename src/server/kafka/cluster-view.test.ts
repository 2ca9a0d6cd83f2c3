// The cluster view behind Metadata: addresses, and an ISR that does not flap when check-quorum
// clears the core's recentActive flags, yet drops a voter that has been silent for the window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProgressStatus, RaftStatus } from '../../core/index.ts';
import { VoterActivity, clusterView, formatHostPort, parseHostPort } from './cluster-view.ts';
import type { BrokerParts } from './options.ts';

function progress(match: number, recentActive: boolean): ProgressStatus {
  return { match, next: match + 1, state: 'replicate', paused: false, recentActive, inflightMessages: 0, isLearner: false, pendingSnapshot: 0 };
}

function leaderStatus(active: Record<number, boolean>, matches: Record<number, number> = {}): RaftStatus {
  return {
    id: 1, term: 2, vote: 1, commit: 50_000, applied: 50_000, leaderId: 1, role: 'leader', isLearner: false, firstIndex: 1, lastIndex: 50_000, leadTransferee: 0,
    config: { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
    progress: Object.fromEntries([1, 2, 3].map((id) => [String(id), progress(matches[id] ?? 50_000, id === 1 || active[id] === true)])),
  };
}

function parts(status: () => RaftStatus): BrokerParts {
  const members = new Map([1, 2, 3].map((id) => [id, { id, peer: `p${id}`, client: `c${id}`, kafka: `host${id}:90${id}2` }]));
  return {
    nodeId: 1,
    raft: { id: 1, role: 'leader', leaderId: 1, term: 2, isStopped: false, propose: async () => undefined, readBarrier: async () => undefined, raftStatus: status, onRole: () => () => undefined },
    log: undefined as never,
    members: { members: () => members } as never,
  };
}

test('addresses: host:port and [ipv6]:port round-trip; anything else is refused', () => {
  assert.deepEqual(parseHostPort('broker.example:9092'), { host: 'broker.example', port: 9092 });
  assert.deepEqual(parseHostPort('[::1]:9092'), { host: '::1', port: 9092 });
  assert.equal(formatHostPort('::1', 9092), '[::1]:9092');
  for (const bad of ['broker', 'broker:0', 'broker:70000', ':9092', 'a:b:9092']) assert.equal(parseHostPort(bad), undefined, bad);
});

test('the ISR stays steady through a check-quorum reset and drops a voter silent for the window', () => {
  let status = leaderStatus({ 2: true, 3: true });
  const activity = new VoterActivity(1_000);
  activity.reset([1, 2, 3], 0);
  const self = { nodeId: 1, host: 'host1', port: 9012 };
  const view = (nowMs: number) => clusterView(parts(() => status), self, activity, nowMs);
  assert.deepEqual(view(10).isr, [1, 2, 3]);
  assert.deepEqual(view(10).brokers.map((broker) => `${broker.host}:${broker.port}`), ['host1:9012', 'host2:9022', 'host3:9032']);
  status = leaderStatus({}); // just after a check-quorum round: every flag cleared
  assert.deepEqual(view(500).isr, [1, 2, 3], 'no flapping');
  status = leaderStatus({ 2: true }); // node 3 went silent
  assert.deepEqual(view(900).isr, [1, 2, 3]);
  const later = view(1_600);
  assert.deepEqual([later.isr, later.offline, later.replicas], [[1, 2], [3], [1, 2, 3]]);
  status = leaderStatus({ 2: true, 3: true }, { 3: 10 }); // back, but far behind the commit index
  assert.deepEqual(view(1_700).isr, [1, 2]);
  assert.equal(view(1_700).leaderId, 1);
});
