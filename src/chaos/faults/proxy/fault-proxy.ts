// A fault-injecting TCP proxy, the equivalent of Toxiproxy: listens on a local port, forwards each
// accepted connection to an upstream host:port, and applies toxics (toxics.ts) that are added and
// removed at runtime, per direction, to existing and new connections alike.
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { SeededRandom } from '../../../util/random.ts';
import type { CleanupRegistry } from '../cleanup.ts';
import { processCleanup } from '../cleanup.ts';
import { FaultError, invalidArgument, requireIntegerInRange } from '../errors.ts';
import type { FaultLogger } from '../logger.ts';
import { SILENT_FAULT_LOGGER } from '../logger.ts';
import { ProxyConnection } from './proxy-connection.ts';
import type { ConnectionContext } from './proxy-connection.ts';
import { validateToxic } from './toxics.ts';
import type { Direction, Toxic } from './toxics.ts';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface FaultProxyOptions {
  /** For logs and stats; default "proxy". */
  readonly name?: string;
  /** Where the proxy forwards to: "host:port" or { host, port }. */
  readonly upstream: string | HostPort;
  /** Default 127.0.0.1. */
  readonly listenHost?: string;
  /** Default 0 (any free port). */
  readonly listenPort?: number;
  /** Seeds latency jitter, slicer sizes and toxicity rolls. Default 1. */
  readonly seed?: number;
  readonly logger?: FaultLogger;
  /** Connections beyond this are reset on accept. Default 256. */
  readonly maxConnections?: number;
  /** Per connection and direction; the source socket is paused beyond it. Default 256 KiB. */
  readonly maxBufferedBytes?: number;
  /** Dialing the upstream longer than this resets the client. Default 5000. */
  readonly connectTimeoutMs?: number;
  /** Where the proxy registers its stop(); default the process-wide registry. */
  readonly cleanupRegistry?: CleanupRegistry;
}

export interface ProxyStats {
  readonly name: string;
  readonly enabled: boolean;
  readonly connectionsAccepted: number;
  readonly connectionsActive: number;
  /** Refused for maxConnections, or accepted while disabled/stopping. */
  readonly connectionsRejected: number;
  readonly upstreamConnectFailures: number;
  readonly bytesForwarded: Readonly<Record<Direction, number>>;
  readonly bytesDropped: Readonly<Record<Direction, number>>;
  /** The most bytes one direction of one connection held at once (bounded by maxBufferedBytes + one read). */
  readonly maxQueuedBytesSeen: number;
}

const MAX_TOXICS = 64;

export function parseHostPort(address: string | HostPort): HostPort {
  if (typeof address !== 'string') return address;
  const separator = address.lastIndexOf(':');
  const host = address.slice(0, separator).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(separator + 1));
  if (separator <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalidArgument(`expected host:port, got '${address}'`);
  }
  return { host, port };
}

export function formatHostPort(address: HostPort): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

