import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import fc from 'fast-check';
import { CleanupRegistry } from '../cleanup.ts';
import { FaultError } from '../errors.ts';
import { FaultProxy } from './fault-proxy.ts';
import type { FaultProxyOptions } from './fault-proxy.ts';
import { collect, connectTo, payload, receiveBytes, startEchoServer, startServer } from './test-servers.ts';
import type { TestServer } from './test-servers.ts';
import type { Toxic } from './toxics.ts';

async function withProxy(
  server: TestServer,
  body: (proxy: FaultProxy) => Promise<void>,
  options: Partial<FaultProxyOptions> = {},
): Promise<void> {
  const registry = new CleanupRegistry();
  const proxy = await FaultProxy.start({ upstream: server.address, seed: 7, cleanupRegistry: registry, ...options });
  try {
    await body(proxy);
  } finally {
    await proxy.stop();
    await server.close();
    assert.equal(registry.size, 0, 'stop() unregisters the cleanup action');
  }
}

/** Sends `data` in pieces of the given sizes, then half-closes; returns everything echoed back. */
async function echoThrough(address: string, data: Buffer, pieceSizes: readonly number[]): Promise<Buffer> {
  const socket = await connectTo(address);
  const outcome = collect(socket, 20_000);
  let offset = 0;
  for (let index = 0; offset < data.length; index++) {
    const size = pieceSizes.length === 0 ? data.length : pieceSizes[index % pieceSizes.length]!;
    socket.write(data.subarray(offset, offset + size));
    offset += size;
  }
  socket.end();
  const result = await outcome;
  assert.equal(result.ending, 'end');
  return result.data;
}

test('forwards bytes both ways unchanged, many connections at once', async () => {
  await withProxy(await startEchoServer(), async (proxy) => {
    const sizes = Array.from({ length: 40 }, (_, index) => 1 + index * 3001);
    const results = await Promise.all(sizes.map((size, index) => echoThrough(proxy.address, payload(size, index + 1), [997, 4096, 1])));
    results.forEach((result, index) => assert.ok(result.equals(payload(sizes[index]!, index + 1)), `connection ${index}`));
    const stats = proxy.stats();
    assert.equal(stats.connectionsAccepted, 40);
    const total = sizes.reduce((sum, size) => sum + size, 0);
    assert.equal(stats.bytesForwarded.upstream, total);
    assert.equal(stats.bytesForwarded.downstream, total);
  });
});

test('never reorders bytes whatever latency, jitter, slicing and bandwidth do (property)', async () => {
  await fc.assert(fc.asyncProperty(
    fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 12 }),
    fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 1, max: 64 }),
    fc.integer({ min: 1, max: 1000 }),
    async (pieces, latencyMs, jitterMs, sliceBytes, seed) => {
      await withProxy(await startEchoServer(), async (proxy) => {
        proxy.addToxic({ name: 'latency', type: 'latency', direction: 'upstream', latencyMs, jitterMs });
        proxy.addToxic({ name: 'jitter-back', type: 'latency', direction: 'downstream', latencyMs: 1, jitterMs: 5 });
        proxy.addToxic({ name: 'slicer', type: 'slicer', direction: 'downstream', averageSizeBytes: sliceBytes + 1, sizeVariationBytes: sliceBytes, delayMs: 0 });
        proxy.addToxic({ name: 'bandwidth', type: 'bandwidth', direction: 'upstream', bytesPerSecond: 2_000_000 });
        const data = payload(pieces.reduce((sum, size) => sum + size, 0), seed);
        assert.ok((await echoThrough(proxy.address, data, pieces)).equals(data));
      }, { seed });
    },
  ), { numRuns: 15 });
});

