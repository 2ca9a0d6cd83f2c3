// @ts-check
// The dashboard page: polls GET /v1/dashboard/state of the node that served it once a second
// (cluster status, merged activity, Kafka log) and updates the sections in place. Announces only
// what matters to a screen reader (a new leader, a member down or back, contact lost), never the
// once-a-second numbers. "Pause updates" stops the refresh (WCAG 2.2.2).
import { drawChart } from './charts.js';
import { byId, h, setText } from './dom.js';
import { formatBytes, formatClock, formatInteger, formatMilliseconds, formatRate, visible } from './format.js';
import { KafkaTables } from './kafka.js';
import { KvBrowser } from './kv-browser.js';
import { NodeCards, leaderOf, nodeViews } from './nodes.js';
import { Timeline } from './timeline.js';

/**
 * @typedef {import('../wire-types.ts').WireDashboardState} WireDashboardState
 * @typedef {import('../wire-types.ts').WireClusterPoint} WireClusterPoint
 * @typedef {import('../wire-types.ts').ActivityKind} ActivityKind
 */

const POLL_INTERVAL_MS = 1000;
const POLL_TIMEOUT_MS = 4000;
const WINDOW_SECONDS = 300;
/** Seconds asked again on every poll: a member's late second replaces what was shown. */
const OVERLAP_SECONDS = 5;
const KINDS = /** @type {const} */ (['kv', 'produce', 'fetch']);
const KIND_NAMES = { kv: 'KV', produce: 'Produce', fetch: 'Fetch' };

const elements = {
  cluster: byId('summary-cluster', HTMLElement), leader: byId('summary-leader', HTMLElement), term: byId('summary-term', HTMLElement),
  voters: byId('summary-voters', HTMLElement), served: byId('summary-served', HTMLElement), updated: byId('summary-updated', HTMLElement),
  pause: byId('pause', HTMLButtonElement), contact: byId('contact', HTMLElement), announcer: byId('announcer', HTMLElement),
  throughput: /** @type {SVGSVGElement} */ (/** @type {unknown} */ (document.getElementById('chart-throughput'))),
  latency: /** @type {SVGSVGElement} */ (/** @type {unknown} */ (document.getElementById('chart-latency'))),
  throughputSummary: byId('throughput-summary', HTMLElement), latencySummary: byId('latency-summary', HTMLElement),
};

const cards = new NodeCards(byId('node-list', HTMLUListElement));
const timeline = new Timeline(byId('timeline', HTMLOListElement));
const kafka = new KafkaTables(byId('topics-body', HTMLTableSectionElement), byId('groups-table', HTMLTableElement), byId('kafka-note', HTMLElement));
new KvBrowser({
  form: byId('kv-form', HTMLFormElement), prefix: byId('kv-prefix', HTMLInputElement), limit: byId('kv-limit', HTMLSelectElement),
  consistency: byId('kv-consistency', HTMLSelectElement), body: byId('kv-body', HTMLTableSectionElement), status: byId('kv-status', HTMLElement),
  previous: byId('kv-previous', HTMLButtonElement), next: byId('kv-next', HTMLButtonElement), page: byId('kv-page', HTMLElement),
});

/** @type {Map<number, WireClusterPoint>} */
const points = new Map();
let lastSecond = 0;
let paused = false;
/** @type {WireDashboardState | undefined} */
let lastState;
/** What was announced last, so each change is said once. */
const known = { leaderId: /** @type {number | null | undefined} */ (undefined), down: /** @type {Set<number> | undefined} */ (undefined), contact: true };
/** Other members' dashboards, offered when this node stops answering. @type {{ id: number, client: string }[]} */
let alternatives = [];

/** @param {string} message */
function announce(message) {
  // Cleared first, so the same sentence twice is still spoken.
  elements.announcer.textContent = '';
  setTimeout(() => { elements.announcer.textContent = message; }, 50);
}

