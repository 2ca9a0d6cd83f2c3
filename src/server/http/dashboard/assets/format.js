// @ts-check
// Formatting numbers, sizes, durations and times for people, and making untrusted text safe to
// look at: control and bidirectional-override characters are shown as escapes, so a key cannot
// disguise itself or reorder the text around it.

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
const twoDigits = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 2 });

/** @param {number} value */
export function formatInteger(value) {
  return integer.format(value);
}

/** Requests per second: "0", "4.5", "1,234". @param {number} value */
export function formatRate(value) {
  return value >= 100 ? integer.format(value) : oneDecimal.format(value);
}

/** @param {number | null} milliseconds */
export function formatMilliseconds(milliseconds) {
  if (milliseconds === null) return '—';
  if (milliseconds >= 1000) return `${oneDecimal.format(milliseconds / 1000)} s`;
  if (milliseconds >= 10) return `${integer.format(milliseconds)} ms`;
  return `${twoDigits.format(milliseconds)} ms`;
}

/** @param {number} bytes */
export function formatBytes(bytes) {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? integer.format(value) : oneDecimal.format(value)} ${units[unit]}`;
}

/** Local wall-clock time with seconds, e.g. "14:03:07". @param {number} timeMs */
export function formatClock(timeMs) {
  const date = new Date(timeMs);
  return [date.getHours(), date.getMinutes(), date.getSeconds()].map((part) => String(part).padStart(2, '0')).join(':');
}

// C0 and C1 controls (tab and newline are handled by the caller), and the characters that change
// the direction or joining of the text around them.
const HIDDEN = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u200B-\u200F\u2028-\u202E\u2060-\u2069\uFEFF]/g;

/**
 * Untrusted text made visible: invisible and direction-changing characters as \u escapes.
 * @param {string} text
 * @param {boolean} keepLines whether newlines and tabs stay (full views) or become ⏎ and ⇥ (previews)
 */
export function visible(text, keepLines) {
  const shown = text.replace(HIDDEN, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return keepLines ? shown : shown.replace(/\n/g, '⏎').replace(/\t/g, '⇥').replace(/\r/g, '\\r');
}

/** @param {string} base64 */
export function bytesFromBase64(base64) {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return bytes;
}

/** @param {string} text */
export function base64FromText(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Bytes as text when they are valid UTF-8, else as hex (marked binary).
 * @param {Uint8Array} bytes
 * @param {number} maxBytes only this many bytes are turned into text
 * @returns {{ text: string, binary: boolean, cut: boolean }}
 */
export function displayBytes(bytes, maxBytes) {
  const cut = bytes.length > maxBytes;
  const shown = cut ? bytes.subarray(0, maxBytes) : bytes;
  try {
    // A cut may split a character: decode leniently then, strictly otherwise.
    const text = cut ? new TextDecoder('utf-8', { fatal: false }).decode(shown) : strictUtf8.decode(shown);
    if (cut) strictUtf8.decode(bytes);
    return { text, binary: false, cut };
  } catch {
    return { text: Array.from(shown, (byte) => byte.toString(16).padStart(2, '0')).join(' '), binary: true, cut };
  }
}
