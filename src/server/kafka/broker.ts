// The Kafka-compatible broker of one Cairn node: a TCP server on the node's Kafka port speaking the
// Kafka protocol over the node's replicated log state. Lifecycle (see README.md):
//
//   const broker = new KafkaBroker({ listen: { host, port }, advertisedAddress, ... });
//   const bound = await broker.start();        // listening; put broker.advertisedAddress() in the
//                                              // node's member addresses (`kafka`)
//   broker.attach({ nodeId, raft, log, members });   // once the Raft node runs
//   await broker.stop();                        // closes every connection, fails waiting requests
//
// or `startKafkaBroker(options)` with `parts` given, which does the first three at once.
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { BrokerCore } from './broker-core.ts';
import { formatHostPort } from './cluster-view.ts';
import { KafkaConnection } from './connection.ts';
import type { ConnectionHost } from './connection.ts';
import { KafkaBrokerError, resolveBrokerOptions } from './options.ts';
import type { BrokerParts, KafkaBrokerOptions, ResolvedBrokerOptions } from './options.ts';

export interface KafkaBrokerStats {
  readonly connections: number;
  readonly connectionsAccepted: number;
  readonly inFlightRequests: number;
  readonly inFlightBytes: number;
  readonly longPollingFetches: number;
  readonly groups: number;
}

export class KafkaBroker {
  readonly options: ResolvedBrokerOptions;
  readonly #core: BrokerCore;
  readonly #server: Server;
  readonly #connections = new Set<KafkaConnection>();
  readonly #capacityListeners = new Set<() => void>();
  readonly #host: ConnectionHost;
  #inFlightRequests = 0;
  #inFlightBytes = 0;
  #accepted = 0;
  #advertised: string | undefined;
  #state: 'new' | 'listening' | 'stopped' = 'new';

  constructor(options: KafkaBrokerOptions) {
    this.options = resolveBrokerOptions(options);
    this.#core = new BrokerCore(this.options);
    this.#server = createServer({ noDelay: true, pauseOnConnect: false }, (socket) => this.#accept(socket));
    this.#server.maxConnections = this.options.limits.connectionsMax;
    this.#host = {
      core: this.#core,
      acquire: (frameBytes) => this.#acquire(frameBytes),
      release: (frameBytes) => this.#release(frameBytes),
      onCapacity: (listener) => {
        this.#capacityListeners.add(listener);
        return () => this.#capacityListeners.delete(listener);
      },
      closed: (connection) => this.#connections.delete(connection),
    };
    if (options.parts !== undefined) this.attach(options.parts);
  }

  /** Starts listening; resolves with the bound address (port 0 in the options picks a free port). */
  async start(): Promise<{ host: string; port: number }> {
    if (this.#state !== 'new') throw new KafkaBrokerError('already-started', 'the Kafka broker was already started');
    const { host, port } = this.options.listen;
    await new Promise<void>((resolve, reject) => {
      const failed = (error: Error): void => reject(new KafkaBrokerError('listen-failed', `the Kafka port ${formatHostPort(host, port)} cannot be opened: ${error.message}`));
      this.#server.once('error', failed);
      this.#server.listen(port, host, () => {
        this.#server.off('error', failed);
        resolve();
      });
    });
    this.#state = 'listening';
    this.#server.on('error', (error) => this.options.logger.error({ error: error.message }, 'Kafka server error'));
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new KafkaBrokerError('listen-failed', 'the Kafka server has no TCP address');
    this.#advertised = this.options.advertisedAddress ?? this.#defaultAdvertised(address.address, address.port);
    const advertised = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(this.#advertised);
    if (advertised === null) throw new KafkaBrokerError('invalid-option', `the advertised Kafka address "${this.#advertised}" is not host:port`);
    this.#core.setSelfAddress((advertised[1] ?? advertised[2])!, Number(advertised[3]));
    this.options.logger.info({ listen: formatHostPort(address.address, address.port), advertised: this.#advertised }, 'Kafka broker listening');
    return { host: address.address, port: address.port };
  }

  #defaultAdvertised(host: string, port: number): string {
    if (host === '0.0.0.0' || host === '::') {
      throw new KafkaBrokerError('invalid-option', `an advertised Kafka address is required when listening on ${host} (clients need a reachable address)`);
    }
    return formatHostPort(host, port);
  }

  /** host:port clients are told to use for this broker (after start()). */
  advertisedAddress(): string | undefined {
    return this.#advertised;
  }

  /** Connects the broker to the running node. Until then it answers as a node without a leader. */
  attach(parts: BrokerParts): void {
    if (this.#core.parts !== undefined) throw new KafkaBrokerError('already-attached', 'the Kafka broker is already attached to a node');
    if (!Number.isInteger(parts.nodeId) || parts.nodeId < 0 || parts.nodeId > 0x7fffffff) {
      throw new KafkaBrokerError('invalid-option', `node id ${parts.nodeId} cannot be a Kafka broker id (0 to 2147483647)`);
    }
    this.#core.attach(parts);
  }

  /** Stops accepting, closes every connection (requests in flight are dropped: clients retry elsewhere). */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    const wasListening = this.#state === 'listening';
    this.#state = 'stopped';
    this.#core.stop();
    const closed = wasListening ? new Promise<void>((resolve) => this.#server.close(() => resolve())) : Promise.resolve();
    for (const connection of [...this.#connections]) connection.close('the broker is stopping');
    await closed;
  }

  stats(): KafkaBrokerStats {
    return {
      connections: this.#connections.size, connectionsAccepted: this.#accepted, inFlightRequests: this.#inFlightRequests,
      inFlightBytes: this.#inFlightBytes, longPollingFetches: this.#core.waiters.size, groups: this.#core.groups.groupCount,
    };
  }

  /** The leader's retention round, now (tests; it also runs on its own timer). */
  runRetention(): Promise<void> {
    return this.#core.runRetention();
  }

  #accept(socket: Socket): void {
    if (this.#state !== 'listening') {
      socket.destroy();
      return;
    }
    this.#accepted++;
    this.#connections.add(new KafkaConnection(socket, this.#host));
  }

  #acquire(frameBytes: number): boolean {
    const { inFlightRequestsMax, inFlightBytesMax } = this.options.limits;
    // One request is always let through when nothing is in flight, however large (within the frame limit).
    if (this.#inFlightRequests > 0 && (this.#inFlightRequests >= inFlightRequestsMax || this.#inFlightBytes + frameBytes > inFlightBytesMax)) return false;
    this.#inFlightRequests++;
    this.#inFlightBytes += frameBytes;
    return true;
  }

  #release(frameBytes: number): void {
    this.#inFlightRequests--;
    this.#inFlightBytes -= frameBytes;
    if (this.#capacityListeners.size === 0) return;
    queueMicrotask(() => {
      for (const listener of [...this.#capacityListeners]) {
        if (this.#inFlightRequests >= this.options.limits.inFlightRequestsMax) break;
        listener();
      }
    });
  }
}

/** Creates the broker, starts listening, and attaches it when `parts` is given. */
export async function startKafkaBroker(options: KafkaBrokerOptions): Promise<KafkaBroker> {
  const broker = new KafkaBroker(options);
  await broker.start();
  return broker;
}
