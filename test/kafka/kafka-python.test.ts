// kafka-python (Debian's python3-kafka, 2.0.2) against an in-process 3-node Cairn cluster,
// bootstrapping from a follower. kafka-python has no idempotent producer: its failover guarantee
// is at least once. Its compressed variant is gzip (lz4 and zstd need extra Python modules).
import { definePythonClientTests } from './python-clients.ts';

definePythonClientTests({
  client: 'kafka-python',
  module: 'kafka',
  script: 'kafka_python_client.py',
  produceVariants: {
    plain: ['none'],
    second: { feature: 'compression (gzip), 1,000 keyed', args: ['gzip'], exactlyOnce: true },
    failover: { args: ['none'], exactlyOnce: false },
  },
});
