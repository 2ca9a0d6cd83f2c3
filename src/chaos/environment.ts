// The cluster a scenario runs against, and everything around it: real `cairn serve` processes
// started through LocalCluster (the code of `cairn local up`), with their peer links through a
// proxy mesh or their own network namespaces, their data directories on loop disks, their wall
// clocks under libfaketime. Every resource registers its undo in the cleanup registry, so a
// failure or Ctrl-C leaves nothing behind; sweepLeftovers() removes what a killed run left.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CairnClient } from '../client/index.ts';
import type { WireClusterStatus } from '../client/index.ts';
import { LocalCluster, findFreeBasePort } from '../local/index.ts';
import type { NodeLaunch } from '../local/index.ts';
import {
  ClockSkew, LoopDisk, NetnsLab, ProxyMesh, captureProcessIdentity, isRoot, processCleanup, signalProcess,
  sweepLoopDiskLeftovers, sweepNetnsLeftovers,
} from './faults/index.ts';
import type { CleanupRegistry, FaultLogger, ProcessIdentity } from './faults/index.ts';
import { processExists } from './faults/commands.ts';
import type { ConvergenceNode, ConvergenceOutput, NodeSample, ScenarioPlan } from './types.ts';

export const RUN_DIRECTORY_PREFIX = 'cairn-chaos-run-';
/** The variable `cairn serve` reads injected bugs from (tests only). */
export const INJECT_BUGS_VARIABLE = 'CAIRN_INJECT_BUGS';

/** Raft timings of chaos clusters: 50 ms ticks, 500 ms election timeout, 2 s request deadline. */
export const CHAOS_SERVE_ARGS: readonly string[] = [
  '--tick-ms', '50', '--election-timeout-ticks', '10', '--heartbeat-interval-ticks', '2', '--request-timeout-ms', '2000',
  '--ready-timeout-ms', '1000', '--process-metrics', 'false', '--log-level', 'info', '--wal-segment-max-bytes', String(8 * 1024 * 1024),
];

const STATUS_TIMEOUT_MS = 800;
const LOOP_DISK_BYTES = 256 * 1024 * 1024;
const START_TIMEOUT_MS = 30_000;
const REJOIN_TIMEOUT_MS = 15_000;
const SCAN_PAGE = 1000;

export interface ChaosClusterOptions {
  readonly plan: ScenarioPlan;
  /** Comma-separated bugs for CAIRN_INJECT_BUGS (tests only). */
  readonly injectBugs?: string;
  readonly logger: FaultLogger;
  readonly registry?: CleanupRegistry;
}

function sampleOf(status: WireClusterStatus): NodeSample {
  const node = status.node;
  return {
    role: node.role, term: node.term, leaderId: node.leaderId, commitIndex: node.commitIndex, appliedIndex: node.appliedIndex,
    firstIndex: node.firstIndex, lastIndex: node.lastIndex, revision: node.revision, voters: status.config.voters,
  };
}

export class ChaosCluster {
  readonly local: LocalCluster;
  readonly plan: ScenarioPlan;
  readonly mesh: ProxyMesh | undefined;
  readonly lab: NetnsLab | undefined;
  readonly disks = new Map<number, LoopDisk>();
  readonly skews = new Map<number, ClockSkew>();
  readonly #logger: FaultLogger;
  readonly #clients = new Map<number, CairnClient>();
  readonly #paused = new Map<number, ProcessIdentity>();
  #unregister: () => void = () => {};
  #destroyed = false;

  private constructor(local: LocalCluster, plan: ScenarioPlan, mesh: ProxyMesh | undefined, lab: NetnsLab | undefined, logger: FaultLogger) {
    this.local = local;
    this.plan = plan;
    this.mesh = mesh;
    this.lab = lab;
    this.#logger = logger;
  }

