// A FaultProxy for every directed pair of nodes: node i reaches node j at proxy(i -> j)'s address,
// which forwards to j's real peer address. With Cairn's transport (each node dials each peer once
// and sends its own messages on that connection; answers to requests come back on it), data from
// a to b travels on proxy(a -> b) upstream and on proxy(b -> a) downstream, so cutting the flow
// a -> b means blackholing exactly those two pipes, and a one-way partition is precise.
import type { CleanupRegistry } from '../cleanup.ts';
import { processCleanup } from '../cleanup.ts';
import { FaultError, invalidArgument, requireIntegerInRange } from '../errors.ts';
import { defineFault } from '../fault-timeline.ts';
import type { Fault } from '../fault-timeline.ts';
import type { FaultLogger } from '../logger.ts';
import { SILENT_FAULT_LOGGER } from '../logger.ts';
import { FaultProxy } from './fault-proxy.ts';
import type { FaultProxyOptions } from './fault-proxy.ts';
import { isSymmetric, normalizeLinks } from './partition-shapes.ts';
import type { Link, NodeId, PartitionShape } from './partition-shapes.ts';
import type { Toxic } from './toxics.ts';

export interface MeshNode {
  readonly id: NodeId;
  /** The node's real peer (Raft) listen address, host:port. */
  readonly peerAddress: string;
}

export interface ProxyMeshOptions {
  readonly nodes: readonly MeshNode[];
  /** Default 127.0.0.1. */
  readonly listenHost?: string;
  readonly seed?: number;
  readonly logger?: FaultLogger;
  /** Passed to every proxy (maxConnections, maxBufferedBytes, connectTimeoutMs). */
  readonly proxyOptions?: Pick<FaultProxyOptions, 'maxConnections' | 'maxBufferedBytes' | 'connectTimeoutMs'>;
  readonly cleanupRegistry?: CleanupRegistry;
}

/** How a partition cuts links: drop the bytes silently, or refuse/reset the TCP connections. */
export type PartitionMode = 'blackhole' | 'refuse';

/** A toxic for a directed flow of data; the mesh picks the proxy and direction. */
export type LinkToxic = Toxic extends infer T ? T extends Toxic ? Omit<T, 'direction'> : never : never;

const MAX_NODES = 64;
const PARTITION_TOXIC = 'mesh-partition';
const MIN_FLAP_INTERVAL_MS = 10;

function key(from: NodeId, to: NodeId): string {
  return `${from}>${to}`;
}

export class ProxyMesh {
  readonly nodeIds: readonly NodeId[];
  readonly #proxies = new Map<string, FaultProxy>();
  readonly #logger: FaultLogger;
  readonly #unregister: () => void;
  #partition: { readonly shape: PartitionShape; readonly mode: PartitionMode } | undefined;
  #linkToxics = new Map<string, readonly Link[]>();
  #stopped = false;