test('latency delays each direction by about latencyMs without serializing chunks', async () => {
  await withProxy(await startEchoServer(), async (proxy) => {
    const socket = await connectTo(proxy.address);
    socket.write('warm');
    await receiveBytes(socket, 4);
    proxy.addToxic({ name: 'up', type: 'latency', direction: 'upstream', latencyMs: 100, jitterMs: 20 });
    const started = performance.now();
    const echoing = receiveBytes(socket, 20);
    // 20 writes 5 ms apart: with per-chunk release times they all arrive about 100 ms after sending,
    // not 20 x 100 ms in a row.
    for (let index = 0; index < 20; index++) {
      socket.write(Buffer.from([index]));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const echoed = await echoing;
    const elapsedMs = performance.now() - started;
    assert.deepEqual([...echoed], Array.from({ length: 20 }, (_, index) => index));
    assert.ok(elapsedMs >= 80 + 19 * 5, `elapsed ${elapsedMs} ms`);
    assert.ok(elapsedMs < 1000, `elapsed ${elapsedMs} ms: latency serialized the chunks`);
    socket.destroy();
  });
});

test('bandwidth limits throughput', async () => {
  const data = payload(60_000, 3);
  await withProxy(await startServer((socket) => socket.end(data)), async (proxy) => {
    proxy.addToxic({ name: 'slow', type: 'bandwidth', direction: 'downstream', bytesPerSecond: 100_000 });
    const outcome = await collect(await connectTo(proxy.address));
    assert.ok(outcome.data.equals(data));
    assert.ok(outcome.elapsedMs >= 500, `60 KB at 100 KB/s took only ${outcome.elapsedMs} ms`);
    assert.ok(outcome.elapsedMs < 3000, `took ${outcome.elapsedMs} ms`);
  });
});

test('one-way blackhole: upstream bytes vanish while downstream still flows; removal resets', async () => {
  const received: Buffer[] = [];
  let serverSocket: import('node:net').Socket | undefined;
  await withProxy(await startServer((socket) => {
    serverSocket = socket;
    socket.on('data', (chunk: Buffer) => received.push(chunk));
  }), async (proxy) => {
    const socket = await connectTo(proxy.address);
    const outcome = collect(socket);
    socket.write('before');
    while (received.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    proxy.addToxic({ name: 'cut', type: 'blackhole', direction: 'upstream' });
    socket.write('during');
    serverSocket!.write('from-server');
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(Buffer.concat(received).toString(), 'before');
    assert.equal(proxy.stats().bytesDropped.upstream, 'during'.length);
    proxy.removeToxic('cut');
    const result = await outcome;
    assert.equal(result.data.toString(), 'from-server', 'the other direction kept flowing');
    assert.equal(result.ending, 'ECONNRESET', 'a stream that lost bytes is reset when the blackhole is removed');
  });
});

test('blackhole with resetOnRemove false keeps the connection; a blackhole that dropped nothing resets nothing', async () => {
  await withProxy(await startEchoServer(), async (proxy) => {
    const socket = await connectTo(proxy.address);
    proxy.addToxic({ name: 'idle', type: 'blackhole', direction: 'downstream' });
    proxy.removeToxic('idle');
    proxy.addToxic({ name: 'kept', type: 'blackhole', direction: 'downstream', resetOnRemove: false });
    socket.write('lost');
    await new Promise((resolve) => setTimeout(resolve, 50));
    proxy.removeToxic('kept');
    socket.write('kept');
    assert.equal((await receiveBytes(socket, 4)).toString(), 'kept');
    assert.equal(proxy.connectionCount(), 1);
    socket.destroy();
  });
});

test('reset_peer resets the connection after its timeout', async () => {
  await withProxy(await startEchoServer(), async (proxy) => {
    proxy.addToxic({ name: 'rst', type: 'reset_peer', direction: 'downstream', timeoutMs: 150 });
    const socket = await connectTo(proxy.address);
    const outcome = await collect(socket);
    assert.equal(outcome.ending, 'ECONNRESET');
    assert.ok(outcome.elapsedMs >= 140, `reset after ${outcome.elapsedMs} ms`);
  });
});

test('slow_close delays the FIN', async () => {
  let serverEndedAfterMs = -1;
  const started = performance.now();
  await withProxy(await startServer((socket) => {
    socket.on('end', () => {
      serverEndedAfterMs = performance.now() - started;
      socket.end();
    });
    socket.resume();
  }), async (proxy) => {
    proxy.addToxic({ name: 'slow', type: 'slow_close', direction: 'upstream', delayMs: 300 });
    const socket = await connectTo(proxy.address);
    socket.end('bye');
    const outcome = await collect(socket);
    assert.equal(outcome.ending, 'end');
    assert.ok(serverEndedAfterMs >= 290, `server saw the FIN after ${serverEndedAfterMs} ms`);
  });
});

test('timeout drops data, then closes the connection', async () => {
  await withProxy(await startEchoServer(), async (proxy) => {
    proxy.addToxic({ name: 'stall', type: 'timeout', direction: 'upstream', timeoutMs: 200 });
    const socket = await connectTo(proxy.address);
    socket.write('nothing comes back');
    const outcome = await collect(socket);
    assert.equal(outcome.data.length, 0);
    assert.ok(outcome.elapsedMs >= 190 && outcome.ending !== 'collect-timeout', `${outcome.ending} after ${outcome.elapsedMs} ms`);
  });
});

test('limit_data passes exactly N bytes and closes', async () => {
  const data = payload(10_000, 9);
  await withProxy(await startServer((socket) => socket.end(data)), async (proxy) => {
    proxy.addToxic({ name: 'limit', type: 'limit_data', direction: 'downstream', bytes: 1234 });
    const outcome = await collect(await connectTo(proxy.address));
    assert.ok(outcome.data.equals(data.subarray(0, 1234)), `got ${outcome.data.length} bytes`);
  });
});

test('slicer splits data into small writes', async () => {
  const sizes: number[] = [];
  await withProxy(await startServer((socket) => {
    socket.on('data', (chunk: Buffer) => sizes.push(chunk.length));
  }), async (proxy) => {
    proxy.addToxic({ name: 'slice', type: 'slicer', direction: 'upstream', averageSizeBytes: 10, sizeVariationBytes: 5, delayMs: 2 });
    const socket = await connectTo(proxy.address);
    socket.write(payload(300, 1));
    const deadline = performance.now() + 5000;
    while (sizes.reduce((sum, size) => sum + size, 0) < 300 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(sizes.reduce((sum, size) => sum + size, 0), 300);
    assert.ok(sizes.length >= 15, `${sizes.length} reads`);
    assert.ok(Math.max(...sizes) <= 30, `largest read ${Math.max(...sizes)}`);
    socket.destroy();
  });
});

test('toxicity decides per connection whether a toxic applies', async () => {
  await withProxy(await startEchoServer(), async (proxy) => {
    proxy.addToxic({ name: 'half', type: 'blackhole', direction: 'upstream', toxicity: 0.5, resetOnRemove: false });
    let blackholed = 0;
    for (let index = 0; index < 30; index++) {
      const socket = await connectTo(proxy.address);
      socket.write('x');
      const answered = await receiveBytes(socket, 1, 150).then(() => true, () => false);
      if (!answered) blackholed++;
      socket.destroy();
    }
    assert.ok(blackholed > 3 && blackholed < 27, `${blackholed} of 30 connections blackholed`);
  });
});

test('backpressure: a reader that does not read pauses the writer; the proxy buffers a bounded amount', async () => {
  await withProxy(await startServer((socket) => socket.pause()), async (proxy) => {
    const socket = await connectTo(proxy.address);
    const chunk = Buffer.alloc(64 * 1024);
    let written = 0;
    // Write until the client socket itself reports a full buffer for a while.
    for (let round = 0; round < 2000 && written < 64 * 1024 * 1024; round++) {
      if (!socket.write(chunk)) {
        const drained = await Promise.race([once(socket, 'drain').then(() => true), new Promise((resolve) => setTimeout(resolve, 300, false))]);
        if (!drained) break;
      }
      written += chunk.length;
    }
    assert.ok(written < 64 * 1024 * 1024, 'the writer was stopped by backpressure');
    const stats = proxy.stats();
    assert.ok(stats.maxQueuedBytesSeen <= 64 * 1024 + 256 * 1024, `proxy held ${stats.maxQueuedBytesSeen} bytes`);
    socket.destroy();
  }, { maxBufferedBytes: 64 * 1024 });
});

test('disable refuses new connections and resets open ones; enable listens again on the same port', async () => {
  await withProxy(await startEchoServer(), async (proxy) => {
    const open = await connectTo(proxy.address);
    const outcome = collect(open);
    const port = proxy.port;
    await proxy.disable();
    assert.equal((await outcome).ending, 'ECONNRESET');
    const refused = connect({ host: '127.0.0.1', port });
    const [error] = await once(refused, 'error') as [NodeJS.ErrnoException];
    assert.equal(error.code, 'ECONNREFUSED');
    await proxy.enable();
    assert.equal(proxy.port, port);
    const socket = await connectTo(proxy.address);
    socket.write('again');
    assert.equal((await receiveBytes(socket, 5)).toString(), 'again');
    socket.destroy();
  });
});

test('maxConnections: connections beyond the limit are reset', async () => {
  await withProxy(await startEchoServer(), async (proxy) => {
    const first = await connectTo(proxy.address);
    const outcome = await collect(connect({ host: '127.0.0.1', port: proxy.port }));
    assert.equal(outcome.ending, 'ECONNRESET');
    assert.equal(proxy.stats().connectionsRejected, 1);
    first.destroy();
  }, { maxConnections: 1 });
});

test('an unreachable upstream resets the client', async () => {
  const server = await startEchoServer();
  await server.close();
  await withProxy(await startEchoServer(), async (proxy) => {
    proxy.setUpstream(server.address);
    const outcome = await collect(await connectTo(proxy.address));
    assert.equal(outcome.ending, 'ECONNRESET');
    assert.equal(proxy.stats().upstreamConnectFailures, 1);
  });
});

test('stop closes every connection and refuses toxics afterwards', async () => {
  const server = await startEchoServer();
  const registry = new CleanupRegistry();
  const proxy = await FaultProxy.start({ upstream: server.address, cleanupRegistry: registry });
  try {
    const sockets = await Promise.all([1, 2, 3].map(() => connectTo(proxy.address)));
    const outcomes = sockets.map((socket) => collect(socket));
    while (proxy.connectionCount() < 3) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(registry.size, 1);
    assert.equal(await registry.runAll(), 0);
    for (const outcome of await Promise.all(outcomes)) assert.equal(outcome.ending, 'ECONNRESET');
    assert.equal(proxy.connectionCount(), 0);
    assert.throws(() => proxy.addToxic({ name: 'late', type: 'blackhole', direction: 'upstream' }), (error: FaultError) => error.code === 'stopped');
  } finally {
    await proxy.stop();
    await server.close();
  }
});

test('toxics are validated', async () => {
  await withProxy(await startEchoServer(), async (proxy) => {
    const bad: unknown[] = [
      { name: '', type: 'blackhole', direction: 'upstream' },
      { name: 'a', type: 'latency', direction: 'sideways', latencyMs: 1 },
      { name: 'a', type: 'latency', direction: 'upstream', latencyMs: -1 },
      { name: 'a', type: 'bandwidth', direction: 'upstream', bytesPerSecond: 0 },
      { name: 'a', type: 'slicer', direction: 'upstream', averageSizeBytes: 4, sizeVariationBytes: 4 },
      { name: 'a', type: 'limit_data', direction: 'upstream', bytes: 1.5 },
      { name: 'a', type: 'blackhole', direction: 'upstream', toxicity: 2 },
      { name: 'a', type: 'nonsense', direction: 'upstream' },
    ];
    for (const toxic of bad) {
      assert.throws(() => proxy.addToxic(toxic as Toxic), (error: FaultError) => error.code === 'invalid-argument', JSON.stringify(toxic));
    }
    proxy.addToxic({ name: 'a', type: 'blackhole', direction: 'upstream' });
    assert.throws(() => proxy.addToxic({ name: 'a', type: 'blackhole', direction: 'downstream' }), /already has a toxic/);
    assert.equal(proxy.removeToxic('missing'), false);
    assert.deepEqual(proxy.toxics().map((toxic) => toxic.name), ['a']);
  });
});