  /** Creates the cluster's directory, network, disks and clocks; nothing runs yet (see up()). */
  static async create(options: ChaosClusterOptions): Promise<ChaosCluster> {
    const { plan } = options;
    const registry = options.registry ?? processCleanup;
    const directory = mkdtempSync(join(tmpdir(), `${RUN_DIRECTORY_PREFIX}${process.pid}-${plan.scenario}-`));
    const lab = plan.environment.network === 'netns' ? await NetnsLab.create({ nodes: plan.nodes, logger: options.logger, cleanupRegistry: registry }) : undefined;
    let local: LocalCluster;
    try {
      local = LocalCluster.create({
        directory, nodes: plan.nodes, basePort: lab === undefined ? await findFreeBasePort(plan.nodes) : 2379,
        serveArgs: [...CHAOS_SERVE_ARGS, ...plan.environment.serveArgs], ...(lab === undefined ? {} : { hostOf: (id: number) => lab.node(id).address }),
      });
    } catch (error) {
      await lab?.cleanup();
      rmSync(directory, { recursive: true, force: true });
      throw error;
    }
    const mesh = lab === undefined
      ? await ProxyMesh.create({ nodes: local.nodes().map((node) => ({ id: node.id, peerAddress: node.peer })), seed: plan.seed, logger: options.logger, cleanupRegistry: registry })
      : undefined;
    const cluster = new ChaosCluster(local, plan, mesh, lab, options.logger);
    cluster.#unregister = registry.add({ name: `chaos cluster ${directory}`, run: () => cluster.destroy(), runSync: () => cluster.#killSync() });
    try {
      await cluster.#prepareNodes(options, registry);
    } catch (error) {
      await cluster.destroy();
      throw error;
    }
    return cluster;
  }