  private constructor(nodeIds: readonly NodeId[], logger: FaultLogger, registry: CleanupRegistry) {
    this.nodeIds = nodeIds;
    this.#logger = logger;
    this.#unregister = registry.add({
      name: 'proxy mesh',
      run: () => this.stop(),
      runSync: () => {
        for (const proxy of this.#proxies.values()) void proxy.stop();
      },
    });
  }

  /** Starts N x (N - 1) proxies. */
  static async create(options: ProxyMeshOptions): Promise<ProxyMesh> {
    const ids = options.nodes.map((node) => node.id);
    if (ids.length < 2 || ids.length > MAX_NODES) throw invalidArgument(`a proxy mesh needs 2-${MAX_NODES} nodes, got ${ids.length}`);
    if (new Set(ids).size !== ids.length) throw invalidArgument(`node ids must be distinct: ${ids.join(',')}`);
    const seed = requireIntegerInRange('seed', options.seed ?? 1, 0, 2 ** 31);
    const mesh = new ProxyMesh(ids, options.logger ?? SILENT_FAULT_LOGGER, options.cleanupRegistry ?? processCleanup);
    try {
      let index = 0;
      for (const from of options.nodes) {
        for (const to of options.nodes) {
          if (from.id === to.id) continue;
          const proxy = await FaultProxy.start({
            ...options.proxyOptions, name: `${from.id}->${to.id}`, upstream: to.peerAddress,
            listenHost: options.listenHost ?? '127.0.0.1', seed: seed * 4096 + index++, logger: mesh.#logger,
            cleanupRegistry: options.cleanupRegistry,
          });
          mesh.#proxies.set(key(from.id, to.id), proxy);
        }
      }
    } catch (error) {
      await mesh.stop();
      throw error;
    }
    mesh.#logger.info({ nodes: ids, proxies: mesh.#proxies.size }, 'proxy mesh started');
    return mesh;
  }

  proxy(from: NodeId, to: NodeId): FaultProxy {
    const proxy = this.#proxies.get(key(from, to));
    if (proxy === undefined) throw invalidArgument(`no proxy for ${from} -> ${to} (nodes ${this.nodeIds.join(',')})`);
    return proxy;
  }

  proxies(): FaultProxy[] {
    return [...this.#proxies.values()];
  }

  /** Where node `from` must dial node `to`. */
  addressFor(from: NodeId, to: NodeId): string {
    return this.proxy(from, to).address;
  }

  /** Node `from`'s peer address overrides: every other node's id -> the proxy to dial. */
  overridesFor(from: NodeId): Map<NodeId, string> {
    return new Map(this.nodeIds.filter((to) => to !== from).map((to) => [to, this.addressFor(from, to)]));
  }

  /** The overrides as one "id=host:port,id=host:port" setting (proposed --peer-address-override). */
  overrideSetting(from: NodeId): string {
    return [...this.overridesFor(from)].map(([id, address]) => `${id}=${address}`).join(',');
  }

  /** Node `id` now listens elsewhere (restarted on a new port): repoints every proxy to it. */
  setPeerAddress(id: NodeId, peerAddress: string): void {
    for (const from of this.nodeIds) if (from !== id) this.proxy(from, id).setUpstream(peerAddress);
  }

  /** The current partition, if any. */
  partition(): { readonly shape: PartitionShape; readonly mode: PartitionMode } | undefined {
    return this.#partition;
  }

  /** Replaces the current partition (heals the old one first). */
  async applyPartition(shape: PartitionShape, mode: PartitionMode = 'blackhole'): Promise<void> {
    this.#assertRunning();
    const blocked = normalizeLinks(shape.blocked);
    for (const [from, to] of blocked) this.proxy(from, to);
    if (mode === 'refuse' && !isSymmetric(blocked)) {
      throw invalidArgument(`partition '${shape.name}' is one-way; mode 'refuse' cuts whole connections, use 'blackhole'`);
    }
    await this.heal();
    for (const [from, to] of blocked) {
      if (mode === 'refuse') {
        await this.proxy(from, to).disable();
        continue;
      }
      this.proxy(from, to).addToxic({ name: `${PARTITION_TOXIC}/upstream`, type: 'blackhole', direction: 'upstream' });
      this.proxy(to, from).addToxic({ name: `${PARTITION_TOXIC}/downstream`, type: 'blackhole', direction: 'downstream' });
    }
    this.#partition = { shape: { name: shape.name, blocked }, mode };
    this.#logger.info({ partition: shape.name, mode, blockedLinks: blocked.length }, 'partition applied');
  }

  /** Removes the partition (connections that lost bytes are reset and reconnect). */
  async heal(): Promise<void> {
    const current = this.#partition;
    if (current === undefined) return;
    this.#partition = undefined;
    for (const proxy of this.#proxies.values()) {
      proxy.removeToxic(`${PARTITION_TOXIC}/upstream`);
      proxy.removeToxic(`${PARTITION_TOXIC}/downstream`);
      if (!proxy.enabled) await proxy.enable();
    }
    this.#logger.info({ partition: current.shape.name }, 'partition healed');
  }

  /** Adds a toxic to the flows of data along `links` (default: every directed pair). */
  addLinkToxic(toxic: LinkToxic, links: readonly Link[] = this.#allLinks()): void {
    this.#assertRunning();
    if (toxic.name === PARTITION_TOXIC) throw invalidArgument(`'${PARTITION_TOXIC}' is reserved for partitions`);
    if (this.#linkToxics.has(toxic.name)) throw invalidArgument(`the mesh already has a link toxic named '${toxic.name}'`);
    const normalized = normalizeLinks(links);
    for (const [from, to] of normalized) {
      // One name per direction: a proxy carries the flow from -> to upstream and to -> from downstream.
      this.proxy(from, to).addToxic({ ...toxic, name: `${toxic.name}/upstream`, direction: 'upstream' } as Toxic);
      this.proxy(to, from).addToxic({ ...toxic, name: `${toxic.name}/downstream`, direction: 'downstream' } as Toxic);
    }
    this.#linkToxics.set(toxic.name, normalized);
  }

  removeLinkToxic(name: string): boolean {
    const links = this.#linkToxics.get(name);
    if (links === undefined) return false;
    this.#linkToxics.delete(name);
    for (const [from, to] of links) {
      this.proxy(from, to).removeToxic(`${name}/upstream`);
      this.proxy(to, from).removeToxic(`${name}/downstream`);
    }
    return true;
  }

  /** A Fault that applies `shape` on start and heals on stop. */
  partitionFault(shape: PartitionShape, mode: PartitionMode = 'blackhole'): Fault {
    return defineFault(shape.name, () => this.applyPartition(shape, mode), () => this.heal());
  }

  /** A Fault that adds a link toxic on start and removes it on stop. */
  linkToxicFault(toxic: LinkToxic, links?: readonly Link[]): Fault {
    return defineFault(`${toxic.type} ${toxic.name}`, () => this.addLinkToxic(toxic, links), () => {
      this.removeLinkToxic(toxic.name);
    });
  }

  /** A Fault that toggles `shape` on and off every intervalMs while active (starting with on). */
  flappingFault(shape: PartitionShape, intervalMs: number, mode: PartitionMode = 'blackhole'): Fault {
    requireIntegerInRange('intervalMs', intervalMs, MIN_FLAP_INTERVAL_MS, 3_600_000);
    let timer: ReturnType<typeof setInterval> | undefined;
    let chain: Promise<void> = Promise.resolve();
    let on = false;
    const toggle = (): void => {
      on = !on;
      chain = chain.then(() => (on ? this.applyPartition(shape, mode) : this.heal())).catch((error: unknown) => {
        this.#logger.error({ partition: shape.name, error: (error as Error).message }, 'flapping partition toggle failed');
      });
    };
    return defineFault(`flapping ${shape.name} every ${intervalMs} ms`, async () => {
      toggle();
      timer = setInterval(toggle, intervalMs);
      await chain;
    }, async () => {
      clearInterval(timer);
      await chain;
      await this.heal();
    });
  }

  /** Stops every proxy. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unregister();
    await Promise.all([...this.#proxies.values()].map((proxy) => proxy.stop()));
    this.#logger.info({ nodes: this.nodeIds }, 'proxy mesh stopped');
  }

  #allLinks(): Link[] {
    return this.nodeIds.flatMap((from) => this.nodeIds.filter((to) => to !== from).map((to): Link => [from, to]));
  }

  #assertRunning(): void {
    if (this.#stopped) throw new FaultError('stopped', 'the proxy mesh is stopped');
  }
}
