// kafka-python (Debian's python3-kafka, 2.0.2) against an in-process 3-node Cairn cluster,
// bootstrapping from a follower. kafka-python has no idempotent producer: its failover guarantee
// is at least once. Its compressed variant is gzip (lz4 and zstd need extra Python modules).
import { FEATURES } from './compatibility.ts';
import { definePythonClientTests } from './python-clients.ts';

definePythonClientTests({
  client: 'kafka-python',
  module: 'kafka',
  script: 'kafka_python_client.py',
  versionExpression: 'kafka.__version__',
  produceVariants: {
    plain: ['none'],
    second: { name: 'gzip-compressed batches, 1,000 keyed', features: [FEATURES.compression], detail: 'gzip', args: ['gzip'], exactlyOnce: true },
    failover: { args: ['none'], exactlyOnce: false },
  },
  notApplicable: [
    { feature: FEATURES.idempotent, why: 'kafka-python 2.0 has no idempotent producer' },
    { feature: FEATURES.failoverIdempotent, why: 'kafka-python 2.0 has no idempotent producer' },
  ],
});
