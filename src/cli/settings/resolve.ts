// Effective `cairn serve` settings: flag > environment (CAIRN_*) > config file > default, each
// value parsed by the same parser and remembered with where it came from, so an error can say
// `invalid --peer-port (from CAIRN_PEER_PORT): 70000 is not a port (0-65535)`.
import { readFileSync, statSync } from 'node:fs';
import { SETTINGS, envOf, flagOf, settingByKey } from './definitions.ts';
import type { SettingDefinition } from './definitions.ts';
import { ValueProblem, formatSettingValue, parseSettingValue } from './parse.ts';
import type { SettingValue } from './parse.ts';

export type SettingSource =
  | { readonly kind: 'flag' }
  | { readonly kind: 'env'; readonly name: string }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'default' };

const RANK: Readonly<Record<SettingSource['kind'], number>> = { flag: 3, env: 2, file: 1, default: 0 };
const CONFIG_FILE_BYTES_MAX = 1024 * 1024;
const SECRET_FILE_BYTES_MAX = 4096;

/** Environment variables read by other cairn commands: not a typo of a serve setting. */
export const OTHER_CAIRN_VARIABLES: ReadonlySet<string> = new Set(['CAIRN_ENDPOINTS', 'CAIRN_TICKET', 'CAIRN_TIMEOUT', 'CAIRN_LOG_FILE']);

export class SettingsError extends Error {
  override name = 'SettingsError';
  readonly code = 'invalid-setting';
  readonly setting: string;
  readonly source: SettingSource | undefined;

  constructor(setting: string, source: SettingSource | undefined, problem: string) {
    super(`invalid ${flagOf(setting)}${source === undefined || source.kind === 'flag' ? '' : ` (from ${describeSource(source, setting)})`}: ${problem}`);
    this.setting = setting;
    this.source = source;
  }
}

export function describeSource(source: SettingSource, key: string): string {
  switch (source.kind) {
    case 'flag': return `the command line (${flagOf(key)})`;
    case 'env': return source.name;
    case 'file': return `config file ${source.path}, key "${key}"`;
    case 'default': return 'the default';
  }
}

