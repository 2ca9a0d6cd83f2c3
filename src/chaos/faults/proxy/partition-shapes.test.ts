import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  bridge, groupsPartition, isSymmetric, isolate, majorityOf, minorityGroups, normalizeLinks, oneWay, reachableFrom, ring, splitMinorities,
} from './partition-shapes.ts';
import type { Link, NodeId } from './partition-shapes.ts';

const clusters = fc.integer({ min: 2, max: 9 }).map((count) => Array.from({ length: count }, (_, index) => index + 1));

/** Nodes that can talk both ways with `node` (itself included). */
function mutual(nodes: readonly NodeId[], blocked: readonly Link[], node: NodeId): NodeId[] {
  const cut = new Set(blocked.map(([from, to]) => `${from}>${to}`));
  return nodes.filter((other) => other === node || (!cut.has(`${node}>${other}`) && !cut.has(`${other}>${node}`)));
}

test('isolate cuts exactly the links of one node, in the requested directions', () => {
  assert.deepEqual(isolate([1, 2, 3], 2).blocked, [[1, 2], [2, 1], [2, 3], [3, 2]]);
  assert.deepEqual(isolate([1, 2, 3], 2, 'inbound').blocked, [[1, 2], [3, 2]]);
  assert.deepEqual(isolate([1, 2, 3], 2, 'outbound').blocked, [[2, 1], [2, 3]]);
  assert.throws(() => isolate([1, 2, 3], 4), /not one of/);
});

test('split into minorities: no node can reach a majority, every node is in some group', () => {
  fc.assert(fc.property(clusters, (nodes) => {
    const shape = splitMinorities(nodes);
    assert.ok(isSymmetric(shape.blocked));
    assert.deepEqual(minorityGroups(nodes).flat(), nodes);
    for (const node of nodes) {
      assert.ok(mutual(nodes, shape.blocked, node).length < majorityOf(nodes.length), `node ${node} sees a majority`);
    }
  }));
  assert.deepEqual(minorityGroups([1, 2, 3, 4, 5]), [[1, 2], [3, 4], [5]]);
  assert.deepEqual(minorityGroups([1, 2, 3]), [[1], [2], [3]]);
});

test('bridge: the halves cannot talk, the bridge node talks to everyone; with 5 nodes each side is a majority', () => {
  fc.assert(fc.property(clusters.filter((nodes) => nodes.length >= 3), (nodes) => {
    const middle = nodes[Math.floor(nodes.length / 2)]!;
    const shape = bridge(nodes);
    assert.ok(isSymmetric(shape.blocked));
    assert.deepEqual(mutual(nodes, shape.blocked, middle), nodes);
    assert.ok(shape.blocked.length > 0 || nodes.length < 3);
  }));
  const shape = bridge([1, 2, 3, 4, 5]);
  assert.deepEqual(mutual([1, 2, 3, 4, 5], shape.blocked, 1), [1, 2, 3]);
  assert.deepEqual(mutual([1, 2, 3, 4, 5], shape.blocked, 5), [3, 4, 5]);
});

test('ring: every node sees a majority, and with 5 or more nodes no two nodes see the same set', () => {
  fc.assert(fc.property(clusters, (nodes) => {
    const shape = ring(nodes);
    assert.ok(isSymmetric(shape.blocked));
    const views = nodes.map((node) => mutual(nodes, shape.blocked, node));
    for (const view of views) assert.ok(view.length >= majorityOf(nodes.length));
    if (nodes.length >= 5) assert.equal(new Set(views.map((view) => view.join(','))).size, nodes.length);
  }));
});

test('one-way: only traffic from the first group to the second is dropped', () => {
  const shape = oneWay([1], [2, 3]);
  assert.deepEqual(shape.blocked, [[1, 2], [1, 3]]);
  assert.ok(!isSymmetric(shape.blocked));
  assert.deepEqual(reachableFrom([1, 2, 3], shape.blocked, 2), [1, 2, 3]);
  assert.deepEqual(reachableFrom([1, 2, 3], shape.blocked, 1), [1]);
});

test('groups partition blocks exactly the cross-group links', () => {
  fc.assert(fc.property(clusters, fc.integer({ min: 1, max: 8 }), (nodes, cut) => {
    const split = Math.min(cut, nodes.length - 1);
    const left = nodes.slice(0, split);
    const right = nodes.slice(split);
    const shape = groupsPartition([left, right]);
    assert.equal(shape.blocked.length, 2 * left.length * right.length);
    for (const [from, to] of shape.blocked) assert.notEqual(left.includes(from), left.includes(to));
  }));
  assert.throws(() => groupsPartition([[1, 2], [2, 3]]), /distinct/);
  assert.deepEqual(normalizeLinks([[2, 1], [1, 1], [2, 1], [1, 2]]), [[1, 2], [2, 1]]);
});
