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
import { setFlagsFromString } from 'node:v8';

export const EXTERNAL_MEMORY_IN_GLOBAL_LIMIT_FLAG = '--external-memory-accounted-in-global-limit';

/** Switches the flag on for this process (see above). */
export function countBufferMemoryInHeapLimit(): void {
  setFlagsFromString(EXTERNAL_MEMORY_IN_GLOBAL_LIMIT_FLAG);
}
