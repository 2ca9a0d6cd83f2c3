// The thread boundary of the Kafka workload, with a stand-in thread script that speaks the same
// messages: one that spins forever on resolved promises when told to stop, as kafkajs can.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HistoryRecorder } from '../recorder.ts';
import type { WorkloadPlan } from '../types.ts';
import { IsolatedKafkaWorkload } from './isolated-kafka.ts';

const STAND_IN = `
import { parentPort } from 'node:worker_threads';
const send = (value) => ({ kind: 'send', topic: 't', partition: 0, value });
parentPort.on('message', (command) => {
  if (command.type === 'start') {
    parentPort.postMessage({ type: 'begin', id: 0, process: 'producer-0', input: send('a'), callTime: 1 });
    parentPort.postMessage({ type: 'begin', id: 1, process: 'offsets', input: { kind: 'committed', topic: 't', group: 'g', partition: 0 }, callTime: 1 });
    parentPort.postMessage({ type: 'begin', id: 2, process: 'producer-1', input: send('b'), callTime: 1 });
    parentPort.postMessage({ type: 'end', id: 2, outcome: 'ok', output: { partition: 0, offset: 0 }, returnTime: 2 });
    parentPort.postMessage({ type: 'done', command: 'start' });
  } else if (command.type === 'stop') {
    (async function spinLikeKafkajs() { for (;;) await Promise.resolve(); })();
  } else if (command.type === 'drain') {
    parentPort.postMessage({ type: 'record', process: 'drain', callTime: 5, returnTime: 6, input: { kind: 'drain', topic: 't', partition: 0 }, output: { endOffset: 1, records: [[0, 'b']] }, outcome: 'ok' });
    parentPort.postMessage({ type: 'done', command: 'drain' });
  } else {
    parentPort.postMessage({ type: 'done', command: command.type });
  }
});
`;

test('a Kafka client thread that stops yielding is terminated at its deadline; the runner keeps turning and the history says what was in flight', { timeout: 30_000 }, async () => {
  const directory = mkdtempSync(join(tmpdir(), 'cairn-kafka-thread-'));
  const script = join(directory, 'stand-in.mjs');
  writeFileSync(script, STAND_IN);
  const recorder = new HistoryRecorder('s');
  const warnings: string[] = [];
  const logger = { debug() {}, info() {}, error() {}, warn: (_fields: object, message: string) => { warnings.push(message); } };
  const workload = new IsolatedKafkaWorkload({
    brokers: [], plan: {} as WorkloadPlan, scenario: 's', recorder, logger, threadScript: pathToFileURL(script),
    deadlines: { startMs: 10_000, stopMs: 500, closeMs: 2000, drainMarginMs: 2000 },
  });
  try {
    await workload.start();
    assert.deepEqual(recorder.entries().map((entry) => [entry.process, entry.outcome]), [['producer-1', 'ok']], 'an operation that ended is recorded when it ends');

    let turns = 0;
    const ticker = setInterval(() => turns++, 20);
    await workload.stop();
    clearInterval(ticker);
    assert.ok(turns >= 10, `the runner's event loop turned while the client thread spun (${turns} turns)`);
    const outcomes = Object.fromEntries(recorder.entries().map((entry) => [entry.process, entry.outcome]));
    assert.equal(outcomes['producer-0'], 'unknown', 'a send in flight may have been appended');
    assert.equal(outcomes['offsets'], 'fail', 'a read in flight changed nothing');
    const terminated = recorder.entries().find((entry) => (entry.input as { action?: string }).action === 'kafka-client-terminated');
    assert.ok(terminated, 'the history says the client was terminated');
    assert.deepEqual((terminated.output as { inFlight: number }).inFlight, 2);
    assert.match(warnings.join('\n'), /did not finish 'stop' within 0.5 s: its thread was terminated/);

    await workload.drain(100);
    assert.ok(recorder.entries().some((entry) => entry.process === 'drain' && entry.outcome === 'ok'), 'the drain ran in a fresh thread');
  } finally {
    await workload.close();
    rmSync(directory, { recursive: true, force: true });
  }
});
