// Splitting one request's items into log commands of bounded size: a Raft entry must stay well
// below the peer transport's frame limit and the leader's uncommitted-bytes budget, whatever a
// client packs into one request. Items keep their order (the commands are proposed in sequence).

/** Consecutive runs of `items`, each at most `itemsMax` long and `bytesMax` big (one item alone may exceed bytesMax). */
export function chunkItems<T>(items: readonly T[], sizeOf: (item: T) => number, itemsMax: number, bytesMax: number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && (current.length >= itemsMax || bytes + size > bytesMax)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
