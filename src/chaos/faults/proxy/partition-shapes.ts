// Partition shapes as pure data: the set of directed links whose traffic is dropped. A link
// [from, to] means "data sent by node `from` to node `to` is lost"; a symmetric cut blocks both
// [a, b] and [b, a]. Kept free of I/O so the shapes can be checked exhaustively (partition-shapes.test.ts)
// and applied by either the proxy mesh or the network-namespace lab.
import { invalidArgument } from '../errors.ts';

export type NodeId = number;
export type Link = readonly [from: NodeId, to: NodeId];

export interface PartitionShape {
  /** For logs and reports, e.g. "isolate 2", "minorities [1,2] [3,4] [5]". */
  readonly name: string;
  readonly blocked: readonly Link[];
}

function checkNodes(nodes: readonly NodeId[]): void {
  if (nodes.length < 2) throw invalidArgument(`a partition needs at least 2 nodes, got ${nodes.length}`);
  if (new Set(nodes).size !== nodes.length) throw invalidArgument(`node ids must be distinct: ${nodes.join(',')}`);
}

function requireMember(nodes: readonly NodeId[], node: NodeId): void {
  if (!nodes.includes(node)) throw invalidArgument(`node ${node} is not one of ${nodes.join(',')}`);
}

/** Sorted, without duplicates or self-links. */
export function normalizeLinks(links: Iterable<Link>): Link[] {
  const seen = new Map<string, Link>();
  for (const [from, to] of links) if (from !== to) seen.set(`${from}>${to}`, [from, to]);
  return [...seen.values()].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

function describeGroups(groups: readonly (readonly NodeId[])[]): string {
  return groups.map((group) => `[${group.join(',')}]`).join(' ');
}

/** Every link between nodes of different groups; `oneWay` blocks only from earlier groups to later ones. */
export function groupsPartition(groups: readonly (readonly NodeId[])[], options: { readonly oneWay?: boolean } = {}): PartitionShape {
  const all = groups.flat();
  checkNodes(all);
  const blocked: Link[] = [];
  groups.forEach((group, index) => {
    groups.forEach((other, otherIndex) => {
      if (otherIndex === index || (options.oneWay === true && otherIndex < index)) return;
      for (const from of group) for (const to of other) blocked.push([from, to]);
    });
  });
  return { name: `${options.oneWay === true ? 'one-way ' : ''}partition ${describeGroups(groups)}`, blocked: normalizeLinks(blocked) };
}

/**
 * Cuts `node` off from everyone. direction 'both' (default) is a full isolation; 'inbound' drops
 * only what others send to it (it still talks, nobody answers it); 'outbound' only what it sends.
 */
export function isolate(nodes: readonly NodeId[], node: NodeId, direction: 'both' | 'inbound' | 'outbound' = 'both'): PartitionShape {
  checkNodes(nodes);
  requireMember(nodes, node);
  const others = nodes.filter((other) => other !== node);
  const blocked: Link[] = [];
  for (const other of others) {
    if (direction !== 'inbound') blocked.push([node, other]);
    if (direction !== 'outbound') blocked.push([other, node]);
  }
  return { name: `isolate ${node}${direction === 'both' ? '' : ` (${direction})`}`, blocked: normalizeLinks(blocked) };
}

export function majorityOf(count: number): number {
  return Math.floor(count / 2) + 1;
}

/** Groups of at most majority - 1 nodes, so no side can elect a leader or commit. */
export function minorityGroups(nodes: readonly NodeId[]): NodeId[][] {
  checkNodes(nodes);
  const size = Math.max(1, majorityOf(nodes.length) - 1);
  const groups: NodeId[][] = [];
  for (let index = 0; index < nodes.length; index += size) groups.push(nodes.slice(index, index + size));
  return groups;
}

export function splitMinorities(nodes: readonly NodeId[]): PartitionShape {
  const shape = groupsPartition(minorityGroups(nodes));
  return { name: `minorities ${describeGroups(minorityGroups(nodes))}`, blocked: shape.blocked };
}

/**
 * Jepsen's bridge: two halves that cannot talk to each other, and one node (the middle of the
 * list, or `bridgeNode`) that talks to both. With 5 nodes each half plus the bridge is a majority.
 */
export function bridge(nodes: readonly NodeId[], bridgeNode?: NodeId): PartitionShape {
  checkNodes(nodes);
  if (nodes.length < 3) throw invalidArgument('a bridge needs at least 3 nodes');
  const middle = bridgeNode ?? nodes[Math.floor(nodes.length / 2)]!;
  requireMember(nodes, middle);
  const rest = nodes.filter((node) => node !== middle);
  const left = rest.slice(0, Math.ceil(rest.length / 2));
  const right = rest.slice(left.length);
  const blocked = groupsPartition([left, right]).blocked;
  return { name: `bridge ${describeGroups([left])} <${middle}> ${describeGroups([right])}`, blocked };
}

/**
 * Nodes on a ring, each connected only to its nearest neighbours, as few as still let each see a
 * majority (itself included); so every node sees a majority, but no two see the same one (n >= 5).
 */
export function ring(nodes: readonly NodeId[]): PartitionShape {
  checkNodes(nodes);
  const count = nodes.length;
  const reach = Math.ceil((majorityOf(count) - 1) / 2);
  const blocked: Link[] = [];
  for (let index = 0; index < count; index++) {
    for (let other = 0; other < count; other++) {
      const distance = Math.min(Math.abs(index - other), count - Math.abs(index - other));
      if (distance > reach) blocked.push([nodes[index]!, nodes[other]!]);
    }
  }
  return { name: `ring ${nodes.join('-')} (reach ${reach})`, blocked: normalizeLinks(blocked) };
}

/** Traffic from `from` to `to` is dropped; the other way flows. */
export function oneWay(from: readonly NodeId[], to: readonly NodeId[]): PartitionShape {
  return groupsPartition([from, to], { oneWay: true });
}

/** Who `node` can send to (directly) under the shape, itself included. */
export function reachableFrom(nodes: readonly NodeId[], blocked: readonly Link[], node: NodeId): NodeId[] {
  const cut = new Set(blocked.map(([from, to]) => `${from}>${to}`));
  return nodes.filter((other) => other === node || !cut.has(`${node}>${other}`));
}

/** True when the link is cut in neither direction. */
export function isSymmetric(blocked: readonly Link[]): boolean {
  const cut = new Set(blocked.map(([from, to]) => `${from}>${to}`));
  return blocked.every(([from, to]) => cut.has(`${to}>${from}`));
}
