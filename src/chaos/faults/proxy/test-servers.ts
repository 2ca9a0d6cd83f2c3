// Tiny loopback servers and clients for the proxy's tests (not used in production code).
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

export interface TestServer {
  readonly address: string;
  readonly port: number;
  readonly sockets: Set<Socket>;
  close(): Promise<void>;
}

/** A server that hands each accepted socket to `onSocket`; close() destroys every socket. */
export async function startServer(onSocket: (socket: Socket) => void): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    onSocket(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return {
    address: `127.0.0.1:${port}`,
    port,
    sockets,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Echoes everything back and half-closes when the client does. */
export function startEchoServer(): Promise<TestServer> {
  return startServer((socket) => socket.pipe(socket));
}

export async function connectTo(address: string): Promise<Socket> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  const socket = connect({ host, port, allowHalfOpen: true });
  await once(socket, 'connect');
  return socket;
}

export interface Outcome {
  readonly data: Buffer;
  /** How the socket ended: 'end' (FIN), or the error code (ECONNRESET, ...). */
  readonly ending: string;
  readonly elapsedMs: number;
}

/** Collects what the socket receives until it closes (bounded by timeoutMs, then destroys it). */
export function collect(socket: Socket, timeoutMs = 10_000): Promise<Outcome> {
  const started = performance.now();
  const chunks: Buffer[] = [];
  let ending = 'close';
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      ending = 'collect-timeout';
      socket.destroy();
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      ending = 'end';
      socket.end(); // the client is half-open: close our side too, so 'close' comes
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      ending = error.code ?? error.message;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), ending, elapsedMs: performance.now() - started });
    });
  });
}

/** Resolves once `socket` has received `bytes` bytes (or rejects after timeoutMs). */
export function receiveBytes(socket: Socket, bytes: number, timeoutMs = 10_000): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let received = 0;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off('data', onData);
      reject(new Error(`received ${received} of ${bytes} bytes within ${timeoutMs} ms`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      received += chunk.length;
      if (received < bytes) return;
      clearTimeout(timer);
      socket.off('data', onData);
      resolve(Buffer.concat(chunks));
    };
    socket.on('data', onData);
  });
}

/** A deterministic pseudo-random payload. */
export function payload(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < length; index++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[index] = state & 0xff;
  }
  return bytes;
}