/** @param {WireDashboardState} state */
function updateSummary(state) {
  const { cluster } = state;
  const leader = leaderOf(cluster.members);
  setText(elements.cluster, cluster.clusterId === null ? 'not initialized' : visible(cluster.clusterId, false));
  setText(elements.leader, leader === null ? 'none (election?)' : `node ${leader.id}`);
  setText(elements.term, formatInteger(Math.max(0, ...cluster.members.map((member) => member.status?.term ?? 0), cluster.term)));
  const voters = cluster.members.filter((member) => member.membership === 'voter' || member.membership === 'voter-incoming' || member.membership === 'voter-outgoing');
  const up = voters.filter((member) => member.status !== undefined).length;
  setText(elements.voters, voters.length === 0 ? '—' : `${up} of ${voters.length} up${up * 2 > voters.length ? '' : ' — no quorum'}`);
  elements.voters.classList.toggle('bad', voters.length > 0 && up * 2 <= voters.length);
  setText(elements.served, `node ${state.servedBy}`);
  setText(elements.updated, formatClock(state.timeMs));
  elements.updated.setAttribute('datetime', new Date(state.timeMs).toISOString());
}

/** Timeline events and announcements for a new leader and members going down or coming back. @param {WireDashboardState} state */
function noticeChanges(state) {
  const leader = leaderOf(state.cluster.members);
  const down = new Set(state.cluster.members.filter((member) => member.status === undefined).map((member) => member.id));
  const messages = [];
  if (known.down !== undefined) {
    for (const id of down) {
      if (known.down.has(id)) continue;
      const reason = state.cluster.members.find((member) => member.id === id)?.statusError ?? '';
      timeline.add({ key: `down:${id}:${state.timeMs}`, timeMs: state.timeMs, kind: 'down', text: `Node ${id} is down${reason === '' ? '' : ` (${visible(reason.slice(0, 120), false)})`}` });
      messages.push(`Node ${id} is down.`);
    }
    for (const id of known.down) {
      if (down.has(id) || !state.cluster.members.some((member) => member.id === id)) continue;
      timeline.add({ key: `up:${id}:${state.timeMs}`, timeMs: state.timeMs, kind: 'up', text: `Node ${id} is answering again` });
      messages.push(`Node ${id} is back.`);
    }
  }
  if (known.leaderId !== undefined && (leader?.id ?? null) !== known.leaderId) {
    messages.unshift(leader === null ? 'No leader right now.' : `Node ${leader.id} is now the leader (term ${leader.term}).`);
  }
  known.leaderId = leader?.id ?? null;
  known.down = down;
  timeline.addLeadership(state.stats.leadership);
  if (messages.length > 0) announce(messages.join(' '));
}

/** @param {WireDashboardState} state */
function updateCharts(state) {
  for (const point of state.stats.points) points.set(point.second, point);
  lastSecond = Math.max(lastSecond, state.stats.toSecond - 1);
  const end = state.stats.toSecond;
  const start = end - WINDOW_SECONDS;
  for (const second of points.keys()) if (second < start) points.delete(second);
  /** @param {(point: WireClusterPoint) => number | null} read */
  const values = (read) => Array.from({ length: WINDOW_SECONDS }, (_, index) => {
    const point = points.get(start + index);
    return point === undefined ? null : read(point);
  });
  const markers = timeline.leaderChangesBetween(start * 1000, end * 1000).map((event) => ({ index: Math.floor(event.timeMs / 1000) - start, label: `★${event.leaderId ?? ''}` }));
  const xLabels = [0, 60, 120, 180, 240, WINDOW_SECONDS - 1].map((index) => ({ index, label: index === WINDOW_SECONDS - 1 ? 'now' : `−${(WINDOW_SECONDS - index) / 60} min` }));
  drawChart(elements.throughput, {
    scale: 'linear', formatTick: formatRate, markers, xLabels,
    series: KINDS.map((kind) => ({ name: KIND_NAMES[kind], className: `series-${kind}`, values: values((point) => point[kind].rate) })),
  });
  drawChart(elements.latency, {
    scale: 'log', formatTick: formatMilliseconds, markers, xLabels,
    series: KINDS.map((kind) => ({ name: KIND_NAMES[kind], className: `series-${kind}`, values: values((point) => point[kind].p99Ms) })),
  });
  const latest = points.get(end - 1);
  setText(elements.throughputSummary, `Last second: ${KINDS.map((kind) => `${KIND_NAMES[kind]} ${formatRate(latest?.[kind].rate ?? 0)}/s${kind === 'kv' ? '' : ` (${formatBytes(latest?.[kind].bytes ?? 0)}/s)`}`).join(', ')}.`);
  setText(elements.latencySummary, `Last second, p99: ${KINDS.map((kind) => `${KIND_NAMES[kind]} ${formatMilliseconds(latest?.[kind].p99Ms ?? null)}`).join(', ')}. Fetch includes long-poll waits.`);
}

