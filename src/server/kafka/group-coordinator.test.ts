// The group coordinator on a hand-driven clock: the initial rebalance delay, rebalance and sync
// deadlines, session expiry, protocol selection, limits, and failing every waiter when this node
// stops coordinating.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KAFKA_ERROR } from '../../protocol/kafka/index.ts';
import type { JoinGroupRequest } from '../../protocol/kafka/index.ts';
import { GroupCoordinator } from './group-coordinator.ts';
import type { JoinOutcome } from './group-coordinator.ts';

const encoder = new TextEncoder();
const SETTINGS = { minSessionTimeoutMs: 100, maxSessionTimeoutMs: 10_000, initialRebalanceDelayMs: 300, checkIntervalMs: 10 };

function setup(limits = { groupsMax: 10, membersPerGroupMax: 10 }): { coordinator: GroupCoordinator; clock: { now: number } } {
  const clock = { now: 1_000 };
  return { coordinator: new GroupCoordinator(SETTINGS, limits, () => clock.now), clock };
}

function request(memberId: string, protocols: string[] = ['range'], options: Partial<JoinGroupRequest> = {}): JoinGroupRequest {
  return {
    groupId: 'g', sessionTimeoutMs: 1_000, rebalanceTimeoutMs: 2_000, memberId, groupInstanceId: null, protocolType: 'consumer',
    protocols: protocols.map((name) => ({ name, metadata: encoder.encode(`${name}:${memberId}`) })), ...options,
  };
}

const context = { clientId: 'client', clientHost: '127.0.0.1' };

/** A join's outcome if it has completed by now (after a turn of the microtask queue). */
async function settled<T>(promise: Promise<T> | T): Promise<T | 'pending'> {
  return Promise.race([Promise.resolve(promise), new Promise<'pending'>((resolve) => setImmediate(() => resolve('pending')))]);
}

test('a new group waits the initial rebalance delay for more members, then completes with everyone', async () => {
  const { coordinator, clock } = setup();
  const first = coordinator.join(request(''), context);
  clock.now += 100;
  const second = coordinator.join(request(''), context);
  assert.equal(await settled(first), 'pending');
  coordinator.check();
  assert.equal(await settled(first), 'pending', 'still inside the delay');
  clock.now += 250;
  coordinator.check();
  const [a, b] = await Promise.all([first, second]) as [JoinOutcome, JoinOutcome];
  assert.deepEqual([a.errorCode, b.errorCode, a.generationId, b.generationId], [0, 0, 1, 1]);
  assert.equal(a.leader, a.memberId);
  assert.equal(a.members.length, 2);
  assert.deepEqual(b.members, []);
});

test('members that do not rejoin by the rebalance deadline are dropped', async () => {
  const { coordinator, clock } = setup();
  const first = coordinator.join(request(''), context);
  const second = coordinator.join(request(''), context);
  clock.now += 300;
  coordinator.check();
  const [a, b] = await Promise.all([first, second]) as [JoinOutcome, JoinOutcome];
  await coordinator.sync('g', 1, a.memberId, [{ memberId: a.memberId, assignment: encoder.encode('x') }, { memberId: b.memberId, assignment: encoder.encode('y') }]);
  // A newcomer triggers a rebalance; only it and the first member rejoin.
  const third = coordinator.join(request(''), context);
  const aAgain = coordinator.join(request(a.memberId), context);
  clock.now += 1_000;
  coordinator.check();
  assert.equal(await settled(third), 'pending', 'waiting for the second member');
  clock.now += 1_001;
  coordinator.check();
  const [c, a2] = await Promise.all([third, aAgain]) as [JoinOutcome, JoinOutcome];
  assert.equal(c.generationId, 2);
  assert.deepEqual(a2.members.map((member) => member.memberId).sort(), [a.memberId, c.memberId].sort());
  assert.equal(coordinator.heartbeat('g', 2, b.memberId), KAFKA_ERROR.UNKNOWN_MEMBER_ID);
});

