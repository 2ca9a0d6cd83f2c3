// How the V8 garbage collector paces Buffer memory in a serving node.
//
// A node's data lives in Buffers: V8 counts their bytes as "external memory", and by default it
// starts a full (mark-compact) collection whenever external memory has grown by 64 MiB since the
// last one, however small the JavaScript heap is. Every Kafka batch a node handles passes through
// a few Buffers (the request frame, the Raft entry, the copy sent to each follower, the WAL
// write, the state store's copy), so under produce the leader ran 6-9 full collections a second
// on a 20 MB heap, and the followers nearly as many: about a third of all CPU of a 3-node cluster
// on 2 cores. V8's --external-memory-accounted-in-global-limit counts external memory in the
// heap's global limit instead, which grows with the live size as the heap's own limit does.
//
// Measured on the 2-core sandbox (docs/performance.md, 2026-11-22 23:40), six alternating rounds
// each, 3-node cluster, default (left) vs this flag (right): Kafka produce at 1,024 messages in
// flight 26.6 vs 48.5 MB/s (median), p99 ack latency 111 vs 68 ms; KV puts at c=1 483 vs 549/s;
// peak RSS per node 350-530 vs 550-730 MB.
//
// V8 flags are process-wide and meant to be set before the heap grows: this runs at the start of
// `cairn serve`, before the node opens anything. V8 reads the flag when it computes its limits
// (after every collection), so setting it at run time takes effect at once.
//
// Heap growth. After each full collection V8 sets the limit for the next one from what stayed
// alive, times a growing factor it picks itself. Under Kafka load the leader kept 150-250 MB of
// Buffers alive, and V8 kept its limit only 10-30 MB above that (its --trace-incremental-marking
// showed "global: 137MB ... limit 148MB"): a full collection every 0.1-0.25 s, 112 per 10-s
// produce round on the three nodes. --heap-growing-percent fixes the factor instead. Measured at
// 100 (a factor of 2), six alternating 10-s rounds at 1,024 messages in flight against the
// previous build (docs/performance.md, 2026-11-23 08:50): 32 full collections per round instead of
// 112, node CPU per MB 20.4 vs 25.3 ms, 66.3 vs 57.4 MB/s, p99 59 vs 73 ms (medians). At 300
// the collections fell further (6 per round) but throughput did not rise and the nodes' peak
// RSS went from about 0.8 to 1.2 GB. A fixed factor is not better everywhere: the synthetic churn
// of v8-memory.test.ts ran 10 full collections at 100 against 6 with V8's own choice. KV puts at
// c=1, 64 and 256 showed no difference beyond the machine's noise.
import { setFlagsFromString } from 'node:v8';

export const EXTERNAL_MEMORY_IN_GLOBAL_LIMIT_FLAG = '--external-memory-accounted-in-global-limit';

/** Switches the flag on for this process (see above). */
export function countBufferMemoryInHeapLimit(): void {
  setFlagsFromString(EXTERNAL_MEMORY_IN_GLOBAL_LIMIT_FLAG);
}

/** Above this, a node under load would keep several times its live memory in garbage. */
export const HEAP_GROWTH_PERCENT_MAX = 400;

/** Fixes V8's heap growing factor at 1 + percent/100 for this process; 0 leaves V8's own (see above). */
export function setHeapGrowthPercent(percent: number): void {
  if (!Number.isInteger(percent) || percent < 0 || percent > HEAP_GROWTH_PERCENT_MAX) {
    throw new RangeError(`heap growth percent must be an integer from 0 to ${HEAP_GROWTH_PERCENT_MAX}, got ${percent}`);
  }
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
