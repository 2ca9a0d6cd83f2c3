// In-process clusters of real CairnNodes for tests: real TCP on 127.0.0.1 with ephemeral ports,
// real disks under a temporary directory (removed by stop()), fast Raft timings. Node 1 creates
// the cluster; the others join it through its HTTP API, as `cairn serve --join` does.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CairnNode } from '../../server/node/index.ts';
import type { CairnNodeOptions } from '../../server/node/index.ts';
import { CairnClient } from '../cairn-client.ts';
import type { CairnClientOptions } from '../cairn-client.ts';

export const TEST_SECRET = 'test-cluster-secret';

/**
 * Raft and lease timings for tests: 20 ms ticks, 500 ms election timeout (short enough for quick
 * tests, long enough that a loaded 2-core CI machine does not start spurious elections).
 */
export const FAST_NODE_OPTIONS = {
  tickMs: 20,
  electionTimeoutTicks: 25,
  heartbeatIntervalTicks: 1,
  requestTimeoutMs: 3000,
  readyTimeoutMs: 1000,
  leaseCheckIntervalMs: 100,
  leaseCheckpointIntervalMs: 1000,
  compactionRetainRevisions: 0,
  joinTimeoutMs: 15_000,
  processMetrics: false,
  snapshotEveryEntries: 2000,
  entriesKeptAfterSnapshot: 100,
} as const satisfies Partial<CairnNodeOptions>;

export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export class TestCluster {
  readonly root: string;
  readonly nodes = new Map<number, CairnNode>();
  readonly #clients: CairnClient[] = [];
  readonly #extra: Partial<CairnNodeOptions>;

  constructor(extra: Partial<CairnNodeOptions> = {}) {
    this.root = mkdtempSync(join(tmpdir(), 'cairn-cluster-'));
    this.#extra = extra;
  }

  dataDir(id: number): string {
    return join(this.root, `node-${id}`);
  }

  /** Creates a node (not started) with test timings. */
  createNode(id: number, options: Partial<CairnNodeOptions> = {}): CairnNode {
    const node = new CairnNode({ dataDir: this.dataDir(id), nodeId: id, clusterSecret: TEST_SECRET, ...FAST_NODE_OPTIONS, ...this.#extra, ...options });
    this.nodes.set(id, node);
    return node;
  }

  /** Node 1 inits, nodes 2..size join it; resolves once all are voters. */
  async start(size: number): Promise<void> {
    const first = this.createNode(1, { init: true });
    await first.start();
    await waitFor(() => first.raft?.role === 'leader', 'node 1 to lead');
    const joiners: Promise<void>[] = [];
    for (let id = 2; id <= size; id++) joiners.push(this.createNode(id, { join: [first.clientAddress()] }).start());
    await Promise.all(joiners);
    await this.waitForVoters(size);
  }

  async waitForVoters(count: number): Promise<void> {
    await waitFor(() => this.leader()?.raft?.raftStatus().config.voters.length === count, `${count} voters`, 15_000);
  }

  leader(): CairnNode | undefined {
    return [...this.nodes.values()].find((node) => node.phase() === 'running' && node.raft?.role === 'leader');
  }

  followers(): CairnNode[] {
    return [...this.nodes.values()].filter((node) => node.phase() === 'running' && node.raft?.role !== 'leader');
  }

  endpoints(): string[] {
    return [...this.nodes.values()].filter((node) => node.phase() === 'running').map((node) => node.clientAddress());
  }

  client(endpoints: readonly string[] = this.endpoints(), options: Partial<CairnClientOptions> = {}): CairnClient {
    const client = new CairnClient({ endpoints, timeoutMs: 8000, ...options });
    this.#clients.push(client);
    return client;
  }

  /** Stops a node and starts a new one on the same data directory and ports. */
  async restart(id: number, options: Partial<CairnNodeOptions> = {}): Promise<CairnNode> {
    const old = this.nodes.get(id)!;
    const peerListen = old.peerAddress()!;
    const clientListen = old.clientAddress();
    await old.stop();
    const node = this.createNode(id, { peerListen, clientListen, ...options });
    await node.start();
    return node;
  }

  async stop(): Promise<void> {
    for (const client of this.#clients) client.close();
    await Promise.all([...this.nodes.values()].map((node) => node.stop().catch(() => {})));
    rmSync(this.root, { recursive: true, force: true });
  }
}
