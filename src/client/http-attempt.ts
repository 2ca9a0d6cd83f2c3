// One HTTP request to one endpoint, with a deadline, classifying failures by what they imply:
// 'connect' (never reached the server: always safe to retry elsewhere), 'sent' (the connection
// broke after the request may have been received) and 'timeout' (no answer in time).
import { request as httpRequest } from 'node:http';
import type { Agent, IncomingHttpHeaders, IncomingMessage } from 'node:http';

const ANSWER_BYTES_MAX = 512 * 1024 * 1024;
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'ECONNABORTED']);

export type AttemptFailureKind = 'connect' | 'sent' | 'timeout';

export class AttemptFailure extends Error {
  readonly kind: AttemptFailureKind;

  constructor(kind: AttemptFailureKind, message: string) {
    super(message);
    this.kind = kind;
  }
}

export interface AttemptAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Parsed JSON, or the text when the answer is not JSON. */
  readonly body: unknown;
}

export function splitEndpoint(endpoint: string): { host: string; port: number } {
  const colon = endpoint.lastIndexOf(':');
  return { host: endpoint.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(endpoint.slice(colon + 1)) };
}

export interface AttemptRequest {
  readonly agent: Agent;
  readonly endpoint: string;
  readonly method: string;
  readonly path: string;
  readonly body?: Buffer | undefined;
  readonly headers?: Record<string, string>;
  readonly timeoutMs: number;
}

/** Sends the request and resolves with the response stream (for streams such as watches). */
export function openRequest(request: AttemptRequest): Promise<IncomingMessage> {
  const { host, port } = splitEndpoint(request.endpoint);
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (failure: AttemptFailure): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outgoing.destroy();
      reject(failure);
    };
    const outgoing = httpRequest({
      host, port, agent: request.agent, method: request.method, path: request.path,
      headers: { accept: 'application/json', ...request.headers, ...(request.body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(request.body.length) }) },
    }, (answer) => {
      if (settled) {
        answer.destroy();
        return;
      }
      settled = true;
      clearTimeout(timer);
      resolve(answer);
    });
    const timer = setTimeout(() => fail(new AttemptFailure('timeout', `no answer from ${request.endpoint} within ${request.timeoutMs} ms`)), request.timeoutMs);
    outgoing.on('error', (error: NodeJS.ErrnoException) => {
      const neverConnected = CONNECT_ERRORS.has(error.code ?? '');
      fail(new AttemptFailure(neverConnected ? 'connect' : 'sent', `${request.endpoint}: ${error.code ?? error.message}`));
    });
    outgoing.end(request.body);
  });
}

/** Sends the request and reads the whole JSON answer before the deadline. */
export async function attempt(request: AttemptRequest): Promise<AttemptAnswer> {
  const startedAt = performance.now();
  const answer = await openRequest(request);
  const remainingMs = Math.max(1, request.timeoutMs - (performance.now() - startedAt));
  const text = await readAll(answer, remainingMs, request.endpoint);
  let body: unknown = text;
  if ((answer.headers['content-type'] ?? '').includes('json') && text.length > 0) {
    try {
      body = JSON.parse(text);
    } catch {
      throw new AttemptFailure('sent', `${request.endpoint} sent a damaged JSON answer`);
    }
  }
  return { status: answer.statusCode ?? 0, headers: answer.headers, body };
}

function readAll(answer: IncomingMessage, timeoutMs: number, endpoint: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const timer = setTimeout(() => {
      answer.destroy();
      reject(new AttemptFailure('timeout', `the answer from ${endpoint} did not complete within the deadline`));
    }, timeoutMs);
    answer.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > ANSWER_BYTES_MAX) answer.destroy(new Error('the answer is too large'));
      else chunks.push(chunk);
    });
    answer.on('error', (error) => {
      clearTimeout(timer);
      reject(new AttemptFailure('sent', `${endpoint}: ${error.message}`));
    });
    answer.on('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks, length).toString('utf8'));
    });
  });
}
