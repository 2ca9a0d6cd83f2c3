// Options shared by every command that talks to a cluster (--endpoints, --ticket, --json,
// --timeout), building the CairnClient from them, and turning client errors into messages that
// say what to do.
import { existsSync } from 'node:fs';
import { Option } from 'commander';
import type { Command } from 'commander';
import { CairnClient, CairnClientError } from '../client/index.ts';
import { readLocalState, stateFilePath } from '../local/state-file.ts';
import { CliError, EXIT, usageError } from './errors.ts';

export const DEFAULT_LOCAL_DIR = '.cairn';
export const DEFAULT_ENDPOINT = '127.0.0.1:2379';
const DEFAULT_TIMEOUT_MS = 10_000;
const PROBE_TIMEOUT_MS = 700;

export interface GlobalOptions {
  readonly endpoints?: string;
  readonly ticket?: string;
  readonly json?: boolean;
  readonly timeout?: string;
}

/** Adds the global options to a command (call on every leaf command). */
export function addGlobalOptions(command: Command, options: { client: boolean } = { client: true }): Command {
  if (options.client) {
    command
      .addOption(new Option('--endpoints <host:port,...>', 'client (HTTP) addresses of cluster members [env CAIRN_ENDPOINTS; default: the local cluster in ./.cairn, else 127.0.0.1:2379]').helpGroup('Global options:'))
      .addOption(new Option('--ticket <cairn1....>', 'a cluster ticket (printed by `cairn local up` and `cairn cluster ticket`) instead of --endpoints [env CAIRN_TICKET]').helpGroup('Global options:'))
      .addOption(new Option('--timeout <duration>', 'deadline of the whole command, retries included: 500ms, 5s, 1m [env CAIRN_TIMEOUT, default 10s]').helpGroup('Global options:'));
  }
  command.addOption(new Option('--json', 'machine-readable output: one JSON document (or one per line for streams)').helpGroup('Global options:'));
  return command;
}

/** "500ms", "5s", "1.5m", or a bare number of seconds. */
export function parseDuration(text: string, what: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim());
  if (match === null) throw usageError(`${what} ${JSON.stringify(text)} is not a duration (e.g. 500ms, 5s, 1m)`);
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h' ?? 's'];
  const value = Math.round(Number(match[1]) * scale);
  if (value < 1 || value > 24 * 3_600_000) throw usageError(`${what} ${JSON.stringify(text)} must be between 1ms and 24h`);
  return value;
}

export function timeoutOf(options: GlobalOptions): number {
  const text = options.timeout ?? process.env['CAIRN_TIMEOUT'];
  return text === undefined || text === '' ? DEFAULT_TIMEOUT_MS : parseDuration(text, '--timeout');
}

export interface Target {
  readonly endpoints?: readonly string[];
  readonly ticket?: string;
  /** Where the endpoints came from, for error messages. */
  readonly origin: string;
}

function splitEndpoints(text: string): string[] {
  return text.split(',').map((item) => item.trim()).filter((item) => item.length > 0);
}

/** Where to send requests: --endpoints / --ticket, their env vars, the local cluster, the default. */
export function targetOf(options: GlobalOptions): Target {
  const endpoints = options.endpoints ?? process.env['CAIRN_ENDPOINTS'];
  const ticket = options.ticket ?? process.env['CAIRN_TICKET'];
  if ((endpoints !== undefined && endpoints !== '') || (ticket !== undefined && ticket !== '')) {
    return {
      ...(endpoints === undefined || endpoints === '' ? {} : { endpoints: splitEndpoints(endpoints) }),
      ...(ticket === undefined || ticket === '' ? {} : { ticket }),
      origin: options.endpoints !== undefined || options.ticket !== undefined ? 'the command line' : 'CAIRN_ENDPOINTS / CAIRN_TICKET',
    };
  }
  if (existsSync(stateFilePath(DEFAULT_LOCAL_DIR))) {
    const state = readLocalState(DEFAULT_LOCAL_DIR);
    if (state !== undefined) return { endpoints: state.nodes.map((node) => node.client), origin: `the local cluster in ./${DEFAULT_LOCAL_DIR}` };
  }
  return { endpoints: [DEFAULT_ENDPOINT], origin: 'the default' };
}

