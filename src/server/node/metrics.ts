// The node's Prometheus metrics (prom-client, one Registry per node so several nodes can live in
// one process). Most values are read from the node at scrape time (collect callbacks); request
// latencies, WAL syncs and proposal outcomes are observed as they happen.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { API_KEY } from '../../protocol/kafka/index.ts';
import type { RaftNode } from '../../runtime/raft-node.ts';
import type { KvState } from '../../state/kv/kv-state.ts';
import type { LogReader } from '../../state/log/index.ts';
import { topicsView } from '../http/dashboard/topics-view.ts';
import type { TopicsViewLimits } from '../http/dashboard/topics-view.ts';
import type { WireTopicsView } from '../http/dashboard/wire-types.ts';
import type { KafkaBrokerStats, KafkaRequestObservation } from '../kafka/index.ts';
import type { DurableStorage } from '../../storage/index.ts';
import type { TransportStats } from '../../transport/index.ts';

export interface MetricsSource {
  raft(): RaftNode | undefined;
  kv(): KvState | undefined;
  storage(): DurableStorage | undefined;
  transportStats(): TransportStats | undefined;
  watchers(): number;
  /** The Kafka log's applied state (per-partition and consumer-group series). */
  log?(): LogReader | undefined;
  kafkaStats?(): KafkaBrokerStats | undefined;
}

const ROLES = ['leader', 'follower', 'candidate', 'pre-candidate'] as const;
const METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS']);
const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const SYNC_BUCKETS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const ENTRY_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096];
/** Fetches wait up to 30 s for data (long polling): the histogram reaches beyond that. */
const KAFKA_BUCKETS_SECONDS = [...LATENCY_BUCKETS_SECONDS, 30, 60];
/** Kafka API names as labels: Produce -> produce, ListOffsets -> list_offsets. */
const KAFKA_API_LABELS = new Map<number, string>(Object.entries(API_KEY).map(([name, key]) => [key, name.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase()]));
/**
 * Per-partition and per-group series are bounded (a scrape must stay small whatever the cluster
 * holds); cairn_kafka_metrics_truncated says when some were left out.
 */
const KAFKA_SERIES_LIMITS: TopicsViewLimits = { topicsMax: 1000, partitionsMax: 1000, groupsMax: 500, groupPartitionsMax: 1000 };
/** One computation of the Kafka view serves every family of one scrape. */
const KAFKA_VIEW_REUSE_MS = 1000;

/** A gauge whose value is read at scrape time. */
function gauge(registry: Registry, name: string, help: string, read: () => number | undefined): void {
  new Gauge({
    name, help, registers: [registry],
    collect() {
      const value = read();
      if (value !== undefined) this.set(value);
    },
  });
}

/** A counter kept by someone else, exposed at scrape time. */
function counter(registry: Registry, name: string, help: string, read: () => number | undefined): void {
  new Counter({
    name, help, registers: [registry],
    collect() {
      const value = read();
      this.reset();
      if (value !== undefined) this.inc(value);
    },
  });
}

export class NodeMetrics {
  readonly registry = new Registry();
  readonly #requestDuration: Histogram<'route' | 'method' | 'status'>;
  readonly #requests: Counter<'route' | 'method' | 'status'>;
  readonly #syncDuration: Histogram;
  readonly #entriesPerSync: Histogram;
  readonly #proposals: { committed: number; failed: number } = { committed: 0, failed: 0 };
  readonly #kafkaRequests: Counter<'api'>;
  readonly #kafkaFailed: Counter<'api'>;
  readonly #kafkaDuration: Histogram<'api'>;
  readonly #kafkaBytes: Counter<'direction'>;
  #kafkaView: { atMs: number; view: WireTopicsView | undefined } | undefined;

