// The broker's shared state behind the request handlers: the node's parts (Raft, log state, member
// directory), who leads, the group coordinator (live only while this node leads), the long-poll
// waiters, topic auto-creation, and the leader's retention duties.
import { KAFKA_ERROR } from '../../protocol/kafka/index.ts';
import { checkTopicName, encodeLogCommand, producerExpiryPlan, retentionPlan } from '../../state/log/index.ts';
import type { LogCommand, LogResult } from '../../state/log/index.ts';
import type { TimerHandle } from '../../util/clock.ts';
import { VoterActivity, clusterView, votersOf } from './cluster-view.ts';
import type { BrokerAddress, ClusterView } from './cluster-view.ts';
import { GroupCoordinator } from './group-coordinator.ts';
import type { BrokerParts, ResolvedBrokerOptions } from './options.ts';
import { PartitionWaiters, partitionKey } from './partition-waiters.ts';

/** Auto-creation happens inside Metadata and Produce requests: it must not hold them long (clients retry). */
const AUTO_CREATE_TIMEOUT_MS = 5_000;

/** A log command's result, or a thrown NodeError (the proposal failed). */
type LogOutcome<T extends LogResult['type']> = Extract<LogResult, { type: T }>;

export class BrokerCore {
  readonly options: ResolvedBrokerOptions;
  readonly waiters: PartitionWaiters;
  readonly groups: GroupCoordinator;
  readonly #activity: VoterActivity;
  #parts: BrokerParts | undefined;
  #self: BrokerAddress = { nodeId: -1, host: '', port: 0 };
  #caughtUp: { term: number; promise: Promise<void>; done: boolean } | undefined;
  readonly #creating = new Map<string, Promise<void>>();
  readonly #unsubscribe: (() => void)[] = [];
  #groupTimer: TimerHandle | undefined;
  #retentionTimer: TimerHandle | undefined;
  #retentionRunning = false;
  #stopped = false;

  constructor(options: ResolvedBrokerOptions) {
    this.options = options;
    this.waiters = new PartitionWaiters(options.clock);
    this.groups = new GroupCoordinator(options.groups, options.limits, () => options.clock.now());
    this.#activity = new VoterActivity(options.isrWindowMs);
  }

  get parts(): BrokerParts | undefined {
    return this.#parts;
  }

  get self(): BrokerAddress {
    return this.#self;
  }

  setSelfAddress(host: string, port: number): void {
    this.#self = { nodeId: this.#parts?.nodeId ?? -1, host, port };
  }

