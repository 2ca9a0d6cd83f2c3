// A cluster of Cairn nodes on this machine, each its own `cairn serve` process, for people
// (`cairn local up`), tests and the chaos suite. One directory holds everything:
//
//   <dir>/cluster.json        state: cluster id, ports, and the pid + start time of each process
//   <dir>/cluster-secret      the shared secret (mode 0600), given to nodes with --cluster-secret-file
//   <dir>/node-<id>/data/     the node's data directory
//   <dir>/node-<id>/node.log  its log (JSON lines, appended across restarts; rotated at 64 MiB)
//
// Forming a new cluster goes through the HTTP API like an operator would: init on node 1, add
// the others as learners, promote each once it has caught up. Every wait polls with backoff
// against a deadline (no fixed sleeps), and notices a node process that exited.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CairnClient, encodeTicket } from '../client/index.ts';
import type { CairnClientOptions, WireClusterStatus } from '../client/index.ts';
import { DEFAULT_BASE_PORT, nodePorts, portsInUse } from './ports.ts';
import { identify, ownership, waitForExit } from './processes.ts';
import type { Ownership } from './processes.ts';
import { newLocalState, readLocalState, writeLocalState } from './state-file.ts';
import type { LocalNodeState, LocalState } from './state-file.ts';

export const CAIRN_BIN = fileURLToPath(new URL('../../bin/cairn.js', import.meta.url));
export const NODES_MAX = 9;
const LOG_ROTATE_BYTES = 64 * 1024 * 1024;
const DEFAULT_START_TIMEOUT_MS = 30_000;
const DEFAULT_STOP_TIMEOUT_MS = 15_000;
const PROBE_TIMEOUT_MS = 1000;

export type LocalClusterErrorCode = 'exists' | 'no-cluster' | 'ports-in-use' | 'start-failed' | 'timeout' | 'not-ours' | 'mismatch' | 'bad-option';

export class LocalClusterError extends Error {
  override name = 'LocalClusterError';
  readonly code: LocalClusterErrorCode;

