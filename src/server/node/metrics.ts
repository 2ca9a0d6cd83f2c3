// The node's Prometheus metrics (prom-client, one Registry per node so several nodes can live in
// one process). Most values are read from the node at scrape time (collect callbacks); request
// latencies, WAL syncs and proposal outcomes are observed as they happen.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RaftNode } from '../../runtime/raft-node.ts';
import type { KvState } from '../../state/kv/kv-state.ts';
import type { DurableStorage } from '../../storage/index.ts';
import type { TransportStats } from '../../transport/index.ts';

export interface MetricsSource {
  raft(): RaftNode | undefined;
  kv(): KvState | undefined;
  storage(): DurableStorage | undefined;
  transportStats(): TransportStats | undefined;
  watchers(): number;
}

const ROLES = ['leader', 'follower', 'candidate', 'pre-candidate'] as const;
const METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS']);
const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const SYNC_BUCKETS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const ENTRY_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096];

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
    gauge(this.registry, 'cairn_snapshot_bytes', 'Bytes held by snapshot files', () => source.storage()?.stats().snapshotBytes);
  }
}
