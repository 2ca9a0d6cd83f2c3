// One test suite every Transport passes (DESIGN.md, testing habit 3): ordering, field fidelity,
// unreachable reports, request/response with its failure modes, shutdown. Implementation-specific
// behaviour (sockets, handshakes, fault hooks) is tested beside each implementation.
import assert from 'node:assert/strict';
import { after, afterEach, describe, test } from 'node:test';
import { makeMessage } from '../../core/raft/types.ts';
import type { Message, NodeId } from '../../core/raft/types.ts';
import { isTransportError } from '../types.ts';
import type { PlainData, Transport, TransportErrorCode } from '../types.ts';

export interface ConformanceOptions {
  readonly maxOutstandingRequests?: number;
}

export interface ConformanceHarness {
  readonly name: string;
  /** `count` started transports with ids 1..count, each knowing every other as a peer. */
  cluster(count: number, options?: ConformanceOptions): Promise<Transport[]>;
  /** Stops everything the harness created. */
  cleanup(): Promise<void>;
}

/** Polls `condition` until it holds; fails the test after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

export async function assertRejects(promise: Promise<unknown>, code: TransportErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isTransportError(error), `expected a TransportError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

export function appendMessage(from: NodeId, to: NodeId, index: number, dataBytes = 16): Message {
  const data = new Uint8Array(dataBytes).fill(index % 251);
  return makeMessage({
    type: 'append', from, to, term: 7, logTerm: 6, index, commit: index - 1,
    entries: [{ term: 7, index: index + 1, type: 'normal', data }],
  });
}

export function snapshotMessage(from: NodeId, to: NodeId, dataBytes: number): Message {
  const data = new Uint8Array(dataBytes);
  for (let i = 0; i < data.length; i += 4096) data[i] = (i / 4096) % 256;
  return makeMessage({
    type: 'snapshot', from, to, term: 9,
    snapshot: {
      metadata: { index: 1000, term: 8, confState: { voters: [1, 2, 3], learners: [4], votersOutgoing: [], learnersNext: [], autoLeave: false } },
      data,
    },
  });
}

export function runTransportConformance(harness: ConformanceHarness): void {
  describe(`Transport conformance: ${harness.name}`, () => {
    afterEach(() => harness.cleanup());
    after(() => harness.cleanup());
    testMessages(harness);
    testRequests(harness);
    testShutdown(harness);
  });
}

function testMessages(harness: ConformanceHarness): void {
  test('delivers messages to one peer in order with every field intact', async () => {
    const [a, b] = await harness.cluster(2);
    const received: Message[] = [];
    b!.onMessage((message) => received.push(message));
    const sent: Message[] = [];
    for (let index = 1; index <= 500; index++) sent.push(appendMessage(1, 2, index));
    sent.push(makeMessage({ type: 'heartbeat', from: 1, to: 2, term: 7, commit: 3, context: new Uint8Array([1, 2]) }));
    sent.push(makeMessage({ type: 'append-response', from: 1, to: 2, term: 2 ** 40, index: 2 ** 53 - 1, reject: true, rejectHint: 5 }));
    sent.push(snapshotMessage(1, 2, 100_000));
    for (const message of sent) a!.send(message);
    await waitFor(() => received.length === sent.length, `${sent.length} messages`);
    assert.deepEqual(received, sent);
    assert.ok(received[0]!.entries[0]!.data instanceof Uint8Array);
    assert.equal(received[0]!.entries[0]!.data.constructor, Uint8Array, 'binaries arrive as plain Uint8Array');
    const stats = a!.stats().peers.find((peer) => peer.peerId === 2)!;
    assert.equal(stats.messagesSent, sent.length);
    await waitFor(() => b!.stats().peers.find((peer) => peer.peerId === 1)?.messagesReceived === sent.length, 'receive counters');
  });

  test('reports a peer without an address as unreachable, a dropped snapshot as failed, and never throws', async () => {
    const [a] = await harness.cluster(2);
    const unreachable: NodeId[] = [];
    const snapshotStatus: string[] = [];
    a!.onUnreachable((peerId) => unreachable.push(peerId));
    a!.onSnapshotStatus((peerId, status) => snapshotStatus.push(`${peerId}:${status}`));
    a!.send(appendMessage(1, 9, 1));
    a!.send(snapshotMessage(1, 9, 10));
    assert.deepEqual(unreachable, [9, 9]);
    assert.deepEqual(snapshotStatus, ['9:failed']);
  });

  test('reports a delivered snapshot', async () => {
    const [a, b] = await harness.cluster(2);
    const statuses: string[] = [];
    a!.onSnapshotStatus((peerId, status) => statuses.push(`${peerId}:${status}`));
    let received = 0;
    b!.onMessage(() => received++);
    a!.send(snapshotMessage(1, 2, 1000));
    await waitFor(() => received === 1 && statuses.length === 1, 'the snapshot and its status');
    assert.deepEqual(statuses, ['2:delivered']);
  });
}

function testRequests(harness: ConformanceHarness): void {
  test('request and response round trip, with binaries', async () => {
    const [a, b] = await harness.cluster(2);
    b!.onRequest(async (payload, from) => ({ from, echo: payload }));
    const payload: PlainData = { op: 'put', key: 'k', value: new Uint8Array([1, 2, 3]), list: [1, 'two', null, true] };
    const response = await a!.request(2, payload, 2000);
    assert.deepEqual(response, { from: 1, echo: payload });
  });

  test('a failing handler becomes REMOTE_ERROR with the remote code', async () => {
    const [a, b] = await harness.cluster(2);
    b!.onRequest(async () => {
      throw Object.assign(new Error('not the leader'), { code: 'NOT_LEADER' });
    });
    await assert.rejects(a!.request(2, 'x', 2000), (error: unknown) => {
      assert.ok(isTransportError(error, 'REMOTE_ERROR'));
      assert.equal(error.remoteCode, 'NOT_LEADER');
      assert.match(error.message, /not the leader/);
      return true;
    });
  });

  test('a node without a handler answers NO_REQUEST_HANDLER', async () => {
    const [a] = await harness.cluster(2);
    await assert.rejects(a!.request(2, 1, 2000), (error: unknown) => isTransportError(error, 'REMOTE_ERROR') && error.remoteCode === 'NO_REQUEST_HANDLER');
  });

  test('timeouts, unknown peers, bad payloads and the outstanding bound are typed errors', async () => {
    const [a, b] = await harness.cluster(2, { maxOutstandingRequests: 2 });
    b!.onRequest(() => new Promise(() => {}));
    await assertRejects(a!.request(2, 'slow', 30), 'REQUEST_TIMEOUT');
    await assertRejects(a!.request(5, 'nobody', 1000), 'PEER_UNKNOWN');
    await assertRejects(a!.request(2, new Map() as unknown as PlainData, 1000), 'ENCODE_FAILED');
    const first = a!.request(2, 1, 200);
    const second = a!.request(2, 2, 200);
    await assertRejects(a!.request(2, 3, 200), 'TOO_MANY_REQUESTS');
    await assertRejects(first, 'REQUEST_TIMEOUT');
    await assertRejects(second, 'REQUEST_TIMEOUT');
  });

  test('removing a peer fails its requests with PEER_REMOVED', async () => {
    const [a, b] = await harness.cluster(2);
    b!.onRequest(() => new Promise(() => {}));
    const pending = a!.request(2, 'x', 5000);
    await new Promise((resolve) => setTimeout(resolve, 10));
    a!.removePeer(2);
    await assertRejects(pending, 'PEER_REMOVED');
  });
}

function testShutdown(harness: ConformanceHarness): void {
  test('stop() rejects pending requests; afterwards send is a no-op and request rejects', async () => {
    const [a, b] = await harness.cluster(2);
    b!.onRequest(() => new Promise(() => {}));
    const pending = a!.request(2, 'x', 5000);
    await new Promise((resolve) => setTimeout(resolve, 10));
    await a!.stop();
    await assertRejects(pending, 'TRANSPORT_STOPPED');
    a!.send(appendMessage(1, 2, 1));
    await assertRejects(a!.request(2, 'y', 100), 'TRANSPORT_STOPPED');
    await a!.stop();
  });
}