export interface SettingsInput {
  /** Values from the command line by setting key (strings, or true for a bare boolean flag). */
  readonly flags: Readonly<Record<string, unknown>>;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface ResolvedSettings {
  readonly values: ReadonlyMap<string, SettingValue>;
  readonly sources: ReadonlyMap<string, SettingSource>;
  /** Things to tell the user that do not stop the node (unknown CAIRN_* variables, ...). */
  readonly warnings: readonly string[];
}

export function readBoundedFile(path: string, maxBytes: number, setting: string, source: SettingSource | undefined): string {
  try {
    const size = statSync(path).size;
    if (size > maxBytes) throw new ValueProblem(`${path} is larger than ${maxBytes} bytes`);
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof ValueProblem) throw new SettingsError(setting, source, error.message);
    throw new SettingsError(setting, source, `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

function parseOrExplain(setting: SettingDefinition, raw: unknown, source: SettingSource): SettingValue {
  try {
    return parseSettingValue(setting, raw);
  } catch (error) {
    if (error instanceof ValueProblem) throw new SettingsError(setting.key, source, error.message);
    throw error;
  }
}

/** Closest known key for a misspelt one (kebab-case, env style or a small typo). */
function suggestKey(unknown: string): string | undefined {
  const plain = unknown.toLowerCase().replace(/^cairn_/, '').replace(/[-_]/g, '');
  const exact = SETTINGS.find((setting) => setting.key.toLowerCase() === plain);
  if (exact !== undefined) return exact.key;
  let best: { key: string; distance: number } | undefined;
  for (const setting of SETTINGS) {
    const distance = editDistance(plain, setting.key.toLowerCase());
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { key: setting.key, distance };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}

/** The config file's settings, keyed and checked (unknown keys are errors, with a suggestion). */
function readConfigFile(path: string, source: SettingSource | undefined): Record<string, unknown> {
  const text = readBoundedFile(path, CONFIG_FILE_BYTES_MAX, 'config', source);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new SettingsError('config', source, `${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new SettingsError('config', source, `${path} must hold a JSON object of settings, e.g. {"peerPort": 2380}`);
  for (const key of Object.keys(parsed)) {
    if (key === 'config') throw new SettingsError('config', source, `${path} sets "config": a config file cannot name another one`);
    if (settingByKey(key) === undefined) {
      const suggestion = suggestKey(key);
      throw new SettingsError('config', source, `${path} has an unknown key "${key}"${suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`}; keys are the camelCase setting names`);
    }
  }
  return parsed as Record<string, unknown>;
}

function unknownVariables(env: SettingsInput['env']): string[] {
  const known = new Set(SETTINGS.map((setting) => envOf(setting.key)));
  return Object.keys(env).filter((name) => name.startsWith('CAIRN_') && !known.has(name) && !OTHER_CAIRN_VARIABLES.has(name)).map((name) => {
    const suggestion = suggestKey(name);
    return `ignoring unknown environment variable ${name}${suggestion === undefined ? '' : ` (did you mean ${envOf(suggestion)}?)`}`;
  });
}

function envValue(env: SettingsInput['env'], key: string): string | undefined {
  const value = env[envOf(key)];
  return value === undefined || value.length === 0 ? undefined : value;
}

/** Applies the precedence flag > env > file > default to every setting. */
export function resolveSettings(input: SettingsInput): ResolvedSettings {
  const values = new Map<string, SettingValue>();
  const sources = new Map<string, SettingSource>();
  const configSetting = settingByKey('config')!;
  const configFlag = input.flags['config'];
  const configEnv = envValue(input.env, 'config');
  const configSource: SettingSource | undefined = configFlag !== undefined ? { kind: 'flag' } : configEnv !== undefined ? { kind: 'env', name: envOf('config') } : undefined;
  let file: Record<string, unknown> = {};
  let filePath: string | undefined;
  if (configSource !== undefined) {
    filePath = parseOrExplain(configSetting, configFlag ?? configEnv, configSource) as string;
    file = readConfigFile(filePath, configSource);
  }
  for (const setting of SETTINGS) {
    const flagValue = input.flags[setting.key];
    const fromEnv = envValue(input.env, setting.key);
    let source: SettingSource;
    let raw: unknown;
    if (flagValue !== undefined) [source, raw] = [{ kind: 'flag' }, flagValue];
    else if (fromEnv !== undefined) [source, raw] = [{ kind: 'env', name: envOf(setting.key) }, fromEnv];
    else if (filePath !== undefined && file[setting.key] !== undefined && file[setting.key] !== null) [source, raw] = [{ kind: 'file', path: filePath }, file[setting.key]];
    else if (setting.default !== undefined) [source, raw] = [{ kind: 'default' }, setting.default];
    else continue;
    values.set(setting.key, parseOrExplain(setting, raw, source));
    sources.set(setting.key, source);
  }
  return { values, sources, warnings: unknownVariables(input.env) };
}

/** Of two settings for one thing, the one from the stronger source (equal strength: an error). */
export function strongerOf(settings: ResolvedSettings, first: string, second: string): string | undefined {
  const a = settings.sources.get(first);
  const b = settings.sources.get(second);
  if (a === undefined || b === undefined) return a !== undefined ? first : b !== undefined ? second : undefined;
  if (RANK[a.kind] === RANK[b.kind]) {
    throw new SettingsError(second, b, `give either ${flagOf(first)} or ${flagOf(second)}, not both (${describeSource(a, first)} and ${describeSource(b, second)})`);
  }
  return RANK[a.kind] > RANK[b.kind] ? first : second;
}

/** The cluster secret from --cluster-secret or --cluster-secret-file (whichever is stronger). */
export function clusterSecretOf(settings: ResolvedSettings): string {
  const chosen = strongerOf(settings, 'clusterSecret', 'clusterSecretFile');
  if (chosen === undefined) {
    throw new SettingsError('clusterSecret', undefined, 'a cluster secret is required (every member shares it): give --cluster-secret-file <file>, CAIRN_CLUSTER_SECRET or --cluster-secret');
  }
  if (chosen === 'clusterSecret') return settings.values.get('clusterSecret') as string;
  const path = settings.values.get('clusterSecretFile') as string;
  const source = settings.sources.get('clusterSecretFile');
  const secret = readBoundedFile(path, SECRET_FILE_BYTES_MAX, 'clusterSecretFile', source).replace(/\r?\n$/, '');
  if (secret.length === 0) throw new SettingsError('clusterSecretFile', source, `${path} is empty`);
  return secret;
}

export interface EffectiveSetting {
  readonly key: string;
  readonly flag: string;
  readonly env: string;
  readonly value: string | undefined;
  readonly source: string;
}

/** Every setting with its effective value and source; secrets redacted. */
export function effectiveSettings(settings: ResolvedSettings): EffectiveSetting[] {
  return SETTINGS.map((setting) => {
    const value = settings.values.get(setting.key);
    const source = settings.sources.get(setting.key);
    const text = value === undefined ? undefined : setting.type === 'secret' ? '<redacted>' : formatSettingValue(value);
    return {
      key: setting.key, flag: flagOf(setting.key), env: envOf(setting.key),
      value: text ?? setting.defaultText, source: source === undefined ? (setting.defaultText === undefined ? 'unset' : 'default') : source.kind === 'env' ? `env ${source.name}` : source.kind === 'file' ? `file ${source.path}` : source.kind,
    };
  });
}
