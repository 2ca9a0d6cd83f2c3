// The rows of the compatibility matrix and the shape of a recorded result (no node:test import,
// so the report script can use it without becoming a test file).

export type CompatibilityResult = 'pass' | 'fail' | 'skip' | 'n/a';

/** The matrix's rows, in order; every test names the ones it proves. */
export const FEATURES = {
  createTopic: 'create topic',
  metadata: 'metadata from a follower',
  produce: 'produce 1,000 keyed, acks=all',
  consumeGroup: 'consume in a group, commit offsets',
  resume: 'restart consumer, resume from committed offset',
  rebalance: 'a second consumer joins: partitions shared (rebalance)',
  idempotent: 'idempotent producer',
  compression: 'compressed batches',
  failover: 'leader failure mid-produce: none lost (at least once)',
  failoverIdempotent: 'leader failure mid-produce, idempotent: exactly once',
} as const;

export type Feature = (typeof FEATURES)[keyof typeof FEATURES];

export interface CompatibilityRow {
  readonly client: string;
  readonly feature: Feature;
  /** The test's name ('' for a feature the client does not have). */
  readonly test: string;
  readonly result: CompatibilityResult;
  readonly detail: string;
  readonly durationMs: number;
}

