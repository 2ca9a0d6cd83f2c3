// One Cairn node: data directory (lock, identity), durable Raft log (FileStorage), applied state
// (lmdb), peer transport (TCP), the Raft runtime, the KV's WatchHub and Lessor, the leader's
// timed duties, metrics, the HTTP API and the Kafka broker. Lifecycle:
//
//   start()  lock the data dir, open storage and state, serve HTTP and Kafka, then enter the cluster:
//            - the data dir already holds cluster state: restart from it;
//            - `init`: create a new cluster with this node as its only voter;
//            - `join`: ask a member to add this node as a learner, then start;
//            - else wait, uninitialized, for POST /v1/cluster/init (or init()).
//   stop()   hand leadership over (if leading), end watch streams, fail pending requests,
//            close everything, release the lock. Call it on SIGTERM.
import { randomInt, randomBytes } from 'node:crypto';
import { bootstrapCluster, hasClusterState } from '../../runtime/bootstrap.ts';
import type { NodeLogger } from '../../runtime/logger.ts';
import { RaftNode } from '../../runtime/raft-node.ts';
import { Lessor } from '../../state/kv/lessor.ts';
import { WatchHub } from '../../state/kv/watch-hub.ts';
import { openNodeState } from '../../state/open.ts';
import type { NodeState } from '../../state/open.ts';
import type { MemberAddresses } from '../../state/members/member-directory.ts';
import { FileStorage, NodeFileSystem } from '../../storage/index.ts';
import { TcpTransport } from '../../transport/index.ts';
import type { WireInitResponse, WireJoinRequest, WireNodeStatus } from '../http/api-types.ts';
import type { ApiHost, ApiSettings, NodePhase, RunningParts } from '../http/host.ts';
import { ActivityRecorder } from '../http/dashboard/activity-recorder.ts';
import { HttpApi } from '../http/http-server.ts';
import { KafkaBroker } from '../kafka/index.ts';
import type { KafkaRequestObservation } from '../kafka/index.ts';
import { joinProof, verifyJoinProof } from '../http/join-proof.ts';
import type { JoinProofCheck } from '../http/join-proof.ts';
import { DataDirectory } from './data-dir.ts';
import type { NodeIdentity } from './data-dir.ts';
import { discoverClusterId, requestJoin } from './join.ts';
import { LeaderDuties } from './leader-duties.ts';
import { NodeMetrics } from './metrics.ts';
import { CairnNodeError, resolveNodeOptions } from './options.ts';
import type { CairnNodeOptions, InjectedNodeBugs, ResolvedNodeOptions } from './options.ts';
import { EventLoopStallWatch } from './stall-watch.ts';
import { TimedStorage } from './timed-storage.ts';

const SILENT: NodeLogger = { debug() {}, info() {}, warn() {}, error() {} };
const WATCH_BUFFER_BYTES = 1024 * 1024;
const HTTP_CLOSE_GRACE_MS = 2000;
const FAILURE_CHECK_MS = 200;
/** HTTP routes whose requests are the dashboard's "KV" activity. */
const KV_ROUTES = new Set(['/v1/kv', '/v1/kv/*', '/v1/txn']);
const PRODUCE_API_KEY = 0;
const FETCH_API_KEY = 1;

function childLogger(logger: NodeLogger, bindings: object): NodeLogger {
  const withChild = logger as NodeLogger & { child?: (bindings: object) => NodeLogger };
  return typeof withChild.child === 'function' ? withChild.child(bindings) : logger;
}

/** host:port with port 0 allowed (bind an ephemeral port). */
function listenParts(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address)!;
  return { host: (match[1] ?? match[2])!, port: Number(match[3]) };
}

function advertised(bound: { host: string; port: number }, given: string | undefined, setting: string): string {
  if (given !== undefined) return given;
  if (bound.host === '0.0.0.0' || bound.host === '::') {
    throw new CairnNodeError('invalid-option', `option ${setting} is required when listening on ${bound.host} (other nodes need a reachable address)`, setting);
  }
  return bound.host.includes(':') ? `[${bound.host}]:${bound.port}` : `${bound.host}:${bound.port}`;
}