export function createClient(options: GlobalOptions, extra: { timeoutMs?: number; maxAttempts?: number } = {}): CairnClient {
  const target = targetOf(options);
  try {
    return new CairnClient({
      ...(target.endpoints === undefined ? {} : { endpoints: target.endpoints }), ...(target.ticket === undefined ? {} : { ticket: target.ticket }),
      timeoutMs: extra.timeoutMs ?? timeoutOf(options), maxAttempts: extra.maxAttempts ?? 30,
    });
  } catch (error) {
    throw usageError(`${(error as Error).message} (endpoints from ${target.origin})`);
  }
}

function reasonOf(message: string): string {
  const code = /\b(E[A-Z]+)\b/.exec(message)?.[1];
  const words: Record<string, string> = {
    ECONNREFUSED: 'connection refused', ECONNRESET: 'connection reset', ETIMEDOUT: 'timed out', EHOSTUNREACH: 'host unreachable',
    ENOTFOUND: 'unknown host', EAI_AGAIN: 'name lookup failed', EADDRNOTAVAIL: 'address not available',
  };
  if (code !== undefined) return words[code] ?? code;
  return /within \d+ ms/.test(message) ? 'no answer in time' : message;
}

/** Asks each endpoint for /v1/health once, to say precisely why nothing answered. */
async function probe(client: CairnClient): Promise<string[]> {
  return Promise.all(client.endpoints.map(async (endpoint) => {
    const single = new CairnClient({ endpoints: [endpoint], timeoutMs: PROBE_TIMEOUT_MS, maxAttempts: 1 });
    try {
      const health = await single.health(endpoint);
      return `${endpoint} (answers: node ${health.nodeId}, ${health.phase})`;
    } catch (error) {
      return `${endpoint} (${reasonOf((error as Error).message)})`;
    } finally {
      single.close();
    }
  }));
}

const UNAVAILABLE_CODES = new Set(['unavailable', 'timeout', 'no-leader', 'proposal-lost', 'transfer-in-progress', 'not-initialized', 'stopped', 'overloaded', 'node-failed']);

/** A CliError that says what happened and what to do. */
export async function explainClientError(error: unknown, client: CairnClient | undefined): Promise<CliError> {
  if (error instanceof CliError) return error;
  if (!(error instanceof CairnClientError)) return new CliError('error', (error as Error).message ?? String(error), EXIT.failed);
  if (error.outcome === 'unknown') {
    return new CliError(error.code, `the write may or may not have been applied (${error.code}: ${error.message}); read the key before retrying`, EXIT.outcomeUnknown);
  }
  if (error.code === 'unavailable' || error.code === 'timeout') {
    const tried = client === undefined ? [] : await probe(client);
    const anyAnswered = tried.some((line) => line.includes('(answers:'));
    const what = anyAnswered ? `no answer in time (${error.message})` : 'no endpoint answered';
    return new CliError(error.code, `${what}: tried ${tried.join(', ') || error.endpoint}; is the cluster up? try \`cairn local status\` or \`cairn cluster status\``, EXIT.unavailable);
  }
  if (UNAVAILABLE_CODES.has(error.code)) {
    return new CliError(error.code, `${error.code}: ${error.message}; the cluster may be electing a leader or missing a majority: retry, or check \`cairn cluster status\``, EXIT.unavailable);
  }
  if (error.code === 'key-not-found' || error.code === 'lease-not-found') return new CliError(error.code, `${error.code}: ${error.message}`, EXIT.notFound);
  if (error.code === 'compare-failed') return new CliError(error.code, `${error.code}: ${error.message}`, EXIT.compareFailed);
  const exitCode = error.status >= 400 && error.status < 500 && error.status !== 404 && error.status !== 409 && error.status !== 410 ? EXIT.usage : EXIT.failed;
  return new CliError(error.code, `${error.code}: ${error.message}`, exitCode);
}

/** Runs `body` with a client and closes it; client errors become explained CliErrors. */
export async function withClient<T>(options: GlobalOptions, body: (client: CairnClient) => Promise<T>, extra: { timeoutMs?: number } = {}): Promise<T> {
  const client = createClient(options, extra);
  try {
    return await body(client);
  } catch (error) {
    throw await explainClientError(error, client);
  } finally {
    client.close();
  }
}
