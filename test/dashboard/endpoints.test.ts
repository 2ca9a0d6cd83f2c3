// The dashboard's HTTP side on an in-process 3-node cluster: the page and its files (CSP and
// security headers, ETag revalidation, HEAD, no path escapes, every file the page references is
// served, no inline script or style in the page), and the JSON the page polls — per-node and
// merged activity, the Kafka log view, the combined state — from a follower, and with a member
// stopped (reported, not fatal).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { TestCluster, waitFor } from '../../src/client/testing/cluster.ts';
import { ASSET_NAMES } from '../../src/server/http/dashboard/static-assets.ts';
import type { WireClusterStats, WireDashboardState, WireLocalStats, WireTopicsView } from '../../src/server/http/dashboard/wire-types.ts';

const ASSETS = new URL('../../src/server/http/dashboard/assets/', import.meta.url);

async function json<T>(endpoint: string, path: string): Promise<{ status: number; body: T }> {
  const response = await fetch(`http://${endpoint}${path}`);
  return { status: response.status, body: await response.json() as T };
}

describe('the dashboard endpoints', { timeout: 60_000 }, () => {
  const cluster = new TestCluster();
  let follower: string;

  before(async () => {
    await cluster.start(3);
    follower = cluster.followers()[0]!.clientAddress();
  });

  after(async () => {
    await cluster.stop();
  });

  test('GET / is the page, with a strict CSP and security headers; ETags revalidate; HEAD has no body', async () => {
    const page = await fetch(`http://${follower}/?anything=ignored`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy')!;
    for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"]) {
      assert.ok(csp.split('; ').includes(directive), `CSP has ${directive}: ${csp}`);
    }
    assert.doesNotMatch(csp, /unsafe/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    const html = await page.text();
    assert.match(html, /<title>Cairn — cluster dashboard<\/title>/);
    const etag = page.headers.get('etag')!;
    const again = await fetch(`http://${follower}/`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    assert.equal((await again.text()).length, 0);
    const head = await fetch(`http://${follower}/`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal((await head.text()).length, 0);
    assert.equal((await fetch(`http://${follower}/`, { method: 'POST' })).status, 405);
  });

  test('every file the page references is served with its type; nothing else is', async () => {
    const referenced = new Set<string>();
    const html = readFileSync(new URL('index.html', ASSETS), 'utf8');
    for (const match of html.matchAll(/(?:src|href)="\/dashboard\/([^"]+)"/g)) referenced.add(match[1]!);
    for (const name of ASSET_NAMES.filter((file) => file.endsWith('.js'))) {
      for (const match of readFileSync(new URL(name, ASSETS), 'utf8').matchAll(/^import .* from '\.\/([^']+)';$/gm)) referenced.add(match[1]!);
    }
    assert.ok(referenced.size >= 10, `${[...referenced].join(', ')}`);
    for (const name of referenced) {
      assert.ok((ASSET_NAMES as readonly string[]).includes(name), `${name} is referenced but not served (ASSET_NAMES)`);
      const response = await fetch(`http://${follower}/dashboard/${name}`);
      assert.equal(response.status, 200, name);
      assert.match(response.headers.get('content-type')!, name.endsWith('.js') ? /^text\/javascript/ : name.endsWith('.css') ? /^text\/css/ : /^(image\/svg\+xml|text\/html)/);
      assert.ok(response.headers.get('content-security-policy') !== null);
      await response.arrayBuffer();
    }
    for (const path of ['/dashboard/nope.js', '/dashboard/..%2Fstatic-assets.ts', '/dashboard/.%2Fapp.js', '/dashboard/tsconfig.json', '/dashboard/']) {
      const response = await fetch(`http://${follower}${path}`);
      assert.equal(response.status, 404, path);
      assert.equal(typeof (await response.json() as { code: unknown }).code, 'string');
    }
  });

  test('the page has no inline script, inline style or event-handler attribute (the CSP would block them)', () => {
    const html = readFileSync(new URL('index.html', ASSETS), 'utf8');
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'inline script');
    assert.doesNotMatch(html, /<style/, 'inline style element');
    assert.doesNotMatch(html, /\sstyle=/, 'style attribute');
    assert.doesNotMatch(html, /\son[a-z]+=/, 'event-handler attribute');
    for (const name of ASSET_NAMES.filter((file) => file.endsWith('.js'))) {
      const code = readFileSync(new URL(name, ASSETS), 'utf8');
      assert.doesNotMatch(code, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/, `${name} never parses strings as HTML or code`);
    }
  });

  test('activity: each node counts its own KV requests; the merged view adds every member up', async () => {
    const nodes = [...cluster.nodes.values()];
    for (const [index, node] of nodes.entries()) {
      for (let count = 0; count <= index; count++) {
        const response = await fetch(`http://${node.clientAddress()}/v1/kv/dash/n${index}/${count}`, { method: 'PUT', body: JSON.stringify({ value: 'v' }) });
        assert.equal(response.status, 200);
      }
    }
    // Completed seconds only: wait for the second of the last request to end.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const locals = await Promise.all(nodes.map((node) => json<WireLocalStats>(node.clientAddress(), '/v1/dashboard/stats?scope=local')));
    const kvCounts = locals.map(({ body }) => body.seconds.reduce((sum, second) => sum + (second.kinds.kv?.count ?? 0), 0));
    assert.deepEqual(kvCounts, [1, 2, 3]);
    assert.deepEqual(locals.map(({ body }) => body.nodeId), nodes.map((node) => node.nodeId()));
    const merged = await json<WireClusterStats>(follower, '/v1/dashboard/stats');
    assert.equal(merged.status, 200);
    assert.equal(merged.body.points.reduce((sum, point) => sum + point.kv.rate, 0), 6);
    assert.ok(merged.body.points.some((point) => point.kv.p99Ms !== null && point.kv.p99Ms > 0));
    assert.deepEqual(merged.body.sources.map((source) => [source.nodeId, source.ok]).sort(), [[1, true], [2, true], [3, true]]);
    assert.ok(merged.body.leadership.some((event) => event.leaderId === cluster.leader()!.nodeId() && event.seenBy.length === 3), 'every member saw the leader');
    const since = merged.body.toSecond - 1;
    const later = await json<WireClusterStats>(follower, `/v1/dashboard/stats?sinceSecond=${since}`);
    assert.ok(later.body.points.every((point) => point.second > since), 'sinceSecond leaves out what the page has');
  });

  test('topics: the Kafka log as this node applied it (empty here)', async () => {
    const { status, body } = await json<WireTopicsView>(follower, '/v1/dashboard/topics');
    assert.equal(status, 200);
    assert.equal(body.available, true);
    assert.deepEqual(body.topics, []);
    assert.deepEqual(body.groups, []);
    assert.ok(body.appliedIndex > 0);
  });

  test('bad parameters are 400 JSON errors', async () => {
    for (const path of ['/v1/dashboard/stats?scope=everything', '/v1/dashboard/stats?sinceSecond=-1', '/v1/dashboard/state?timeoutMs=0', '/v1/dashboard/topics?x=1', '/v1/dashboard/state?bogus=1']) {
      const { status, body } = await json<{ code: string; message: string }>(follower, path);
      assert.equal(status, 400, path);
      assert.equal(typeof body.message, 'string');
    }
  });

  test('the state a follower serves: three members, merged stats, topics; a stopped member is reported, the rest still shown', async () => {
    const first = await json<WireDashboardState>(follower, '/v1/dashboard/state');
    assert.equal(first.status, 200);
    assert.equal(first.body.servedBy, cluster.followers()[0]!.nodeId());
    assert.equal(first.body.cluster.members.length, 3);
    assert.ok(first.body.cluster.members.every((member) => member.status !== undefined && member.healthy === true));
    assert.equal(first.body.stats.sources.length, 3);
    assert.equal(first.body.topics.available, true);
    const servingId = cluster.followers()[0]!.nodeId();
    const victim = [...cluster.nodes.values()].find((node) => node.nodeId() !== servingId)!;
    const victimId = victim.nodeId();
    await victim.stop();
    await waitFor(() => cluster.leader() !== undefined, 'a leader among the others', 15_000);
    const startedAt = performance.now();
    const after = await json<WireDashboardState>(follower, '/v1/dashboard/state?timeoutMs=500');
    assert.ok(performance.now() - startedAt < 5000, 'a stopped member does not hold the answer up');
    assert.equal(after.status, 200);
    const down = after.body.cluster.members.find((member) => member.id === victimId)!;
    assert.equal(down.status, undefined);
    assert.equal(typeof down.statusError, 'string');
    assert.equal(after.body.cluster.members.filter((member) => member.status !== undefined).length, 2);
    const source = after.body.stats.sources.find((item) => item.nodeId === victimId)!;
    assert.equal(source.ok, false);
    assert.equal(after.body.stats.sources.filter((item) => item.ok).length, 2);
  });
});
