// @ts-check
// The node cards: one per member, updated in place (focus and screen-reader position survive the
// once-a-second refresh). The leader's card is highlighted; a member that does not answer is
// shown down with the reason, and everything else keeps updating from the members that do.
import { h, setText } from './dom.js';
import { formatInteger, formatRate, visible } from './format.js';

/**
 * @typedef {import('../wire-types.ts').WireDashboardState} WireDashboardState
 * @typedef {import('../../api-types.ts').WireMember} WireMember
 * @typedef {{ id: number, term: number }} LeaderView
 * @typedef {{
 *   id: number, title: string, reachable: boolean, error: string | null, role: string | null, term: number | null,
 *   commitIndex: number | null, appliedIndex: number | null, lag: number | null, health: 'healthy' | 'down' | 'degraded',
 *   healthText: string, membership: string, isLeader: boolean, client: string, kafka: string | null, requestsPerSecond: number | null
 * }} NodeView
 */

/** Members further behind than this are "lagging" (the server's healthy bound). */
const LAGGING_ENTRIES = 1000;

const MEMBERSHIP_TEXT = /** @type {Record<string, string>} */ ({
  voter: 'Voter', learner: 'Learner', 'voter-incoming': 'Voter (joining)', 'voter-outgoing': 'Voter (leaving)', none: 'Not a member',
});

/**
 * The leader of the highest term among the members that answered (an old leader cut off from the
 * others may still believe it leads a lower term).
 * @param {readonly WireMember[]} members
 * @returns {LeaderView | null}
 */
export function leaderOf(members) {
  /** @type {LeaderView | null} */
  let best = null;
  for (const member of members) {
    const status = member.status;
    if (status?.role === 'leader' && (best === null || status.term > best.term)) best = { id: member.id, term: status.term };
  }
  return best;
}

/**
 * @param {WireMember} member
 * @param {number | null} lag
 * @returns {{ health: NodeView['health'], text: string }}
 */
function healthOf(member, lag) {
  const status = member.status;
  if (status === undefined) return { health: 'down', text: 'Down' };
  if (status.phase !== 'running') return { health: 'degraded', text: status.phase === 'failed' ? 'Failed' : `Not running (${status.phase})` };
  if (status.leaderId === 0) return { health: 'degraded', text: 'No leader known' };
  if (lag !== null && lag > LAGGING_ENTRIES) return { health: 'degraded', text: 'Lagging' };
  return member.healthy === false ? { health: 'degraded', text: 'Degraded' } : { health: 'healthy', text: 'Healthy' };
}

/**
 * @param {WireDashboardState} state
 * @returns {NodeView[]}
 */
export function nodeViews(state) {
  const { members } = state.cluster;
  const leader = leaderOf(members);
  const highestCommit = Math.max(0, ...members.map((member) => member.status?.commitIndex ?? 0));
  const requests = new Map(state.stats.sources.map((source) => [source.nodeId, source.lastSecond]));
  return members.map((member) => {
    const status = member.status;
    const isLeader = leader !== null && leader.id === member.id;
    // The leader's own progress counts entries it has not yet persisted: it is 0 behind itself.
    const lag = status === undefined ? null : isLeader ? 0 : member.progress?.lagEntries ?? Math.max(0, highestCommit - status.appliedIndex);
    const { health, text } = healthOf(member, lag);
    const last = requests.get(member.id);
    return {
      id: member.id, title: member.name === undefined ? `Node ${member.id}` : `Node ${member.id} · ${member.name}`,
      reachable: status !== undefined, error: member.statusError ?? status?.failure ?? null, role: status?.role ?? null, term: status?.term ?? null,
      commitIndex: status?.commitIndex ?? null, appliedIndex: status?.appliedIndex ?? null, lag, health, healthText: text,
      membership: MEMBERSHIP_TEXT[member.membership] ?? member.membership, isLeader,
      client: member.client, kafka: member.kafka ?? null, requestsPerSecond: last === undefined ? null : last.kv + last.produce + last.fetch,
    };
  });
}

/**
 * @typedef {{ root: HTMLLIElement, title: HTMLElement, role: HTMLElement, membership: HTMLElement, health: HTMLElement, error: HTMLElement,
 *   term: HTMLElement, commit: HTMLElement, applied: HTMLElement, lag: HTMLElement, requests: HTMLElement, link: HTMLAnchorElement, kafka: HTMLElement }} Card
 */

