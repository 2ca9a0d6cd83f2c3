import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { CleanupRegistry } from '../cleanup.ts';
import { FaultTimeline } from '../fault-timeline.ts';
import { isolate, oneWay, splitMinorities } from './partition-shapes.ts';
import { ProxyMesh } from './proxy-mesh.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A stand-in for a Cairn node's transport: listens for peers, dials each peer once (through the
 * mesh address it is given), sends "from:seq" lines every 10 ms and reconnects after 20 ms when a
 * connection dies. Records when it last heard from each peer.
 */
class FakeNode {
  readonly id: number;
  readonly lastHeard = new Map<number, number>();
  readonly #server: Server;
  readonly #inbound = new Set<Socket>();
  readonly #outbound = new Map<number, Socket>();
  #targets = new Map<number, string>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #seq = 0;
  #stopped = false;

  private constructor(id: number, server: Server) {
    this.id = id;
    this.#server = server;
  }

  static async start(id: number): Promise<FakeNode> {
    let node: FakeNode | undefined;
    const server = createServer((socket) => node!.#accept(socket));
    node = new FakeNode(id, server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return node;
  }

  get address(): string {
    return `127.0.0.1:${(this.#server.address() as { port: number }).port}`;
  }

  run(targets: Map<number, string>): void {
    this.#targets = targets;
    for (const peer of targets.keys()) this.#dial(peer);
    this.#timer = setInterval(() => {
      this.#seq++;
      for (const socket of this.#outbound.values()) if (!socket.connecting) socket.write(`${this.id}:${this.#seq}\n`);
    }, 10);
  }

  heardWithin(peer: number, ms: number): boolean {
    return performance.now() - (this.lastHeard.get(peer) ?? -Infinity) <= ms;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const socket of [...this.#outbound.values(), ...this.#inbound]) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #dial(peer: number): void {
    if (this.#stopped) return;
    const [host, port] = this.#targets.get(peer)!.split(':');
    const socket = connect({ host: host!, port: Number(port) });
    this.#outbound.set(peer, socket);
    socket.on('error', () => {});
    socket.on('data', () => {});
    socket.on('close', () => {
      this.#outbound.delete(peer);
      setTimeout(() => this.#dial(peer), 20);
    });
  }

  #accept(socket: Socket): void {
    this.#inbound.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => this.#inbound.delete(socket));
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        const from = Number(line.split(':')[0]);
        if (Number.isInteger(from) && from > 0) this.lastHeard.set(from, performance.now());
        else this.lastHeard.set(-1, performance.now()); // garbage: a broken stream
      }
    });
  }
}

async function withMesh(count: number, body: (mesh: ProxyMesh, nodes: FakeNode[]) => Promise<void>): Promise<void> {
  const registry = new CleanupRegistry();
  const nodes = await Promise.all(Array.from({ length: count }, (_, index) => FakeNode.start(index + 1)));
  const mesh = await ProxyMesh.create({ nodes: nodes.map((node) => ({ id: node.id, peerAddress: node.address })), seed: 3, cleanupRegistry: registry });
  try {
    for (const node of nodes) node.run(mesh.overridesFor(node.id));
    await waitFor(() => allHear(nodes, 100), 'full connectivity');
    await body(mesh, nodes);
  } finally {
    await mesh.stop();
    await Promise.all(nodes.map((node) => node.stop()));
    assert.equal(registry.size, 0, 'everything unregistered after stop');
  }
}

