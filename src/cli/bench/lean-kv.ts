// A minimal HTTP/1.1 KV load generator: one keep-alive socket per worker, each request written
// as prepared bytes (only the key changes), each answer checked by its status line and framed
// by its Content-Length. CairnClient (JSON, base64, retries, endpoint rotation) spends more CPU
// per request than the node spends serving it, and on a small machine the generator competes
// with the nodes for the cores: it must not be the bottleneck it claims to measure (etcd's
// benchmark uses its compiled Go client for the same reason). `--client cairn` keeps the full
// client path. The lean client talks to one node and does not retry: a failed request counts as
// an error, with the node's error code.
import { connect } from 'node:net';
import type { Socket } from 'node:net';

const HEADER_END = Buffer.from('\r\n\r\n');
/** A response head larger than this is not a Cairn answer. */
const MAX_HEAD_BYTES = 16 * 1024;

export interface LeanAnswer {
  readonly status: number;
  readonly body: Buffer;
}

/** One keep-alive connection carrying one request at a time. */
export class LeanHttpConnection {
  readonly #socket: Socket;
  readonly #host: string;
  #buffered: Buffer = Buffer.alloc(0);
  #waiting: { resolve(answer: LeanAnswer): void; reject(error: Error): void } | undefined;
  #closedWith: Error | undefined;

  private constructor(socket: Socket, host: string) {
    this.#socket = socket;
    this.#host = host;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (error) => this.#fail(error));
    socket.on('close', () => this.#fail(new Error(`${host} closed the connection`)));
  }

  static open(address: string): Promise<LeanHttpConnection> {
    const colon = address.lastIndexOf(':');
    return new Promise((resolve, reject) => {
      const socket = connect({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)), noDelay: true }, () => {
        socket.off('error', reject);
        resolve(new LeanHttpConnection(socket, address));
      });
      socket.once('error', reject);
    });
  }

  /** True once the socket failed or was closed; a new connection is needed. */
  get closed(): boolean {
    return this.#closedWith !== undefined;
  }

  /** Sends `method path` with an optional JSON body (already encoded) and resolves with the answer. */
  request(method: string, path: string, body?: Buffer): Promise<LeanAnswer> {
    if (this.#closedWith !== undefined) return Promise.reject(this.#closedWith);
    if (this.#waiting !== undefined) return Promise.reject(new Error('one request at a time per connection'));
    const head = `${method} ${path} HTTP/1.1\r\nHost: ${this.#host}\r\n${body === undefined ? '' : `Content-Type: application/json\r\nContent-Length: ${body.byteLength}\r\n`}\r\n`;
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      if (body === undefined) this.#socket.write(head);
      else this.#socket.write(Buffer.concat([Buffer.from(head, 'latin1'), body]));
    });
  }

  close(): void {
    this.#closedWith ??= new Error('closed');
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    const headEnd = this.#buffered.indexOf(HEADER_END);
    if (headEnd < 0) {
      if (this.#buffered.length > MAX_HEAD_BYTES) this.#fail(new Error(`${this.#host} sent a response head over ${MAX_HEAD_BYTES} bytes`));
      return;
    }
    const head = this.#buffered.toString('latin1', 0, headEnd);
    const status = Number(head.slice(9, 12));
    const lengthMatch = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (!Number.isInteger(status) || lengthMatch === null) {
      this.#fail(new Error(`${this.#host} sent a response without a status or Content-Length: ${JSON.stringify(head.slice(0, 200))}`));
      return;
    }
    const bodyStart = headEnd + HEADER_END.length;
    const bodyEnd = bodyStart + Number(lengthMatch[1]);
    if (this.#buffered.length < bodyEnd) return;
    const body = this.#buffered.subarray(bodyStart, bodyEnd);
    this.#buffered = this.#buffered.subarray(bodyEnd);
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.resolve({ status, body });
  }

  #fail(error: Error): void {
    this.#closedWith ??= error;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.reject(error);
    this.#socket.destroy();
  }
}

/** The `code` of a Cairn error answer, or `http-<status>` when the body is not one. */
export function errorCodeOf(answer: LeanAnswer): string {
  try {
    const code = (JSON.parse(answer.body.toString('utf8')) as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  } catch {
    // not JSON: fall through
  }
  return `http-${answer.status}`;
}