export class CairnNode implements ApiHost {
  readonly options: ResolvedNodeOptions;
  readonly settings: ApiSettings;
  readonly logger: NodeLogger;
  readonly metrics: NodeMetrics;
  readonly #activity: ActivityRecorder;
  readonly #dir: DataDirectory;
  readonly #startedAt = performance.now();
  readonly #failureListeners = new Set<(error: Error) => void>();
  #phase: NodePhase = 'uninitialized';
  #started = false;
  #entering = false;
  #identity: NodeIdentity | undefined;
  #storage: TimedStorage | undefined;
  #state: NodeState | undefined;
  #transport: TcpTransport | undefined;
  #running: RunningParts | undefined;
  #duties: LeaderDuties | undefined;
  #http: HttpApi | undefined;
  #kafka: KafkaBroker | undefined;
  #kafkaAddress: string | undefined;
  #clientAddress = '';
  #peerAddress: string | undefined;
  #failure: Error | undefined;
  #failureTimer: NodeJS.Timeout | undefined;
  readonly #stallWatch: EventLoopStallWatch;
  #stopping: Promise<void> | undefined;
  #released = false;
  readonly #injectedBugs: InjectedNodeBugs;

  /** `injectedBugs`: test-only (see InjectedNodeBugs); never set in production. */
  constructor(options: CairnNodeOptions, injectedBugs: InjectedNodeBugs = {}) {
    this.options = resolveNodeOptions(options);
    this.#injectedBugs = injectedBugs;
    this.logger = childLogger(options.logger ?? SILENT, {});
    this.#dir = new DataDirectory(this.options.dataDir);
    this.#stallWatch = new EventLoopStallWatch(this.logger);
    this.settings = {
      maxRequestBodyBytes: this.options.maxRequestBodyBytes, maxUrlBytes: this.options.maxUrlBytes, requestTimeoutMs: this.options.requestTimeoutMs,
      readyTimeoutMs: this.options.readyTimeoutMs, watchHeartbeatMs: this.options.watchHeartbeatMs, watchBufferBytes: WATCH_BUFFER_BYTES,
    };
    this.metrics = new NodeMetrics({
      raft: () => this.#running?.raft, kv: () => this.#state?.kv, storage: () => this.#storage,
      transportStats: () => this.#transport?.stats(), watchers: () => this.#running?.watches.size ?? 0,
      log: () => this.#running?.log, kafkaStats: () => this.#kafka?.stats(),
    }, { processMetrics: this.options.processMetrics });
    this.#activity = new ActivityRecorder({ nodeId: () => this.nodeId() });
  }

  // ---- lifecycle ----

  async start(): Promise<void> {
    if (this.#started) throw new CairnNodeError('start-failed', 'start() was already called on this node');
    this.#started = true;
    const takeover = this.#dir.open();
    if (takeover !== undefined) this.logger.warn({ dataDir: this.options.dataDir, stalePid: takeover.stalePid }, 'took over a stale data directory lock (its process is gone)');
    try {
      const identity = this.#dir.readIdentity();
      this.#checkIdentity(identity);
      this.#identity = identity;
      const storage = await FileStorage.open({ fileSystem: new NodeFileSystem(), directory: this.#dir.raftDirectory, segmentMaxBytes: this.options.walSegmentMaxBytes });
      this.logger.info({ recovery: storage.recovery }, 'Raft log opened');
      this.#storage = new TimedStorage(storage, (seconds, entries) => this.metrics.observeSync(seconds, entries));
      this.#state = openNodeState({
        path: this.#dir.statePath, mapSizeBytes: this.options.lmdbMapSizeBytes,
        limits: { maxKeyBytes: this.options.maxKeyBytes, maxValueBytes: this.options.maxValueBytes, maxTxnOperations: this.options.maxTxnOperations },
      });
      this.#throwIfStopping();
      await this.#startHttp();
      await this.#startKafka();
      this.#throwIfStopping();
      await this.#enterCluster();
    } catch (error) {
      await this.#release();
      throw error;
    }
  }

  /** stop() was called while start() was still opening things: give up (start's cleanup runs). */
  #throwIfStopping(): void {
    if (this.#stopping !== undefined) throw new CairnNodeError('start-failed', 'the node was stopped while starting');
  }

  #checkIdentity(identity: NodeIdentity | undefined): void {
    if (identity === undefined) return;
    const { nodeId, clusterId } = this.options;
    if (nodeId !== undefined && nodeId !== identity.nodeId) {
      throw new CairnNodeError('node-id-mismatch', `the data directory ${this.options.dataDir} belongs to node ${identity.nodeId}, not ${nodeId}: use --node-id ${identity.nodeId} or another data directory`);
    }
    if (clusterId !== undefined && clusterId !== identity.clusterId) {
      throw new CairnNodeError('cluster-id-mismatch', `the data directory ${this.options.dataDir} belongs to cluster ${identity.clusterId}, not ${clusterId}: use another data directory to create or join another cluster`);
    }
  }

