// Watches over real HTTP: the raw SSE stream resumes with Last-Event-ID without gap or
// duplicate; the client's watch iterator survives the stop of the node it streams from;
// compacted history is a clear error.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { SseParser } from './sse.ts';
import type { SseMessage } from './sse.ts';
import { CairnClientError } from './errors.ts';
import { TestCluster, waitFor } from './testing/cluster.ts';
import type { WatchEvent } from './types.ts';

// A small watch buffer, so the slow-consumer test needs little data.
const cluster = new TestCluster({ watchMaxPendingBytes: 1024 * 1024 });

/** Opens a raw SSE stream and collects its messages. */
function openStream(endpoint: string, path: string, headers: Record<string, string> = {}): Promise<{ response: IncomingMessage; messages: SseMessage[]; close(): void }> {
  const [host, port] = endpoint.split(':');
  return new Promise((resolve, reject) => {
    const outgoing = request({ host, port: Number(port), path, headers }, (response) => {
      const parser = new SseParser();
      const messages: SseMessage[] = [];
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => messages.push(...parser.push(chunk)));
      response.on('error', () => {});
      resolve({ response, messages, close: () => outgoing.destroy() });
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

async function take(watch: AsyncIterator<WatchEvent>, count: number): Promise<WatchEvent[]> {
  const events: WatchEvent[] = [];
  while (events.length < count) {
    const next = await watch.next();
    if (next.done === true) break;
    events.push(next.value);
  }
  return events;
}

describe('watches', () => {
  before(async () => {
    await cluster.start(3);
  });
  after(async () => {
    await cluster.stop();
  });

  test('an SSE stream resumed with Last-Event-ID continues exactly where it stopped', async () => {
    const follower = cluster.followers()[0]!;
    const writer = cluster.client([cluster.leader()!.clientAddress()]);
    const stream = await openStream(follower.clientAddress(), '/v1/watch?prefix=sse/&prevKv=true&heartbeatMs=100');
    assert.equal(stream.response.statusCode, 200);
    assert.match(String(stream.response.headers['content-type']), /text\/event-stream/);
    await waitFor(() => stream.messages.some((message) => message.event === 'created'), 'the created event');
    const revisions: number[] = [];
    for (let index = 0; index < 5; index++) revisions.push((await writer.put(`sse/${index}`, `v${index}`)).revision);
    await writer.put('elsewhere', 'not watched');
    await waitFor(() => stream.messages.filter((message) => message.event === 'put').length === 5, 'five events');
    await waitFor(() => stream.messages.some((message) => message.event === 'progress'), 'a progress message past the unwatched write');
    const lastId = Number([...stream.messages].reverse().find((message) => message.id !== undefined)!.id);
    assert.ok(lastId >= revisions[4]!, 'ids are revisions whose changes were all sent');
    stream.close();
    for (let index = 5; index < 10; index++) revisions.push((await writer.put(`sse/${index}`, `v${index}`)).revision);
    await writer.delete('sse/0');
    const resumed = await openStream(follower.clientAddress(), '/v1/watch?prefix=sse/&prevKv=true', { 'last-event-id': String(lastId) });
    await waitFor(() => resumed.messages.filter((message) => message.event === 'put' || message.event === 'delete').length === 6, 'the missed events');
    const events = resumed.messages.filter((message) => message.event === 'put' || message.event === 'delete').map((message) => JSON.parse(message.data) as { type: string; kv: { key: string; modRevision: number }; prevKv?: { value: string } });
    assert.deepEqual(events.slice(0, 5).map((event) => event.kv.modRevision), revisions.slice(5));
    assert.equal(events[5]!.type, 'delete');
    assert.equal(events[5]!.kv.key, 'sse/0');
    assert.equal(events[5]!.prevKv?.value, 'v0');
    resumed.close();
  });

  test('the client watch resumes on another node when its node stops, with no gap or duplicate', async () => {
    const follower = cluster.followers()[0]!;
    const others = [...cluster.nodes.values()].filter((node) => node !== follower).map((node) => node.clientAddress());
    const client = cluster.client([follower.clientAddress(), ...others], { retryBaseMs: 10, retryMaxMs: 100 });
    const watch = client.watch({ prefix: 'resume/' });
    await watch.ready;
    const written: number[] = [];
    for (let index = 0; index < 10; index++) written.push((await client.put(`resume/${index}`, String(index))).revision);
    const firstHalf = await take(watch, 10);
    await follower.stop();
    const writer = cluster.client(others);
    for (let index = 10; index < 20; index++) written.push((await writer.put(`resume/${index}`, String(index))).revision);
    const secondHalf = await take(watch, 10);
    watch.close();
    assert.deepEqual([...firstHalf, ...secondHalf].map((event) => event.revision), written);
    assert.deepEqual(secondHalf.map((event) => event.kv.key.toString()), written.slice(10).map((_, index) => `resume/${index + 10}`));
  });

  test('watching compacted history fails clearly (410 compacted, and a client error)', async () => {
    const client = cluster.client([cluster.leader()!.clientAddress()]);
    for (let index = 0; index < 5; index++) await client.put('compact/k', String(index));
    const { revision } = await client.put('compact/k', 'last');
    const compacted = await client.compact(revision - 2);
    assert.equal(compacted.compactRevision, revision - 2);
    const response = await fetch(`http://${client.endpoints[0]}/v1/watch?key=compact/k&fromRevision=1`);
    assert.equal(response.status, 410);
    const body = await response.json() as { code: string; compactRevision: number };
    assert.equal(body.code, 'compacted');
    assert.equal(body.compactRevision, revision - 2);
    const watch = client.watch({ key: 'compact/k', fromRevision: 1 });
    await assert.rejects(watch.next(), (error: CairnClientError) => error.code === 'compacted');
    await assert.rejects(client.get('compact/k', { revision: 1 }), (error: CairnClientError) => error.status === 410 && error.code === 'compacted');
    const fromKept = client.watch({ key: 'compact/k', fromRevision: revision - 1 });
    const kept = await take(fromKept, 2);
    fromKept.close();
    assert.deepEqual(kept.map((event) => event.revision), [revision - 1, revision]);
  });

  test('a client that stops reading is cancelled with watch-too-slow and resumes without a gap', async () => {
    const endpoint = cluster.followers()[0]!.clientAddress();
    const [host, port] = endpoint.split(':');
    const socket = connect(Number(port), host!);
    socket.write(`GET /v1/watch?prefix=slow/ HTTP/1.1\r\nHost: ${endpoint}\r\n\r\n`);
    socket.pause();
    const writer = cluster.client([cluster.leader()!.clientAddress()]);
    const value = Buffer.alloc(32 * 1024, 0x73);
    const revisions: number[] = [];
    for (let batch = 0; batch < 40; batch++) {
      const written = await Promise.all(Array.from({ length: 8 }, (_, index) => writer.put(`slow/${batch * 8 + index}`, value)));
      revisions.push(...written.map((result) => result.revision));
    }
    revisions.sort((a, b) => a - b);
    let received = '';
    socket.setEncoding('latin1');
    socket.on('error', () => {});
    // The stream ends with its cancelled message (the connection itself may stay open).
    const cancelledSeen = new Promise<void>((resolve) => socket.on('data', (chunk: string) => {
      received += chunk;
      if (/event: cancelled\ndata: [^\n]*\n\n/.test(received)) resolve();
    }));
    socket.resume();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([cancelledSeen, new Promise((resolve) => (timer = setTimeout(resolve, 5000)))]);
    clearTimeout(timer);
    socket.destroy();
    const messages = new SseParser().push(received.slice(received.indexOf('\r\n\r\n') + 4));
    const cancelled = messages.find((message) => message.event === 'cancelled');
    assert.ok(cancelled !== undefined, 'the slow stream was cancelled');
    const details = JSON.parse(cancelled.data) as { code: string; resumeRevision: number };
    assert.equal(details.code, 'watch-too-slow');
    const delivered = messages.filter((message) => message.event === 'put').map((message) => (JSON.parse(message.data) as { kv: { modRevision: number } }).kv.modRevision);
    assert.ok(delivered.length < revisions.length, 'not everything was buffered for the slow client');
    assert.deepEqual(delivered, revisions.slice(0, delivered.length), 'what was delivered has no gap');
    assert.equal(details.resumeRevision, revisions[delivered.length], 'the resume revision is the first undelivered change');
    const watch = cluster.client([endpoint]).watch({ prefix: 'slow/', fromRevision: details.resumeRevision });
    const rest = await take(watch, revisions.length - delivered.length);
    watch.close();
    assert.deepEqual(rest.map((event) => event.revision), revisions.slice(delivered.length));
  });
});
