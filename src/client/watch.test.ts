// Watches over real HTTP: the raw SSE stream resumes with Last-Event-ID without gap or
// duplicate; the client's watch iterator survives the stop of the node it streams from;
// compacted history is a clear error.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { SseParser } from './sse.ts';
import type { SseMessage } from './sse.ts';
import { CairnClientError } from './errors.ts';
import { TestCluster, waitFor } from './testing/cluster.ts';
import type { WatchEvent } from './types.ts';

const cluster = new TestCluster();

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
});
