// Throughput of the TCP transport between two transports in one process over loopback: append
// messages carrying `entries` entries of `bytes` bytes each. A figure, not a test.
//   node src/transport/tcp/throughput-bench.ts [messages=200000] [entries=1] [bytes=128]
// The sender keeps the queue below half its bound (as Raft's inflight window would), so nothing
// is dropped and the figure is what the link sustains.
import { makeMessage } from '../../core/raft/types.ts';
import type { Message } from '../../core/raft/types.ts';
import { TcpTransport } from './tcp-transport.ts';

const [messages = 200_000, entriesPerMessage = 1, entryBytes = 128] = process.argv.slice(2).map(Number);

function appendMessage(index: number): Message {
  const entries = Array.from({ length: entriesPerMessage }, (_, i) => ({
    term: 5, index: index * entriesPerMessage + i, type: 'normal' as const, data: new Uint8Array(entryBytes).fill(i),
  }));
  return makeMessage({ type: 'append', from: 1, to: 2, term: 5, logTerm: 5, index, commit: index, entries });
}

const sender = new TcpTransport({ nodeId: 1, clusterId: 'bench', clusterSecret: 'bench' });
const receiver = new TcpTransport({ nodeId: 2, clusterId: 'bench', clusterSecret: 'bench' });
await sender.start();
await receiver.start();
let received = 0;
let bytesReceived = 0;
const done = Promise.withResolvers<void>();
receiver.onMessage((message) => {
  received++;
  if (message.index !== received) throw new Error(`out of order: ${message.index} after ${received - 1}`);
  if (received === messages) done.resolve();
});
sender.setPeer(2, `127.0.0.1:${receiver.listenAddress()!.port}`);
sender.send(appendMessage(0)); // warm up the connection (index 0 is not counted below)
received = -1;
await new Promise((resolve) => setTimeout(resolve, 100));
received = 0;

const pool = Array.from({ length: 1000 }, (_, i) => appendMessage(i)); // reuse objects: measure the transport, not the generator
const startedMs = performance.now();
const cpuStart = process.cpuUsage();
for (let index = 1; index <= messages; index++) {
  const template = pool[index % pool.length]!;
  sender.send({ ...template, index });
  if (index % 500 === 0) {
    await new Promise((resolve) => setImmediate(resolve));
    while (sender.stats().peers[0]!.queueDepthMessages > 2048) await new Promise((resolve) => setImmediate(resolve));
  }
}
await done.promise;
const elapsedSeconds = (performance.now() - startedMs) / 1000;
const cpu = process.cpuUsage(cpuStart);
const stats = sender.stats().peers[0]!;
bytesReceived = receiver.stats().peers[0]!.bytesReceived;
console.log(JSON.stringify({
  messages,
  entriesPerMessage,
  entryBytes,
  seconds: Number(elapsedSeconds.toFixed(2)),
  messagesPerSecond: Math.round(messages / elapsedSeconds),
  entriesPerSecond: Math.round((messages * entriesPerMessage) / elapsedSeconds),
  megabytesPerSecond: Number((bytesReceived / elapsedSeconds / 1e6).toFixed(1)),
  dropped: stats.messagesDropped,
  cpuSecondsBothSides: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
}));
await sender.stop();
await receiver.stop();