function allHear(nodes: readonly FakeNode[], ms: number): boolean {
  return nodes.every((node) => nodes.every((other) => other === node || node.heardWithin(other.id, ms)));
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

test('every directed pair has its own proxy, and the overrides name them', async () => {
  await withMesh(3, async (mesh) => {
    assert.equal(mesh.proxies().length, 6);
    const addresses = new Set(mesh.proxies().map((proxy) => proxy.address));
    assert.equal(addresses.size, 6);
    assert.equal(mesh.overrideSetting(1), `2=${mesh.addressFor(1, 2)},3=${mesh.addressFor(1, 3)}`);
    assert.throws(() => mesh.proxy(1, 1), /no proxy/);
  });
});

test('one-way partition: 1 stops hearing nothing, 2 and 3 stop hearing 1; heal restores every link', async () => {
  await withMesh(3, async (mesh, nodes) => {
    const [first, second, third] = nodes as [FakeNode, FakeNode, FakeNode];
    await mesh.applyPartition(oneWay([1], [2, 3]));
    await sleep(200);
    assert.ok(!second.heardWithin(1, 150) && !third.heardWithin(1, 150), 'traffic from 1 is dropped');
    assert.ok(first.heardWithin(2, 100) && first.heardWithin(3, 100), 'traffic to 1 still flows');
    assert.ok(second.heardWithin(3, 100), 'the rest of the cluster is untouched');
    await mesh.heal();
    await waitFor(() => allHear(nodes, 100), 'links after heal');
    assert.equal(nodes.some((node) => node.lastHeard.has(-1)), false, 'no broken stream was ever delivered');
  });
});

test('isolating a node and splitting into minorities cut the expected links', async () => {
  await withMesh(3, async (mesh, nodes) => {
    const [first, second, third] = nodes as [FakeNode, FakeNode, FakeNode];
    await mesh.applyPartition(isolate([1, 2, 3], 2));
    await sleep(200);
    assert.ok(!second.heardWithin(1, 150) && !second.heardWithin(3, 150));
    assert.ok(!first.heardWithin(2, 150) && !third.heardWithin(2, 150));
    assert.ok(first.heardWithin(3, 100) && third.heardWithin(1, 100));
    await mesh.applyPartition(splitMinorities([1, 2, 3]));
    await sleep(200);
    for (const node of nodes) for (const other of nodes) if (other !== node) assert.ok(!node.heardWithin(other.id, 150));
    await mesh.heal();
    await waitFor(() => allHear(nodes, 100), 'links after heal');
  });
});

test("refuse mode resets connections and refuses new ones until healed", async () => {
  await withMesh(3, async (mesh, nodes) => {
    await mesh.applyPartition(isolate([1, 2, 3], 3), 'refuse');
    assert.equal(mesh.proxy(1, 3).enabled, false);
    assert.equal(mesh.proxy(3, 1).enabled, false);
    assert.equal(mesh.proxy(1, 2).enabled, true);
    await sleep(200);
    assert.ok(!nodes[2]!.heardWithin(1, 150));
    assert.ok(mesh.proxy(1, 3).stats().connectionsActive === 0);
    await assert.rejects(mesh.applyPartition(oneWay([1], [2]), 'refuse'), /one-way/);
    await mesh.heal();
    await waitFor(() => allHear(nodes, 100), 'links after heal');
  });
});

test('link toxics apply to every flow: latency delays what each node hears', async () => {
  await withMesh(3, async (mesh, nodes) => {
    mesh.addLinkToxic({ name: 'slow', type: 'latency', latencyMs: 150 });
    assert.throws(() => mesh.addLinkToxic({ name: 'slow', type: 'latency', latencyMs: 1 }), /already/);
    assert.equal(mesh.proxy(2, 3).toxics().length, 2, 'upstream and downstream of each proxy');
    // Messages sent from now on arrive about 150 ms late, so node 2 hears nothing new from 1 for
    // about that long: look for the longest silence in 400 ms (about 10 ms without the toxic).
    const heard: number[] = [];
    for (let sample = 0; sample < 80; sample++) {
      heard.push(nodes[1]!.lastHeard.get(1)!);
      await sleep(5);
    }
    const distinct = [...new Set(heard)];
    const longestSilenceMs = Math.max(...distinct.slice(1).map((time, index) => time - distinct[index]!));
    assert.ok(longestSilenceMs >= 100, `longest silence ${longestSilenceMs} ms`);
    assert.equal(mesh.removeLinkToxic('slow'), true);
    assert.equal(mesh.proxy(2, 3).toxics().length, 0);
  });
});

test('a flapping partition toggles while active and heals when stopped (through a timeline)', async () => {
  await withMesh(3, async (mesh) => {
    const fault = mesh.flappingFault(isolate([1, 2, 3], 1), 60);
    const states: boolean[] = [];
    const sampler = setInterval(() => states.push(mesh.partition() !== undefined), 15);
    const events = await new FaultTimeline([{ atMs: 0, durationMs: 400, fault }]).run();
    clearInterval(sampler);
    assert.deepEqual(events.map((event) => event.kind), ['start', 'stop']);
    const toggles = states.filter((state, index) => index > 0 && state !== states[index - 1]).length;
    assert.ok(toggles >= 3, `${toggles} toggles seen in ${states.length} samples`);
    assert.equal(mesh.partition(), undefined, 'healed after stop');
  });
});
