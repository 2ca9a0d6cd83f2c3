// Real network faults with Linux network namespaces (root only): N namespaces, one per node, each
// with a veth "eth0" at 10.77.S.<id> plugged into a bridge that lives in a namespace of its own
// (the hub), and optionally a veth from the host (10.77.S.254) so processes outside can reach the
// nodes. Faults are iptables rules in each node namespace's CAIRN_CHAOS chain (hooked into INPUT):
// `-m statistic --mode random --probability p -j DROP` for packet loss, `-s <peer> -j DROP` for
// partitions. `tc netem` does not exist on this kernel; delay stays in the proxy.
//
// Cleanup: everything lives inside the namespaces (links, bridge, rules) except the host end of the
// host veth, which the kernel deletes with its peer. So cleanup = kill the processes still inside,
// delete the namespaces. Names carry the owning pid (cairn-chaos-netns-<pid>-<lab>-<node>, host
// link ccn-<pid base 36>-<lab>), so sweepLeftovers() can remove what a crashed run left behind.
import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import type { CleanupRegistry } from '../cleanup.ts';
import { installProcessCleanupHooks, processCleanup } from '../cleanup.ts';
import { processExists, requireExecutable, requireRoot, runCommand, runCommandSync } from '../commands.ts';
import type { CommandOptions, CommandResult } from '../commands.ts';
import { FaultError, invalidArgument, requireIntegerInRange, requireNumberInRange } from '../errors.ts';
import { defineFault } from '../fault-timeline.ts';
import type { Fault } from '../fault-timeline.ts';
import type { FaultLogger } from '../logger.ts';
import { SILENT_FAULT_LOGGER } from '../logger.ts';
import type { NodeId, PartitionShape } from '../proxy/partition-shapes.ts';

export const NETNS_PREFIX = 'cairn-chaos-netns-';
const HOST_LINK_PREFIX = 'ccn-';
const CHAIN = 'CAIRN_CHAOS';
const MAX_NODES = 32;
const MAX_RULES = 4096;
const MAX_CHILDREN = 256;
const HOST_OCTET = 254;

export interface NetnsLabOptions {
  /** Number of node namespaces (ids 1..nodes). */
  readonly nodes: number;
  /** Give the host an address on the lab's bridge (10.77.S.254). Default true. */
  readonly hostLink?: boolean;
  /** Third octet S of 10.77.S.0/24; default: a free one. */
  readonly subnet?: number;
  readonly logger?: FaultLogger;
  readonly cleanupRegistry?: CleanupRegistry;
}

export interface LabNode {
  readonly id: NodeId;
  readonly namespace: string;
  readonly address: string;
}

export interface LossOptions {
  /** 'inbound' (default): packets arriving at the node; 'outbound': packets it sends to other lab nodes. */
  readonly direction?: 'inbound' | 'outbound' | 'both';
}

let labSequence = 0;

function iptables(...args: string[]): string[] {
  return ['iptables', '-w', '5', ...args];
}

export class NetnsLab {
  readonly nodes: readonly LabNode[];
  readonly subnet: number;
  readonly hubNamespace: string;
  /** The host's address on the lab bridge, when hostLink is on. */
  readonly hostAddress: string | undefined;
  readonly hostLink: string | undefined;
  readonly #logger: FaultLogger;
  readonly #created: string[] = [];
  readonly #children = new Set<ChildProcess>();
  readonly #rules = new Map<NodeId, string[][]>();
  readonly #shaped = new Set<NodeId>();
  #unregister: () => void = () => {};
  #cleaned = false;

  private constructor(nodes: readonly LabNode[], subnet: number, hub: string, hostLink: string | undefined, logger: FaultLogger) {
    this.nodes = nodes;
    this.subnet = subnet;
    this.hubNamespace = hub;
    this.hostLink = hostLink;
    this.hostAddress = hostLink === undefined ? undefined : `10.77.${subnet}.${HOST_OCTET}`;
    this.#logger = logger;
  }

