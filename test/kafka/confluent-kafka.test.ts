// confluent-kafka (Debian's python3-confluent-kafka over librdkafka 2.0.2) against an in-process
// 3-node Cairn cluster, bootstrapping from a follower: plain and idempotent (zstd) producers, a
// consumer group with synchronous commits, and a leader failure during idempotent producing.
import { FEATURES } from './compatibility.ts';
import { definePythonClientTests } from './python-clients.ts';

definePythonClientTests({
  client: 'confluent-kafka',
  module: 'confluent_kafka',
  script: 'confluent_kafka_client.py',
  versionExpression: "confluent_kafka.version()[0] + ', librdkafka ' + confluent_kafka.libversion()[0]",
  produceVariants: {
    plain: ['none', 'false'],
    second: { name: 'idempotent producer with zstd (1,000, acks=all)', features: [FEATURES.idempotent, FEATURES.compression], detail: 'idempotent, zstd', args: ['zstd', 'true'], exactlyOnce: true },
    failover: { args: ['lz4', 'true'], exactlyOnce: true },
  },
  notApplicable: [{ feature: FEATURES.failover, why: 'see the idempotent row: the failover test runs with enable.idempotence=true' }],
});
