import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { makeMessage } from '../../core/raft/types.ts';
import type { Message, NodeId } from '../../core/raft/types.ts';
import { appendMessage, assertRejects, runTransportConformance, waitFor } from '../testing/conformance.ts';
import type { Transport } from '../types.ts';
import { MemoryNetwork } from './memory-network.ts';
import type { MemoryNetworkOptions } from './memory-network.ts';
import type { MemoryTransport } from './memory-transport.ts';

let networks: MemoryNetwork[] = [];
let transports: Transport[] = [];

async function cluster(count: number, options: MemoryNetworkOptions & { maxOutstandingRequests?: number } = {}): Promise<MemoryTransport[]> {
  const network = new MemoryNetwork(options);
  networks.push(network);
  const created: MemoryTransport[] = [];
  for (let id = 1; id <= count; id++) created.push(network.createTransport(id, { maxOutstandingRequests: options.maxOutstandingRequests }));
  for (const transport of created) {
    for (const other of created) if (other !== transport) transport.setPeer(other.localId, `memory:${other.localId}`);
    await transport.start();
  }
  transports.push(...created);
  return created;
}

async function cleanup(): Promise<void> {
  await Promise.all(transports.map((transport) => transport.stop()));
  for (const network of networks) network.close();
  transports = [];
  networks = [];
}

runTransportConformance({ name: 'memory', cluster: (count, options) => cluster(count, options), cleanup });

function collect(transport: Transport): Message[] {
  const received: Message[] = [];
  transport.onMessage((message) => received.push(message));
  return received;
}

/** The network of the cluster made last. */
function network(): MemoryNetwork {
  return networks.at(-1)!;
}

describe('MemoryNetwork', () => {
  afterEach(cleanup);
  test('manual delivery: nothing moves until deliver(), then everything in send order', async () => {
    const [a, b, c] = await cluster(3, { autoDeliver: false });
    const atB = collect(b!);
    const atC = collect(c!);
    a!.send(appendMessage(1, 2, 1));
    a!.send(appendMessage(1, 3, 2));
    a!.send(appendMessage(1, 2, 3));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(atB.length, 0);
    assert.equal(b!.stats().peers.find((peer) => peer.peerId === 1)!.messagesReceived, 0);
    assert.equal(network().deliver(), 3);
    assert.deepEqual(atB.map((message) => message.index), [1, 3]);
    assert.deepEqual(atC.map((message) => message.index), [2]);
  });

  test('a reply sent from a handler is delivered in a later round, never inside the sender', async () => {
    const [a, b] = await cluster(2, { autoDeliver: false });
    const atA = collect(a!);
    b!.onMessage((message) => b!.send(makeMessage({ type: 'heartbeat-response', from: 2, to: 1, term: message.term })));
    a!.send(makeMessage({ type: 'heartbeat', from: 1, to: 2, term: 4 }));
    assert.equal(network().deliver(), 1);
    assert.equal(atA.length, 0);
    assert.equal(network().deliverAll(), 1);
    assert.equal(atA[0]!.type, 'heartbeat-response');
  });

  test('a partition drops sends with one unreachable report per peer, fails requests fast, and heals', async () => {
    const [a, b, c] = await cluster(3);
    const atB = collect(b!);
    const unreachable: NodeId[] = [];
    const states: string[] = [];
    a!.onUnreachable((peerId) => unreachable.push(peerId));
    a!.onPeerState((peerId, state) => states.push(`${peerId}:${state}`));
    b!.onRequest(() => new Promise(() => {}));
    const pending = a!.request(2, 'x', 5000);
    network().partition([1], [2, 3]);
    await assertRejects(pending, 'CONNECTION_CLOSED');
    assert.deepEqual(unreachable, [2, 3]);
    for (let index = 1; index <= 5; index++) a!.send(appendMessage(1, 2, index));
    assert.deepEqual(unreachable, [2, 3], 'repeated drops are reported once');
    assert.equal(a!.stats().peers.find((peer) => peer.peerId === 2)!.messagesDropped, 5);
    await assertRejects(a!.request(2, 'y', 1000), 'PEER_UNREACHABLE');
    network().heal();
    a!.send(appendMessage(1, 2, 6));
    await waitFor(() => atB.length === 1, 'delivery after healing');
    assert.equal(atB[0]!.index, 6);
    assert.deepEqual(states, ['2:disconnected', '3:disconnected', '2:connected', '3:connected']);
    void c;
  });

  test('the drop filter loses messages silently; a delayed link keeps its order', async () => {
    const [a, b] = await cluster(2);
    const atB = collect(b!);
    const unreachable: NodeId[] = [];
    a!.onUnreachable((peerId) => unreachable.push(peerId));
    network().setDropFilter((message) => message.index % 2 === 0);
    for (let index = 1; index <= 6; index++) a!.send(appendMessage(1, 2, index));
    await waitFor(() => atB.length === 3, 'the odd messages');
    assert.deepEqual(atB.map((message) => message.index), [1, 3, 5]);
    assert.deepEqual(unreachable, []);
    network().setDropFilter(undefined);
    network().setDelay(1, 2, 20);
    a!.send(appendMessage(1, 2, 7));
    network().setDelay(1, 2, 0);
    a!.send(appendMessage(1, 2, 8));
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(atB.length, 3, 'an undelayed message does not overtake a delayed one');
    await waitFor(() => atB.length === 5, 'the delayed messages');
    assert.deepEqual(atB.slice(3).map((message) => message.index), [7, 8]);
  });

  test('the in-flight bound drops and reports unreachable', async () => {
    const [a, b] = await cluster(2, { autoDeliver: false, maxQueueMessages: 3 });
    const atB = collect(b!);
    const unreachable: NodeId[] = [];
    a!.onUnreachable((peerId) => unreachable.push(peerId));
    for (let index = 1; index <= 5; index++) a!.send(appendMessage(1, 2, index));
    assert.deepEqual(unreachable, [2]);
    network().deliverAll();
    assert.deepEqual(atB.map((message) => message.index), [1, 2, 3]);
  });

  test('with encoding on, a message that would not survive the wire fails at the receiver', async () => {
    const [a, b] = await cluster(2, { autoDeliver: false });
    collect(b!);
    const bad = { ...appendMessage(1, 2, 1), term: -1 };
    a!.send(bad);
    assert.throws(() => network().deliver(), /message.term/);
  });
});
