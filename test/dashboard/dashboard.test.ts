// The dashboard in a real browser (Debian chromium through playwright-core) against a 3-node
// cluster of real `cairn serve` processes, the page served by a follower: three nodes and one
// leader; Kafka topics and group lag; a KV write shown (escaped) in the key browser; keyboard
// navigation to every control with a visible focus; no horizontal scrolling on a narrow window;
// after a SIGKILL of the leader the page shows it down and a new leader. Screenshots go to
// test-output/dashboard/ (git-ignored; kept as CI artifacts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import type { LocalCluster } from '../../src/local/index.ts';
import { FAST_SERVE_FLAGS, destroyLocalCluster, startLocalCluster } from '../integration/helpers.ts';
import { browserUnavailable, launchBrowser } from './browser.ts';
import type { Browser } from './browser.ts';

const require = createRequire(import.meta.url);
process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';
const { Kafka, logLevel } = require('kafkajs') as typeof import('kafkajs');
// kafkajs 2.2.4 sets negative timers on Node 24 (its request queue); harmless, but noisy.
process.removeAllListeners('warning');

export const OUTPUT_DIRECTORY = resolve(import.meta.dirname, '..', '..', 'test-output', 'dashboard');
/** Generous: SIGKILL to a new leader is well under 2 s here; the page polls every second. */
const FAILOVER_BOUND_MS = 20_000;
const SHOWN_BOUND_MS = 15_000;

const unavailable = browserUnavailable();

/**
 * Waits until `expression` (JavaScript run in the page, with `args` bound as a JSON value) is
 * truthy. Expressions are strings: this file is type-checked without the DOM library.
 */
