// confluent-kafka (Debian's python3-confluent-kafka over librdkafka 2.0.2) against an in-process
// 3-node Cairn cluster, bootstrapping from a follower: plain and idempotent (zstd) producers, a
// consumer group with synchronous commits, and a leader failure during idempotent producing.
import { definePythonClientTests } from './python-clients.ts';

definePythonClientTests({
  client: 'confluent-kafka',
  module: 'confluent_kafka',
  script: 'confluent_kafka_client.py',
  produceVariants: {
    plain: ['none', 'false'],
    second: { feature: 'idempotent producer with zstd (1,000, acks=all)', args: ['zstd', 'true'], exactlyOnce: true },
    failover: { args: ['lz4', 'true'], exactlyOnce: true },
  },
});