  /** Builds the namespaces, bridge and links. Needs root, iproute2 and iptables. */
  static async create(options: NetnsLabOptions): Promise<NetnsLab> {
    requireRoot('NetnsLab');
    requireExecutable('ip', 'iproute2');
    requireExecutable('iptables', 'iptables');
    const count = requireIntegerInRange('nodes', options.nodes, 1, MAX_NODES);
    const sequence = labSequence++;
    const base = `${NETNS_PREFIX}${process.pid}-${sequence}`;
    const subnet = options.subnet ?? await pickFreeSubnet(process.pid + sequence * 7);
    requireIntegerInRange('subnet', subnet, 0, 255);
    const nodes = Array.from({ length: count }, (_, index): LabNode => ({
      id: index + 1, namespace: `${base}-n${index + 1}`, address: `10.77.${subnet}.${index + 1}`,
    }));
    const hostLink = options.hostLink === false ? undefined : `${HOST_LINK_PREFIX}${process.pid.toString(36)}-${sequence.toString(36)}`;
    const lab = new NetnsLab(nodes, subnet, `${base}-hub`, hostLink, options.logger ?? SILENT_FAULT_LOGGER);
    lab.#unregister = (options.cleanupRegistry ?? processCleanup).add({
      name: `netns lab ${base}`, run: () => lab.cleanup(), runSync: () => lab.cleanupSync(),
    });
    installProcessCleanupHooks();
    try {
      await lab.#build();
    } catch (error) {
      await lab.cleanup();
      throw error;
    }
    lab.#logger.info({ namespaces: nodes.map((node) => node.namespace), subnet: `10.77.${subnet}.0/24`, host: lab.hostAddress }, 'netns lab created');
    return lab;
  }

  node(id: NodeId): LabNode {
    const node = this.nodes.find((candidate) => candidate.id === id);
    if (node === undefined) throw invalidArgument(`no lab node ${id} (nodes 1..${this.nodes.length})`);
    return node;
  }

  /** Runs a command inside node `id`'s namespace and waits for it. */
  exec(id: NodeId, argv: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    this.#assertRunning();
    return runCommand(['ip', 'netns', 'exec', this.node(id).namespace, ...argv], options);
  }

  /** Starts a process inside node `id`'s namespace (ip netns exec execs it: the pid is the command's). */
  spawn(id: NodeId, command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    this.#assertRunning();
    if (this.#children.size >= MAX_CHILDREN) throw new FaultError('limit-reached', `more than ${MAX_CHILDREN} processes in the lab`);
    const child = spawn('ip', ['netns', 'exec', this.node(id).namespace, command, ...args], options);
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    return child;
  }

  /** Drops packets at random with `probability` (0..1] on node `id`'s links. */
  async packetLoss(id: NodeId, probability: number, options: LossOptions = {}): Promise<void> {
    requireNumberInRange('probability', probability, 0.0001, 1);
    const direction = options.direction ?? 'inbound';
    const statistic = probability >= 1 ? [] : ['-m', 'statistic', '--mode', 'random', '--probability', String(probability)];
    if (direction !== 'outbound') await this.#addRule(id, ['-i', 'eth0', ...statistic, '-j', 'DROP']);
    if (direction === 'inbound') return;
    for (const other of this.nodes) {
      if (other.id !== id) await this.#addRule(other.id, ['-i', 'eth0', '-s', this.node(id).address, ...statistic, '-j', 'DROP']);
    }
  }

  /**
   * Limits what node `id` sends (egress of its eth0) to bitsPerSecond with a tbf qdisc (tc netem
   * is missing on this kernel, tbf is there). clearBandwidthLimit() or cleanup() removes it.
   */
  async limitBandwidth(id: NodeId, bitsPerSecond: number): Promise<void> {
    requireIntegerInRange('bitsPerSecond', bitsPerSecond, 8000, 100_000_000_000);
    // A burst of at least one MTU-sized packet (and ~10 ms of traffic) keeps tbf from stalling.
    const burstBytes = Math.max(1600, Math.ceil(bitsPerSecond / 8 / 100));
    await this.exec(id, ['tc', 'qdisc', 'replace', 'dev', 'eth0', 'root', 'tbf', 'rate', `${bitsPerSecond}bit`,
      'burst', String(burstBytes), 'latency', '400ms']);
    this.#shaped.add(id);
  }

  async clearBandwidthLimit(id: NodeId): Promise<void> {
    if (!this.#shaped.delete(id)) return;
    await this.exec(id, ['tc', 'qdisc', 'del', 'dev', 'eth0', 'root']);
  }

  /** Drops every packet sent by node `from` to node `to` (one way; add the reverse for a symmetric cut). */
  async blockTraffic(from: NodeId, to: NodeId): Promise<void> {
    if (from === to) throw invalidArgument('blockTraffic needs two different nodes');
    await this.#addRule(to, ['-i', 'eth0', '-s', this.node(from).address, '-j', 'DROP']);
  }

  /** Applies a partition shape (partition-shapes.ts; lab node ids 1..N) as DROP rules. */
  async applyPartition(shape: PartitionShape): Promise<void> {
    for (const [from, to] of shape.blocked) await this.blockTraffic(from, to);
    this.#logger.info({ partition: shape.name, rules: shape.blocked.length }, 'netns partition applied');
  }

  /** Removes every rule of node `id`, or of every node. */
  async clearRules(id?: NodeId): Promise<void> {
    for (const node of id === undefined ? this.nodes : [this.node(id)]) {
      if ((this.#rules.get(node.id)?.length ?? 0) === 0) continue;
      await this.exec(node.id, iptables('-F', CHAIN));
      this.#rules.set(node.id, []);
    }
  }

  /** The rules currently installed in node `id`'s chain (as iptables -S prints them). */
  async listRules(id: NodeId): Promise<string[]> {
    const { stdout } = await this.exec(id, iptables('-S', CHAIN));
    return stdout.split('\n').filter((line) => line.startsWith('-A '));
  }

  /** A Fault: packet loss on node `id` while active. */
  lossFault(id: NodeId, probability: number, options: LossOptions = {}): Fault {
    return defineFault(`packet loss ${Math.round(probability * 100)}% at node ${id}`, () => this.packetLoss(id, probability, options), () => this.clearRules(id));
  }

  /** A Fault: the partition while active. */
  partitionFault(shape: PartitionShape): Fault {
    return defineFault(`netns ${shape.name}`, () => this.applyPartition(shape), () => this.clearRules());
  }

  /** Kills the lab's processes and deletes every namespace (and so every link and rule). Idempotent. */
  async cleanup(): Promise<void> {
    if (this.#cleaned) return;
    this.cleanupSync();
  }

  /** The same, synchronously (exit and signal handlers). */
  cleanupSync(): void {
    if (this.#cleaned) return;
    this.#cleaned = true;
    this.#unregister();
    for (const child of this.#children) child.kill('SIGKILL');
    for (const namespace of [...this.#created].reverse()) deleteNamespaceSync(namespace);
    if (this.hostLink !== undefined) runCommandSync(['ip', 'link', 'del', this.hostLink]);
    this.#logger.info({ namespaces: this.#created.length }, 'netns lab removed');
  }

  async #build(): Promise<void> {
    const hub = this.hubNamespace;
    await this.#addNamespace(hub);
    await runCommand(['ip', '-n', hub, 'link', 'add', 'br0', 'type', 'bridge']);
    await runCommand(['ip', '-n', hub, 'link', 'set', 'br0', 'up']);
    for (const node of this.nodes) {
      await this.#addNamespace(node.namespace);
      const port = `v${node.id}`;
      await runCommand(['ip', '-n', hub, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', node.namespace]);
      await runCommand(['ip', '-n', hub, 'link', 'set', port, 'master', 'br0', 'up']);
      await runCommand(['ip', '-n', node.namespace, 'addr', 'add', `${node.address}/24`, 'dev', 'eth0']);
      await runCommand(['ip', '-n', node.namespace, 'link', 'set', 'eth0', 'up']);
      await this.exec(node.id, iptables('-N', CHAIN));
      await this.exec(node.id, iptables('-I', 'INPUT', '-j', CHAIN));
      this.#rules.set(node.id, []);
    }
    if (this.hostLink !== undefined) {
      await runCommand(['ip', 'link', 'add', this.hostLink, 'type', 'veth', 'peer', 'name', 'host', 'netns', hub]);
      await runCommand(['ip', '-n', hub, 'link', 'set', 'host', 'master', 'br0', 'up']);
      await runCommand(['ip', 'addr', 'add', `${this.hostAddress}/24`, 'dev', this.hostLink]);
      await runCommand(['ip', 'link', 'set', this.hostLink, 'up']);
    }
  }

  async #addNamespace(name: string): Promise<void> {
    await runCommand(['ip', 'netns', 'add', name]);
    this.#created.push(name);
    await runCommand(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
  }

  async #addRule(id: NodeId, spec: string[]): Promise<void> {
    this.#assertRunning();
    const rules = this.#rules.get(this.node(id).id)!;
    if (rules.length >= MAX_RULES) throw new FaultError('limit-reached', `node ${id} already has ${MAX_RULES} rules`);
    await this.exec(id, iptables('-A', CHAIN, ...spec));
    rules.push(spec);
  }

  #assertRunning(): void {
    if (this.#cleaned) throw new FaultError('stopped', 'the netns lab was cleaned up');
  }
}

function deleteNamespaceSync(name: string): void {
  // Processes keep a namespace alive after `ip netns del`: kill them first.
  const { stdout } = runCommandSync(['ip', 'netns', 'pids', name]);
  for (const pid of stdout.split(/\s+/).filter((part) => /^\d+$/.test(part))) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  runCommandSync(['ip', 'netns', 'del', name]);
}

/** A 10.77.S.0/24 that no address of the host uses. */
async function pickFreeSubnet(hint: number): Promise<number> {
  const { stdout } = await runCommand(['ip', '-4', '-o', 'addr', 'show']);
  const used = new Set([...stdout.matchAll(/inet 10\.77\.(\d+)\./g)].map((match) => Number(match[1])));
  for (let attempt = 0; attempt < 250; attempt++) {
    const subnet = 1 + ((hint + attempt) % 250);
    if (!used.has(subnet)) return subnet;
  }
  throw new FaultError('limit-reached', 'no free 10.77.S.0/24 subnet: sweep leftovers of earlier runs');
}

/** The netns names in `ip netns list` output. */
export function parseNamespaceList(output: string): string[] {
  return output.split('\n').map((line) => line.trim().split(/\s+/)[0] ?? '').filter((name) => name !== '');
}

export interface SweepResult {
  readonly namespaces: readonly string[];
  readonly links: readonly string[];
}

/**
 * Deletes namespaces and host links left by runs whose process is gone (a crash, a SIGKILL). Those
 * of live processes (a run in parallel) are kept. Needs root.
 */
export function sweepLeftovers(logger: FaultLogger = SILENT_FAULT_LOGGER): SweepResult {
  requireRoot('sweeping netns leftovers');
  const namespaces: string[] = [];
  for (const name of parseNamespaceList(runCommandSync(['ip', 'netns', 'list']).stdout)) {
    const match = name.startsWith(NETNS_PREFIX) ? /^(\d+)-/.exec(name.slice(NETNS_PREFIX.length)) : null;
    if (match === null || processExists(Number(match[1]))) continue;
    deleteNamespaceSync(name);
    namespaces.push(name);
  }
  const links: string[] = [];
  for (const match of runCommandSync(['ip', '-o', 'link', 'show']).stdout.matchAll(/^\d+:\s+(ccn-([0-9a-z]+)-[0-9a-z]+)[@:]/gm)) {
    if (processExists(parseInt(match[2]!, 36))) continue;
    runCommandSync(['ip', 'link', 'del', match[1]!]);
    links.push(match[1]!);
  }
  if (namespaces.length + links.length > 0) logger.warn({ namespaces, links }, 'removed netns leftovers of a crashed run');
  return { namespaces, links };
}