/** @param {string} label @param {HTMLElement} value */
function fact(label, value) {
  return h('div', {}, h('dt', {}, label), h('dd', {}, value));
}

/** @returns {Card} */
function createCard() {
  /** @param {string} className */
  const span = (className) => h('span', { class: className });
  const card = {
    title: h('h3', { class: 'node-title' }), role: span('badge role'), membership: span('badge membership'), health: span('health-text'),
    error: h('p', { class: 'node-error' }), term: span('value'), commit: span('value'), applied: span('value'), lag: span('value'),
    requests: span('value'), link: h('a', {}), kafka: span('kafka-address'),
  };
  const root = h('li', { class: 'node-card' },
    h('div', { class: 'node-head' }, card.title, card.role, card.membership),
    h('p', { class: 'health' }, h('span', { class: 'health-icon', 'aria-hidden': 'true' }), card.health),
    card.error,
    h('dl', { class: 'node-facts' }, fact('Term', card.term), fact('Commit', card.commit), fact('Applied', card.applied), fact('Lag', card.lag), fact('Req/s', card.requests)),
    h('p', { class: 'addresses' }, 'HTTP ', card.link, card.kafka),
  );
  return { root, ...card };
}

/** @param {number | null} value */
function count(value) {
  return value === null ? '—' : formatInteger(value);
}

/** The member's own dashboard, when its address is a plain host:port. @param {string} client */
function dashboardUrl(client) {
  try {
    const url = new URL(`http://${client}/`);
    return url.pathname === '/' && url.username === '' ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * @param {Card} card
 * @param {NodeView} view
 */
function updateCard(card, view) {
  const { root } = card;
  root.classList.toggle('is-leader', view.isLeader);
  root.classList.toggle('is-down', !view.reachable);
  root.dataset['nodeId'] = String(view.id);
  root.dataset['role'] = view.reachable ? view.role ?? 'none' : 'down';
  root.dataset['health'] = view.health;
  setText(card.title, view.title);
  setText(card.role, !view.reachable ? 'Down' : view.isLeader ? '★ Leader' : capitalize(view.role ?? 'no role'));
  setText(card.membership, view.membership);
  setText(card.health, view.healthText);
  setText(card.error, view.error === null ? '' : visible(view.error.slice(0, 300), false));
  card.error.hidden = view.error === null;
  setText(card.term, count(view.term));
  setText(card.commit, count(view.commitIndex));
  setText(card.applied, count(view.appliedIndex));
  setText(card.lag, view.lag === null ? '—' : `${formatInteger(view.lag)} entries`);
  setText(card.requests, view.requestsPerSecond === null ? '—' : formatRate(view.requestsPerSecond));
  const url = dashboardUrl(view.client);
  setText(card.link, visible(view.client || 'unknown', false));
  if (url === null) card.link.removeAttribute('href');
  else if (card.link.getAttribute('href') !== url) card.link.setAttribute('href', url);
  card.link.setAttribute('aria-label', `HTTP address of node ${view.id}: ${view.client}, open its dashboard`);
  setText(card.kafka, view.kafka === null ? '' : ` · Kafka ${visible(view.kafka, false)}`);
}

/** @param {string} text */
function capitalize(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export class NodeCards {
  /** @param {HTMLUListElement} list */
  constructor(list) {
    this.list = list;
    /** @type {Map<number, Card>} */
    this.cards = new Map();
  }

  /**
   * @param {NodeView[]} views
   * @param {string} emptyText shown when there is no member (the node has not joined a cluster)
   */
  update(views, emptyText) {
    // The placeholder shown before the first answer, and anything else that is not a card, goes.
    for (const child of [...this.list.children]) if (![...this.cards.values()].some((card) => card.root === child)) child.remove();
    if (views.length === 0) this.list.append(h('li', { class: 'empty' }, emptyText));
    const seen = new Set();
    views.forEach((view, index) => {
      seen.add(view.id);
      let card = this.cards.get(view.id);
      if (card === undefined) {
        card = createCard();
        this.cards.set(view.id, card);
      }
      updateCard(card, view);
      if (this.list.children[index] !== card.root) this.list.insertBefore(card.root, this.list.children[index] ?? null);
    });
    for (const [id, card] of this.cards) {
      if (seen.has(id)) continue;
      card.root.remove();
      this.cards.delete(id);
    }
  }
}