/** @param {WireDashboardState} state */
function show(state) {
  lastState = state;
  if (!known.contact) {
    known.contact = true;
    timeline.add({ key: `contact:${state.timeMs}`, timeMs: state.timeMs, kind: 'contact', text: `Contact with node ${state.servedBy} restored` });
    announce(`Contact with node ${state.servedBy} restored.`);
  }
  elements.contact.hidden = true;
  alternatives = state.cluster.members.filter((member) => member.id !== state.servedBy && member.client !== '').map((member) => ({ id: member.id, client: member.client }));
  updateSummary(state);
  noticeChanges(state);
  cards.update(nodeViews(state), `Node ${state.servedBy} is not part of a cluster yet (${state.cluster.node.phase}): start it with --init or --join, or POST /v1/cluster/init.`);
  updateCharts(state);
  kafka.update(state.topics, state.timeMs);
  timeline.render();
  document.body.dataset['ready'] = 'true';
}

/** @param {unknown} error */
function lostContact(error) {
  const served = lastState?.servedBy;
  const who = served === undefined ? 'this node' : `node ${served}`;
  const links = alternatives.flatMap((member) => {
    try {
      return [h('a', { href: new URL(`http://${member.client}/`).href }, `node ${member.id}`)];
    } catch {
      return [];
    }
  });
  elements.contact.replaceChildren(
    h('strong', {}, `No answer from ${who}, which serves this page`), ` (${visible(error instanceof Error ? error.message : String(error), false).slice(0, 200)}). Retrying every second.`,
    ...(links.length === 0 ? [] : [' Open the dashboard of ', ...links.flatMap((link, index) => (index === 0 ? [link] : [', ', link])), '.']));
  elements.contact.hidden = false;
  if (known.contact) {
    known.contact = false;
    const now = Date.now();
    timeline.add({ key: `contact:${now}`, timeMs: now, kind: 'contact', text: `No answer from ${who}` });
    timeline.render();
    announce(`No answer from ${who}, which serves this page.`);
  }
}

async function poll() {
  const startedAt = performance.now();
  if (!paused) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), POLL_TIMEOUT_MS);
    try {
      const since = lastSecond === 0 ? 0 : lastSecond - OVERLAP_SECONDS;
      const response = await fetch(`/v1/dashboard/state?sinceSecond=${since}`, { signal: controller.signal, cache: 'no-store', headers: { accept: 'application/json' } });
      if (!response.ok) throw new Error(`answered ${response.status}`);
      show(/** @type {WireDashboardState} */ (await response.json()));
    } catch (error) {
      lostContact(controller.signal.aborted ? new Error(`no answer within ${POLL_TIMEOUT_MS / 1000} s`) : error);
    } finally {
      clearTimeout(timer);
    }
  }
  setTimeout(() => void poll(), Math.max(100, POLL_INTERVAL_MS - (performance.now() - startedAt)));
}

elements.pause.addEventListener('click', () => {
  paused = !paused;
  elements.pause.setAttribute('aria-pressed', String(paused));
});

// Charts follow their box when the window is resized.
new ResizeObserver(() => {
  if (lastState !== undefined) updateCharts(lastState);
}).observe(elements.throughput);

void poll();