  async #startHttp(): Promise<void> {
    const { host, port } = listenParts(this.options.clientListen);
    this.#http = new HttpApi(this, {
      listenHost: host, listenPort: port, headersTimeoutMs: this.options.httpHeadersTimeoutMs, requestTimeoutMs: this.options.httpRequestTimeoutMs,
      keepAliveTimeoutMs: this.options.httpKeepAliveTimeoutMs, maxHeaderBytes: this.options.maxHeaderBytes, maxConnections: this.options.maxConnections,
    });
    const bound = await this.#http.start();
    this.#clientAddress = advertised(bound, this.options.clientAdvertise, 'clientAdvertise');
    this.logger.info({ client: this.#clientAddress }, 'HTTP API listening');
  }

  /**
   * Kafka listens before the node enters the cluster, because its advertised address goes into
   * this node's membership record; it is attached to the Raft node once that runs.
   */
  async #startKafka(): Promise<void> {
    const broker = new KafkaBroker({
      listen: listenParts(this.options.kafkaListen), ...(this.options.kafkaAdvertise === undefined ? {} : { advertisedAddress: this.options.kafkaAdvertise }),
      logger: childLogger(this.logger, { component: 'kafka' }), autoCreateTopics: this.options.kafkaAutoCreateTopics,
      defaultPartitions: this.options.kafkaDefaultPartitions, onRequestServed: (observation) => this.#observeKafka(observation),
    });
    const bound = await broker.start();
    this.#kafka = broker;
    this.#kafkaAddress = broker.advertisedAddress() ?? advertised(bound, this.options.kafkaAdvertise, 'kafkaAdvertise');
    this.logger.info({ kafka: this.#kafkaAddress }, 'Kafka protocol listening');
  }

  async #enterCluster(): Promise<void> {
    const storage = this.#storage!;
    const identity = this.#identity;
    if (hasClusterState(storage)) {
      if (identity === undefined) {
        throw new CairnNodeError('identity-missing', `${this.#dir.raftDirectory} holds Raft state but ${this.#dir.identityPath} is missing: restore node.json (node id and cluster id) or wipe the data directory`);
      }
      if (this.options.join !== undefined) this.logger.info({}, 'the node already belongs to a cluster; --join is ignored');
      await this.#run(identity, false);
    } else if (identity !== undefined) {
      // Created by an init or a join that did not get further: finish what it started.
      await this.#run(identity, this.options.init === true);
    } else if (this.options.init === true) {
      await this.init(undefined);
    } else if (this.options.join !== undefined) {
      await this.#join();
    } else if (this.options.seedPeers !== undefined && this.options.clusterId !== undefined && this.options.nodeId !== undefined) {
      const created = this.#newIdentity(this.options.nodeId, this.options.clusterId, this.options.seedPeers);
      this.#dir.writeIdentity(created);
      this.#identity = created;
      await this.#run(created, false);
    } else {
      this.logger.info({ client: this.#clientAddress }, 'empty node: waiting for POST /v1/cluster/init (or start it with --init or --join)');
    }
  }

  #newIdentity(nodeId: number, clusterId: string, seedPeers?: Readonly<Record<string, string>>): NodeIdentity {
    return { version: 1, nodeId, clusterId, createdAt: new Date().toISOString(), ...(seedPeers === undefined ? {} : { seedPeers }) };
  }

  /** Creates a new cluster with this node as its only voter. Only on an empty, uninitialized node. */
  async init(clusterId: string | undefined): Promise<WireInitResponse> {
    if (this.#phase !== 'uninitialized' || this.#entering || (this.#storage !== undefined && hasClusterState(this.#storage))) {
      throw new CairnNodeError('already-initialized', `node ${this.nodeId()} is ${this.#entering ? 'already joining or initializing' : `${this.#phase}${this.#identity === undefined ? '' : ` in cluster ${this.#identity.clusterId}`}`}; init works only on an empty node`);
    }
    if (this.#storage === undefined) throw new CairnNodeError('start-failed', 'call start() before init()');
    if (clusterId !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(clusterId)) throw new CairnNodeError('invalid-option', 'clusterId must be 1-64 letters, digits, ".", "_" or "-"', 'clusterId');
    const requested = clusterId ?? this.options.clusterId;
    if (requested !== undefined && this.#identity !== undefined && requested !== this.#identity.clusterId) {
      throw new CairnNodeError('cluster-id-mismatch', `this data directory belongs to cluster ${this.#identity.clusterId}`);
    }
    const identity = this.#identity ?? this.#newIdentity(this.options.nodeId ?? 1, requested ?? `cairn-${randomBytes(6).toString('hex')}`);
    if (this.#identity === undefined) {
      this.#dir.writeIdentity(identity);
      this.#identity = identity;
    }
    await this.#run(identity, true);
    this.logger.info({ clusterId: identity.clusterId, nodeId: identity.nodeId }, 'created a new cluster');
    return { clusterId: identity.clusterId, nodeId: identity.nodeId };
  }

  /** Starts the transport (and bootstraps the log when asked), then the Raft node. */
  async #run(identity: NodeIdentity, bootstrap: boolean): Promise<void> {
    this.#entering = true;
    this.#phase = 'initializing';
    try {
      await this.#startTransport(identity.nodeId, identity.clusterId);
      if (bootstrap) await bootstrapCluster(this.#storage!, identity.nodeId, this.#ownAddresses(false));
      this.#startRaft(identity, new Map(Object.entries(identity.seedPeers ?? this.options.seedPeers ?? {}).map(([id, address]) => [Number(id), address])));
    } catch (error) {
      await this.#transport?.stop();
      this.#transport = undefined;
      this.#phase = 'uninitialized';
      throw error;
    } finally {
      this.#entering = false;
    }
  }

  #ownAddresses(autoPromote: boolean): MemberAddresses {
    return {
      peer: this.#peerAddress!, client: this.#clientAddress, ...(this.#kafkaAddress === undefined ? {} : { kafka: this.#kafkaAddress }),
      ...(this.options.name === undefined ? {} : { name: this.options.name }), ...(autoPromote ? { autoPromote } : {}),
    };
  }

  async #startTransport(nodeId: number, clusterId: string): Promise<void> {
    const { host, port } = listenParts(this.options.peerListen);
    const transport = new TcpTransport({
      nodeId, clusterId, clusterSecret: this.options.clusterSecret, listenHost: host, listenPort: port,
      snapshotPartBytes: this.options.snapshotPartBytes, logger: childLogger(this.logger, { component: 'transport' }),
    });
    this.#transport = transport;
    await transport.start();
    this.#peerAddress = advertised(transport.listenAddress()!, this.options.peerAdvertise, 'peerAdvertise');
    this.logger.info({ peer: this.#peerAddress, nodeId, clusterId }, 'peer transport listening');
  }

  #startRaft(identity: NodeIdentity, seeds: ReadonlyMap<number, string>): void {
    const state = this.#state!;
    const { options } = this;
    const raft = new RaftNode({
      id: identity.nodeId, storage: this.#storage!, transport: this.#transport!, state: state.state, members: state.members,
      logger: childLogger(this.logger, { component: 'raft' }), tickMs: options.tickMs, electionTimeoutTicks: options.electionTimeoutTicks,
      heartbeatIntervalTicks: options.heartbeatIntervalTicks, requestTimeoutMs: options.requestTimeoutMs, snapshotEveryEntries: options.snapshotEveryEntries,
      snapshotEveryBytes: options.snapshotEveryBytes, bytesKeptAfterSnapshot: options.bytesKeptAfterSnapshot,
      entriesKeptAfterSnapshot: options.entriesKeptAfterSnapshot, pendingRequestsMax: options.pendingRequestsMax, seedPeers: seeds,
      peerAddressOverrides: new Map(Object.entries(options.peerAddressOverrides ?? {}).map(([id, address]) => [Number(id), address])),
      ...(this.#injectedBugs.raftBugs === undefined ? {} : { raftBugs: this.#injectedBugs.raftBugs }),
      ...(this.#injectedBugs.runtimeBugs === undefined ? {} : { runtimeBugs: this.#injectedBugs.runtimeBugs }),
    });
    const watches = new WatchHub(state.kv, { maxWatchers: options.maxWatchers, maxPendingEvents: options.watchMaxPendingEvents, maxPendingBytes: options.watchMaxPendingBytes });
    // No lease expires sooner than 1.5 election timeouts after a new leader starts counting.
    const lessor = new Lessor(state.kv, { now: () => performance.now(), minTtlMs: 1.5 * options.tickMs * options.electionTimeoutTicks });
    const transport = this.#transport!;
    this.#running = { raft, kv: state.kv, members: state.members, log: state.log, watches, lessor, transportStats: () => transport.stats() };
    raft.onRole((change) => this.#activity.recordLeadership(change));
    raft.start();
    this.#activity.recordLeadership({ leaderId: raft.leaderId, term: raft.term });
    this.#kafka?.attach({ nodeId: identity.nodeId, raft, log: state.log, members: state.members });
    this.#duties = new LeaderDuties({
      raft, kv: state.kv, lessor, logger: childLogger(this.logger, { component: 'leases' }), leaseCheckIntervalMs: options.leaseCheckIntervalMs,
      leaseCheckpointIntervalMs: options.leaseCheckpointIntervalMs, compactionRetainRevisions: options.compactionRetainRevisions,
      compactionIntervalMs: options.compactionIntervalMs, proposalTimeoutMs: options.requestTimeoutMs, observeProposal: (applied) => this.metrics.observeProposal(applied),
    });
    this.#duties.start();
    this.#failureTimer = setInterval(() => this.#checkFailure(), FAILURE_CHECK_MS);
    this.#failureTimer.unref();
    this.#stallWatch.start();
    this.#phase = 'running';
    const recorded = state.members.members().get(identity.nodeId);
    if (recorded !== undefined && (recorded.peer !== this.#peerAddress || recorded.client !== this.#clientAddress)) {
      this.logger.warn({ recorded: { peer: recorded.peer, client: recorded.client }, now: { peer: this.#peerAddress, client: this.#clientAddress } },
        'this node\'s addresses differ from those the cluster recorded; other members still use the recorded ones (restart with the same ports)');
    }
    this.logger.info({ nodeId: identity.nodeId, clusterId: identity.clusterId, applied: state.state.appliedIndex() }, 'node running');
  }

  #checkFailure(): void {
    const failure = this.#running?.raft.failure;
    if (failure === undefined || this.#failure !== undefined) return;
    this.#failure = failure;
    this.#phase = 'failed';
    this.logger.error({ error: failure.message }, 'the node failed and stopped serving; restart it');
    for (const listener of this.#failureListeners) listener(failure);
  }

  /** Called once if the Raft node stops after a fatal error (storage failure, broken invariant). */
  onFailure(listener: (error: Error) => void): () => void {
    this.#failureListeners.add(listener);
    return () => this.#failureListeners.delete(listener);
  }

  async #join(): Promise<void> {
    const endpoints = this.options.join!;
    this.#entering = true;
    this.#phase = 'initializing';
    const context = { endpoints, deadline: Date.now() + this.options.joinTimeoutMs, logger: this.logger, cancelled: () => this.#stopping !== undefined };
    try {
      const clusterId = await discoverClusterId(context);
      if (this.options.clusterId !== undefined && this.options.clusterId !== clusterId) {
        throw new CairnNodeError('cluster-id-mismatch', `${endpoints.join(', ')} belong to cluster ${clusterId}, not ${this.options.clusterId}`);
      }
      const nodeId = this.options.nodeId ?? randomInt(1000, 1_000_000_000);
      await this.#startTransport(nodeId, clusterId);
      const addresses = this.#ownAddresses(this.options.learner !== true);
      const makeRequest = (): WireJoinRequest => {
        const timestampMs = Date.now();
        const proof = joinProof(this.options.clusterSecret, { clusterId, nodeId, peer: addresses.peer, client: addresses.client, timestampMs });
        return { ...addresses, nodeId, timestampMs, proof };
      };
      this.logger.info({ endpoints, clusterId, nodeId }, 'asking the cluster to add this node as a learner');
      const answer = await requestJoin(context, makeRequest, this.options.requestTimeoutMs + 1000);
      const seedPeers = Object.fromEntries(answer.members.filter((member) => member.id !== nodeId).map((member) => [String(member.id), member.peer]));
      const identity = this.#newIdentity(nodeId, clusterId, seedPeers);
      this.#dir.writeIdentity(identity);
      this.#identity = identity;
      this.#startRaft(identity, new Map(Object.entries(seedPeers).map(([id, peer]) => [Number(id), peer])));
      this.logger.info({ nodeId, clusterId, learner: this.options.learner === true }, 'joined the cluster as a learner');
    } catch (error) {
      this.#phase = 'uninitialized';
      await this.#transport?.stop();
      this.#transport = undefined;
      throw error;
    } finally {
      this.#entering = false;
    }
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    if (this.#phase === 'running' && this.options.transferLeadershipOnStop) await this.#handOverLeadership();
    this.#phase = 'stopping';
    this.logger.info({ nodeId: this.nodeId() }, 'stopping');
    await this.#release();
  }

  /** Leader stopping: move leadership to the most caught-up voter first, so clients barely notice. */
  async #handOverLeadership(): Promise<void> {
    const raft = this.#running?.raft;
    if (raft === undefined || raft.role !== 'leader') return;
    const status = raft.raftStatus();
    const candidates = status.config.voters.filter((id) => id !== status.id && status.progress?.[String(id)]?.recentActive === true);
    if (candidates.length === 0 || status.config.votersOutgoing.length > 0) return;
    const match = (id: number): number => status.progress?.[String(id)]?.match ?? 0;
    const target = [...candidates].sort((a, b) => match(b) - match(a) || a - b)[0]!;
    try {
      await raft.transferLeadership(target, Math.max(500, 3 * this.options.tickMs * this.options.electionTimeoutTicks));
      this.logger.info({ target }, 'handed leadership over before stopping');
    } catch (error) {
      this.logger.warn({ target, error: (error as Error).message }, 'could not hand leadership over before stopping');
    }
  }

  /** Closes whatever is open, in dependency order, then releases the data directory lock. */
  async #release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    this.#duties?.stop();
    if (this.#failureTimer !== undefined) clearInterval(this.#failureTimer);
    this.#stallWatch.stop();
    const httpClosed = this.#http?.close(HTTP_CLOSE_GRACE_MS);
    await this.#kafka?.stop().catch((error: Error) => this.logger.warn({ error: error.message }, 'closing the Kafka listener failed'));
    const running = this.#running;
    await running?.raft.stop();
    await httpClosed;
    running?.watches.close();
    running?.lessor.close();
    await this.#transport?.stop();
    await this.#storage?.close().catch((error: Error) => this.logger.warn({ error: error.message }, 'closing the Raft log failed'));
    await this.#state?.state.close().catch((error: Error) => this.logger.warn({ error: error.message }, 'closing the state store failed'));
    this.#dir.release();
  }

  // ---- ApiHost ----

  nodeId(): number {
    return this.#identity?.nodeId ?? this.options.nodeId ?? 0;
  }

  clusterId(): string | undefined {
    return this.#identity?.clusterId;
  }

  phase(): NodePhase {
    return this.#phase;
  }

  running(): RunningParts | undefined {
    return this.#phase === 'running' ? this.#running : undefined;
  }

  clientAddress(): string {
    return this.#clientAddress;
  }

  /** The Kafka address this node advertises to Kafka clients. */
  kafkaAddress(): string | undefined {
    return this.#kafkaAddress;
  }

  /** The peer (Raft) address this node advertises, once its transport runs. */
  peerAddress(): string | undefined {
    return this.#peerAddress;
  }

  memberClientAddress(nodeId: number): string | undefined {
    if (nodeId === this.nodeId()) return this.#clientAddress;
    return this.#state?.members.members().get(nodeId)?.client;
  }

  uptimeSeconds(): number {
    return (performance.now() - this.#startedAt) / 1000;
  }

  /** The Raft node, once the node runs (for tests and tools). */
  get raft(): RaftNode | undefined {
    return this.#running?.raft;
  }

  localStatus(): WireNodeStatus {
    const raft = this.#running?.raft;
    const status = raft?.raftStatus();
    const kv = this.#state?.kv;
    const pending = raft?.pendingRequests();
    return {
      nodeId: this.nodeId(), ...(this.options.name === undefined ? {} : { name: this.options.name }), clusterId: this.clusterId() ?? null, phase: this.#phase,
      role: status?.role ?? null, term: status?.term ?? 0, leaderId: status?.leaderId ?? 0, commitIndex: status?.commit ?? 0,
      appliedIndex: this.#state?.state.appliedIndex() ?? 0, firstIndex: status?.firstIndex ?? 0, lastIndex: status?.lastIndex ?? 0,
      isLearner: status?.isLearner ?? false, revision: kv?.currentRevision() ?? 0, compactRevision: kv?.compactRevision() ?? 0,
      pendingProposals: pending?.proposals ?? 0, pendingReads: pending?.reads ?? 0, watchers: this.#running?.watches.size ?? 0,
      peerAddress: this.#peerAddress ?? null, clientAddress: this.#clientAddress,
      ...(this.#failure === undefined ? {} : { failure: this.#failure.message }),
    };
  }

  verifyJoinProof(request: WireJoinRequest): JoinProofCheck {
    const clusterId = this.clusterId();
    if (clusterId === undefined) return 'secret-mismatch';
    return verifyJoinProof(this.options.clusterSecret, { clusterId, nodeId: request.nodeId, peer: request.peer, client: request.client, timestampMs: request.timestampMs }, request.proof, Date.now());
  }

  metricsText(): Promise<{ contentType: string; body: string }> {
    return this.metrics.text();
  }

  observeRequest(route: string, method: string, status: number, seconds: number): void {
    this.metrics.observeRequest(route, method, status, seconds);
    if (KV_ROUTES.has(route)) this.#activity.observe('kv', seconds, status >= 500);
  }

  /** Per-second request counts and latencies of this node, and the leaders it saw (the dashboard's charts). */
  activity(): ActivityRecorder {
    return this.#activity;
  }

  #observeKafka(observation: KafkaRequestObservation): void {
    this.metrics.observeKafka(observation);
    if (observation.apiKey === PRODUCE_API_KEY) this.#activity.observe('produce', observation.seconds, observation.failed, observation.recordBytes);
    else if (observation.apiKey === FETCH_API_KEY) this.#activity.observe('fetch', observation.seconds, observation.failed, observation.recordBytes);
  }

  observeProposal(applied: boolean): void {
    this.metrics.observeProposal(applied);
  }
}
