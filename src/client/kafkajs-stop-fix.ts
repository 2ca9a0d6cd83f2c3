// A fix for a livelock in kafkajs 2.2.4's consumer, applied to kafkajs's consumer runner when this
// module is imported (before or after kafkajs itself: it patches the class both share).
//
// The bug: when the broker list changes, a fetcher's next fetch throws
// KafkaJSFetcherRebalanceError and the fetch manager's start() stops the other fetchers and
// builds new ones. If the consumer is stopped (disconnect) while start() waits for those to end,
// the consumer's stop() stops the OLD fetchers, and start() then runs new ones nobody will stop.
// Each of their fetches returns [] at once because the consumer is no longer running, so they
// loop on resolved promises forever: the event loop never turns again (no timer, no socket, no
// deadline). Seen in the chaos suite's membership-under-faults (stack: fetcher.js:55 ->
// fetchManager.js:57 -> runner.js:343) and reproduced in kafkajs-stop-fix.test.ts.
//
// The fix: a stopped runner's fetch throws instead of answering []. That ends the fetcher and
// start() with it; the runner retries start() later, sees it is stopped, and finishes stopping
// as usual. A running consumer never takes that path (its runner is running).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

type RunnerFetch = (this: { running: boolean }, nodeId: number) => Promise<unknown[]>;

interface RunnerClass {
  prototype: { fetch: RunnerFetch & { cairnStopFix?: true } };
}

export class ConsumerStoppedError extends Error {
  override name = 'KafkaJSConsumerStopped';

  constructor() {
    super('the consumer was stopped; this fetcher ends (cairn kafkajs stop fix)');
  }
}

const Runner = require('kafkajs/src/consumer/runner.js') as RunnerClass;

/** kafkajs's own fetch (for the test that shows the bug). */
export const unfixedRunnerFetch: RunnerFetch = Runner.prototype.fetch.cairnStopFix === true
  ? (Runner.prototype.fetch as RunnerFetch & { unfixed: RunnerFetch }).unfixed
  : Runner.prototype.fetch;

function fixedFetch(this: { running: boolean }, nodeId: number): Promise<unknown[]> {
  if (!this.running) return Promise.reject(new ConsumerStoppedError());
  return unfixedRunnerFetch.call(this, nodeId);
}

if (Runner.prototype.fetch.cairnStopFix !== true) {
  Runner.prototype.fetch = Object.assign(fixedFetch, { cairnStopFix: true as const, unfixed: unfixedRunnerFetch });
}