  /** Connects to the node; its Raft node must have been started. */
  attach(parts: BrokerParts): void {
    this.#parts = parts;
    this.#self = { ...this.#self, nodeId: parts.nodeId };
    this.#unsubscribe.push(parts.log.subscribe((notice) => {
      if (notice.topicsChanged || notice.restored) this.waiters.wakeAll();
      else this.waiters.wake(notice.partitions.map((changed) => partitionKey(changed.topic, changed.partition)));
    }));
    this.#unsubscribe.push(parts.raft.onRole(({ role }) => {
      if (role === 'leader') {
        this.#activity.reset(votersOf(parts.raft.raftStatus()), this.options.clock.now());
        return;
      }
      // Group state is leader-local: clients get NOT_COORDINATOR, find the new leader and rejoin.
      this.groups.clear(KAFKA_ERROR.NOT_COORDINATOR);
      this.waiters.wakeAll();
    }));
    if (!parts.raft.isStopped && parts.raft.role === 'leader') this.#activity.reset(votersOf(parts.raft.raftStatus()), this.options.clock.now());
    this.#scheduleGroupCheck();
    this.#scheduleRetention();
  }

  stop(): void {
    this.#stopped = true;
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#unsubscribe.length = 0;
    if (this.#groupTimer !== undefined) this.options.clock.clearTimer(this.#groupTimer);
    if (this.#retentionTimer !== undefined) this.options.clock.clearTimer(this.#retentionTimer);
    this.groups.clear(KAFKA_ERROR.NOT_COORDINATOR);
    this.waiters.wakeAll();
  }

  /** Leading, and serving: false once the broker or the Raft node stopped. */
  isLeader(): boolean {
    const raft = this.#parts?.raft;
    return !this.#stopped && raft !== undefined && !raft.isStopped && raft.role === 'leader';
  }

  view(): ClusterView {
    return clusterView(this.#parts, this.#self, this.#activity, this.options.clock.now());
  }

  /**
   * Resolves once this leader has applied everything committed before its term (one read barrier
   * per term), so what it serves (high watermarks, committed offsets) is never behind what an
   * earlier leader acknowledged. Rejects when leadership is lost first.
   */
  leaderCaughtUp(): Promise<void> {
    const raft = this.#parts!.raft;
    const term = raft.term;
    if (this.#caughtUp?.term === term) return this.#caughtUp.done ? Promise.resolve() : this.#caughtUp.promise;
    const entry = { term, done: false, promise: Promise.resolve() };
    entry.promise = raft.readBarrier().then(() => {
      entry.done = true;
    }, (error: unknown) => {
      if (this.#caughtUp === entry) this.#caughtUp = undefined;
      throw error;
    });
    this.#caughtUp = entry;
    return entry.promise;
  }

  /** Proposes a log command; the result is the applied one, a NodeError is thrown when it failed. */
  async propose<T extends LogResult['type']>(command: LogCommand & { type: T }, timeoutMs: number): Promise<LogOutcome<T>> {
    const result = await this.#parts!.raft.propose(encodeLogCommand(command), timeoutMs) as LogResult;
    if (result.type === 'error') throw new Error(`the log refused the ${command.type} command: ${result.error.message}`);
    return result as LogOutcome<T>;
  }

  /** A client's timeout, within [1 s, the broker's maximum]: a tiny timeout would only produce spurious REQUEST_TIMED_OUT. */
  requestTimeoutMs(requested: number): number {
    return Math.min(Math.max(requested, 1_000), this.options.limits.requestTimeoutMsMax);
  }

  /**
   * Creates the topics that do not exist (auto-creation), with the default partitions, and waits
   * until this node's own log state shows them. Concurrent requests for one name share one
   * proposal. Failures are left for the caller to notice (the topic is still missing).
   */
  async autoCreate(names: readonly string[]): Promise<void> {
    const log = this.#parts!.log;
    const missing = [...new Set(names)].filter((name) => log.describeTopic(name) === undefined && checkTopicName(name) === undefined);
    const fresh = missing.filter((name) => !this.#creating.has(name));
    if (fresh.length > 0) {
      const creation = this.#createAndSee(fresh).finally(() => {
        for (const name of fresh) this.#creating.delete(name);
      });
      for (const name of fresh) this.#creating.set(name, creation);
    }
    await Promise.all(missing.map((name) => this.#creating.get(name)));
  }

  async #createAndSee(names: readonly string[]): Promise<void> {
    const { defaultPartitions, defaultReplicationFactor, logger } = this.options;
    try {
      const topics = names.map((name) => ({ name, partitions: defaultPartitions, replicationFactor: defaultReplicationFactor }));
      const result = await this.propose({ type: 'create-topics', topics }, AUTO_CREATE_TIMEOUT_MS);
      for (const topic of result.topics) {
        if (topic.errorCode === KAFKA_ERROR.NONE) logger.info({ topic: topic.name, partitions: topic.partitions }, 'auto-created a topic');
      }
      await this.seeTopics(names);
    } catch (error) {
      logger.debug({ topics: names, error: (error as Error).message }, 'auto-creating topics failed; the client will retry');
    }
  }

  /** After a change proposed through another node, wait until this node has applied it too. */
  async seeTopics(names: readonly string[]): Promise<void> {
    const { log, raft } = this.#parts!;
    if (names.every((name) => log.describeTopic(name) !== undefined)) return;
    await raft.readBarrier().catch(() => undefined);
  }

  #scheduleGroupCheck(): void {
    const { clock, groups } = this.options;
    this.#groupTimer = clock.setTimer(() => {
      if (this.#stopped) return;
      try {
        if (this.isLeader()) {
          this.groups.check();
          this.view(); // samples which voters are active (see VoterActivity)
        }
      } catch (error) {
        // A bug must not take the process down from a timer: log it loudly, keep serving.
        this.options.logger.error({ error: (error as Error).message, stack: (error as Error).stack }, 'the Kafka group check failed');
      }
      this.#scheduleGroupCheck();
    }, groups.checkIntervalMs);
  }

  #scheduleRetention(): void {
    const { clock, retentionCheckIntervalMs } = this.options;
    this.#retentionTimer = clock.setTimer(() => {
      if (this.#stopped) return;
      void this.runRetention();
      this.#scheduleRetention();
    }, retentionCheckIntervalMs);
  }

  /** The leader's periodic duty: trim by retention, expire idle producer state (one round at a time). */
  async runRetention(): Promise<void> {
    if (!this.isLeader() || this.#retentionRunning) return;
    this.#retentionRunning = true;
    const { log } = this.#parts!;
    const { wallClockMs, producerExpirationMs, limits, logger } = this.options;
    try {
      const now = wallClockMs();
      for (const command of [...retentionPlan(log, now), ...producerExpiryPlan(log, now, producerExpirationMs)]) {
        if (!this.isLeader()) break;
        await this.propose(command, limits.requestTimeoutMsMax);
      }
    } catch (error) {
      logger.debug({ error: (error as Error).message }, 'a retention round failed; the next one retries');
    } finally {
      this.#retentionRunning = false;
    }
  }
}
