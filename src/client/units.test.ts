// Small pieces of the client: tickets, the SSE parser, key encoding for paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeTicket, encodeTicket } from './ticket.ts';
import { SseParser } from './sse.ts';
import { keyPath } from './types.ts';
import { percentDecode } from '../server/http/codec.ts';

test('a ticket round-trips and damaged tickets are refused with a reason', () => {
  const ticket = { clusterId: 'prod-kv', endpoints: ['127.0.0.1:2379', '[::1]:2389'] };
  const token = encodeTicket(ticket);
  assert.match(token, /^cairn1\.[A-Za-z0-9_-]+$/);
  assert.deepEqual(decodeTicket(token), ticket);
  assert.deepEqual(decodeTicket(`  ${token}\n`), ticket);
  assert.throws(() => decodeTicket('cairn2.abc'), /starts with "cairn1\."/);
  assert.throws(() => decodeTicket('cairn1.!!'), /damaged/);
  assert.throws(() => decodeTicket(`cairn1.${Buffer.from('{"clusterId":"x","endpoints":["nope"]}').toString('base64url')}`), /not host:port/);
  assert.throws(() => encodeTicket({ clusterId: '', endpoints: ['a:1'] }), /clusterId/);
});

test('the SSE parser splits messages at any chunk boundary', () => {
  const stream = 'retry: 1000\n\nevent: created\ndata: {"a":1}\n\n: heartbeat\n\nid: 7\r\nevent: put\r\ndata: x\r\ndata: y\r\n\r\nid: 8\n\n';
  fc.assert(fc.property(fc.array(fc.nat(stream.length), { maxLength: 6 }), (cuts) => {
    const parser = new SseParser();
    const points = [...new Set(cuts)].sort((a, b) => a - b);
    const messages = [];
    let from = 0;
    for (const point of [...points, stream.length]) {
      messages.push(...parser.push(stream.slice(from, point)));
      from = point;
    }
    assert.deepEqual(messages, [
      { event: 'created', data: '{"a":1}', id: undefined },
      { event: 'put', data: 'x\ny', id: '7' },
      { event: 'message', data: '', id: '8' },
    ]);
  }));
});

test('key paths percent-encode every byte that needs it and decode back exactly', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (key) => {
    const path = keyPath(key);
    assert.match(path, /^[A-Za-z0-9\-_~/%]*$/);
    assert.deepEqual(percentDecode(path), key);
  }));
  assert.equal(keyPath('a b/ç'), 'a%20b/%C3%A7');
});