  async #prepareNodes(options: ChaosClusterOptions, registry: CleanupRegistry): Promise<void> {
    for (const node of this.local.nodes()) {
      if (this.plan.environment.loopDisks) {
        this.disks.set(node.id, await LoopDisk.create({ sizeBytes: LOOP_DISK_BYTES, mountPath: node.dataDir, logger: this.#logger, cleanupRegistry: registry }));
      }
      if (this.plan.environment.clockSkew) this.skews.set(node.id, ClockSkew.create({ cleanupRegistry: registry }));
    }
    this.local.setLaunchHook((node): NodeLaunch => {
      const env: Record<string, string> = { ...this.skews.get(node.id)?.environment() };
      if (options.injectBugs !== undefined && options.injectBugs !== '') env[INJECT_BUGS_VARIABLE] = options.injectBugs;
      return {
        env,
        serveArgs: this.mesh === undefined ? [] : ['--peer-address-overrides', this.mesh.overrideSetting(node.id)],
        ...(this.lab === undefined ? {} : { commandPrefix: ['ip', 'netns', 'exec', this.lab.node(node.id).namespace], skipPortCheck: true }),
      };
    });
  }

  get directory(): string {
    return this.local.directory;
  }

  nodeIds(): number[] {
    return this.local.nodes().map((node) => node.id);
  }

  endpoints(): string[] {
    return this.local.endpoints();
  }

  kafkaBrokers(): string[] {
    return this.local.nodes().flatMap((node) => (node.kafka === null ? [] : [node.kafka]));
  }

  /** Starts and forms the cluster, waits until every node is ready. */
  async up(timeoutMs = 90_000): Promise<void> {
    await this.local.up({ timeoutMs });
  }

  isRunning(id: number): boolean {
    return this.local.isRunning(id);
  }

  isPaused(id: number): boolean {
    return this.#paused.has(id);
  }

  /** Running, not paused nodes. */
  liveNodes(): number[] {
    return this.nodeIds().filter((id) => this.isRunning(id) && !this.isPaused(id));
  }

  #client(id: number): CairnClient {
    let client = this.#clients.get(id);
    if (client === undefined) {
      client = new CairnClient({ endpoints: [this.local.node(id).client], timeoutMs: STATUS_TIMEOUT_MS, maxAttempts: 1 });
      this.#clients.set(id, client);
    }
    return client;
  }

  /** What node `id` says about itself, or the reason it did not answer. */
  async sample(id: number): Promise<{ sample: NodeSample } | { error: string }> {
    try {
      return { sample: sampleOf(await this.#client(id).status({ scope: 'local', endpoint: this.local.node(id).client })) };
    } catch (error) {
      return { error: (error as Error).message };
    }
  }

  /** The live node that says it leads, with the highest term; undefined when none does. */
  async findLeader(): Promise<{ id: number; sample: NodeSample } | undefined> {
    const answers = await Promise.all(this.liveNodes().map(async (id) => ({ id, answer: await this.sample(id) })));
    let best: { id: number; sample: NodeSample } | undefined;
    for (const { id, answer } of answers) {
      if (!('sample' in answer) || answer.sample.role !== 'leader') continue;
      if (best === undefined || answer.sample.term > best.sample.term) best = { id, sample: answer.sample };
    }
    return best;
  }

  /** Polls for a leader until timeoutMs. */
  async waitForLeader(timeoutMs: number): Promise<{ id: number; sample: NodeSample } | undefined> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const leader = await this.findLeader();
      if (leader !== undefined || performance.now() >= deadline) return leader;
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  }

  /** SIGKILL (waits until gone) or SIGTERM (graceful; SIGKILL after 10 s). */
  async crash(id: number, signal: 'SIGKILL' | 'SIGTERM'): Promise<string> {
    this.#resumeIfPaused(id);
    if (signal === 'SIGKILL') {
      await this.local.killNode(id, 'SIGKILL');
      return 'killed';
    }
    return (await this.local.stopNode(id, { timeoutMs: 10_000 })).outcome;
  }

  async start(id: number): Promise<void> {
    if (this.isRunning(id)) return;
    await this.local.startNode(id, { timeoutMs: START_TIMEOUT_MS });
  }

  /**
   * Waits until the restarted nodes `ids` have rejoined: there is a leader, they applied what it
   * had committed, and every live node's link to every other is up again (a peer's reconnect
   * backoff may keep a link down for seconds after the node is back; a fault started before that
   * would measure the backoff, not Raft). Throws after timeoutMs, saying what is missing.
   */
  async waitRejoined(ids: readonly number[], timeoutMs = REJOIN_TIMEOUT_MS): Promise<string> {
    const startedAt = performance.now();
    const deadline = startedAt + timeoutMs;
    const leader = await this.waitForLeader(timeoutMs);
    if (leader === undefined) throw new Error(`no leader within ${timeoutMs} ms after restarting node${ids.length === 1 ? '' : 's'} ${ids.join(', ')}`);
    const target = leader.sample.commitIndex;
    let caughtUpMs: number | undefined;
    for (;;) {
      const missing: string[] = [];
      for (const id of ids) {
        const answer = await this.sample(id);
        if (!('sample' in answer)) missing.push(`node ${id}: ${answer.error}`);
        else if (answer.sample.appliedIndex < target) missing.push(`node ${id} applied ${answer.sample.appliedIndex} of ${target}`);
      }
      if (missing.length === 0) {
        caughtUpMs ??= performance.now() - startedAt;
        missing.push(...await this.#downLinks());
      }
      if (missing.length === 0) return `caught up in ${Math.round(caughtUpMs!)} ms, all peer links up in ${Math.round(performance.now() - startedAt)} ms`;
      if (performance.now() >= deadline) throw new Error(`not rejoined after ${timeoutMs} ms: ${missing.join('; ')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Links between live nodes that are down ("2->3"), from each node's cairn_transport_peer_connected. */
  async #downLinks(): Promise<string[]> {
    const live = this.liveNodes();
    const down: string[] = [];
    for (const id of live) {
      let text: string;
      try {
        text = await this.#client(id).metrics(this.local.node(id).client);
      } catch (error) {
        down.push(`node ${id} metrics: ${(error as Error).message}`);
        continue;
      }
      const connected = new Set([...text.matchAll(/^cairn_transport_peer_connected\{peer="(\d+)"\} 1$/gm)].map((match) => Number(match[1])));
      for (const other of live) if (other !== id && !connected.has(other)) down.push(`link ${id}->${other} down`);
    }
    return down;
  }

  async pause(id: number): Promise<void> {
    const identity = this.local.processIdentity(id);
    if (identity === undefined) throw new Error(`node ${id} is not running`);
    const captured = captureProcessIdentity(identity.pid);
    this.#paused.set(id, captured);
    await signalProcess(captured, 'SIGSTOP', { timeoutMs: 5000 });
  }

  async resume(id: number): Promise<void> {
    const identity = this.#paused.get(id);
    if (identity === undefined) return;
    this.#paused.delete(id);
    await signalProcess(identity, 'SIGCONT', { timeoutMs: 5000 }).catch(() => undefined);
  }

  #resumeIfPaused(id: number): void {
    const identity = this.#paused.get(id);
    if (identity === undefined) return;
    this.#paused.delete(id);
    try {
      process.kill(identity.pid, 'SIGCONT');
    } catch {
      // gone already
    }
  }

  /** Power loss of every node: SIGKILL all, then each disk loses what was not fsynced. */
  async powerLoss(): Promise<string> {
    if (this.disks.size === 0) throw new Error('power loss needs the nodes on loop disks (environment.loopDisks)');
    for (const id of this.nodeIds()) {
      this.#resumeIfPaused(id);
      if (this.isRunning(id)) await this.local.killNode(id, 'SIGKILL');
    }
    const cuts: string[] = [];
    for (const [id, disk] of this.disks) {
      const cut = await disk.powerCut();
      cuts.push(`node ${id}: e2fsck ${cut.fsckExitCode}, ${Math.round(cut.copiedBytes / 1024)} KiB copied in ${Math.round(cut.copyMs)} ms`);
    }
    return cuts.join('; ');
  }

  /** Moves leadership to `id` (asked of the cluster). */
  async transferLeader(id: number): Promise<number> {
    const client = this.local.client({ timeoutMs: 5000, maxAttempts: 4 });
    try {
      return (await client.transferLeader(id)).leaderId;
    } finally {
      client.close();
    }
  }

  /**
   * Undoes whatever is still in effect: heals the mesh, removes link toxics and loss rules, clears
   * clock skews, resumes paused nodes and starts stopped ones. Returns what it had to do.
   */
  async restoreAll(): Promise<string[]> {
    const done: string[] = [];
    if (this.mesh?.partition() !== undefined) {
      await this.mesh.heal();
      done.push('healed a partition');
    }
    // The timeline stops every fault it started; toxics left here come from a stop that failed.
    for (const proxy of this.mesh?.proxies() ?? []) {
      if (proxy.toxics().length === 0) continue;
      proxy.clearToxics();
      done.push(`removed toxics of proxy ${proxy.name}`);
    }
    await this.lab?.clearRules();
    for (const skew of this.skews.values()) skew.clear();
    for (const id of [...this.#paused.keys()]) {
      await this.resume(id);
      done.push(`resumed node ${id}`);
    }
    for (const id of this.nodeIds()) {
      if (this.isRunning(id)) continue;
      await this.start(id);
      done.push(`started node ${id}`);
    }
    return done;
  }

  /**
   * Waits (at most boundMs) until every node has the leader's commit index applied and the same
   * state digest: sha256 of every key, value and mod revision at the leader's revision, read from
   * each node itself (serializable reads at a fixed revision).
   */
  async converge(boundMs: number): Promise<ConvergenceOutput> {
    const deadline = performance.now() + boundMs;
    let rounds = 0;
    let last: ConvergenceOutput | undefined;
    for (;;) {
      rounds++;
      last = await this.#convergenceRound(rounds, boundMs);
      if (last.converged || performance.now() >= deadline) return last;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async #convergenceRound(rounds: number, boundMs: number): Promise<ConvergenceOutput> {
    const leader = await this.findLeader();
    const targetCommitIndex = leader?.sample.commitIndex ?? null;
    const targetRevision = leader?.sample.revision ?? null;
    const nodes = await Promise.all(this.nodeIds().map((id) => this.#convergenceNode(id, targetCommitIndex, targetRevision)));
    const first = nodes[0]!;
    const converged = leader !== undefined && nodes.every((node) => node.error === undefined && node.digest !== null && node.digest === first.digest
      && node.commitIndex === first.commitIndex && node.appliedIndex === first.appliedIndex && node.appliedIndex! >= targetCommitIndex!);
    return { converged, rounds, boundMs, targetCommitIndex, targetRevision, nodes };
  }

  async #convergenceNode(id: number, targetCommitIndex: number | null, targetRevision: number | null): Promise<ConvergenceNode> {
    const answer = await this.sample(id);
    if (!('sample' in answer)) return { id, commitIndex: null, appliedIndex: null, revision: null, digest: null, error: answer.error };
    const { sample } = answer;
    const base = { id, commitIndex: sample.commitIndex, appliedIndex: sample.appliedIndex, revision: sample.revision };
    if (targetCommitIndex === null || targetRevision === null || sample.appliedIndex < targetCommitIndex) return { ...base, digest: null };
    try {
      return { ...base, digest: await this.#digest(id, targetRevision) };
    } catch (error) {
      return { ...base, digest: null, error: (error as Error).message };
    }
  }

  async #digest(id: number, revision: number): Promise<string> {
    const client = new CairnClient({ endpoints: [this.local.node(id).client], timeoutMs: 3000, maxAttempts: 2 });
    try {
      const hash = createHash('sha256');
      let keys = 0;
      for await (const kv of client.scanAll({ revision, consistency: 'serializable', limit: SCAN_PAGE })) {
        hash.update(`${kv.key.toString('base64')}\u0000${kv.value.toString('base64')}\u0000${kv.modRevision}\n`);
        keys++;
      }
      return `${keys}:${hash.digest('hex').slice(0, 16)}`;
    } finally {
      client.close();
    }
  }

  /** Copies every node's log into `directory` (node-<id>.log). */
  copyLogs(directory: string): void {
    mkdirSync(directory, { recursive: true });
    for (const node of this.local.nodes()) {
      for (const suffix of ['.1', '']) {
        const source = `${node.logFile}${suffix}`;
        if (existsSync(source)) copyFileSync(source, join(directory, `node-${node.id}.log${suffix}`));
      }
    }
  }

  /** Stops everything and removes every resource (idempotent). */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#unregister();
    for (const client of this.#clients.values()) client.close();
    for (const id of this.nodeIds()) this.#resumeIfPaused(id);
    await this.local.down({ timeoutMs: 3000 }).catch(() => this.#killSync());
    await this.mesh?.stop();
    await this.lab?.cleanup();
    for (const disk of this.disks.values()) await disk.cleanup().catch((error: unknown) => this.#logger.error({ error: (error as Error).message }, 'loop disk cleanup failed'));
    for (const skew of this.skews.values()) skew.cleanup();
    rmSync(this.directory, { recursive: true, force: true });
  }

  /** Exit path: SIGKILL every node process of ours (after SIGCONT, so a paused one dies too). */
  #killSync(): void {
    for (const id of this.nodeIds()) {
      const identity = this.local.processIdentity(id);
      if (identity === undefined) continue;
      try {
        process.kill(identity.pid, 'SIGCONT');
        process.kill(identity.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/**
 * Removes what crashed runs left: network namespaces and loop disks of dead owners (root), and
 * run directories of dead owners (their node processes are killed first, if still ours).
 */
export async function sweepLeftovers(logger: FaultLogger): Promise<string[]> {
  const removed: string[] = [];
  if (isRoot()) {
    removed.push(...sweepNetnsLeftovers(logger).namespaces);
    removed.push(...sweepLoopDiskLeftovers(logger).loopDevices);
  }
  for (const name of readdirSync(tmpdir())) {
    const match = new RegExp(`^${RUN_DIRECTORY_PREFIX}(\\d+)-`).exec(name);
    if (match === null || processExists(Number(match[1]))) continue;
    const directory = join(tmpdir(), name);
    try {
      if (LocalCluster.exists(directory)) await LocalCluster.open(directory).down({ timeoutMs: 3000 });
    } catch (error) {
      logger.warn({ directory, error: (error as Error).message }, 'could not stop the nodes of a leftover chaos run');
    }
    rmSync(directory, { recursive: true, force: true });
    removed.push(directory);
  }
  if (removed.length > 0) logger.warn({ removed }, 'removed leftovers of earlier chaos runs');
  return removed;
}
