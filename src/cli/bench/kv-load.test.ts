// The lean KV generator against a stand-in HTTP server: requests are well-formed HTTP/1.1 on
// keep-alive sockets, answers are framed by Content-Length (also when split across packets),
// and error answers are counted by their Cairn error code, not as successes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runKvLoad } from './kv-load.ts';
import { LeanHttpConnection, errorCodeOf } from './lean-kv.ts';

async function withServer(handler: Parameters<typeof createServer>[1], body: (address: string) => Promise<void>): Promise<void> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await body(`127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

test('lean connection: keep-alive requests, bodies delivered, answers framed across packets', async () => {
  const seen: { method: string; url: string; body: string }[] = [];
  const sockets = new Set<unknown>();
  await withServer((request, response) => {
    sockets.add(request.socket);
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      seen.push({ method: request.method!, url: request.url!, body });
      const answer = JSON.stringify({ echo: body, pad: 'p'.repeat(100_000) });
      response.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(answer) });
      // Two writes so the client must wait for the rest of the body.
      response.write(answer.slice(0, 10));
      setTimeout(() => response.end(answer.slice(10)), 5);
    });
  }, async (address) => {
    const connection = await LeanHttpConnection.open(address);
    try {
      const first = await connection.request('PUT', '/v1/kv/a?encoding=base64', Buffer.from('{"value":"eA=="}'));
      const second = await connection.request('GET', '/v1/kv/a');
      assert.equal(first.status, 200);
      assert.equal(JSON.parse(first.body.toString()).echo, '{"value":"eA=="}');
      assert.equal(JSON.parse(second.body.toString()).echo, '');
      await assert.rejects(Promise.all([connection.request('GET', '/x'), connection.request('GET', '/y')]), /one request at a time/);
    } finally {
      connection.close();
    }
  });
  assert.deepEqual(seen.slice(0, 2).map((r) => `${r.method} ${r.url}`), ['PUT /v1/kv/a?encoding=base64', 'GET /v1/kv/a']);
  assert.equal(sockets.size, 1, 'both requests on one keep-alive socket');
});

test('lean connection: a head without Content-Length or a closed socket fails the request', async () => {
  await withServer((request, response) => {
    if (request.url === '/close') request.socket.destroy();
    else {
      response.writeHead(200, { 'Transfer-Encoding': 'chunked' });
      response.end('chunked');
    }
  }, async (address) => {
    const noLength = await LeanHttpConnection.open(address);
    await assert.rejects(noLength.request('GET', '/chunked'), /without a status or Content-Length/);
    assert.equal(noLength.closed, true);
    const closing = await LeanHttpConnection.open(address);
    await assert.rejects(closing.request('GET', '/close'), /closed the connection/);
  });
});

test('runKvLoad (lean): successes counted, not-found reads are fine, error answers counted by code', async () => {
  let puts = 0;
  await withServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const reply = (status: number, body: object): void => {
        const text = JSON.stringify(body);
        response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
        response.end(text);
      };
      if (request.method === 'GET') reply(404, { code: 'key-not-found', message: 'no such key' });
      else if (++puts % 2 === 0) reply(503, { code: 'no-leader', message: 'try later' });
      else reply(200, { revision: puts });
    });
  }, async (address) => {
    const result = await runKvLoad({ endpoints: [address], concurrency: 4, durationMs: 300, valueBytes: 16, readRatio: 0.5, keys: 10, serializable: false, client: 'lean' });
    assert.ok(result.ops > 0 && result.errors > 0, `ops ${result.ops}, errors ${result.errors}`);
    assert.deepEqual(Object.keys(result.errorCodes), ['no-leader']);
    assert.ok(result.p50Ms > 0);
  });
  assert.equal(errorCodeOf({ status: 502, body: Buffer.from('<html>') }), 'http-502');
});
