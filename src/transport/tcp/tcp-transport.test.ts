// The TCP transport on loopback with ephemeral ports. Every test stops what it started (the
// afterEach hook), so the process exits with no socket or timer left behind.
import assert from 'node:assert/strict';
import { connect, createServer } from 'node:net';
import type { Socket } from 'node:net';
import { afterEach, describe, test } from 'node:test';
import fc from 'fast-check';
import { makeMessage } from '../../core/raft/types.ts';
import type { Message, NodeId } from '../../core/raft/types.ts';
import { packFrame } from '../codec/msgpack.ts';
import { messageArbitrary } from '../testing/arbitraries.ts';
import { appendMessage, assertRejects, runTransportConformance, snapshotMessage, waitFor } from '../testing/conformance.ts';
import type { TransportClock, TransportLogger } from '../types.ts';
import { FrameReader } from './frame-reader.ts';
import { decodeFrame, encodeChallenge, encodeHello, encodeProof, encodeRaft, encodeSnapshotPart, encodeWelcome } from './frames.ts';
import type { Frame } from './frames.ts';
import { computeProof, newNonce } from './handshake.ts';
import type { TcpTransportOptions } from './options.ts';
import { TcpTransport } from './tcp-transport.ts';

interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

function captureLogger(): { logger: TransportLogger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = (level: LogLine['level']) => (fields: object, message: string) => void lines.push({ level, fields: fields as Record<string, unknown>, message });
  return { lines, logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') } };
}

let transports: TcpTransport[] = [];
let sockets: Socket[] = [];
let closers: (() => Promise<void>)[] = [];

const FAST: Partial<TcpTransportOptions> = { backoffInitialMs: 5, backoffMaxMs: 40, handshakeTimeoutMs: 2000 };

async function node(nodeId: NodeId, options: Partial<TcpTransportOptions> = {}): Promise<TcpTransport> {
  const transport = new TcpTransport({ nodeId, clusterId: 'test-cluster', clusterSecret: 'secret', ...FAST, ...options });
  transports.push(transport);
  await transport.start();
  return transport;
}

function addressOf(transport: TcpTransport): string {
  return `127.0.0.1:${transport.listenAddress()!.port}`;
}

async function cleanup(): Promise<void> {
  for (const socket of sockets) socket.destroy();
  await Promise.all(closers.map((close) => close()));
  closers = [];
  await Promise.all(transports.map((transport) => transport.stop()));
  transports = [];
  sockets = [];
}

runTransportConformance({
  name: 'tcp',
  async cluster(count, options = {}) {
    const created: TcpTransport[] = [];
    for (let id = 1; id <= count; id++) created.push(await node(id, options));
    for (const transport of created) {
      for (const other of created) if (other !== transport) transport.setPeer(other.localId, addressOf(other));
    }
    return created;
  },
  cleanup,
});

function collect(transport: TcpTransport): Message[] {
  const received: Message[] = [];
  transport.onMessage((message) => received.push(message));
  return received;
}

function peerStats(transport: TcpTransport, peerId: NodeId) {
  return transport.stats().peers.find((peer) => peer.peerId === peerId)!;
}

/** A port nobody listens on (bound, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('TcpTransport delivery', () => {
  afterEach(cleanup);

  test('10,000 messages arrive in order', async () => {
    const a = await node(1);
    const b = await node(2);
    const received = collect(b);
    a.setPeer(2, addressOf(b));
    // Sent in bursts, each after the queue has drained below half its bound, as Raft's flow
    // control would: a single burst of 10,000 would (correctly) overflow the 4096-message queue.
    for (let index = 1; index <= 10_000; index++) {
      a.send(appendMessage(1, 2, index, 128));
      if (index % 1000 === 0) await waitFor(() => peerStats(a, 2).queueDepthMessages < 2048, 'the queue to drain');
    }
    await waitFor(() => received.length === 10_000, '10,000 messages', 20_000);
    received.forEach((message, i) => assert.equal(message.index, i + 1));
    assert.deepEqual(received[9_999], appendMessage(1, 2, 10_000, 128));
    assert.equal(peerStats(a, 2).messagesDropped, 0);
  });

  test('a node that does not know a peer\'s address answers it on the connection the peer opened', async () => {
    const a = await node(1);
    const b = await node(2);
    const atA = collect(a);
    const atB = collect(b);
    a.setPeer(2, addressOf(b)); // b knows nothing of a (a lagging member, a newcomer)
    a.send(appendMessage(1, 2, 1));
    await waitFor(() => atB.length === 1, 'a to reach b');
    b.send(appendMessage(2, 1, 7));
    b.send(appendMessage(2, 1, 8));
    await waitFor(() => atA.length === 2, 'b\'s answers over a\'s connection');
    assert.deepEqual(atA.map((message) => message.index), [7, 8]);
    assert.equal(peerStats(b, 1).messagesDropped, 0);
    // Without any connection from the peer, the message is still dropped (and reported).
    const c = await node(3);
    const unreachable: NodeId[] = [];
    c.onUnreachable((peerId) => unreachable.push(peerId));
    c.send(appendMessage(3, 1, 1));
    assert.deepEqual(unreachable, [1]);
  });

  test('an 8 MiB snapshot makes the round trip intact', async () => {
    const a = await node(1);
    const b = await node(2);
    const received = collect(b);
    const statuses: string[] = [];
    a.onSnapshotStatus((peerId, status) => statuses.push(`${peerId}:${status}`));
    a.setPeer(2, addressOf(b));
    const snapshot = snapshotMessage(1, 2, 8 * 1024 * 1024);
    a.send(snapshot);
    a.send(appendMessage(1, 2, 1));
    await waitFor(() => received.length === 2, 'the snapshot', 20_000);
    assert.deepEqual(received[0], snapshot);
    assert.equal(received[1]!.index, 1);
    assert.deepEqual(statuses, ['2:delivered']);
  });

  test('a snapshot far larger than a frame travels in parts, between its neighbours, and arrives whole', async () => {
    const small = { maxFrameBytes: 64 * 1024 };
    const a = await node(1, small);
    const b = await node(2, small);
    const received = collect(b);
    const statuses: string[] = [];
    a.onSnapshotStatus((_peerId, status) => statuses.push(status));
    a.setPeer(2, addressOf(b));
    const snapshot = snapshotMessage(1, 2, 3 * 1024 * 1024 + 17);
    a.send(appendMessage(1, 2, 1));
    a.send(snapshot);
    a.send(appendMessage(1, 2, 2));
    await waitFor(() => received.length === 3, 'the three messages', 20_000);
    assert.deepEqual(received.map((message) => message.type), ['append', 'snapshot', 'append']);
    assert.deepEqual(received[1], snapshot);
    assert.deepEqual(statuses, ['delivered']);
    assert.ok(peerStats(b, 1).bytesReceived > 3 * 1024 * 1024);
  });

  test('a peer of protocol version 1 is sent a snapshot as one frame', async () => {
    const listener = await recordingListener(1);
    const a = await node(1, { snapshotPartBytes: 1000 });
    const statuses: string[] = [];
    a.onSnapshotStatus((_peerId, status) => statuses.push(status));
    a.setPeer(2, `127.0.0.1:${listener.port}`);
    const snapshot = snapshotMessage(1, 2, 10_000);
    // Queued in parts before the handshake told the version: failed, for the leader to send again.
    a.send(snapshot);
    await waitFor(() => peerStats(a, 2).state === 'connected', 'the handshake');
    assert.deepEqual(statuses, ['failed']);
    a.send(snapshot);
    await waitFor(() => listener.frames.length === 1, 'the snapshot');
    assert.deepEqual(listener.frames[0], { kind: 'raft', message: snapshot });
    await waitFor(() => statuses.length === 2, 'its status');
    assert.deepEqual(statuses, ['failed', 'delivered']);
  });

  test('a connection lost in the middle of a snapshot fails it; the next connection starts clean', async () => {
    const listener = await recordingListener(2, { closeOnFirstPart: true });
    const a = await node(1, { snapshotPartBytes: 1000 });
    const statuses: string[] = [];
    a.onSnapshotStatus((_peerId, status) => statuses.push(status));
    a.setPeer(2, `127.0.0.1:${listener.port}`);
    await waitFor(() => peerStats(a, 2).state === 'connected', 'the handshake');
    a.send(snapshotMessage(1, 2, 4 * 1024 * 1024));
    await waitFor(() => statuses.length === 1, 'the snapshot status');
    assert.deepEqual(statuses, ['failed']);
    assert.equal(peerStats(a, 2).queueDepthMessages, 0);
    await waitFor(() => peerStats(a, 2).state === 'connected' && listener.connections === 2, 'the next connection');
    a.send(appendMessage(1, 2, 5));
    await waitFor(() => listener.frames.some((frame) => frame.kind === 'raft'), 'the append');
    const afterReconnect = listener.frames.slice(listener.frames.findIndex((frame) => frame.kind === 'raft'));
    assert.deepEqual(afterReconnect.map((frame) => frame.kind), ['raft']);
  });

  test('reconnects after the listener restarts, reporting the loss once', async () => {
    const a = await node(1);
    const b = await node(2);
    const port = b.listenAddress()!.port;
    collect(b);
    const unreachable: NodeId[] = [];
    const states: string[] = [];
    a.onUnreachable((peerId) => unreachable.push(peerId));
    a.onPeerState((_peerId, state) => states.push(state));
    a.setPeer(2, addressOf(b));
    await waitFor(() => peerStats(a, 2).state === 'connected', 'the first connection');
    await b.stop();
    await waitFor(() => peerStats(a, 2).connectAttempts >= 3, 'a few failed attempts');
    assert.deepEqual(unreachable, [2]);
    const restarted = await node(2, { listenPort: port });
    const received = collect(restarted);
    a.send(appendMessage(1, 2, 42));
    await waitFor(() => received.length === 1, 'delivery to the restarted node');
    assert.equal(received[0]!.index, 42);
    assert.equal(peerStats(a, 2).connectionsEstablished, 2);
    assert.equal(states[0], 'connected');
    assert.ok(states.includes('disconnected'));
    assert.equal(states.at(-1), 'connected');
  });

  test('a changed address moves the link to the new node', async () => {
    const a = await node(1);
    const first = await node(2);
    const second = await node(2);
    const atFirst = collect(first);
    const atSecond = collect(second);
    a.setPeer(2, addressOf(first));
    a.send(appendMessage(1, 2, 1));
    await waitFor(() => atFirst.length === 1, 'delivery to the first address');
    a.setPeer(2, addressOf(second));
    a.send(appendMessage(1, 2, 2));
    await waitFor(() => atSecond.length === 1, 'delivery to the second address');
    assert.equal(atSecond[0]!.index, 2);
    assert.equal(atFirst.length, 1);
  });
});

describe('TcpTransport bounds and failures', () => {
  afterEach(cleanup);

  test('the queue to a down peer is bounded: drops are counted and reported once, the rest is delivered later', async () => {
    const port = await freePort();
    const a = await node(1, { maxQueueMessages: 5 });
    const unreachable: NodeId[] = [];
    a.onUnreachable((peerId) => unreachable.push(peerId));
    a.setPeer(2, `127.0.0.1:${port}`);
    for (let index = 1; index <= 12; index++) a.send(appendMessage(1, 2, index));
    let stats = peerStats(a, 2);
    assert.equal(stats.queueDepthMessages, 5);
    assert.equal(stats.messagesDropped, 7);
    assert.deepEqual(unreachable, [2]);
    await waitFor(() => peerStats(a, 2).state === 'disconnected', 'a failed attempt');
    await assertRejects(a.request(2, 'x', 1000), 'PEER_UNREACHABLE');
    const b = await node(2, { listenPort: port });
    const received = collect(b);
    await waitFor(() => received.length === 5, 'the queued messages');
    assert.deepEqual(received.map((message) => message.index), [1, 2, 3, 4, 5]);
    stats = peerStats(a, 2);
    assert.equal(stats.queueDepthMessages, 0);
    assert.equal(stats.queueDepthBytes, 0);
  });

  test('the byte bound drops too, but an empty queue admits one large message', async () => {
    const a = await node(1, { maxQueueBytes: 4096 });
    a.setPeer(2, `127.0.0.1:${await freePort()}`);
    a.send(snapshotMessage(1, 2, 100_000));
    a.send(appendMessage(1, 2, 1, 10));
    const stats = peerStats(a, 2);
    assert.equal(stats.queueDepthMessages, 1);
    assert.equal(stats.messagesDropped, 1);
    assert.ok(stats.queueDepthBytes > 100_000);
  });

  test('a message larger than maxFrameBytes is dropped and logged once', async () => {
    const log = captureLogger();
    const a = await node(1, { maxFrameBytes: 64 * 1024, logger: log.logger });
    const b = await node(2);
    const received = collect(b);
    a.setPeer(2, addressOf(b));
    a.send(appendMessage(1, 2, 1, 100_000));
    a.send(appendMessage(1, 2, 2, 100_000));
    a.send(appendMessage(1, 2, 3));
    await waitFor(() => received.length === 1, 'the small message');
    assert.equal(received[0]!.index, 3);
    assert.equal(peerStats(a, 2).messagesDropped, 2);
    assert.equal(log.lines.filter((line) => line.level === 'error' && line.fields['code'] === 'FRAME_TOO_LARGE').length, 1);
  });

  test('a pending request fails fast when the connection closes', async () => {
    const a = await node(1);
    const b = await node(2);
    b.onRequest(() => new Promise(() => {}));
    a.setPeer(2, addressOf(b));
    const pending = a.request(2, 'x', 30_000);
    await waitFor(() => peerStats(b, 1)?.inboundConnected === true, 'the connection');
    const started = Date.now();
    await b.stop();
    await assertRejects(pending, 'CONNECTION_CLOSED');
    assert.ok(Date.now() - started < 5000);
  });

  test('a peer that stops reading is declared dead after the write stall timeout', async () => {
    const listener = await handshakingListener();
    const a = await node(1, { writeStallTimeoutMs: 300 });
    a.setPeer(2, `127.0.0.1:${listener.port}`);
    await waitFor(() => peerStats(a, 2).state === 'connected', 'the handshake');
    const unreachable: NodeId[] = [];
    a.onUnreachable((peerId) => unreachable.push(peerId));
    for (let index = 1; index <= 24; index++) a.send(snapshotMessage(1, 2, 1024 * 1024));
    await waitFor(() => peerStats(a, 2).lastError?.message.includes('accepted no data') === true, 'the stall to be noticed', 10_000);
    assert.ok(unreachable.includes(2));
    assert.ok(peerStats(a, 2).connectionsEstablished >= 1);
  });

  test('stop() with queued messages, pending requests and open connections leaves nothing running', async () => {
    const a = await node(1);
    const b = await node(2);
    b.onRequest(() => new Promise(() => {}));
    a.setPeer(2, addressOf(b));
    b.setPeer(1, addressOf(a));
    for (let index = 1; index <= 100; index++) a.send(appendMessage(1, 2, index));
    const pending = a.request(2, 'x', 30_000);
    await Promise.all([a.stop(), b.stop()]);
    await assertRejects(pending, 'TRANSPORT_STOPPED');
    assert.equal(a.stats().inboundConnections, 0);
    assert.equal(b.stats().inboundConnections, 0);
  });
});

describe('TcpTransport reconnect backoff (injected clock and random)', () => {
  afterEach(cleanup);

  interface FakeTimer { readonly callback: () => void; readonly delayMs: number; cancelled: boolean }

  test('delays grow exponentially with jitter, are capped, and reset after a successful handshake', async () => {
    const timers: FakeTimer[] = [];
    const clock: TransportClock = {
      now: () => 0,
      setTimer: (callback, delayMs) => {
        const timer = { callback, delayMs, cancelled: false };
        timers.push(timer);
        return timer;
      },
      clearTimer: (handle) => {
        if (handle !== undefined) (handle as FakeTimer).cancelled = true;
      },
    };
    const HANDSHAKE_MS = 60_000;
    const port = await freePort();
    const a = await node(1, { clock, random: () => 0.5, backoffInitialMs: 100, backoffMaxMs: 1000, handshakeTimeoutMs: HANDSHAKE_MS });
    a.setPeer(2, `127.0.0.1:${port}`);
    const backoffs = () => timers.filter((timer) => timer.delayMs !== HANDSHAKE_MS);
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 6; attempt++) {
      await waitFor(() => backoffs().length === attempt, `failure ${attempt}`);
      const timer = backoffs().at(-1)!;
      delays.push(timer.delayMs);
      assert.equal(peerStats(a, 2).connectAttempts, attempt, 'no attempt before the timer fires');
      timer.callback();
    }
    // ceiling = min(1000, 100 * 2^(n-1)); delay = ceiling * (0.5 + 0.5 * random)
    assert.deepEqual(delays, [75, 150, 300, 600, 750, 750]);
    const b = await node(2, { listenPort: port });
    await waitFor(() => backoffs().length === 7, 'the seventh failure');
    backoffs().at(-1)!.callback();
    await waitFor(() => peerStats(a, 2).state === 'connected', 'the connection');
    await b.stop();
    await waitFor(() => backoffs().length === 8, 'the failure after the connection');
    assert.equal(backoffs().at(-1)!.delayMs, 75, 'backoff restarts after a successful handshake');
  });

  test('a peer that connects to us is dialed at once, not after the rest of a long backoff', async () => {
    const port = await freePort();
    const a = await node(1, { backoffInitialMs: 60_000, backoffMaxMs: 60_000 });
    a.setPeer(2, `127.0.0.1:${port}`);
    await waitFor(() => peerStats(a, 2).state === 'disconnected', 'the first failure (next try in 30-60 s)');
    const b = await node(2, { listenPort: port });
    const received = collect(b);
    b.setPeer(1, addressOf(a));
    await waitFor(() => peerStats(a, 2).state === 'connected', 'the link to the peer that connected to us', 5000);
    a.send(appendMessage(1, 2, 7));
    await waitFor(() => received.length === 1, 'delivery on the new link');
    assert.equal(peerStats(a, 2).connectAttempts, 2, 'one failed attempt, then one prompted by the inbound connection');
  });
});

describe('TcpTransport handshake', () => {
  afterEach(cleanup);

  async function refusedTwice(code: string, dialer: Partial<TcpTransportOptions>, listener: Partial<TcpTransportOptions>, listenerId = 2) {
    const dialerLog = captureLogger();
    const listenerLog = captureLogger();
    const b = await node(listenerId, { ...listener, logger: listenerLog.logger });
    const a = await node(1, { ...dialer, logger: dialerLog.logger });
    const received = collect(b);
    a.setPeer(2, addressOf(b));
    a.send(appendMessage(1, 2, 1));
    await waitFor(() => peerStats(a, 2).connectAttempts >= 5 && peerStats(a, 2).state === 'refused', 'several attempts');
    const stats = peerStats(a, 2);
    assert.equal(stats.state, 'refused');
    assert.equal(stats.connectionsEstablished, 0);
    assert.equal(stats.lastError?.code, code);
    assert.equal(received.length, 0);
    const warnings = (lines: LogLine[]) => lines.filter((line) => line.level === 'warn' && line.fields['code'] === code);
    assert.equal(warnings(dialerLog.lines).length, 1, `the dialer logs ${code} once: ${JSON.stringify(dialerLog.lines)}`);
    assert.equal(warnings(listenerLog.lines).length, 1, `the listener logs ${code} once`);
    assert.ok(b.stats().connectionsRejected >= 5);
    return { a, b };
  }

  test('a wrong secret is refused and logged once per side over many retries', async () => {
    await refusedTwice('HANDSHAKE_AUTH_FAILED', { clusterSecret: 'wrong' }, {});
  });

  test('a wrong cluster id is refused', async () => {
    await refusedTwice('HANDSHAKE_CLUSTER_MISMATCH', { clusterId: 'other-cluster' }, {});
  });

  test('a node that is not the expected one refuses', async () => {
    await refusedTwice('HANDSHAKE_WRONG_NODE', {}, {}, 3);
  });

  test('a silent connection is closed after the handshake timeout', async () => {
    const b = await node(2, { handshakeTimeoutMs: 100 });
    const socket = await rawConnect(b);
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.resume(); // read (and discard) the refusal, so the end of the stream is seen
    await closed;
    await waitFor(() => b.stats().inboundConnections === 0, 'the server side to close');
    assert.equal(b.stats().connectionsRejected, 1);
  });

  test('a recorded handshake cannot be replayed (the listener nonce differs each time)', async () => {
    const b = await node(2);
    const first = await rawHandshake(b, { secret: 'secret' });
    const second = await rawConnect(b);
    const nonce = newNonce();
    second.write(encodeHello({ versionMin: 1, versionMax: 1, clusterId: 'test-cluster', from: 1, to: 2, nonce }));
    const reader = new FrameReader(4096);
    await nextFrame(second, reader); // challenge with a fresh listener nonce
    second.write(encodeProof(first.proof)); // the proof recorded on the first connection
    const answer = await nextFrame(second, reader);
    assert.equal(answer.kind, 'refused');
    assert.equal(answer.kind === 'refused' && answer.code, 'HANDSHAKE_AUTH_FAILED');
  });
});

describe('TcpTransport malformed input', () => {
  afterEach(cleanup);

  async function closesWith(payload: (socket: Socket) => void, code: string): Promise<void> {
    const log = captureLogger();
    const b = await node(2, { logger: log.logger, maxFrameBytes: 1024 * 1024 });
    const received = collect(b);
    const { socket } = await rawHandshake(b, { secret: 'secret' });
    const closed = new Promise((resolve) => socket.once('close', resolve));
    payload(socket);
    await closed;
    assert.equal(log.lines.filter((line) => line.level === 'warn' && line.fields['code'] === code).length, 1, JSON.stringify(log.lines));
    // The node keeps running and accepts others.
    const a = await node(1);
    a.setPeer(2, addressOf(b));
    a.send(appendMessage(1, 2, 7));
    await waitFor(() => received.length === 1, 'a message from a well-behaved peer');
    assert.equal(received[0]!.index, 7);
  }

  test('an oversized frame closes that connection only', async () => {
    await closesWith((socket) => socket.write(Buffer.from([0x7f, 0xff, 0xff, 0xff])), 'FRAME_TOO_LARGE');
  });

  test('bad msgpack closes that connection only', async () => {
    await closesWith((socket) => socket.write(Buffer.from([0, 0, 0, 2, 0xc1, 0xc1])), 'FRAME_MALFORMED');
  });

  test('a message claiming another sender closes that connection only', async () => {
    await closesWith((socket) => socket.write(encodeRaft(makeMessage({ type: 'heartbeat', from: 3, to: 2, term: 1 }))), 'MESSAGE_WRONG_SENDER');
  });

  test('snapshot parts out of order close that connection only', async () => {
    await closesWith((socket) => {
      socket.write(encodeSnapshotPart(100, 0, new Uint8Array(10)));
      socket.write(encodeSnapshotPart(100, 50, new Uint8Array(10)));
    }, 'FRAME_MALFORMED');
  });

  test('a snapshot larger than maxSnapshotBytes closes that connection only', async () => {
    await closesWith((socket) => socket.write(encodeSnapshotPart(2 ** 40, 0, new Uint8Array(10))), 'FRAME_TOO_LARGE');
  });

  test('a snapshot message before all its parts closes that connection only', async () => {
    await closesWith((socket) => {
      socket.write(encodeSnapshotPart(100, 0, new Uint8Array(10)));
      socket.write(encodeRaft({ ...snapshotMessage(1, 2, 0), from: 1, to: 2 }));
    }, 'FRAME_MALFORMED');
  });

  test('a message of the wrong shape closes that connection only', async () => {
    await closesWith((socket) => socket.write(packFrame([1, 0, 1, 2, 'term', 0, 0, [], 0, false, 0, null, null])), 'MESSAGE_INVALID');
  });

  test('fuzz: random bytes after an authenticated handshake never take the node down', async () => {
    const b = await node(2, { maxFrameBytes: 1024 * 1024 });
    const received = collect(b);
    const inputs = fc.sample(fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 200 }),
      messageArbitrary.map((message) => {
        const frame = Uint8Array.from(encodeRaft({ ...message, from: 1, to: 2 }));
        frame[4 + (frame.length % Math.max(1, frame.length - 4))] ^= 0x5a;
        return frame;
      }),
    ), { numRuns: 25, seed: 7 });
    for (const input of inputs) {
      const { socket } = await rawHandshake(b, { secret: 'secret' });
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.resume();
      socket.write(input);
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 20))]);
      socket.destroy();
    }
    const a = await node(1);
    a.setPeer(2, addressOf(b));
    a.send(appendMessage(1, 2, 99));
    await waitFor(() => received.some((message) => message.index === 99), 'a message from a well-behaved peer');
    for (const message of received) assert.equal(message.from, 1);
  });

  test('garbage instead of a handshake is refused', async () => {
    const log = captureLogger();
    const b = await node(2, { logger: log.logger });
    const socket = await rawConnect(b);
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.resume();
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await closed;
    assert.equal(log.lines.filter((line) => line.level === 'warn').length, 1);
    assert.equal(b.stats().connectionsRejected, 1);
  });
});

async function rawConnect(transport: TcpTransport): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port: transport.listenAddress()!.port });
  sockets.push(socket);
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('connect', resolve));
  return socket;
}

function nextFrame(socket: Socket, reader: FrameReader) {
  return new Promise<ReturnType<typeof decodeFrame>>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      reader.push(chunk, (payload) => {
        socket.off('data', onData);
        resolve(decodeFrame(payload, { peerId: 2, localId: 1, limits: { maxEntriesPerMessage: 10 } }));
        return false;
      });
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error('closed before a frame')));
  });
}

/** A listener that completes the handshake as node 2 and then never reads again. */
async function handshakingListener(): Promise<{ port: number }> {
  const open: Socket[] = [];
  const server = createServer((socket) => {
    open.push(socket);
    socket.on('error', () => {});
    const reader = new FrameReader(4096);
    let transcript: Parameters<typeof computeProof>[2] | undefined;
    const onData = (chunk: Buffer) => reader.push(chunk, (payload) => {
      const frame = decodeFrame(payload, { peerId: 0, localId: 2, limits: { maxEntriesPerMessage: 10 } });
      if (frame.kind === 'hello') {
        transcript = { version: 1, clusterId: 'test-cluster', dialerId: frame.from, listenerId: 2, dialerNonce: frame.nonce, listenerNonce: newNonce() };
        socket.write(encodeChallenge(1, transcript.listenerNonce));
      } else if (frame.kind === 'proof' && transcript !== undefined) {
        socket.write(encodeWelcome(computeProof(new TextEncoder().encode('secret'), 'listener', transcript)));
        socket.off('data', onData);
        socket.pause();
        return false;
      }
      return true;
    });
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  closers.push(async () => {
    for (const socket of open) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port };
}

/** Performs the dialer's side of the handshake by hand, as node 1, and returns the open socket. */
/**
 * A stand-in peer 2 speaking protocol `version`: it completes the handshake, then records the
 * frames it is sent. `closeOnFirstPart`: its first connection closes on the first snapshot part.
 */
async function recordingListener(version: number, options: { closeOnFirstPart?: boolean } = {}): Promise<{ port: number; frames: Frame[]; connections: number }> {
  const open: Socket[] = [];
  const result = { port: 0, frames: [] as Frame[], connections: 0 };
  const server = createServer((socket) => {
    open.push(socket);
    const connection = ++result.connections;
    socket.on('error', () => {});
    const reader = new FrameReader(64 * 1024 * 1024);
    let transcript: Parameters<typeof computeProof>[2] | undefined;
    socket.on('data', (chunk: Buffer) => reader.push(chunk, (payload) => {
      const frame = decodeFrame(payload, { peerId: transcript?.dialerId ?? 0, localId: 2, limits: { maxEntriesPerMessage: 10 } });
      if (frame.kind === 'hello') {
        transcript = { version, clusterId: 'test-cluster', dialerId: frame.from, listenerId: 2, dialerNonce: frame.nonce, listenerNonce: newNonce() };
        socket.write(encodeChallenge(version, transcript.listenerNonce));
      } else if (frame.kind === 'proof' && transcript !== undefined) {
        socket.write(encodeWelcome(computeProof(new TextEncoder().encode('secret'), 'listener', transcript)));
      } else if (frame.kind === 'snapshot-part' && options.closeOnFirstPart === true && connection === 1) {
        socket.destroy();
        return false;
      } else {
        result.frames.push(frame);
      }
      return true;
    }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  result.port = (server.address() as { port: number }).port;
  closers.push(async () => {
    for (const socket of open) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return result;
}

async function rawHandshake(transport: TcpTransport, options: { secret: string }): Promise<{ socket: Socket; proof: Uint8Array }> {
  const socket = await rawConnect(transport);
  const reader = new FrameReader(4096);
  const dialerNonce = newNonce();
  socket.write(encodeHello({ versionMin: 1, versionMax: 1, clusterId: 'test-cluster', from: 1, to: 2, nonce: dialerNonce }));
  const challenge = await nextFrame(socket, reader);
  assert.equal(challenge.kind, 'challenge');
  if (challenge.kind !== 'challenge') throw new Error('unreachable');
  const transcript = { version: 1, clusterId: 'test-cluster', dialerId: 1, listenerId: 2, dialerNonce, listenerNonce: challenge.nonce };
  const proof = computeProof(new TextEncoder().encode(options.secret), 'dialer', transcript);
  socket.write(encodeProof(proof));
  const welcome = await nextFrame(socket, reader);
  assert.equal(welcome.kind, 'welcome');
  return { socket, proof };
}
