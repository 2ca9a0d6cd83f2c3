// A minimal JSON-over-HTTP call from one node to another (leader forwarding, cluster status
// fan-out, joining). Bounded answer size and a deadline; one keep-alive agent per process.
import { Agent, request as httpRequest } from 'node:http';

const ANSWER_BYTES_MAX = 16 * 1024 * 1024;
const agent = new Agent({ keepAlive: true, maxSockets: 64, timeout: 30_000 });

export interface HttpJsonAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** Splits "host:port" / "[v6]:port"; undefined when it is not one. */
export function splitEndpoint(endpoint: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(endpoint);
  if (match === null) return undefined;
  const port = Number(match[3]);
  return port >= 1 && port <= 65535 ? { host: (match[1] ?? match[2])!, port } : undefined;
}

export function httpJson(endpoint: string, method: string, path: string, options: {
  body?: unknown; headers?: Record<string, string>; timeoutMs: number;
}): Promise<HttpJsonAnswer> {
  const address = splitEndpoint(endpoint);
  if (address === undefined) return Promise.reject(new Error(`${JSON.stringify(endpoint)} is not host:port`));
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest({
      host: address.host, port: address.port, agent, method, path, timeout: options.timeoutMs,
      headers: { ...options.headers, ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': payload.length }) },
    }, (answer) => {
      const chunks: Buffer[] = [];
      let length = 0;
      answer.on('data', (chunk: Buffer) => {
        length += chunk.length;
        if (length > ANSWER_BYTES_MAX) answer.destroy(new Error('the answer is too large'));
        else chunks.push(chunk);
      });
      answer.on('error', reject);
      answer.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: answer.statusCode ?? 0, body: text.length === 0 ? null : JSON.parse(text) });
        } catch {
          reject(new Error(`${endpoint} answered ${answer.statusCode} with a body that is not JSON`));
        }
      });
    });
    const timer = setTimeout(() => outgoing.destroy(new Error(`no answer from ${endpoint} within ${options.timeoutMs} ms`)), options.timeoutMs);
    outgoing.on('close', () => clearTimeout(timer));
    outgoing.on('error', reject);
    outgoing.end(payload);
  });
}