test('the protocol is chosen by vote among those every member supports; a member sharing none is refused', async () => {
  const { coordinator, clock } = setup();
  const first = coordinator.join(request('', ['roundrobin', 'range']), context);
  const second = coordinator.join(request('', ['range', 'roundrobin']), context);
  const third = coordinator.join(request('', ['range']), context);
  clock.now += 300;
  coordinator.check();
  const outcomes = await Promise.all([first, second, third]) as JoinOutcome[];
  assert.ok(outcomes.every((outcome) => outcome.protocolName === 'range'));
  const refused = await coordinator.join(request('', ['sticky']), context);
  assert.equal(refused.errorCode, KAFKA_ERROR.INCONSISTENT_GROUP_PROTOCOL);
  assert.equal((await coordinator.join(request('', ['range'], { protocolType: 'connect' }), context)).errorCode, KAFKA_ERROR.INCONSISTENT_GROUP_PROTOCOL);
});

test('a leader that never syncs: at the sync deadline the members start over; a silent member expires', async () => {
  const { coordinator, clock } = setup();
  const first = coordinator.join(request(''), context);
  const second = coordinator.join(request(''), context);
  clock.now += 300;
  coordinator.check();
  const [a, b] = await Promise.all([first, second]) as [JoinOutcome, JoinOutcome];
  const follower = a.leader === a.memberId ? b : a;
  const waiting = coordinator.sync('g', 1, follower.memberId, []);
  clock.now += 2_001;
  coordinator.check();
  assert.deepEqual(await waiting, { errorCode: KAFKA_ERROR.REBALANCE_IN_PROGRESS, assignment: new Uint8Array(0) });
  assert.equal(coordinator.describe('g')?.state, 'PreparingRebalance');
  // The leader was dropped; the follower rejoins and, as the only member, completes the join at once.
  const alone = await coordinator.join(request(follower.memberId), context);
  assert.deepEqual([alone.errorCode, alone.generationId, alone.leader], [0, 2, follower.memberId]);
  await coordinator.sync('g', 2, follower.memberId, []);
  assert.equal(coordinator.describe('g')?.state, 'Stable');
  clock.now += 1_001;
  coordinator.check();
  assert.equal(coordinator.describe('g'), undefined, 'the last member expired: the group is forgotten');
});

test('limits: members per group and groups; clear() answers every waiter', async () => {
  const { coordinator } = setup({ groupsMax: 1, membersPerGroupMax: 1 });
  const first = coordinator.join(request(''), context);
  assert.equal((await coordinator.join(request(''), context)).errorCode, KAFKA_ERROR.GROUP_MAX_SIZE_REACHED);
  assert.equal((await coordinator.join({ ...request(''), groupId: 'other' }, context)).errorCode, KAFKA_ERROR.COORDINATOR_NOT_AVAILABLE);
  assert.equal((await coordinator.join(request('', ['range'], { sessionTimeoutMs: 50 }), context)).errorCode, KAFKA_ERROR.INVALID_SESSION_TIMEOUT);
  coordinator.clear(KAFKA_ERROR.NOT_COORDINATOR);
  assert.equal((await first).errorCode, KAFKA_ERROR.NOT_COORDINATOR);
  assert.equal(coordinator.groupCount, 0);
});

test('commits: outside group management only without a generation; inside, only the current member and generation', async () => {
  const { coordinator, clock } = setup();
  assert.equal(coordinator.checkCommit('g', -1, ''), KAFKA_ERROR.NONE);
  assert.equal(coordinator.checkCommit('g', 3, 'someone'), KAFKA_ERROR.ILLEGAL_GENERATION);
  const joined = coordinator.join(request(''), context);
  clock.now += 300;
  coordinator.check();
  const a = await joined;
  assert.equal(coordinator.checkCommit('g', 1, a.memberId), KAFKA_ERROR.REBALANCE_IN_PROGRESS, 'joined but not synced');
  await coordinator.sync('g', 1, a.memberId, []);
  assert.equal(coordinator.checkCommit('g', 1, a.memberId), KAFKA_ERROR.NONE);
  assert.equal(coordinator.checkCommit('g', 2, a.memberId), KAFKA_ERROR.ILLEGAL_GENERATION);
  assert.equal(coordinator.checkCommit('g', 1, 'other'), KAFKA_ERROR.UNKNOWN_MEMBER_ID);
  assert.equal(coordinator.checkCommit('g', -1, ''), KAFKA_ERROR.UNKNOWN_MEMBER_ID, 'a group with members takes no commits from outside it');
});
