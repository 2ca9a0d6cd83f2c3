// The kafkajs consumer livelock, reproduced step by step on kafkajs's own fetch manager and its
// runner's fetch (as shipped, and fixed). Once the consumer is stopped, the fake fetch hands over
// to the runner's fetch, and gives up after LIMIT calls so that the unfixed run ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { unfixedRunnerFetch } from './kafkajs-stop-fix.ts';

const require = createRequire(import.meta.url);
const LIMIT = 100_000;

type RunnerFetch = (this: { running: boolean }, nodeId: number) => Promise<unknown[]>;
type CreateFetchManager = (options: object) => { start(): Promise<void>; stop(): Promise<void> };
const createFetchManager = require('kafkajs/src/consumer/fetchManager.js') as CreateFetchManager;
const Runner = require('kafkajs/src/consumer/runner.js') as { prototype: { fetch: RunnerFetch } };

/**
 * While node 2's fetch (a long poll) is under way, the broker list changes, so node 1's next fetch throws
 * KafkaJSFetcherRebalanceError and start() waits for node 2's fetch to end before building new
 * fetchers. The consumer stops right then; then node 2's poll answers.
 */
async function stopWhileRebuilding(runnerFetch: RunnerFetch): Promise<{ fetchesAfterStop: number; startEnded: string }> {
  let nodeIds = [1, 2];
  let running = true;
  let fetchesAfterStop = 0;
  let answerNode2: ((batches: unknown[]) => void) | undefined;
  const logger = { namespace: () => logger, debug() {}, info() {}, warn() {}, error() {} };
  const stoppedRunner = { running: false, logger, consumerGroup: { groupId: 'g', memberId: 'm' } };
  const manager = createFetchManager({
    logger, getNodeIds: () => nodeIds, concurrency: 1, handler: async () => {},
    fetch: async (nodeId: number): Promise<unknown[]> => {
      if (!running) {
        if (++fetchesAfterStop >= LIMIT) throw new Error(`${LIMIT} fetches after the stop: livelock`);
        return runnerFetch.call(stoppedRunner, nodeId);
      }
      if (nodeId === 2) return new Promise((resolve) => { answerNode2 = resolve; });
      // Node 1 polls until node 2's poll is under way, then the broker list changes.
      if (answerNode2 === undefined) await nextTurn();
      else nodeIds = [1, 3];
      return [];
    },
  });
  const startEnded = manager.start().then(() => 'returned', (error: Error) => error.message);
  while (answerNode2 === undefined) await nextTurn();
  await nextTurn();
  running = false;
  const stopped = manager.stop();
  answerNode2([]);
  await stopped;
  const ended = await startEnded;
  return { fetchesAfterStop, startEnded: ended };
}

test('kafkajs 2.2.4 as shipped: a consumer stopped while its fetchers are rebuilt leaves fetchers that loop without yielding', async () => {
  const { fetchesAfterStop, startEnded } = await stopWhileRebuilding(unfixedRunnerFetch);
  assert.ok(fetchesAfterStop >= LIMIT, `the new fetchers kept fetching after the stop (${fetchesAfterStop})`);
  assert.match(startEnded, /livelock/);
});

test('with the fix (applied to the runner kafkajs uses), those fetchers end at their first fetch and start() ends with them', async () => {
  const { fetchesAfterStop, startEnded } = await stopWhileRebuilding(Runner.prototype.fetch);
  assert.ok(fetchesAfterStop <= 2, `one fetch per new fetcher, got ${fetchesAfterStop}`);
  assert.match(startEnded, /the consumer was stopped/);
});