  constructor(source: MetricsSource, options: { processMetrics: boolean }) {
    const registry = this.registry;
    this.#requestDuration = new Histogram({ name: 'cairn_http_request_duration_seconds', help: 'HTTP API request latency by route template, method and status', labelNames: ['route', 'method', 'status'], buckets: LATENCY_BUCKETS_SECONDS, registers: [registry] });
    this.#requests = new Counter({ name: 'cairn_http_requests_total', help: 'HTTP API requests by route template, method and status', labelNames: ['route', 'method', 'status'], registers: [registry] });
    this.#syncDuration = new Histogram({ name: 'cairn_wal_fsync_duration_seconds', help: 'Duration of synced WAL writes (write + fdatasync of one Raft Ready)', buckets: SYNC_BUCKETS_SECONDS, registers: [registry] });
    this.#entriesPerSync = new Histogram({ name: 'cairn_wal_entries_per_fsync', help: 'Raft entries made durable by one fsync (group commit)', buckets: ENTRY_BUCKETS, registers: [registry] });
    counter(registry, 'cairn_proposals_committed_total', 'Proposals made through this node that were applied successfully', () => this.#proposals.committed);
    counter(registry, 'cairn_proposals_failed_total', 'Proposals made through this node that failed (timeout, no leader, lost, refused)', () => this.#proposals.failed);
    this.#raftMetrics(source);
    this.#replicationMetrics(source);
    this.#transportMetrics(source);
    this.#stateMetrics(source);
    this.#kafkaRequests = new Counter({ name: 'cairn_kafka_requests_total', help: 'Kafka requests answered, by API', labelNames: ['api'], registers: [registry] });
    this.#kafkaFailed = new Counter({ name: 'cairn_kafka_requests_failed_total', help: 'Kafka requests answered with an error code (top level or any partition), by API', labelNames: ['api'], registers: [registry] });
    this.#kafkaDuration = new Histogram({ name: 'cairn_kafka_request_duration_seconds', help: 'Kafka request latency by API (Fetch includes its long-poll wait)', labelNames: ['api'], buckets: KAFKA_BUCKETS_SECONDS, registers: [registry] });
    this.#kafkaBytes = new Counter({ name: 'cairn_kafka_record_bytes_total', help: 'Record bytes received by Produce (direction="in") and returned by Fetch (direction="out")', labelNames: ['direction'], registers: [registry] });
    this.#kafkaStateMetrics(source);
    if (options.processMetrics) {
      collectDefaultMetrics({ register: registry, prefix: 'cairn_' });
      // Gauges named like counters (promtool refuses them); the per-type gauges without _total stay.
      for (const name of ['active_handles_total', 'active_requests_total', 'active_resources_total']) registry.removeSingleMetric(`cairn_nodejs_${name}`);
    }
  }

  observeRequest(route: string, method: string, status: number, seconds: number): void {
    const labels = { route, method: METHODS.has(method) ? method : 'OTHER', status: String(status) };
    this.#requestDuration.observe(labels, seconds);
    this.#requests.inc(labels);
  }

  observeSync(seconds: number, entries: number): void {
    this.#syncDuration.observe(seconds);
    this.#entriesPerSync.observe(entries);
  }

  observeProposal(succeeded: boolean): void {
    if (succeeded) this.#proposals.committed++;
    else this.#proposals.failed++;
  }

  observeKafka(observation: KafkaRequestObservation): void {
    const api = KAFKA_API_LABELS.get(observation.apiKey) ?? 'other';
    this.#kafkaRequests.inc({ api });
    if (observation.failed) this.#kafkaFailed.inc({ api });
    this.#kafkaDuration.observe({ api }, observation.seconds);
    if (observation.recordBytes > 0) this.#kafkaBytes.inc({ direction: observation.apiKey === API_KEY.Produce ? 'in' : 'out' }, observation.recordBytes);
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  #raftMetrics(source: MetricsSource): void {
    const registry = this.registry;
    const status = (): ReturnType<RaftNode['raftStatus']> | undefined => source.raft()?.raftStatus();
    gauge(registry, 'cairn_raft_term', 'Current Raft term', () => status()?.term);
    gauge(registry, 'cairn_raft_leader_id', 'Id of the leader this node knows (0: none)', () => status()?.leaderId);
    gauge(registry, 'cairn_raft_has_leader', '1 when this node knows a leader', () => (status() === undefined ? undefined : status()!.leaderId !== 0 ? 1 : 0));
    gauge(registry, 'cairn_raft_is_learner', '1 when this node is a learner (non-voting)', () => (status()?.isLearner === true ? 1 : 0));
    gauge(registry, 'cairn_raft_commit_index', 'Highest log index known committed', () => status()?.commit);
    gauge(registry, 'cairn_raft_applied_index', 'Highest log index applied to the state machine', () => status()?.applied);
    gauge(registry, 'cairn_raft_last_index', 'Last index in the local log', () => status()?.lastIndex);
    gauge(registry, 'cairn_raft_first_index', 'First index still in the local log (after compaction)', () => status()?.firstIndex);
    new Gauge({
      name: 'cairn_raft_role', help: '1 for the role this node has now', labelNames: ['role'], registers: [registry],
      collect() {
        const role = status()?.role;
        for (const name of ROLES) this.set({ role: name }, role === name ? 1 : 0);
      },
    });
    const counters = (): RaftNode['counters'] | undefined => source.raft()?.counters;
    counter(registry, 'cairn_raft_leader_changes_total', 'Times this node saw a new leader', () => counters()?.leaderChanges);
    counter(registry, 'cairn_raft_commands_applied_total', 'Commands applied to the state machine (from any proposer)', () => counters()?.proposalsCommitted);
    counter(registry, 'cairn_raft_linearizable_reads_total', 'Read barriers confirmed', () => counters()?.readsServed);
    counter(registry, 'cairn_raft_snapshots_restored_total', 'Snapshots received from the leader and restored', () => counters()?.snapshotsRestored);
    counter(registry, 'cairn_raft_snapshots_sent_total', 'Snapshots this node sent to followers completely', () => counters()?.snapshotsSent);
    counter(registry, 'cairn_raft_snapshots_failed_total', 'Snapshots to followers that failed on the way (sent again)', () => counters()?.snapshotsFailed);
    gauge(registry, 'cairn_raft_pending_proposals', 'Proposals waiting to commit', () => source.raft()?.pendingRequests().proposals);
    gauge(registry, 'cairn_raft_pending_reads', 'Linearizable reads waiting', () => source.raft()?.pendingRequests().reads);
  }

  #replicationMetrics(source: MetricsSource): void {
    new Gauge({
      name: 'cairn_raft_replication_lag_entries', help: 'Leader only: entries each member is behind the leader\'s last index', labelNames: ['peer'], registers: [this.registry],
      collect() {
        this.reset();
        const status = source.raft()?.raftStatus();
        if (status?.progress === undefined) return;
        for (const [peer, progress] of Object.entries(status.progress)) {
          if (Number(peer) !== status.id) this.set({ peer }, Math.max(0, status.lastIndex - progress.match));
        }
      },
    });
    gauge(this.registry, 'cairn_raft_quorum_reachable', 'Leader: 1 when recently active voters form a quorum; others: 1 when a leader is known', () => {
      const status = source.raft()?.raftStatus();
      if (status === undefined) return undefined;
      if (status.progress === undefined) return status.leaderId !== 0 ? 1 : 0;
      const active = (id: number): boolean => id === status.id || status.progress?.[String(id)]?.recentActive === true;
      const majority = (voters: readonly number[]): boolean => voters.length === 0 || voters.filter(active).length * 2 > voters.length;
      return majority(status.config.voters) && majority(status.config.votersOutgoing) ? 1 : 0;
    });
  }

  #transportMetrics(source: MetricsSource): void {
    const perPeer = (name: string, help: string, type: 'counter' | 'gauge', read: (peer: TransportStats['peers'][number]) => number): void => {
      const collect = function (this: Gauge<'peer'> | Counter<'peer'>): void {
        this.reset();
        for (const peer of source.transportStats()?.peers ?? []) {
          const labels = { peer: String(peer.peerId) };
          if (this instanceof Gauge) this.set(labels, read(peer));
          else this.inc(labels, read(peer));
        }
      };
      if (type === 'gauge') new Gauge({ name, help, labelNames: ['peer'], registers: [this.registry], collect });
      else new Counter({ name, help, labelNames: ['peer'], registers: [this.registry], collect });
    };
    perPeer('cairn_transport_messages_sent_total', 'Raft messages sent to each peer', 'counter', (peer) => peer.messagesSent);
    perPeer('cairn_transport_sent_bytes_total', 'Bytes sent to each peer', 'counter', (peer) => peer.bytesSent);
    perPeer('cairn_transport_messages_received_total', 'Raft messages received from each peer', 'counter', (peer) => peer.messagesReceived);
    perPeer('cairn_transport_received_bytes_total', 'Bytes received from each peer', 'counter', (peer) => peer.bytesReceived);
    perPeer('cairn_transport_messages_dropped_total', 'Raft messages to each peer dropped (queue full, no address)', 'counter', (peer) => peer.messagesDropped);
    perPeer('cairn_transport_connect_attempts_total', 'Dial attempts to each peer', 'counter', (peer) => peer.connectAttempts);
    perPeer('cairn_transport_queue_messages', 'Messages queued for each peer', 'gauge', (peer) => peer.queueDepthMessages);
    perPeer('cairn_transport_queue_bytes', 'Bytes queued for each peer', 'gauge', (peer) => peer.queueDepthBytes);
    perPeer('cairn_transport_peer_connected', '1 when the outbound link to the peer is up', 'gauge', (peer) => (peer.state === 'connected' ? 1 : 0));
    counter(this.registry, 'cairn_transport_connections_rejected_total', 'Peer connections closed for a malformed or refused handshake or frame', () => source.transportStats()?.connectionsRejected);
  }

