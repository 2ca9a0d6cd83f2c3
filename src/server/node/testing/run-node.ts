// Runs one CairnNode as its own process, for tests that need a real process (SIGTERM, SIGKILL):
//   node src/server/node/testing/run-node.ts '<CairnNodeOptions as JSON>'
// Prints one JSON line when running: {"event":"running","nodeId","clusterId","client","peer","pid"};
// logs (JSON, pino) go to stderr. SIGTERM/SIGINT stop the node gracefully and exit 0; a fatal
// node failure exits 1.
import { CairnNode } from '../cairn-node.ts';
import { createLogger } from '../logger.ts';
import type { CairnNodeOptions } from '../options.ts';

const options = JSON.parse(process.argv[2] ?? '{}') as CairnNodeOptions;
const logger = createLogger({ level: process.env['CAIRN_LOG_LEVEL'] ?? 'warn', pretty: false, destination: 2 });
const node = new CairnNode({ ...options, logger });

let stopping = false;
async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await node.stop();
  process.exit(code);
}
process.on('SIGTERM', () => void shutdown(0));
process.on('SIGINT', () => void shutdown(0));
node.onFailure(() => void shutdown(1));

try {
  await node.start();
} catch (error) {
  process.stderr.write(`${JSON.stringify({ event: 'start-failed', code: (error as { code?: string }).code, message: (error as Error).message })}\n`);
  await node.stop();
  process.exit(2);
}
process.stdout.write(`${JSON.stringify({ event: 'running', nodeId: node.nodeId(), clusterId: node.clusterId() ?? null, client: node.clientAddress(), peer: node.peerAddress() ?? null, pid: process.pid })}\n`);
