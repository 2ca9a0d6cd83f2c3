// @ts-check
// The timeline: leader changes every member reported (the server merges them, so changes from
// before the page was opened are there too) and what this page saw happen — members going down
// and coming back, contact with the serving node lost and regained. Newest first.
import { h } from './dom.js';
import { formatClock } from './format.js';

/**
 * @typedef {import('../wire-types.ts').WireClusterLeadershipEvent} WireClusterLeadershipEvent
 * @typedef {{ key: string, timeMs: number, kind: 'leader' | 'down' | 'up' | 'contact', text: string, leaderId?: number }} TimelineEvent
 */

const EVENTS_KEPT = 200;
const EVENTS_SHOWN = 50;

export class Timeline {
  /** @param {HTMLOListElement} list */
  constructor(list) {
    this.list = list;
    /** @type {Map<string, TimelineEvent>} */
    this.events = new Map();
    this.signature = '';
  }

  /** @param {readonly WireClusterLeadershipEvent[]} leadership */
  addLeadership(leadership) {
    for (const event of leadership) {
      const key = `leader:${event.term}:${event.leaderId}`;
      const known = this.events.get(key);
      if (known !== undefined && known.timeMs <= event.timeMs) continue;
      this.add({ key, timeMs: event.timeMs, kind: 'leader', leaderId: event.leaderId, text: `Node ${event.leaderId} became leader (term ${event.term})` });
    }
  }

  /** @param {TimelineEvent} event */
  add(event) {
    this.events.set(event.key, event);
    if (this.events.size <= EVENTS_KEPT) return;
    const oldest = [...this.events.values()].sort((a, b) => a.timeMs - b.timeMs)[0];
    if (oldest !== undefined) this.events.delete(oldest.key);
  }

  /** Leader changes within [fromMs, toMs), for chart markers. @param {number} fromMs @param {number} toMs */
  leaderChangesBetween(fromMs, toMs) {
    return [...this.events.values()].filter((event) => event.kind === 'leader' && event.timeMs >= fromMs && event.timeMs < toMs);
  }

  render() {
    const shown = [...this.events.values()].sort((a, b) => b.timeMs - a.timeMs || a.key.localeCompare(b.key)).slice(0, EVENTS_SHOWN);
    const signature = shown.map((event) => `${event.key}@${event.timeMs}`).join('|');
    if (signature === this.signature) return;
    this.signature = signature;
    if (shown.length === 0) {
      this.list.replaceChildren(h('li', { class: 'empty' }, 'No leader changes or outages seen yet.'));
      return;
    }
    this.list.replaceChildren(...shown.map((event) => h('li', { class: `event event-${event.kind}` },
      h('time', { datetime: new Date(event.timeMs).toISOString() }, formatClock(event.timeMs)),
      h('span', { class: 'event-icon', 'aria-hidden': 'true' }, ICONS[event.kind]),
      h('span', { class: 'event-text' }, event.text))));
  }
}

const ICONS = { leader: '★', down: '✕', up: '✓', contact: '!' };
