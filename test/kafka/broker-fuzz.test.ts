// Fuzzing the running broker over real sockets: valid requests of every API and version built by
// the generated arbitraries (each must get a well-formed answer with its correlation id), the same
// requests mutated (the broker answers or closes that connection), and random byte streams. After
// all of it the process is alive, a bystander connection is still served, and no connection or
// in-flight request is left behind.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import fc from 'fast-check';
import { KafkaFrameDecoder, decodeResponseFrame, encodeRequestFrame } from '../../src/protocol/kafka/index.ts';
import type { KafkaRequestMessage } from '../../src/protocol/kafka/index.ts';
import * as arbitraries from '../../src/protocol/kafka/generated/arbitraries.ts';
import { KAFKA_CODECS } from '../../src/protocol/kafka/generated/index.ts';
import { parseHostPort } from '../../src/server/kafka/index.ts';
import { TestCluster, waitFor } from './cluster.ts';
import { RawKafkaClient } from './raw-client.ts';

const factories = arbitraries as unknown as Record<string, (version: number) => fc.Arbitrary<unknown>>;
let cluster: TestCluster;
let address: { host: string; port: number };
let bystander: RawKafkaClient;

before(async () => {
  // Short waits so that fuzzed Fetch and JoinGroup requests cannot hold a run for long.
  cluster = await TestCluster.start({
    size: 1,
    broker: { limits: { fetchWaitMsMax: 20, requestTimeoutMsMax: 2_000 }, groups: { initialRebalanceDelayMs: 0, minSessionTimeoutMs: 1, maxSessionTimeoutMs: 2_000, checkIntervalMs: 20 } },
  });
  address = parseHostPort(cluster.members[0]!.kafka)!;
  bystander = await RawKafkaClient.connect(cluster.members[0]!.kafka);
});

after(async () => {
  bystander?.close();
  await cluster?.close();
});

interface Exchange {
  readonly frames: Uint8Array[];
  readonly closedByBroker: boolean;
}

/** Writes `bytes`, then collects response frames until `expected` arrived, the broker closed, or waitMs passed. */
function exchange(bytes: Uint8Array, expected: number, waitMs: number): Promise<Exchange> {
  return new Promise((resolve) => {
    const frames: Uint8Array[] = [];
    const decoder = new KafkaFrameDecoder();
    let settled = false;
    const socket: Socket = connect(address, () => socket.write(bytes));
    const finish = (closedByBroker: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ frames, closedByBroker });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('data', (chunk) => {
      frames.push(...decoder.push(chunk));
      if (frames.length >= expected) finish(false);
    });
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
  });
}

function requestArbitrary(): fc.Arbitrary<{ request: KafkaRequestMessage; version: number }> {
  return fc.oneof(...KAFKA_CODECS.flatMap((api) => Array.from({ length: api.maxVersion - api.minVersion + 1 }, (_, index) => api.minVersion + index).map((version) =>
    factories[`arbitrary${api.name}Request`]!(version).map((message) => ({ request: { apiKey: api.apiKey, message } as KafkaRequestMessage, version })))));
}

async function bystanderServed(): Promise<void> {
  const versions = await bystander.send(3, { apiKey: 18, message: { clientSoftwareName: 'bystander', clientSoftwareVersion: '1' } });
  assert.equal(versions.errorCode, 0);
}

test('valid requests of every API and version get a well-formed answer with their correlation id', async () => {
  await fc.assert(
    fc.asyncProperty(requestArbitrary(), fc.integer({ min: 0, max: 0x7fffffff }), async ({ request, version }, correlationId) => {
      const frame = encodeRequestFrame(correlationId, 'fuzz', version, request);
      const silent = request.apiKey === 0 && request.message.acks === 0;
      const { frames, closedByBroker } = await exchange(frame, 1, silent ? 50 : 5_000);
      if (silent) {
        assert.equal(frames.length, 0, 'acks=0 gets no answer');
        return;
      }
      assert.ok(!closedByBroker || frames.length === 1, `api ${request.apiKey} v${version}: answered, not dropped`);
      assert.equal(frames.length, 1, `api ${request.apiKey} v${version} got an answer`);
      const decoded = decodeResponseFrame(frames[0]!, request.apiKey, version);
      assert.equal(decoded.correlationId, correlationId);
    }),
    { numRuns: 1_000 },
  );
  await bystanderServed();
});

type Mutation = { kind: 'flip'; at: number; bit: number } | { kind: 'truncate'; at: number } | { kind: 'int32'; at: number; value: number } | { kind: 'insert'; at: number; bytes: Uint8Array };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('int32' as const), at: fc.nat(), value: fc.constantFrom(0x7fffffff, 0xffffffff, 0x80000000, 0x00010000, 0) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }) }),
);

/** Mutates the body (after the size prefix) and fixes the prefix, so the broker sees one whole, wrong frame. */
function mutateBody(frame: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let body = frame.slice(4);
  for (const change of mutations) {
    if (body.length === 0) break;
    const at = change.at % body.length;
    if (change.kind === 'flip') body[at]! ^= 1 << change.bit;
    else if (change.kind === 'truncate') body = body.slice(0, at);
    else if (change.kind === 'int32' && at + 4 <= body.length) new DataView(body.buffer).setUint32(at, change.value);
    else if (change.kind === 'insert') body = Uint8Array.from([...body.subarray(0, at), ...change.bytes, ...body.subarray(at)]);
  }
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setInt32(0, body.length);
  out.set(body, 4);
  return out;
}

test('mutated requests are answered or their connection is closed; the broker keeps serving', async () => {
  let answered = 0;
  let closed = 0;
  await fc.assert(
    fc.asyncProperty(requestArbitrary(), fc.array(mutation, { minLength: 1, maxLength: 3 }), async ({ request, version }, mutations) => {
      const frame = mutateBody(encodeRequestFrame(1, 'fuzz', version, request), mutations);
      const { frames, closedByBroker } = await exchange(frame, 1, 1_000);
      if (frames.length > 0) answered++;
      else if (closedByBroker) closed++;
    }),
    { numRuns: 1_000 },
  );
  assert.ok(answered > 0 && closed > 0, `both outcomes happen (answered ${answered}, closed ${closed})`);
  await bystanderServed();
});

test('random byte streams never hurt the broker', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 1, maxLength: 64 }), { minLength: 1, maxLength: 6 }), async (chunks) => {
      const bytes = Uint8Array.from(chunks.flatMap((chunk) => [...chunk]));
      await exchange(bytes, 1, 30);
    }),
    { numRuns: 200 },
  );
  await bystanderServed();
  const broker = cluster.members[0]!.broker;
  await waitFor(() => broker.stats().connections === 1 && broker.stats().inFlightRequests === 0, 'every fuzz connection to be gone and no request left in flight');
});