  constructor(code: LocalClusterErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export interface LocalClusterOptions {
  readonly directory: string;
  /** Number of nodes (1 to 9). Default 3. */
  readonly nodes?: number;
  /** Node i uses base + 10·(i-1) (client), +1 (peer), +2 (Kafka). Default 2379. */
  readonly basePort?: number;
  /** Extra `cairn serve` flags for every node, e.g. ['--snapshot-every-entries', '100']. */
  readonly serveArgs?: readonly string[];
  /**
   * The host node i listens on and is reached at (default 127.0.0.1 for every node). The chaos
   * suite's network-namespace lab gives each node its own address.
   */
  readonly hostOf?: (id: number) => string;
}

/**
 * How one node process is started, beyond what the state file records; asked of the launch hook
 * (see setLaunchHook) at every start. Not persisted: it belongs to the program holding the
 * LocalCluster (the chaos runner), so `cairn local` commands never see it.
 */
export interface NodeLaunch {
  /** Extra environment variables (set after CAIRN_* variables of ours were removed). */
  readonly env?: Readonly<Record<string, string>>;
  /** Extra `cairn serve` flags after the cluster's own, e.g. ['--peer-address-overrides', '2=127.0.0.1:41001']. */
  readonly serveArgs?: readonly string[];
  /** A command the node is started through, which must exec it (same pid), e.g. ['ip', 'netns', 'exec', 'ns1']. */
  readonly commandPrefix?: readonly string[];
  /** Do not try the node's ports first (they are in another network namespace). */
  readonly skipPortCheck?: boolean;
}

export type NodeLaunchHook = (node: LocalNodeState) => NodeLaunch;

/** One node as `status()` sees it: what the state file says plus what the node answers. */
export interface LocalNodeStatus extends LocalNodeState {
  /** 'ours': our process runs; 'gone': not running; 'foreign': the recorded pid is someone else's. */
  readonly process: Ownership;
  readonly phase: string | null;
  readonly role: string | null;
  readonly term: number | null;
  readonly leaderId: number | null;
  readonly commitIndex: number | null;
  readonly appliedIndex: number | null;
  readonly membership: string | null;
  /** Why the node did not answer, when it runs but did not. */
  readonly error?: string;
}

export interface StopReport {
  readonly id: number;
  readonly outcome: 'stopped' | 'killed' | 'not-running' | 'not-ours';
}

export type Progress = (message: string) => void;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The last lines of a log file (at most 4 KiB read). */
export function logTail(path: string, lines = 8): string {
  try {
    const size = statSync(path).size;
    const length = Math.min(size, 4096);
    const buffer = Buffer.alloc(length);
    const fd = openSync(path, 'r');
    try {
      readSync(fd, buffer, 0, length, size - length);
    } finally {
      closeSync(fd);
    }
    return buffer.toString('utf8').split('\n').filter((line) => line.trim() !== '').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function rotateLog(path: string): void {
  try {
    if (statSync(path).size > LOG_ROTATE_BYTES) renameSync(path, `${path}.1`);
  } catch {
    // No log yet.
  }
}

/** The environment of node processes: ours without CAIRN_* (their settings are all flags). */
function nodeEnvironment(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('CAIRN_')));
}

export class LocalCluster {
  readonly directory: string;
  #state: LocalState;
  readonly #children = new Map<number, ChildProcess>();
  #launchHook: NodeLaunchHook = () => ({});

  private constructor(directory: string, state: LocalState) {
    this.directory = directory;
    this.#state = state;
  }

  static exists(directory: string): boolean {
    return readLocalState(resolve(directory)) !== undefined;
  }

  /** The cluster recorded in `directory`. */
  static open(directory: string): LocalCluster {
    const absolute = resolve(directory);
    const state = readLocalState(absolute);
    if (state === undefined) throw new LocalClusterError('no-cluster', `there is no local cluster in ${absolute}: start one with \`cairn local up --dir ${directory}\``);
    return new LocalCluster(absolute, state);
  }

  /** Records a new cluster in `directory` (nothing is started yet). */
  static create(options: LocalClusterOptions): LocalCluster {
    const directory = resolve(options.directory);
    if (readLocalState(directory) !== undefined) throw new LocalClusterError('exists', `${directory} already holds a local cluster`);
    const count = options.nodes ?? 3;
    const basePort = options.basePort ?? DEFAULT_BASE_PORT;
    if (!Number.isInteger(count) || count < 1 || count > NODES_MAX) throw new LocalClusterError('bad-option', `--nodes must be 1 to ${NODES_MAX} (got ${count})`);
    if (!Number.isInteger(basePort) || basePort < 1024 || nodePorts(basePort, count).kafka > 65535) throw new LocalClusterError('bad-option', `--base-port must leave room for ${count} nodes between 1024 and 65535 (got ${basePort})`);
    mkdirSync(directory, { recursive: true });
    const secretFile = join(directory, 'cluster-secret');
    writeFileSync(secretFile, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
    const host = '127.0.0.1';
    const nodes = Array.from({ length: count }, (_, index): LocalNodeState => {
      const id = index + 1;
      const ports = nodePorts(basePort, id);
      const nodeHost = options.hostOf?.(id) ?? host;
      return {
        id, name: `node-${id}`, dataDir: join(directory, `node-${id}`, 'data'), logFile: join(directory, `node-${id}`, 'node.log'),
        peer: `${nodeHost}:${ports.peer}`, client: `${nodeHost}:${ports.client}`, kafka: `${nodeHost}:${ports.kafka}`, pid: null, startToken: null,
      };
    });
    const state = newLocalState({ clusterId: `local-${randomBytes(4).toString('hex')}`, host, basePort, secretFile, serveArgs: [...(options.serveArgs ?? [])], nodes });
    writeLocalState(directory, state);
    return new LocalCluster(directory, state);
  }

  get state(): LocalState {
    return this.#state;
  }

  get clusterId(): string {
    return this.#state.clusterId;
  }

  nodes(): readonly LocalNodeState[] {
    return this.#state.nodes;
  }

  node(id: number): LocalNodeState {
    const node = this.#state.nodes.find((candidate) => candidate.id === id);
    if (node === undefined) throw new LocalClusterError('bad-option', `there is no node ${id} (nodes: ${this.#state.nodes.map((each) => each.id).join(', ')})`);
    return node;
  }

  endpoints(): string[] {
    return this.#state.nodes.map((node) => node.client);
  }

  ticket(): string {
    return encodeTicket({ clusterId: this.#state.clusterId, endpoints: this.endpoints() });
  }

  /** A client of every node (the caller closes it). */
  client(options: Partial<CairnClientOptions> = {}): CairnClient {
    return new CairnClient({ endpoints: this.endpoints(), timeoutMs: 10_000, ...options });
  }

  /** Sets how node processes are started from now on (extra env, flags, a command prefix). */
  setLaunchHook(hook: NodeLaunchHook): void {
    this.#launchHook = hook;
  }

  /** The pid and start token of node `id`'s process, when it runs and is ours. */
  processIdentity(id: number): { readonly pid: number; readonly startToken: string } | undefined {
    const node = this.node(id);
    return this.processOf(id) === 'ours' ? { pid: node.pid!, startToken: node.startToken! } : undefined;
  }

  /** Re-reads the state file (another `cairn local` command may have changed it). */
  reload(): void {
    this.#state = readLocalState(this.directory) ?? this.#state;
  }

  #update(id: number, fields: Partial<LocalNodeState>): void {
    this.reload();
    this.#state = { ...this.#state, nodes: this.#state.nodes.map((node) => (node.id === id ? { ...node, ...fields } : node)) };
    writeLocalState(this.directory, this.#state);
  }

  #setFormed(): void {
    this.reload();
    this.#state = { ...this.#state, formed: true };
    writeLocalState(this.directory, this.#state);
  }

  /** Whether node `id`'s recorded process is running and is the one we started. */
  processOf(id: number): Ownership {
    const node = this.node(id);
    if (node.pid === null || node.startToken === null) return 'gone';
    return ownership({ pid: node.pid, startToken: node.startToken }, node.dataDir);
  }

  isRunning(id: number): boolean {
    return this.processOf(id) === 'ours';
  }

  #serveArguments(node: LocalNodeState, launch: NodeLaunch): string[] {
    const state = this.#state;
    const ports = nodePorts(state.basePort, node.id);
    const args = [
      CAIRN_BIN, 'serve', '--data-dir', node.dataDir, '--node-id', String(node.id), '--name', node.name, '--listen-host', hostOf(node),
      '--peer-port', String(ports.peer), '--client-port', String(ports.client), '--cluster-secret-file', state.secretFile, '--log-format', 'json',
    ];
    if (node.kafka !== null) args.push('--kafka-port', String(ports.kafka));
    // Node 1 creates the cluster through the API; every other start (and node 1's, once the
    // cluster exists) knows the cluster id and its peers, so a wiped node can be sent a snapshot.
    if (state.formed || node.id !== 1) {
      const seeds = state.nodes.filter((other) => other.id !== node.id).map((other) => `${other.id}=${other.peer}`);
      args.push('--cluster-id', state.clusterId, ...(seeds.length === 0 ? [] : ['--seed-peers', seeds.join(',')]));
    }
    return [...args, ...state.serveArgs, ...(launch.serveArgs ?? [])];
  }

  async #checkPorts(node: LocalNodeState): Promise<void> {
    const ports = nodePorts(this.#state.basePort, node.id);
    const wanted = [{ port: ports.client, label: `node ${node.id} client` }, { port: ports.peer, label: `node ${node.id} peer` }];
    if (node.kafka !== null) wanted.push({ port: ports.kafka, label: `node ${node.id} Kafka` });
    const taken = await portsInUse(wanted, hostOf(node));
    if (taken.length > 0) {
      throw new LocalClusterError('ports-in-use', `port${taken.length > 1 ? 's' : ''} ${taken.join(', ')} ${taken.length > 1 ? 'are' : 'is'} in use by another process: stop it, or use another --dir with another --base-port`);
    }
  }

  /** Starts node `id` (wiping its data first if asked) and waits until it answers /v1/health. */
  async startNode(id: number, options: { wipe?: boolean; timeoutMs?: number } = {}): Promise<void> {
    const node = this.node(id);
    const running = this.processOf(id);
    if (running === 'ours') throw new LocalClusterError('start-failed', `node ${id} already runs (pid ${node.pid})`);
    const launch = this.#launchHook(node);
    if (launch.skipPortCheck !== true) await this.#checkPorts(node);
    if (options.wipe === true) rmSync(node.dataDir, { recursive: true, force: true });
    mkdirSync(node.dataDir, { recursive: true });
    await this.#spawn(node, launch);
    await this.#waitForHealth(id, performance.now() + (options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS));
  }

  async #spawn(node: LocalNodeState, launch: NodeLaunch): Promise<void> {
    rotateLog(node.logFile);
    const log = openSync(node.logFile, 'a');
    let child: ChildProcess;
    try {
      const [command, ...prefix] = [...(launch.commandPrefix ?? []), process.execPath];
      const environment = { ...nodeEnvironment(), ...launch.env };
      child = spawn(command!, [...prefix, ...this.#serveArguments(node, launch)], { detached: true, stdio: ['ignore', log, log], env: environment, cwd: this.directory });
    } finally {
      closeSync(log);
    }
    await new Promise<void>((resolveSpawn, reject) => {
      child.once('spawn', () => resolveSpawn());
      child.once('error', (error) => reject(new LocalClusterError('start-failed', `cannot start node ${node.id}: ${error.message}`)));
    });
    child.unref();
    const identity = identify(child.pid!);
    this.#children.set(node.id, child);
    this.#update(node.id, { pid: child.pid!, startToken: identity?.startToken ?? null });
  }

  async #waitForHealth(id: number, deadline: number): Promise<void> {
    const node = this.node(id);
    const probe = new CairnClient({ endpoints: [node.client], timeoutMs: PROBE_TIMEOUT_MS, maxAttempts: 1 });
    try {
      for (let delayMs = 25; ; delayMs = Math.min(500, delayMs * 1.6)) {
        if (this.processOf(id) !== 'ours') {
          this.#update(id, { pid: null, startToken: null });
          throw new LocalClusterError('start-failed', `node ${id} exited while starting; the end of ${node.logFile}:\n${logTail(node.logFile)}`);
        }
        try {
          await probe.health(node.client);
          return;
        } catch {
          // Not listening yet.
        }
        if (performance.now() > deadline) throw new LocalClusterError('timeout', `node ${id} did not answer on ${node.client} in time; see ${node.logFile}`);
        await sleep(delayMs);
      }
    } finally {
      probe.close();
    }
  }

  /** SIGTERM (graceful stop), escalating to SIGKILL after `timeoutMs`. */
  async stopNode(id: number, options: { timeoutMs?: number } = {}): Promise<StopReport> {
    const node = this.node(id);
    const owned = this.processOf(id);
    if (owned !== 'ours') {
      if (node.pid !== null) this.#update(id, { pid: null, startToken: null });
      return { id, outcome: owned === 'foreign' ? 'not-ours' : 'not-running' };
    }
    process.kill(node.pid!, 'SIGTERM');
    let outcome: StopReport['outcome'] = 'stopped';
    if (!(await waitForExit(node.pid!, options.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS))) {
      if (this.processOf(id) === 'ours') process.kill(node.pid!, 'SIGKILL');
      await waitForExit(node.pid!, 5000);
      outcome = 'killed';
    }
    this.#children.delete(id);
    this.#update(id, { pid: null, startToken: null });
    return { id, outcome };
  }

  /** Sends `signal` to node `id`'s process (only if it is ours); SIGKILL waits until it is gone. */
  async killNode(id: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const node = this.node(id);
    const owned = this.processOf(id);
    if (owned === 'foreign') throw new LocalClusterError('not-ours', `pid ${node.pid} is no longer node ${id}'s process; not signalling it`);
    if (owned === 'gone') throw new LocalClusterError('start-failed', `node ${id} is not running`);
    process.kill(node.pid!, signal);
    if (signal === 'SIGKILL') {
      await waitForExit(node.pid!, 10_000);
      this.#children.delete(id);
      this.#update(id, { pid: null, startToken: null });
    }
  }

  /**
   * Stops node `id` and starts it again. With `wipe`, its data directory is emptied and it
   * re-enters the cluster the way an operator replaces a disk: it is removed from the membership,
   * started empty, added back as a learner (it catches up, by snapshot when the log was
   * compacted) and promoted again. (Restarting a wiped voter under its old membership would
   * break Raft's promise: the leader believes it still holds entries it has lost.)
   */
  async restartNode(id: number, options: { wipe?: boolean; timeoutMs?: number; onProgress?: Progress } = {}): Promise<void> {
    const progress = options.onProgress ?? (() => {});
    const deadline = performance.now() + (options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS);
    await this.stopNode(id);
    if (options.wipe !== true) return this.startNode(id, { timeoutMs: Math.max(1, deadline - performance.now()) });
    const client = this.client({ timeoutMs: Math.max(1000, deadline - performance.now()), maxAttempts: 100 });
    try {
      const { config } = await this.#leaderStatus(client, deadline);
      if (config.voters.includes(id) || config.learners.includes(id)) {
        progress(`removing node ${id} from the membership`);
        await client.removeMember(id);
      }
      await this.startNode(id, { wipe: true, timeoutMs: Math.max(1, deadline - performance.now()) });
      await this.#addAndPromote(client, this.node(id), deadline, progress);
    } finally {
      client.close();
    }
  }

  /**
   * Removes node `id` from the membership (through the leader) and stops its process: the first
   * half of replacing a node; rejoinNode() is the second. A crash of the caller in between leaves
   * a cluster with one member fewer, which `cairn local restart --wipe` repairs.
   */
  async removeNode(id: number, options: { timeoutMs?: number; onProgress?: Progress } = {}): Promise<void> {
    const progress = options.onProgress ?? (() => {});
    const deadline = performance.now() + (options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS);
    const client = this.client({ timeoutMs: Math.max(1000, deadline - performance.now()), maxAttempts: 100 });
    try {
      const { config } = await this.#leaderStatus(client, deadline);
      if (config.voters.includes(id) || config.learners.includes(id)) {
        progress(`removing node ${id} from the membership`);
        await client.removeMember(id);
      }
    } finally {
      client.close();
    }
    await this.stopNode(id, { timeoutMs: Math.max(1000, deadline - performance.now()) });
  }

  /** Starts node `id` with an empty data directory, adds it as a learner, and promotes it once caught up. */
  async rejoinNode(id: number, options: { timeoutMs?: number; onProgress?: Progress } = {}): Promise<void> {
    const progress = options.onProgress ?? (() => {});
    const deadline = performance.now() + (options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS);
    await this.startNode(id, { wipe: true, timeoutMs: Math.max(1, deadline - performance.now()) });
    const client = this.client({ timeoutMs: Math.max(1000, deadline - performance.now()), maxAttempts: 100 });
    try {
      await this.#addAndPromote(client, this.node(id), deadline, progress);
    } finally {
      client.close();
    }
  }

  /** Adds `node` as a learner (unless it is a member), waits until it caught up, promotes it. */
  async #addAndPromote(client: CairnClient, node: LocalNodeState, deadline: number, progress: Progress): Promise<void> {
    const before = (await this.#leaderStatus(client, deadline)).config;
    if (!before.voters.includes(node.id) && !before.learners.includes(node.id)) {
      progress(`adding ${node.name} as a learner`);
      await client.addLearner({ nodeId: node.id, peer: node.peer, client: node.client, name: node.name, ...(node.kafka === null ? {} : { kafka: node.kafka }) });
    }
    await this.#waitCaughtUp(client, node.id, deadline);
    const { config } = await this.#leaderStatus(client, deadline);
    if (!config.learners.includes(node.id)) return;
    progress(`promoting ${node.name} to voter`);
    await client.promote(node.id);
  }

  /** Starts every node that is not running, forms the cluster if it is new, waits until all are ready. */
  async up(options: { timeoutMs?: number; onProgress?: Progress } = {}): Promise<void> {
    const progress = options.onProgress ?? (() => {});
    const deadline = performance.now() + (options.timeoutMs ?? 60_000);
    const toStart = this.#state.nodes.filter((node) => !this.isRunning(node.id));
    for (const node of toStart) if (this.#launchHook(node).skipPortCheck !== true) await this.#checkPorts(node);
    if (toStart.length > 0) progress(`starting ${toStart.map((node) => node.name).join(', ')}`);
    await Promise.all(toStart.map((node) => this.startNode(node.id, { timeoutMs: Math.max(1, deadline - performance.now()) })));
    if (!this.#state.formed) await this.#form(deadline, progress);
    progress('waiting until every node is ready');
    await this.waitForReady(undefined, Math.max(1, deadline - performance.now()));
  }

  async #form(deadline: number, progress: Progress): Promise<void> {
    const first = this.node(1);
    const client = this.client({ timeoutMs: Math.max(1000, deadline - performance.now()), maxAttempts: 100 });
    try {
      const local = await client.status({ scope: 'local', endpoint: first.client });
      if (local.node.phase === 'uninitialized') {
        progress(`creating cluster ${this.clusterId} on node 1`);
        await client.init({ endpoint: first.client, clusterId: this.clusterId });
      }
      await this.waitForReady([1], Math.max(1, deadline - performance.now()));
      for (const node of this.#state.nodes.slice(1)) await this.#addAndPromote(client, node, deadline, progress);
    } finally {
      client.close();
    }
    this.#setFormed();
  }

  /** What the leader says (membership, commit index), asked of the leader itself. */
  async #leaderStatus(client: CairnClient, deadline: number): Promise<WireClusterStatus> {
    let found: WireClusterStatus | undefined;
    await this.#poll('a leader to answer', deadline, async () => {
      const answer = await client.status({ scope: 'local' });
      if (answer.node.role === 'leader') {
        found = answer;
        return true;
      }
      const leader = answer.members.find((member) => member.id === answer.leaderId && member.client !== '');
      if (leader === undefined) return false;
      found = await client.status({ scope: 'local', endpoint: leader.client });
      return found.node.role === 'leader';
    }, []);
    return found!;
  }

  /** Until node `id` has applied what the leader had committed when we asked. */
  async #waitCaughtUp(client: CairnClient, id: number, deadline: number): Promise<void> {
    const target = (await this.#leaderStatus(client, deadline)).node.commitIndex;
    await this.#poll(`node ${id} to catch up`, deadline, async () => {
      const own = await client.status({ scope: 'local', endpoint: this.node(id).client });
      return own.node.appliedIndex >= target;
    }, [id]);
  }

  /** Polls `check` with backoff until true; fails early when a watched node's process is gone. */
  async #poll(what: string, deadline: number, check: () => Promise<boolean>, watched: readonly number[]): Promise<void> {
    let lastProblem = '';
    for (let delayMs = 25; ; delayMs = Math.min(500, delayMs * 1.6)) {
      for (const id of watched) {
        if (!this.isRunning(id)) throw new LocalClusterError('start-failed', `node ${id} is not running (while waiting for ${what}); the end of ${this.node(id).logFile}:\n${logTail(this.node(id).logFile)}`);
      }
      try {
        if (await check()) return;
      } catch (error) {
        lastProblem = (error as Error).message;
      }
      if (performance.now() > deadline) throw new LocalClusterError('timeout', `timed out waiting for ${what}${lastProblem === '' ? '' : ` (last problem: ${lastProblem})`}`);
      await sleep(delayMs);
    }
  }