async function until(page: Page, expression: string, args: unknown = null, timeoutMs = SHOWN_BOUND_MS): Promise<void> {
  // Polled from here: page.waitForFunction would eval() in the page, which its CSP forbids.
  const deadline = performance.now() + timeoutMs;
  const script = `(() => { try { return Boolean(((args) => ${expression})(${JSON.stringify(args)})); } catch { return false; } })()`;
  while (!(await page.evaluate(script))) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${expression}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('the dashboard in a browser', { skip: unavailable, timeout: 240_000 }, () => {
  let cluster: LocalCluster;
  let browser: Browser;
  let page: Page;
  let leaderId: number;
  let servingId: number;
  const problems: string[] = [];

  before(async () => {
    mkdirSync(OUTPUT_DIRECTORY, { recursive: true });
    process.stdout.write(`# screenshots: ${OUTPUT_DIRECTORY}\n`);
    cluster = await startLocalCluster({ nodes: 3, serveArgs: FAST_SERVE_FLAGS });
    leaderId = await cluster.waitForLeader();
    servingId = cluster.nodes().find((node) => node.id !== leaderId)!.id;
    browser = await launchBrowser({ width: 1280, height: 800 });
    page = browser.context.pages()[0] ?? await browser.context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(`console ${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  });

  after(async () => {
    await browser?.close();
    if (cluster !== undefined) await destroyLocalCluster(cluster);
  });

  test('a follower serves the page with a strict CSP; it lists three nodes and one leader', async () => {
    const response = await page.goto(`http://${cluster.node(servingId).client}/`);
    assert.equal(response?.status(), 200);
    const csp = response!.headers()['content-security-policy'] ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/, 'no inline or remote script');
    assert.equal(response!.headers()['x-content-type-options'], 'nosniff');
    await until(page, `document.querySelectorAll('.node-card').length === 3`);
    await until(page, `document.querySelectorAll('.node-card.is-leader').length === 1 && document.querySelector('.node-card.is-leader').dataset.nodeId === String(args)`, leaderId);
    assert.equal(await page.locator('#summary-served').textContent(), `node ${servingId}`);
    assert.equal(await page.locator('#summary-leader').textContent(), `node ${leaderId}`);
    assert.equal(await page.locator('.node-card[data-health="healthy"]').count(), 3);
    assert.match(await page.locator('#summary-voters').textContent() ?? '', /^3 of 3 up$/);
  });

  test('Kafka topics, high watermarks and consumer-group lag are shown; produce shows in the charts', async () => {
    const kafka = new Kafka({ clientId: 'dashboard-test', brokers: cluster.nodes().map((node) => node.kafka!), logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } });
    const producer = kafka.producer();
    const admin = kafka.admin();
    try {
      await producer.connect();
      for (let batch = 0; batch < 5; batch++) await producer.send({ topic: 'dash-orders', messages: [{ value: `a${batch}` }, { value: `b${batch}` }] });
      await admin.connect();
      await admin.setOffsets({ groupId: 'dash-billing', topic: 'dash-orders', partitions: [{ partition: 0, offset: '4' }] });
    } finally {
      await producer.disconnect().catch(() => {});
      await admin.disconnect().catch(() => {});
    }
    const topicRow = page.locator('#topics-body tr', { hasText: 'dash-orders' });
    await topicRow.first().waitFor({ timeout: SHOWN_BOUND_MS });
    await until(page, `[...document.querySelectorAll('#topics-body tr')].some((row) => row.textContent.includes('dash-orders') && row.children[3].textContent === '10')`);
    const groupRow = page.locator('#groups-table tbody tr', { hasText: 'dash-billing' });
    await groupRow.first().waitFor({ timeout: SHOWN_BOUND_MS });
    const cells = await groupRow.first().locator('td').allTextContents();
    assert.deepEqual(cells, ['dash-orders', '0', '4', '10', '6'], 'committed 4 of 10: lag 6');
    await until(page, `/M/.test(document.querySelector('#chart-throughput path.series-produce')?.getAttribute('d') ?? '')`);
  });

  test('a KV write appears in the key browser, escaped', async () => {
    const client = cluster.client({ timeoutMs: 5000 });
    const hostileKey = 'dash/<b id="injected-key">k</b>\u202Eevil';
    const hostileValue = '<img id="injected" src="x" onerror="window.__pwned = 1">';
    try {
      await client.put('dash/plain', 'hello dashboard');
      await client.put(hostileKey, hostileValue);
      await client.put('dash/long', 'line one\n'.repeat(40));
    } finally {
      client.close();
    }
    await page.locator('#kv-prefix').fill('dash/');
    await page.locator('#kv-scan').click();
    await page.locator('#kv-body tr', { hasText: 'hello dashboard' }).waitFor({ timeout: SHOWN_BOUND_MS });
    const hostileRow = page.locator('#kv-body tr', { hasText: 'injected-key' });
    assert.equal(await hostileRow.locator('th code').textContent(), 'dash/<b id="injected-key">k</b>\\u202eevil', 'markup shown as text, the bidi override made visible');
    assert.equal(await hostileRow.locator('td code').first().textContent(), hostileValue);
    assert.equal(await page.locator('#injected, #injected-key').count(), 0, 'nothing from the store became an element');
    assert.equal(await page.evaluate('typeof window.__pwned'), 'undefined');
    const longRow = page.locator('#kv-body tr', { hasText: 'dash/long' });
    await longRow.locator('summary').click();
    assert.match(await longRow.locator('pre').textContent() ?? '', /^(line one\n){40}$/);
    assert.match(await page.locator('#kv-status').textContent() ?? '', /^3 keys on page 1/);
  });

  test('the main controls are reached by keyboard, with a visible focus; Enter scans', async () => {
    // A fresh load: Tab starts from the top of the document.
    await page.reload();
    await until(page, `document.body.dataset.ready === 'true'`);
    const reached: { id: string; text: string; outline: string }[] = [];
    for (let press = 0; press < 40; press++) {
      await page.keyboard.press('Tab');
      reached.push(await page.evaluate(`(() => {
        const element = document.activeElement;
        const style = getComputedStyle(element);
        return { id: element.id, text: element.textContent.trim().slice(0, 40), outline: style.outlineStyle + ' ' + style.outlineWidth };
      })()`));
    }
    const ids = new Set(reached.map((item) => item.id));
    const texts = new Set(reached.map((item) => item.text));
    assert.equal(reached[0]!.text, 'Skip to the dashboard', 'the skip link comes first');
    for (const id of ['pause', 'kv-prefix', 'kv-limit', 'kv-consistency', 'kv-scan']) assert.ok(ids.has(id), `#${id} is reachable by Tab (reached: ${[...ids].join(', ')})`);
    for (const text of ['Nodes', 'Activity', 'Kafka', 'Keys']) assert.ok(texts.has(text), `the ${text} section link is reachable`);
    for (const item of reached.filter((entry) => ['pause', 'kv-prefix', 'kv-scan'].includes(entry.id))) {
      assert.match(item.outline, /^solid [1-9]/, `#${item.id} shows its focus (${item.outline})`);
    }
    const unlabelled = await page.evaluate(`[...document.querySelectorAll('input, select, button, a[href]')]
      .filter((control) => (control.labels === undefined || control.labels === null || control.labels.length === 0) && control.textContent.trim() === '' && !control.getAttribute('aria-label'))
      .map((control) => control.outerHTML.slice(0, 80))`) as string[];
    assert.deepEqual(unlabelled, [], 'every control has a label or a text');
    assert.equal(await page.locator('main h2').count(), 4, 'one heading per section');
    assert.equal(await page.locator('[aria-live]').count(), 1, 'one live region (announcements), plus role=status for the key browser');
    await page.locator('#kv-prefix').focus();
    await page.keyboard.press('Control+A');
    await page.keyboard.type('dash/plain');
    await page.keyboard.press('Enter');
    await until(page, `/^1 key on page 1/.test(document.querySelector('#kv-status').textContent)`);
    await page.locator('#pause').focus();
    await page.keyboard.press('Space');
    assert.equal(await page.locator('#pause').getAttribute('aria-pressed'), 'true');
    await page.keyboard.press('Space');
    assert.equal(await page.locator('#pause').getAttribute('aria-pressed'), 'false');
  });

  test('screenshots at 1280×800 and on a narrow window (no horizontal scrolling)', async () => {
    await page.locator('#kv-prefix').fill('dash/');
    await page.locator('#kv-scan').click();
    await page.locator('#kv-body tr', { hasText: 'hello dashboard' }).waitFor();
    await page.evaluate('window.scrollTo(0, 0)');
    const wide = join(OUTPUT_DIRECTORY, 'dashboard-1280x800.png');
    await page.screenshot({ path: wide });
    await page.screenshot({ path: join(OUTPUT_DIRECTORY, 'dashboard-full.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    const overflow = await page.evaluate('document.documentElement.scrollWidth - window.innerWidth') as number;
    assert.ok(overflow <= 1, `the page scrolls sideways by ${overflow} px at 390 px wide`);
    await page.screenshot({ path: join(OUTPUT_DIRECTORY, 'dashboard-narrow.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });
    process.stdout.write(`# screenshot: ${wide}\n`);
  });

  test('after a SIGKILL of the leader the page shows it down and a new leader', async () => {
    const killedAt = performance.now();
    await cluster.killNode(leaderId, 'SIGKILL');
    await until(page, `document.querySelector('.node-card[data-node-id="' + args + '"]').classList.contains('is-down')
      && document.querySelectorAll('.node-card.is-leader').length === 1 && document.querySelector('.node-card.is-leader').dataset.nodeId !== String(args)`, leaderId, FAILOVER_BOUND_MS);
    const shownMs = performance.now() - killedAt;
    const newLeader = Number(await page.locator('.node-card.is-leader').getAttribute('data-node-id'));
    assert.notEqual(newLeader, leaderId);
    assert.equal(await page.locator(`.node-card[data-node-id="${leaderId}"] .badge.role`).textContent(), 'Down');
    assert.match(await page.locator('#summary-voters').textContent() ?? '', /^2 of 3 up$/);
    await until(page, `[...document.querySelectorAll('#timeline li')].some((item) => item.textContent.includes('Node ' + args + ' became leader'))`, newLeader);
    assert.ok(await page.locator('#timeline li', { hasText: `Node ${leaderId} is down` }).count() >= 1);
    await page.screenshot({ path: join(OUTPUT_DIRECTORY, 'dashboard-after-failover.png') });
    process.stdout.write(`# failover shown on the page ${Math.round(shownMs)} ms after the SIGKILL\n`);
    assert.deepEqual(problems, [], 'no console errors, CSP violations or page errors');
  });
});
