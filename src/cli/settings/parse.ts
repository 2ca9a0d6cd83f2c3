// Turns one raw setting value (a flag or environment string, or a JSON value from a config file)
// into its typed value. The same parser serves every source, so `--peer-port 70000`,
// `CAIRN_PEER_PORT=70000` and `{"peerPort": 70000}` fail with the same words.
import type { SettingDefinition } from './definitions.ts';

export type SettingValue = string | number | boolean | readonly string[] | Readonly<Record<string, string>>;

/** A problem with a value, without saying where it came from (the caller adds that). */
export class ValueProblem extends Error {
  override name = 'ValueProblem';
}

const LIST_ITEMS_MAX = 64;
const ADDRESS_PATTERN = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+)):(\d{1,5})$/;
const HOST_PATTERN = /^(?:[A-Za-z0-9._-]{1,253}|\[?[0-9A-Fa-f:.]{2,45}\]?)$/;
const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };

function show(raw: unknown): string {
  const text = typeof raw === 'string' ? raw : JSON.stringify(raw);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export function isAddress(text: string): boolean {
  const match = ADDRESS_PATTERN.exec(text);
  return match !== null && Number(match[3]) >= 1 && Number(match[3]) <= 65535;
}

function parseInteger(raw: unknown): number {
  const text = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim().replace(/_/g, '') : '';
  if (!/^-?\d{1,16}$/.test(text) || !Number.isSafeInteger(Number(text))) throw new ValueProblem(`${show(raw)} is not a whole number`);
  return Number(text);
}

function parseBytes(raw: unknown): number {
  if (typeof raw === 'number') return parseInteger(raw);
  const match = typeof raw === 'string' ? /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/.exec(raw.trim().replace(/_/g, '')) : null;
  const unit = SIZE_UNITS[match?.[2]?.toLowerCase() ?? 'x'];
  if (match === null || unit === undefined) throw new ValueProblem(`${show(raw)} is not a size (a number of bytes, or with KiB, MiB, GiB or TiB)`);
  const value = Number(match[1]) * unit;
  if (!Number.isSafeInteger(value)) throw new ValueProblem(`${show(raw)} is not a whole number of bytes`);
  return value;
}

function parsePort(raw: unknown): number {
  let port: number;
  try {
    port = parseInteger(raw);
  } catch {
    throw new ValueProblem(`${show(raw)} is not a port (0-65535)`);
  }
  if (port < 0 || port > 65535) throw new ValueProblem(`${show(raw)} is not a port (0-65535)`);
  return port;
}

function parseBoolean(raw: unknown): boolean {
  if (typeof raw === 'boolean') return raw;
  const text = typeof raw === 'string' ? raw.trim().toLowerCase() : '';
  if (['true', '1', 'yes', 'on'].includes(text)) return true;
  if (['false', '0', 'no', 'off'].includes(text)) return false;
  throw new ValueProblem(`${show(raw)} is not true or false`);
}

function parseText(raw: unknown, what: string): string {
  if (typeof raw === 'number') return String(raw);
  if (typeof raw !== 'string' || raw.length === 0) throw new ValueProblem(`${show(raw)} is not ${what}`);
  return raw;
}

function parseAddress(raw: unknown): string {
  const text = parseText(raw, 'host:port').trim();
  if (!isAddress(text)) throw new ValueProblem(`${show(raw)} is not host:port (IPv6 as [addr]:port, port 1-65535)`);
  return text;
}

function parseHost(raw: unknown): string {
  const text = parseText(raw, 'a host name or IP address').trim();
  if (!HOST_PATTERN.test(text)) throw new ValueProblem(`${show(raw)} is not a host name or IP address`);
  return text.replace(/^\[|\]$/g, '');
}

function parseList(raw: unknown): readonly string[] {
  const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',').map((item) => item.trim()).filter((item) => item.length > 0) : undefined;
  if (items === undefined || items.length === 0) throw new ValueProblem(`${show(raw)} is not a list of host:port (comma-separated)`);
  if (items.length > LIST_ITEMS_MAX) throw new ValueProblem(`lists at most ${LIST_ITEMS_MAX} addresses`);
  return items.map(parseAddress);
}

function parseMap(raw: unknown): Readonly<Record<string, string>> {
  let pairs: [string, unknown][];
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    pairs = Object.entries(raw);
  } else if (typeof raw === 'string') {
    pairs = raw.split(',').map((item) => item.trim()).filter((item) => item.length > 0).map((item) => {
      const equals = item.indexOf('=');
      if (equals <= 0) throw new ValueProblem(`${show(item)} is not id=host:port`);
      return [item.slice(0, equals).trim(), item.slice(equals + 1).trim()];
    });
  } else {
    throw new ValueProblem(`${show(raw)} is not a list of id=host:port`);
  }
  if (pairs.length === 0 || pairs.length > LIST_ITEMS_MAX) throw new ValueProblem(`lists 1 to ${LIST_ITEMS_MAX} id=host:port pairs`);
  const map: Record<string, string> = {};
  for (const [id, address] of pairs) {
    if (!/^[1-9][0-9]{0,15}$/.test(id)) throw new ValueProblem(`${show(id)} is not a node id (a whole number >= 1)`);
    map[id] = parseAddress(address);
  }
  return map;
}

function parseChoice(raw: unknown, choices: readonly string[]): string {
  const text = typeof raw === 'string' ? raw.trim() : '';
  if (!choices.includes(text)) throw new ValueProblem(`${show(raw)} is not one of ${choices.join(', ')}`);
  return text;
}

/** The typed value of `raw` for `setting`, or a ValueProblem saying what is wrong. */
export function parseSettingValue(setting: SettingDefinition, raw: unknown): SettingValue {
  switch (setting.type) {
    case 'string': return parseText(raw, 'a non-empty text');
    case 'path': return parseText(raw, 'a path');
    case 'secret': return parseText(raw, 'a non-empty secret');
    case 'integer': return parseInteger(raw);
    case 'bytes': return parseBytes(raw);
    case 'port': return parsePort(raw);
    case 'boolean': return parseBoolean(raw);
    case 'host': return parseHost(raw);
    case 'address': return parseAddress(raw);
    case 'list': return parseList(raw);
    case 'map': return parseMap(raw);
    case 'choice': return parseChoice(raw, setting.choices ?? []);
  }
}

/** A value as text for --print-config and help. */
export function formatSettingValue(value: SettingValue): string {
  if (Array.isArray(value)) return value.join(',');
  if (typeof value === 'object') return Object.entries(value).map(([id, address]) => `${id}=${address}`).join(',');
  return String(value);
}