  /** Until each node (default: all) answers /v1/ready with ready: true. */
  async waitForReady(ids: readonly number[] = this.#state.nodes.map((node) => node.id), timeoutMs = DEFAULT_START_TIMEOUT_MS): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    const probe = this.client({ timeoutMs: PROBE_TIMEOUT_MS * 2, maxAttempts: 1 });
    try {
      await Promise.all(ids.map((id) => this.#poll(`node ${id} to be ready`, deadline, async () => (await probe.ready(this.node(id).client)).ready, [id])));
    } finally {
      probe.close();
    }
  }

  /** The leader that every running node agrees on, once there is one. */
  async waitForLeader(timeoutMs = DEFAULT_START_TIMEOUT_MS): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    let leader = 0;
    await this.#poll('a leader', deadline, async () => {
      const statuses = (await this.status()).filter((node) => node.process === 'ours');
      const leaders = new Set(statuses.map((node) => node.leaderId ?? 0));
      leader = statuses[0]?.leaderId ?? 0;
      return leaders.size === 1 && leader !== 0 && statuses.some((node) => node.id === leader && node.role === 'leader');
    }, []);
    return leader;
  }

  /** Every node: its process, and what it says about itself (null fields when it does not answer). */
  async status(): Promise<LocalNodeStatus[]> {
    this.reload();
    const probe = this.client({ timeoutMs: PROBE_TIMEOUT_MS, maxAttempts: 1 });
    try {
      const answers = await Promise.all(this.#state.nodes.map(async (node) => {
        const owned = this.processOf(node.id);
        if (owned !== 'ours') return { node, owned, answer: undefined, error: undefined };
        try {
          return { node, owned, answer: await probe.status({ scope: 'local', endpoint: node.client }), error: undefined };
        } catch (error) {
          return { node, owned, answer: undefined, error: (error as Error).message };
        }
      }));
      const config = answers.find((entry) => entry.answer !== undefined && entry.answer.config.voters.length > 0)?.answer;
      return answers.map(({ node, owned, answer, error }) => nodeStatus(node, owned, answer, config, error));
    } finally {
      probe.close();
    }
  }

  /** Stops every node this cluster started (SIGTERM, then SIGKILL after a timeout); nothing else. */
  async down(options: { timeoutMs?: number } = {}): Promise<StopReport[]> {
    this.reload();
    return Promise.all(this.#state.nodes.map((node) => this.stopNode(node.id, options)));
  }

  /** Stops everything, then removes the directory (for tests). */
  async destroy(): Promise<void> {
    try {
      await this.down({ timeoutMs: 5000 });
    } finally {
      if (existsSync(this.directory)) rmSync(this.directory, { recursive: true, force: true });
    }
  }
}

/** The host a node listens on: that of its client address (every address of a node shares it). */
function hostOf(node: LocalNodeState): string {
  return node.client.slice(0, node.client.lastIndexOf(':'));
}

function nodeStatus(node: LocalNodeState, owned: Ownership, answer: WireClusterStatus | undefined, config: WireClusterStatus | undefined, error: string | undefined): LocalNodeStatus {
  const own = answer?.node;
  const member = (config ?? answer)?.members.find((candidate) => candidate.id === node.id);
  return {
    ...node, process: owned, phase: own?.phase ?? null, role: own?.role ?? null, term: own?.term ?? null, leaderId: own?.leaderId ?? null,
    commitIndex: own?.commitIndex ?? null, appliedIndex: own?.appliedIndex ?? null, membership: member?.membership ?? null,
    kafka: member?.kafka ?? node.kafka, ...(error === undefined ? {} : { error }),
  };
}
