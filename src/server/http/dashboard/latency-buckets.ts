// Log-scale latency buckets for the dashboard's per-second histograms: bucket i holds latencies in
// (FIRST·2^((i-1)/4), FIRST·2^(i/4)] seconds (bucket 0: up to FIRST), so a quantile read from the
// buckets is within 19% of the true value, and histograms of several nodes merge by adding counts
// (a p99 of the cluster is computed from the sum, never by averaging per-node p99s).

/** Upper bound of bucket 0: 10 µs. */
export const FIRST_BUCKET_SECONDS = 0.00001;
/** Buckets per doubling of latency. */
export const BUCKETS_PER_DOUBLING = 4;
/** 10 µs · 2^(100/4) ≈ 335 s; anything slower lands in the last bucket. */
export const BUCKET_COUNT = 101;

export function bucketIndex(seconds: number): number {
  if (!(seconds > FIRST_BUCKET_SECONDS)) return 0;
  const index = Math.ceil(Math.log2(seconds / FIRST_BUCKET_SECONDS) * BUCKETS_PER_DOUBLING - 1e-9);
  return Math.min(BUCKET_COUNT - 1, index);
}

export function bucketUpperSeconds(index: number): number {
  return FIRST_BUCKET_SECONDS * 2 ** (index / BUCKETS_PER_DOUBLING);
}

/**
 * The q-quantile (0 < q ≤ 1) of a histogram given as sparse [index, count, index, count, ...]
 * pairs in any order, as the upper bound of the bucket that holds it; null when it is empty.
 */
export function quantileSeconds(sparse: readonly number[], q: number): number | null {
  const counts = new Map<number, number>();
  let total = 0;
  for (let position = 0; position + 1 < sparse.length; position += 2) {
    const index = sparse[position]!;
    const count = sparse[position + 1]!;
    if (!Number.isInteger(index) || index < 0 || index >= BUCKET_COUNT || !(count > 0)) continue;
    counts.set(index, (counts.get(index) ?? 0) + count);
    total += count;
  }
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (const index of [...counts.keys()].sort((a, b) => a - b)) {
    seen += counts.get(index)!;
    if (seen >= rank) return bucketUpperSeconds(index);
  }
  return bucketUpperSeconds(BUCKET_COUNT - 1);
}
