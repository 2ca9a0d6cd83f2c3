// The monitoring kit: deploy/prometheus.yml and deploy/alerts.yml pass promtool (config, rules,
// and the rules' unit tests in deploy/alerts.test.yml); a live node's /metrics, with Kafka
// traffic and a consumer group, passes `promtool check metrics` and has every Kafka and group-lag
// family; and every metric the Grafana dashboard and the alerts use is one a node really exports,
// in PromQL that promtool parses. promtool comes from Debian's prometheus package: missing, the
// checks fail under CI=true and are skipped elsewhere.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TestCluster } from '../../src/client/testing/cluster.ts';

const require = createRequire(import.meta.url);
process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';
const { Kafka, logLevel } = require('kafkajs') as typeof import('kafkajs');
// kafkajs 2.2.4 sets negative timers on Node 24 (its request queue); harmless, but noisy.
process.removeAllListeners('warning');

const DEPLOY = resolve(import.meta.dirname, '..', '..', 'deploy');

function promtoolMissing(): string | undefined {
  if (spawnSync('promtool', ['--version'], { encoding: 'utf8' }).error === undefined) return undefined;
  if (process.env['CI'] === 'true') throw new Error('promtool is missing (apt-get install prometheus)');
  return 'promtool is not installed (apt-get install prometheus)';
}

function promtool(args: readonly string[], input?: string): void {
  const run = spawnSync('promtool', args, { encoding: 'utf8', cwd: DEPLOY, ...(input === undefined ? {} : { input }), timeout: 60_000 });
  assert.equal(run.status, 0, `promtool ${args.join(' ')}:\n${run.stdout}${run.stderr}`);
}

interface GrafanaPanel {
  readonly type: string;
  readonly title: string;
  readonly targets?: readonly { readonly expr: string }[];
}

function dashboardExpressions(): { title: string; expr: string }[] {
  const dashboard = JSON.parse(readFileSync(join(DEPLOY, 'grafana-dashboard.json'), 'utf8')) as { panels: GrafanaPanel[]; uid: string; title: string };
  assert.equal(dashboard.uid, 'cairn-cluster');
  return dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ title: panel.title, expr: target.expr })));
}

function alertExpressions(): string[] {
  return [...readFileSync(join(DEPLOY, 'alerts.yml'), 'utf8').matchAll(/^\s+expr: (.+)$/gm)].map((match) => match[1]!);
}

/** Metric families named in PromQL (histogram series resolved to their family). */
function metricNames(expression: string): string[] {
  return [...expression.matchAll(/\bcairn_[a-z0-9_]+/g)].map((match) => match[0].replace(/_(bucket|sum|count)$/, ''));
}

function exportedFamilies(text: string): Set<string> {
  return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1]!));
}

const missing = promtoolMissing();

describe('the monitoring kit', { timeout: 120_000 }, () => {
  const cluster = new TestCluster({ processMetrics: true });
  let metricsText = '';

  before(async () => {
    await cluster.start(3);
    const leader = cluster.leader()!;
    const kafka = new Kafka({ clientId: 'monitoring-test', brokers: [leader.kafkaAddress()!], logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } });
    const producer = kafka.producer();
    const admin = kafka.admin();
    try {
      await producer.connect();
      await producer.send({ topic: 'monitored', messages: Array.from({ length: 12 }, (_, index) => ({ value: `m${index}` })) });
      await admin.connect();
      await admin.setOffsets({ groupId: 'watchers', topic: 'monitored', partitions: [{ partition: 0, offset: '5' }] });
    } finally {
      await producer.disconnect().catch(() => {});
      await admin.disconnect().catch(() => {});
    }
    await cluster.client().put('monitoring/k', 'v');
    metricsText = await (await fetch(`http://${leader.clientAddress()}/metrics`)).text();
  });

  after(async () => {
    await cluster.stop();
  });

  test('/metrics has the Kafka throughput, latency and consumer-group lag families, with values', () => {
    const sample = (pattern: RegExp): number => Number(pattern.exec(metricsText)?.[1] ?? Number.NaN);
    assert.ok(sample(/^cairn_kafka_requests_total\{api="produce"\} (\d+)/m) >= 1, 'produce requests counted');
    assert.ok(sample(/^cairn_kafka_request_duration_seconds_count\{api="produce"\} (\d+)/m) >= 1, 'produce latency observed');
    assert.ok(sample(/^cairn_kafka_record_bytes_total\{direction="in"\} (\d+)/m) > 0, 'produced bytes counted');
    assert.equal(sample(/^cairn_kafka_partition_high_watermark\{topic="monitored",partition="0"\} (\d+)/m), 12);
    assert.equal(sample(/^cairn_kafka_consumer_group_committed_offset\{group="watchers",topic="monitored",partition="0"\} (\d+)/m), 5);
    assert.equal(sample(/^cairn_kafka_consumer_group_lag\{group="watchers",topic="monitored",partition="0"\} (\d+)/m), 7);
    assert.equal(sample(/^cairn_kafka_topics (\d+)/m), 1);
    assert.equal(sample(/^cairn_kafka_metrics_truncated (\d+)/m), 0);
    assert.ok(sample(/^cairn_kafka_connections (\d+)/m) >= 0);
  });

  test('every metric used by the Grafana dashboard and the alert rules is exported', () => {
    const exported = exportedFamilies(metricsText);
    const used = new Map<string, string>();
    for (const { title, expr } of dashboardExpressions()) for (const name of metricNames(expr)) used.set(name, `panel "${title}"`);
    for (const expr of alertExpressions()) for (const name of metricNames(expr)) used.set(name, 'alerts.yml');
    assert.ok(used.size >= 25, `the dashboard and alerts use ${used.size} metrics`);
    const unknown = [...used].filter(([name]) => !exported.has(name)).map(([name, where]) => `${name} (${where})`);
    assert.deepEqual(unknown, [], 'metrics that no node exports');
  });

  test('promtool: the config, the rules and their unit tests', { skip: missing }, () => {
    promtool(['check', 'config', 'prometheus.yml']);
    promtool(['check', 'rules', 'alerts.yml']);
    promtool(['test', 'rules', 'alerts.test.yml']);
  });

  test('promtool parses every PromQL expression of the Grafana dashboard', { skip: missing }, () => {
    const directory = mkdtempSync(join(tmpdir(), 'cairn-grafana-rules-'));
    try {
      const rules = dashboardExpressions().map(({ expr }, index) => `      - record: cairn:dashboard_panel_${index}\n        expr: ${JSON.stringify(expr.replaceAll('$cluster', '.*'))}`);
      const file = join(directory, 'dashboard-rules.yml');
      writeFileSync(file, `groups:\n  - name: grafana-dashboard\n    rules:\n${rules.join('\n')}\n`);
      promtool(['check', 'rules', file]);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test('promtool check metrics accepts /metrics of a live leader and follower (with Kafka series)', { skip: missing }, async () => {
    promtool(['check', 'metrics'], metricsText);
    const follower = await (await fetch(`http://${cluster.followers()[0]!.clientAddress()}/metrics`)).text();
    assert.match(follower, /^cairn_kafka_consumer_group_lag\{/m, 'followers export the replicated group lag too');
    promtool(['check', 'metrics'], follower);
  });
});