export class FaultProxy {
  readonly name: string;
  readonly #logger: FaultLogger;
  readonly #server: Server;
  readonly #toxics = new Map<string, Toxic>();
  readonly #connections = new Set<ProxyConnection>();
  readonly #context: ConnectionContext;
  readonly #maxConnections: number;
  readonly #connectTimeoutMs: number;
  readonly #unregister: () => void;
  #upstream: HostPort;
  #listen: HostPort;
  #enabled = true;
  #stopped = false;
  #nextConnectionId = 1;
  #stats = {
    connectionsAccepted: 0, connectionsRejected: 0, upstreamConnectFailures: 0, maxQueuedBytesSeen: 0,
    bytesForwarded: { upstream: 0, downstream: 0 }, bytesDropped: { upstream: 0, downstream: 0 },
  };

  private constructor(options: FaultProxyOptions) {
    this.name = options.name ?? 'proxy';
    this.#logger = options.logger ?? SILENT_FAULT_LOGGER;
    this.#upstream = parseHostPort(options.upstream);
    this.#listen = { host: options.listenHost ?? '127.0.0.1', port: options.listenPort ?? 0 };
    this.#maxConnections = requireIntegerInRange('maxConnections', options.maxConnections ?? 256, 1, 100_000);
    this.#connectTimeoutMs = requireIntegerInRange('connectTimeoutMs', options.connectTimeoutMs ?? 5000, 1, 600_000);
    const maxBufferedBytes = requireIntegerInRange('maxBufferedBytes', options.maxBufferedBytes ?? 256 * 1024, 1024, 1 << 30);
    const stats = this.#stats;
    this.#context = {
      random: new SeededRandom(options.seed ?? 1),
      maxBufferedBytes,
      logger: this.#logger,
      toxics: () => this.#toxics.values(),
      countBytes(direction, forwarded, dropped) {
        stats.bytesForwarded[direction] += forwarded;
        stats.bytesDropped[direction] += dropped;
      },
      observeQueuedBytes(bytes) {
        if (bytes > stats.maxQueuedBytesSeen) stats.maxQueuedBytesSeen = bytes;
      },
      closed: (connection) => this.#connections.delete(connection),
    };
    this.#server = createServer({ allowHalfOpen: true }, (socket) => this.#accept(socket));
    this.#server.on('error', (error) => this.#logger.error({ proxy: this.name, error: error.message }, 'proxy listener error'));
    const registry = options.cleanupRegistry ?? processCleanup;
    this.#unregister = registry.add({
      name: `fault proxy ${this.name}`,
      run: () => this.stop(),
      runSync: () => this.#stopNow(),
    });
  }

  /** Creates the proxy and starts listening. */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(options);
    try {
      await proxy.#startListening();
    } catch (error) {
      proxy.#stopNow();
      throw error;
    }
    proxy.#logger.info({ proxy: proxy.name, listen: proxy.address, upstream: proxy.upstream }, 'fault proxy started');
    return proxy;
  }

  /** Where clients connect: "host:port". */
  get address(): string {
    return formatHostPort(this.#listen);
  }

  get port(): number {
    return this.#listen.port;
  }

  get upstream(): string {
    return formatHostPort(this.#upstream);
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  /** New connections go to `address`; existing ones are reset when `resetExisting` (default true). */
  setUpstream(address: string | HostPort, resetExisting = true): void {
    this.#upstream = parseHostPort(address);
    if (resetExisting) this.resetConnections('upstream changed');
  }

  addToxic(toxic: Toxic): void {
    this.#assertRunning();
    validateToxic(toxic);
    if (this.#toxics.has(toxic.name)) throw invalidArgument(`proxy ${this.name} already has a toxic named '${toxic.name}'`);
    if (this.#toxics.size >= MAX_TOXICS) throw new FaultError('limit-reached', `proxy ${this.name}: at most ${MAX_TOXICS} toxics`);
    const frozen = Object.freeze({ ...toxic });
    this.#toxics.set(toxic.name, frozen);
    for (const connection of this.#connections) connection.applyToxic(frozen);
    this.#logger.debug({ proxy: this.name, toxic: frozen }, 'toxic added');
  }

  /** Removes the toxic; false if there was none of that name. */
  removeToxic(name: string): boolean {
    const toxic = this.#toxics.get(name);
    if (toxic === undefined) return false;
    this.#toxics.delete(name);
    for (const connection of [...this.#connections]) connection.removeToxic(toxic);
    this.#logger.debug({ proxy: this.name, toxic: name }, 'toxic removed');
    return true;
  }

  hasToxic(name: string): boolean {
    return this.#toxics.has(name);
  }

  toxics(): Toxic[] {
    return [...this.#toxics.values()];
  }

  clearToxics(): void {
    for (const name of [...this.#toxics.keys()]) this.removeToxic(name);
  }

  /** Toxiproxy's "down": closes the listener (new connections are refused) and resets every connection. */
  async disable(): Promise<void> {
    this.#assertRunning();
    if (!this.#enabled) return;
    this.#enabled = false;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.resetConnections('proxy disabled');
    await closed;
    this.#logger.debug({ proxy: this.name }, 'proxy disabled');
  }

  /** Listens again on the same port. */
  async enable(): Promise<void> {
    this.#assertRunning();
    if (this.#enabled) return;
    await this.#startListening();
    this.#enabled = true;
    this.#logger.debug({ proxy: this.name }, 'proxy enabled');
  }

  /** Resets every open connection (clients reconnect through the current toxics). */
  resetConnections(reason = 'reset requested'): number {
    const connections = [...this.#connections];
    for (const connection of connections) connection.destroy(reason, true);
    return connections.length;
  }

  connectionCount(): number {
    return this.#connections.size;
  }

  stats(): ProxyStats {
    const stats = this.#stats;
    return {
      name: this.name, enabled: this.#enabled, connectionsActive: this.#connections.size,
      connectionsAccepted: stats.connectionsAccepted, connectionsRejected: stats.connectionsRejected,
      upstreamConnectFailures: stats.upstreamConnectFailures, maxQueuedBytesSeen: stats.maxQueuedBytesSeen,
      bytesForwarded: { ...stats.bytesForwarded }, bytesDropped: { ...stats.bytesDropped },
    };
  }

  /** Closes the listener and every connection. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    const closed = this.#server.listening ? new Promise<void>((resolve) => this.#server.close(() => resolve())) : Promise.resolve();
    this.#stopNow();
    await closed;
    this.#logger.info({ proxy: this.name, stats: this.stats() }, 'fault proxy stopped');
  }

  #stopNow(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#enabled = false;
    this.#unregister();
    if (this.#server.listening) this.#server.close();
    this.resetConnections('proxy stopped');
  }

  #assertRunning(): void {
    if (this.#stopped) throw new FaultError('stopped', `proxy ${this.name} is stopped`);
  }

  async #startListening(): Promise<void> {
    this.#server.listen({ host: this.#listen.host, port: this.#listen.port, exclusive: true });
    const [error] = await Promise.race([once(this.#server, 'listening').then(() => [undefined]), once(this.#server, 'error')]);
    if (error !== undefined) {
      throw new FaultError('command-failed', `proxy ${this.name} cannot listen on ${this.address}: ${(error as Error).message}`);
    }
    const bound = this.#server.address();
    if (bound !== null && typeof bound === 'object') this.#listen = { host: this.#listen.host, port: bound.port };
  }

  #accept(client: Socket): void {
    if (this.#stopped || !this.#enabled || this.#connections.size >= this.#maxConnections) {
      this.#stats.connectionsRejected++;
      client.on('error', () => {});
      client.resetAndDestroy();
      if (this.#connections.size >= this.#maxConnections) {
        this.#logger.debug({ proxy: this.name, maxConnections: this.#maxConnections }, 'connection rejected: maxConnections reached');
      }
      return;
    }
    this.#stats.connectionsAccepted++;
    const upstream = connect({ host: this.#upstream.host, port: this.#upstream.port, allowHalfOpen: true });
    const connection = new ProxyConnection(this.#nextConnectionId++, client, upstream, this.#context);
    this.#connections.add(connection);
    let connected = false;
    const timer = setTimeout(() => {
      this.#stats.upstreamConnectFailures++;
      connection.destroy(`upstream ${this.upstream} did not accept within ${this.#connectTimeoutMs} ms`, true);
    }, this.#connectTimeoutMs);
    upstream.once('connect', () => {
      connected = true;
      clearTimeout(timer);
    });
    upstream.once('close', () => clearTimeout(timer));
    upstream.once('error', () => {
      if (!connected) this.#stats.upstreamConnectFailures++;
    });
  }
}