  #stateMetrics(source: MetricsSource): void {
    gauge(this.registry, 'cairn_kv_revision', 'Current KV revision', () => source.kv()?.currentRevision());
    gauge(this.registry, 'cairn_kv_compact_revision', 'KV revision below which history is compacted', () => source.kv()?.compactRevision());
    gauge(this.registry, 'cairn_kv_watchers', 'Watches served by this node', () => source.watchers());
    gauge(this.registry, 'cairn_wal_bytes', 'Bytes held by WAL segments', () => source.storage()?.stats().walBytes);
    counter(this.registry, 'cairn_wal_segments_prepared_total', 'WAL segment files prepared ahead of use (recycled or written full of zeros)', () => source.storage()?.stats().walSegmentsPrepared);
    counter(this.registry, 'cairn_wal_segments_recycled_total', 'Of the prepared WAL segment files, those that reused a segment compaction had made unneeded', () => source.storage()?.stats().walSegmentsRecycled);
    gauge(this.registry, 'cairn_snapshot_bytes', 'Bytes held by snapshot files', () => source.storage()?.stats().snapshotBytes);
  }

  /** The applied Kafka log, computed at most once per KAFKA_VIEW_REUSE_MS (several families read it per scrape). */
  #kafkaLogView(source: MetricsSource): WireTopicsView | undefined {
    const now = performance.now();
    if (this.#kafkaView !== undefined && now - this.#kafkaView.atMs < KAFKA_VIEW_REUSE_MS) return this.#kafkaView.view;
    const log = source.log?.();
    const view = log === undefined ? undefined : topicsView(log, 0, 0, KAFKA_SERIES_LIMITS);
    this.#kafkaView = { atMs: now, view };
    return view;
  }

  #kafkaStateMetrics(source: MetricsSource): void {
    const registry = this.registry;
    const view = (): WireTopicsView | undefined => this.#kafkaLogView(source);
    gauge(registry, 'cairn_kafka_connections', 'Kafka client connections open on this node', () => source.kafkaStats?.()?.connections);
    gauge(registry, 'cairn_kafka_groups_live', 'Consumer groups with members held by this node (the leader is every group\'s coordinator)', () => source.kafkaStats?.()?.groups);
    gauge(registry, 'cairn_kafka_topics', 'Kafka topics in the applied log state', () => source.log?.()?.listTopics().length);
    gauge(registry, 'cairn_kafka_metrics_truncated', '1 when per-partition or per-group series were left out (too many partitions or groups)', () => (view()?.truncated === true ? 1 : 0));
    const perPartition = (name: string, help: string, read: (partition: WireTopicsView['topics'][number]['partitions'][number]) => number): void => {
      new Gauge({
        name, help, labelNames: ['topic', 'partition'], registers: [registry],
        collect() {
          this.reset();
          for (const topic of view()?.topics ?? []) for (const partition of topic.partitions) this.set({ topic: topic.name, partition: String(partition.partition) }, read(partition));
        },
      });
    };
    perPartition('cairn_kafka_partition_high_watermark', 'High watermark (log end offset) of each partition as this node applied it', (partition) => partition.highWatermark);
    perPartition('cairn_kafka_partition_log_start_offset', 'First offset still held by each partition (after retention)', (partition) => partition.logStartOffset);
    perPartition('cairn_kafka_partition_size_bytes', 'Record bytes held by each partition', (partition) => partition.sizeBytes);
    const perGroupPartition = (name: string, help: string, read: (entry: WireTopicsView['groups'][number]['partitions'][number]) => number): void => {
      new Gauge({
        name, help, labelNames: ['group', 'topic', 'partition'], registers: [registry],
        collect() {
          this.reset();
          for (const group of view()?.groups ?? []) {
            for (const entry of group.partitions) this.set({ group: group.group, topic: entry.topic, partition: String(entry.partition) }, read(entry));
          }
        },
      });
    };
    perGroupPartition('cairn_kafka_consumer_group_lag', 'Messages between a group\'s committed offset and the partition\'s high watermark', (entry) => entry.lag);
    perGroupPartition('cairn_kafka_consumer_group_committed_offset', 'Offset each consumer group committed for each partition', (entry) => entry.committedOffset);
  }
}
