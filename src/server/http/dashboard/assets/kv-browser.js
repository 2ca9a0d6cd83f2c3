// @ts-check
// The read-only key-value browser: a prefix scan through the HTTP API (GET /v1/kv, base64 both
// ways so any bytes survive), one page at a time with the API's continuation tokens. Keys and
// values are put on the page as text only, with invisible characters made visible; long values
// open in a <details> (keyboard-operable without script), binary ones are shown as hex.
import { h } from './dom.js';
import { base64FromText, bytesFromBase64, displayBytes, formatBytes, formatInteger, visible } from './format.js';

/**
 * @typedef {import('../../api-types.ts').WireRangeResponse} WireRangeResponse
 * @typedef {import('../../api-types.ts').WireKeyValue} WireKeyValue
 * @typedef {{ form: HTMLFormElement, prefix: HTMLInputElement, limit: HTMLSelectElement, consistency: HTMLSelectElement,
 *   body: HTMLTableSectionElement, status: HTMLElement, previous: HTMLButtonElement, next: HTMLButtonElement, page: HTMLElement }} KvElements
 */

/** Values longer than this (characters) are collapsed behind a preview. */
const PREVIEW_CHARACTERS = 80;
/** At most this much of a value is put on the page. */
const SHOWN_BYTES_MAX = 64 * 1024;
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * @param {Uint8Array} bytes
 * @returns {HTMLElement}
 */
function valueCell(bytes) {
  const { text, binary, cut } = displayBytes(bytes, SHOWN_BYTES_MAX);
  const label = binary ? `binary, ${formatBytes(bytes.length)}` : formatBytes(bytes.length);
  const full = visible(text, true) + (cut ? `\n… (${formatBytes(bytes.length - SHOWN_BYTES_MAX)} more not shown)` : '');
  const preview = visible(text.slice(0, PREVIEW_CHARACTERS), false);
  if (!cut && !binary && text.length <= PREVIEW_CHARACTERS && !/[\n\t]/.test(text)) return h('td', {}, h('code', { class: 'value' }, preview));
  return h('td', {}, h('details', {},
    h('summary', {}, h('code', { class: 'value' }, `${preview}${text.length > PREVIEW_CHARACTERS ? '…' : ''}`), ' ', h('span', { class: 'muted' }, `(${label})`)),
    h('pre', { class: 'value-full' }, full)));
}

/** @param {WireKeyValue} kv */
function row(kv) {
  const key = displayBytes(bytesFromBase64(kv.key), 4096);
  return h('tr', {},
    h('th', { scope: 'row' }, h('code', { class: 'key' }, visible(key.text, false)), key.binary ? h('span', { class: 'muted' }, ' (binary)') : null),
    valueCell(bytesFromBase64(kv.value ?? '')),
    h('td', { class: 'number' }, formatInteger(kv.version)),
    h('td', { class: 'number' }, formatInteger(kv.modRevision)),
    h('td', { class: 'number' }, kv.lease === 0 ? '—' : String(kv.lease)));
}

export class KvBrowser {
  /** @param {KvElements} elements */
  constructor(elements) {
    this.elements = elements;
    /** Continuation tokens of the pages seen: [undefined (page 1), token of page 2, ...]. @type {(string | undefined)[]} */
    this.pages = [undefined];
    this.pageIndex = 0;
    /** @type {string | undefined} */
    this.nextToken = undefined;
    /** @type {AbortController | undefined} */
    this.inFlight = undefined;
    elements.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.pages = [undefined];
      void this.load(0);
    });
    elements.previous.addEventListener('click', () => void this.load(this.pageIndex - 1));
    elements.next.addEventListener('click', () => {
      if (this.nextToken === undefined) return;
      this.pages[this.pageIndex + 1] = this.nextToken;
      void this.load(this.pageIndex + 1);
    });
  }

  /** Loads page `index` of the current scan. @param {number} index */
  async load(index) {
    const { elements } = this;
    if (index < 0 || index >= this.pages.length) return;
    this.inFlight?.abort();
    const controller = new AbortController();
    this.inFlight = controller;
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    const query = new URLSearchParams({ prefix: base64FromText(elements.prefix.value), encoding: 'base64', limit: elements.limit.value, consistency: elements.consistency.value });
    const token = this.pages[index];
    if (token !== undefined) query.set('continuation', token);
    elements.status.textContent = 'Loading…';
    try {
      const response = await fetch(`/v1/kv?${query}`, { signal: controller.signal, cache: 'no-store', headers: { accept: 'application/json' } });
      const body = await response.json();
      if (!response.ok) throw new Error(typeof body?.message === 'string' ? body.message : `the node answered ${response.status}`);
      this.#show(/** @type {WireRangeResponse} */ (body), index);
    } catch (error) {
      if (controller.signal.aborted && this.inFlight !== controller) return;
      elements.status.textContent = `The scan failed: ${visible(error instanceof Error ? error.message : String(error), false).slice(0, 300)}`;
    } finally {
      clearTimeout(timer);
      if (this.inFlight === controller) this.inFlight = undefined;
    }
  }

  /** @param {WireRangeResponse} range @param {number} index */
  #show(range, index) {
    const { elements } = this;
    this.pageIndex = index;
    this.nextToken = range.more ? range.continuation : undefined;
    this.pages.length = index + 1;
    const rows = range.kvs.map(row);
    if (rows.length === 0) rows.push(h('tr', {}, h('td', { colspan: 5, class: 'empty' }, 'No keys with this prefix.')));
    elements.body.replaceChildren(...rows);
    elements.previous.disabled = index === 0;
    elements.next.disabled = this.nextToken === undefined;
    elements.page.textContent = `Page ${index + 1}`;
    const prefix = elements.prefix.value === '' ? 'all keys' : `prefix “${visible(elements.prefix.value, false)}”`;
    elements.status.textContent = `${range.kvs.length} key${range.kvs.length === 1 ? '' : 's'} on page ${index + 1} (${prefix}, revision ${formatInteger(range.revision)})${range.more ? '; more on the next page' : ''}.`;
  }
}
