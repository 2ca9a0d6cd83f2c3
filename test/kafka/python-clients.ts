// The real-client scenarios for the two Python clients (kafka-python and confluent-kafka), which
// are driven through scripts with the same commands (clients/*.py): create a topic through a
// follower, produce 1,000 keyed messages with acks=all, consume them in a group and commit, resume
// after a restart, and a leader failure in the middle of producing.
import { after, before, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { FEATURES, compatible, notApplicable, recordClientVersion, toolAvailable } from './compatibility.ts';
import type { Feature } from './compatibility.ts';
import { TestCluster } from './cluster.ts';
import type { ClusterMember } from './cluster.ts';
import { expectSuccess, run, start } from './processes.ts';
import type { ProcessResult } from './processes.ts';
import { RawKafkaClient } from './raw-client.ts';

/** Debian installs the Python Kafka modules for the system interpreter only. */
const PYTHON = '/usr/bin/python3';
const MESSAGES = 1_000;

export interface PythonClientSpec {
  /** The matrix's name for the client. */
  readonly client: string;
  /** The module to probe (`import <module>`). */
  readonly module: string;
  readonly script: string;
  /** A Python expression (after `import <module>`) giving the version shown in the matrix. */
  readonly versionExpression: string;
  /** Extra produce arguments after COMPRESSION (confluent-kafka: the idempotence flag). */
  readonly produceVariants: {
    readonly plain: readonly string[];
    readonly second: { readonly name: string; readonly features: readonly Feature[]; readonly detail: string; readonly args: readonly string[]; readonly exactlyOnce: boolean };
    readonly failover: { readonly args: readonly string[]; readonly exactlyOnce: boolean };
  };
  /** Features the client does not have, with why. */
  readonly notApplicable?: readonly { readonly feature: Feature; readonly why: string }[];
}

interface Produced {
  readonly acked: string[];
  readonly failed: number;
}

interface ConsumedMessages {
  readonly messages: [string, string, number, number][];
  readonly complete: boolean;
}

function lastJson<T>(result: ProcessResult): T {
  const line = result.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as T;
}

export function definePythonClientTests(spec: PythonClientSpec): void {
  const script = join(import.meta.dirname, 'clients', spec.script);
  const probe = spawnSync(PYTHON, ['-c', `import ${spec.module}; print(${spec.versionExpression})`], { encoding: 'utf8' });
  if (probe.status === 0) recordClientVersion(spec.client, probe.stdout.trim());
  for (const { feature, why } of spec.notApplicable ?? []) notApplicable(spec.client, feature, why);
  let cluster: TestCluster;

  before(async () => {
    cluster = await TestCluster.start();
  });

  after(async () => {
    await cluster?.close();
  });

  const available = (context: TestContext): boolean => toolAvailable(context, spec.client, [PYTHON, '-c', `import ${spec.module}`]);
  const python = async (args: readonly string[], what: string): Promise<ProcessResult> => expectSuccess(await run(PYTHON, [script, ...args], { timeoutMs: 120_000 }), `${spec.client} ${what}`);
  const consume = async (bootstrap: string, topic: string, group: string): Promise<Map<string, number>> => {
    const consumed = lastJson<ConsumedMessages>(await python(['consume', bootstrap, topic, group], 'consume'));
    assert.ok(consumed.complete, 'the consumer reached the end of every assigned partition');
    const counts = new Map<string, number>();
    for (const [key, value] of consumed.messages) {
      assert.equal(value, `value of ${key}`);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return counts;
  };
  const produce = async (bootstrap: string, topic: string, prefix: string, count: number, args: readonly string[]): Promise<Produced> =>
    lastJson<Produced>(await python(['produce', bootstrap, topic, prefix, String(count), ...args], 'produce'));

  test(`${spec.client}: create a topic through a follower (admin client); a second create says it exists`, compatible(spec.client, FEATURES.createTopic, async (context) => {
    if (!available(context)) return;
    const created = lastJson<{ created: boolean; second: string }>(await python(['create', cluster.bootstrapFromFollower()[0]!, 'py-topic', '3'], 'create'));
    assert.deepEqual(created, { created: true, second: 'already exists' });
    assert.equal(cluster.leader().state.log.describeTopic('py-topic')?.partitions, 3);
  }));

  test(`${spec.client}: produce 1,000 keyed messages (acks=all), consume them all in a group, commit`, compatible(spec.client, [FEATURES.produce, FEATURES.consumeGroup], async (context) => {
    if (!available(context)) return;
    const bootstrap = cluster.bootstrapFromFollower()[0]!;
    const produced = await produce(bootstrap, 'py-topic', 'plain', MESSAGES, spec.produceVariants.plain);
    assert.deepEqual([produced.acked.length, produced.failed], [MESSAGES, 0]);
    const counts = await consume(bootstrap, 'py-topic', 'py-group');
    assert.equal(counts.size, MESSAGES);
    assert.ok([...counts.values()].every((count) => count === 1));
    await committedEqualsEnd(cluster.leader(), 'py-group', 'py-topic', 3);
  }));

  test(`${spec.client}: a restarted consumer resumes from the committed offset`, compatible(spec.client, FEATURES.resume, async (context) => {
    if (!available(context)) return;
    const bootstrap = cluster.bootstrapFromFollower()[0]!;
    const produced = await produce(bootstrap, 'py-topic', 'later', 100, spec.produceVariants.plain);
    const counts = await consume(bootstrap, 'py-topic', 'py-group');
    assert.deepEqual([...counts.keys()].sort(), [...produced.acked].sort());
  }));

  const second = spec.produceVariants.second;
  test(`${spec.client}: ${second.name}`, compatible(spec.client, second.features, async (context) => {
    if (!available(context)) return;
    const bootstrap = cluster.bootstrapFromFollower()[0]!;
    const produced = await produce(bootstrap, 'py-second', 'second', MESSAGES, second.args);
    assert.deepEqual([produced.acked.length, produced.failed], [MESSAGES, 0]);
    const counts = await consume(bootstrap, 'py-second', 'py-second-group');
    assert.equal(counts.size, MESSAGES);
    if (second.exactlyOnce) assert.ok([...counts.values()].every((count) => count === 1));
    return `${second.detail}; topic auto-created by the producer`;
  }));

  const failover = spec.produceVariants.failover;
  const guarantee = failover.exactlyOnce ? 'idempotent: exactly once' : 'none lost (at least once)';
  test(`${spec.client}: the leader fails in the middle of producing; ${guarantee}`, compatible(spec.client, failover.exactlyOnce ? FEATURES.failoverIdempotent : FEATURES.failover, async (context) => {
    if (!available(context)) return;
    const local = await TestCluster.start();
    try {
      const bootstrap = local.bootstrapFromFollower()[0]!;
      const created = lastJson<{ created: boolean }>(await python(['create', bootstrap, 'py-failover', '3'], 'create'));
      assert.equal(created.created, true);
      const producer = start(PYTHON, [script, 'produce', bootstrap, 'py-failover', 'f', String(MESSAGES), ...failover.args], { timeoutMs: 120_000 });
      let stopping: Promise<void> | undefined;
      let stopped: ClusterMember | undefined;
      producer.onLine((line) => {
        const progress = /^progress (\d+)$/.exec(line);
        if (progress === null || stopping !== undefined || Number(progress[1]) < MESSAGES * 0.3) return;
        stopped = local.leader();
        stopping = local.stopMember(stopped);
      });
      const produced = lastJson<Produced>(expectSuccess(await producer.done, `${spec.client} produce through a failover`));
      assert.ok(stopping !== undefined, 'the leader was stopped while producing');
      await stopping;
      await local.waitForLeader();
      const counts = await consume(bootstrap, 'py-failover', 'py-failover-group');
      for (const key of produced.acked) {
        if (failover.exactlyOnce) assert.equal(counts.get(key), 1, `${key} was acknowledged: exactly once`);
        else assert.ok((counts.get(key) ?? 0) >= 1, `${key} was acknowledged: at least once`);
      }
      if (failover.exactlyOnce) for (const [key, count] of counts) assert.equal(count, 1, `${key} is in the log once`);
      assert.ok(produced.acked.length >= MESSAGES * 0.9, `most messages were acknowledged (${produced.acked.length})`);
      const duplicates = [...counts.values()].filter((count) => count > 1).length;
      return `leader ${stopped!.id} stopped after ${MESSAGES * 0.3}+ acks; ${produced.acked.length}/${MESSAGES} acknowledged, all consumed, ${duplicates} duplicated`;
    } finally {
      await local.close();
    }
  }));
}

async function committedEqualsEnd(leader: ClusterMember, group: string, topic: string, partitions: number): Promise<void> {
  const client = await RawKafkaClient.connect(leader.kafka);
  try {
    const indexes = Array.from({ length: partitions }, (_, index) => index);
    const committed = await client.send(5, { apiKey: 9, message: { groupId: group, topics: [{ name: topic, partitionIndexes: indexes }] } });
    for (const partition of committed.topics[0]!.partitions) {
      assert.equal(Number(partition.committedOffset), leader.state.log.partitionInfo(topic, partition.partitionIndex)!.highWatermark, `partition ${partition.partitionIndex} committed to its end`);
    }
  } finally {
    client.close();
  }
}
