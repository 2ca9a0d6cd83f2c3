// A minimal Kafka client for protocol tests: our own codecs over a real socket, requests
// pipelined (several written before any answer), responses matched to requests in order and
// checked to come back in that order.
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { KafkaFrameDecoder, decodeResponseFrame, encodeRequestFrame } from '../../src/protocol/kafka/index.ts';
import type { KafkaRequestMessage, KafkaResponseMessage } from '../../src/protocol/kafka/index.ts';
import { parseHostPort } from '../../src/server/kafka/index.ts';

type Pending = {
  readonly correlationId: number;
  readonly apiKey: number;
  readonly version: number;
  readonly resolve: (response: KafkaResponseMessage) => void;
  readonly reject: (error: Error) => void;
};

export class RawKafkaClient {
  readonly #socket: Socket;
  readonly #decoder = new KafkaFrameDecoder();
  readonly #pending: Pending[] = [];
  readonly #closedListeners: (() => void)[] = [];
  #nextCorrelationId = 1;
  #closed = false;
  /** Frames that arrived for nothing pending (e.g. a response to an acks=0 produce). */
  unexpectedFrames = 0;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk) => this.#onData(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.#closed = true;
      for (const pending of this.#pending.splice(0)) pending.reject(new Error('connection closed'));
      for (const listener of this.#closedListeners) listener();
    });
  }

  static connect(address: string): Promise<RawKafkaClient> {
    const { host, port } = parseHostPort(address)!;
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port }, () => {
        socket.off('error', reject);
        resolve(new RawKafkaClient(socket));
      });
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves when the broker closes the connection (or rejects after timeoutMs). */
  whenClosed(timeoutMs = 5_000): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the connection stayed open')), timeoutMs);
      this.#closedListeners.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #onData(chunk: Buffer): void {
    for (const frame of this.#decoder.push(chunk)) {
      const pending = this.#pending.shift();
      if (pending === undefined) {
        this.unexpectedFrames++;
        continue;
      }
      try {
        const { correlationId, response } = decodeResponseFrame(frame, pending.apiKey, pending.version);
        if (correlationId !== pending.correlationId) throw new Error(`response out of order: correlation id ${correlationId}, expected ${pending.correlationId}`);
        pending.resolve(response);
      } catch (error) {
        pending.reject(error as Error);
      }
    }
  }

  /** Sends a request; `expectResponse: false` for acks=0 produce. */
  send<K extends KafkaRequestMessage['apiKey']>(version: number, request: Extract<KafkaRequestMessage, { apiKey: K }>, expectResponse = true): Promise<Extract<KafkaResponseMessage, { apiKey: K }>['message']> {
    const correlationId = this.#nextCorrelationId++;
    const frame = encodeRequestFrame(correlationId, 'raw-test', version, request);
    if (!expectResponse) {
      this.#socket.write(frame);
      return Promise.resolve(undefined as never);
    }
    return new Promise((resolve, reject) => {
      this.#pending.push({ correlationId, apiKey: request.apiKey, version, resolve: (response) => resolve(response.message as never), reject });
      this.#socket.write(frame);
    });
  }

  /** Writes bytes as they are (malformed input). */
  writeRaw(bytes: Uint8Array): void {
    this.#socket.write(bytes);
  }

  /** Sends a hand-built frame and decodes the answer as `apiKey` at `version`. */
  sendFrame(frame: Uint8Array, apiKey: number, version: number, correlationId: number): Promise<KafkaResponseMessage> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ correlationId, apiKey, version, resolve, reject });
      this.#socket.write(frame);
    });
  }

  close(): void {
    this.#socket.destroy();
  }
}
