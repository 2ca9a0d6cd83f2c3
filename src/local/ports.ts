// Ports of a local cluster: node i (1-based) uses base + 10·(i-1) for its client (HTTP) API,
// + 1 for peers and + 2 for Kafka. Before starting a node the ports are tried, so a clash is
// reported as "port 2380 (node 1 peer) is in use" instead of a failed start in a log file.
import { createServer } from 'node:net';

export const PORT_STRIDE = 10;
export const DEFAULT_BASE_PORT = 2379;

export interface NodePorts {
  readonly client: number;
  readonly peer: number;
  readonly kafka: number;
}

export function nodePorts(basePort: number, id: number): NodePorts {
  const client = basePort + PORT_STRIDE * (id - 1);
  return { client, peer: client + 1, kafka: client + 2 };
}

/** Whether `port` can be bound on `host` right now. */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** The labelled ports that are taken, e.g. ["2380 (node 1 peer)"]. */
export async function portsInUse(ports: readonly { port: number; label: string }[], host = '127.0.0.1'): Promise<string[]> {
  const taken: string[] = [];
  for (const { port, label } of ports) if (!(await isPortFree(port, host))) taken.push(`${port} (${label})`);
  return taken;
}

/**
 * A base port whose `nodes` nodes' ports are all free, tried from random starting points in
 * [low, high) — below Linux's ephemeral range (32768+), so outgoing connections do not take them.
 */
export async function findFreeBasePort(nodes: number, options: { low?: number; high?: number; attempts?: number; random?: () => number } = {}): Promise<number> {
  const low = options.low ?? 20_000;
  const high = options.high ?? 32_000;
  const random = options.random ?? Math.random;
  const span = PORT_STRIDE * nodes;
  for (let attempt = 0; attempt < (options.attempts ?? 50); attempt++) {
    const base = low + Math.floor(random() * ((high - low - span) / PORT_STRIDE)) * PORT_STRIDE;
    let free = true;
    for (let id = 1; id <= nodes && free; id++) {
      const ports = nodePorts(base, id);
      free = (await isPortFree(ports.client)) && (await isPortFree(ports.peer)) && (await isPortFree(ports.kafka));
    }
    if (free) return base;
  }
  throw new Error(`found no free ports for ${nodes} nodes between ${low} and ${high}`);
}
