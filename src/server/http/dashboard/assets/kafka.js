// @ts-check
// Kafka topics (partitions, log start, high watermark, size, records per second from the high
// watermark's growth between polls) and consumer groups (committed offset, lag) as tables,
// redrawn only when something in them changed.
import { h } from './dom.js';
import { formatBytes, formatInteger, formatRate, visible } from './format.js';

/**
 * @typedef {import('../wire-types.ts').WireTopicsView} WireTopicsView
 */

export class KafkaTables {
  /**
   * @param {HTMLTableSectionElement} topicsBody
   * @param {HTMLTableElement} groupsTable
   * @param {HTMLElement} note
   */
  constructor(topicsBody, groupsTable, note) {
    this.topicsBody = topicsBody;
    this.groupsTable = groupsTable;
    this.note = note;
    /** @type {Map<string, { highWatermark: number, timeMs: number, rate: number | null }>} */
    this.previous = new Map();
    this.topicsSignature = '';
    this.groupsSignature = '';
  }

  /** @param {WireTopicsView} view @param {number} timeMs */
  update(view, timeMs) {
    this.note.textContent = !view.available ? `Node ${view.nodeId} has not joined a cluster yet.`
      : `As applied by node ${view.nodeId} (log index ${formatInteger(view.appliedIndex)}).${view.truncated ? ' Some topics, partitions or groups are not listed (limits).' : ''}`;
    this.#updateTopics(view, timeMs);
    this.#updateGroups(view);
  }

  /** @param {WireTopicsView} view @param {number} timeMs */
  #updateTopics(view, timeMs) {
    /** @type {HTMLTableRowElement[]} */
    const rows = [];
    const cells = [];
    const seen = new Set();
    for (const topic of view.topics) {
      for (const partition of topic.partitions) {
        const key = `${topic.name}\u0000${partition.partition}`;
        seen.add(key);
        const rate = this.#rate(key, partition.highWatermark, timeMs);
        const values = [formatInteger(partition.logStartOffset), formatInteger(partition.highWatermark), formatBytes(partition.sizeBytes), rate === null ? '—' : formatRate(rate)];
        cells.push(topic.name, partition.partition, ...values);
        rows.push(h('tr', {}, h('th', { scope: 'row' }, h('code', {}, visible(topic.name, false))), h('td', { class: 'number' }, String(partition.partition)),
          ...values.map((value) => h('td', { class: 'number' }, value))));
      }
    }
    // Deleted topics and partitions are forgotten.
    for (const key of this.previous.keys()) if (!seen.has(key)) this.previous.delete(key);
    const signature = JSON.stringify(cells);
    if (signature === this.topicsSignature) return;
    this.topicsSignature = signature;
    if (rows.length === 0) rows.push(h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'No topics yet. Produce to any node\'s Kafka address to create one.')));
    this.topicsBody.replaceChildren(...rows);
  }

  /** @param {WireTopicsView} view */
  #updateGroups(view) {
    const signature = JSON.stringify(view.groups);
    if (signature === this.groupsSignature) return;
    this.groupsSignature = signature;
    const bodies = view.groups.map((group) => h('tbody', {}, ...group.partitions.map((entry, index) => h('tr', {},
      index === 0 ? h('th', { scope: 'rowgroup', rowspan: group.partitions.length },
        h('code', {}, visible(group.group, false)), h('span', { class: 'muted block' }, `total lag ${formatInteger(group.totalLag)}`)) : null,
      h('td', {}, h('code', {}, visible(entry.topic, false))), h('td', { class: 'number' }, String(entry.partition)),
      h('td', { class: 'number' }, formatInteger(entry.committedOffset)), h('td', { class: 'number' }, formatInteger(entry.highWatermark)),
      h('td', { class: entry.lag > 0 ? 'number lagging' : 'number' }, formatInteger(entry.lag))))));
    const empty = h('tbody', {}, h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'No consumer group has committed offsets yet.')));
    const head = this.groupsTable.tHead;
    const caption = this.groupsTable.caption;
    this.groupsTable.replaceChildren(...(caption === null ? [] : [caption]), ...(head === null ? [] : [head]), ...(bodies.length === 0 ? [empty] : bodies));
  }

  /**
   * Records per second appended to a partition: the high watermark's growth over the last poll.
   * @param {string} key @param {number} highWatermark @param {number} timeMs
   */
  #rate(key, highWatermark, timeMs) {
    const previous = this.previous.get(key);
    /** @type {number | null} */
    let rate = previous?.rate ?? null;
    if (previous !== undefined && timeMs > previous.timeMs) {
      rate = highWatermark >= previous.highWatermark ? ((highWatermark - previous.highWatermark) * 1000) / (timeMs - previous.timeMs) : null;
    }
    if (previous === undefined || timeMs > previous.timeMs) this.previous.set(key, { highWatermark, timeMs, rate });
    return rate;
  }
}
