// Client-observed histories: what the simulator and the chaos tool record, one JSON object per
// line (.jsonl), and what the checkers read. The format is deliberately plain JSON so a failing
// run can be inspected, edited by hand into a smaller case, and replayed through the checker.

import { readFile, stat, writeFile } from 'node:fs/promises';

/**
 * 'ok': the operation happened and returned `output`.
 * 'fail': the operation definitely did not take effect (the server said so before applying it).
 * 'unknown': timeout, crash or lost reply: it may have taken effect at any point after its call,
 * or never; its output is not known.
 */
export type Outcome = 'ok' | 'fail' | 'unknown';

export const OUTCOMES: readonly Outcome[] = ['ok', 'fail', 'unknown'];

/** One client operation as observed by the client. Times are any monotonic unit (ms, µs, ticks). */
export interface HistoryEntry<Input = unknown, Output = unknown> {
  process: number | string;
  callTime: number;
  /**
   * When the reply arrived. For 'unknown' it may be null or the time the client gave up; the
   * checkers ignore it either way, since the operation may still take effect later.
   */
  returnTime: number | null;
  input: Input;
  /** Meaningful only for 'ok'; null when the operation returns nothing. */
  output: Output;
  outcome: Outcome;
}

/** A malformed history (a bad line or entry). `line` is 1-based when the entry came from a file. */
export class HistoryFormatError extends Error {
  override name = 'HistoryFormatError';
  readonly code = 'HISTORY_FORMAT';
  readonly line: number | undefined;

  constructor(message: string, line?: number) {
    super(line === undefined ? message : `line ${line}: ${message}`);
    this.line = line;
  }
}

/** Model-specific check of an entry's input/output shape: a reason when invalid, else undefined. */
export type EntryValidator<Input = unknown, Output = unknown> = (entry: HistoryEntry<Input, Output>) => string | undefined;

/** Why the generic fields of `value` do not form a history entry, or undefined when they do. */
export function historyEntryProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'expected a JSON object';
  const entry = value as Record<string, unknown>;
  if (typeof entry.process !== 'number' && typeof entry.process !== 'string') return '"process" must be a number or a string';
  if (!isFiniteNumber(entry.callTime)) return '"callTime" must be a finite number';
  if (!OUTCOMES.includes(entry.outcome as Outcome)) return '"outcome" must be one of ok, fail, unknown';
  if (!('input' in entry) || entry.input === undefined) return '"input" is missing';
  if (entry.returnTime !== null && entry.returnTime !== undefined && !isFiniteNumber(entry.returnTime)) {
    return '"returnTime" must be a finite number or null';
  }
  if (entry.outcome === 'ok') {
    if (!isFiniteNumber(entry.returnTime)) return 'an "ok" entry needs a numeric "returnTime"';
    if (!('output' in entry)) return 'an "ok" entry needs an "output" (null when the operation returns nothing)';
  }
  if (isFiniteNumber(entry.returnTime) && entry.returnTime < entry.callTime) return '"returnTime" is before "callTime"';
  return undefined;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** Checks an in-memory entry; throws HistoryFormatError naming the entry's position. */
export function assertHistoryEntry<Input, Output>(
  value: unknown, position: string, validate?: EntryValidator<Input, Output>,
): asserts value is HistoryEntry<Input, Output> {
  const problem = historyEntryProblem(value) ?? validate?.(value as HistoryEntry<Input, Output>);
  if (problem !== undefined) throw new HistoryFormatError(`${position}: ${problem}`);
}

/** Parses one .jsonl line (1-based `lineNumber` for the error message). */
export function parseHistoryLine(line: string, lineNumber: number, validate?: EntryValidator): HistoryEntry {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new HistoryFormatError(`not valid JSON (${(error as Error).message})`, lineNumber);
  }
  const problem = historyEntryProblem(value) ?? validate?.(value as HistoryEntry);
  if (problem !== undefined) throw new HistoryFormatError(problem, lineNumber);
  const entry = value as HistoryEntry;
  // Normalize the optional fields so consumers see one shape.
  return { ...entry, returnTime: entry.returnTime ?? null, output: entry.output ?? null };
}

/** One .jsonl line for `entry`, without the trailing newline. */
export function formatHistoryLine(entry: HistoryEntry): string {
  const { process, callTime, returnTime, input, output, outcome } = entry;
  return JSON.stringify({ process, callTime, returnTime, input, output: output ?? null, outcome });
}

export interface ParseHistoryOptions {
  validate?: EntryValidator;
  /** Refuse histories longer than this many entries (default 10,000,000). */
  entriesMax?: number;
}

/** Parses .jsonl text; blank lines are skipped. */
export function parseHistoryJsonl(text: string, options: ParseHistoryOptions = {}): HistoryEntry[] {
  const entriesMax = options.entriesMax ?? 10_000_000;
  const entries: HistoryEntry[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!.trim();
    if (line === '') continue;
    if (entries.length >= entriesMax) {
      throw new HistoryFormatError(`more than ${entriesMax} entries; raise entriesMax to read it`, index + 1);
    }
    entries.push(parseHistoryLine(line, index + 1, options.validate));
  }
  return entries;
}

export interface ReadHistoryOptions extends ParseHistoryOptions {
  /** Refuse files larger than this (default 1 GiB): the whole file is held in memory. */
  fileBytesMax?: number;
}

export async function readHistoryFile(path: string, options: ReadHistoryOptions = {}): Promise<HistoryEntry[]> {
  const fileBytesMax = options.fileBytesMax ?? 1024 ** 3;
  const { size } = await stat(path);
  if (size > fileBytesMax) {
    throw new HistoryFormatError(`${path} is ${size} bytes, more than the ${fileBytesMax} allowed; raise fileBytesMax to read it`);
  }
  try {
    return parseHistoryJsonl(await readFile(path, 'utf8'), options);
  } catch (error) {
    if (error instanceof HistoryFormatError) throw new HistoryFormatError(`${path}: ${error.message}`);
    throw error;
  }
}

export async function writeHistoryFile(path: string, entries: readonly HistoryEntry[]): Promise<void> {
  await writeFile(path, entries.map((entry) => formatHistoryLine(entry) + '\n').join(''));
}

export interface HistorySummary {
  entries: number;
  processes: number;
  byOutcome: Record<Outcome, number>;
  /** Per operation kind (see `kindOf`), counts by outcome. */
  byKind: Record<string, Record<Outcome, number>>;
  firstCallTime: number | null;
  lastReturnTime: number | null;
}

/** The operation kind of an input: its `kind` (or `type`/`f`) field when it has one. */
export function defaultKindOf(input: unknown): string {
  if (typeof input === 'object' && input !== null) {
    const record = input as Record<string, unknown>;
    for (const field of ['kind', 'type', 'f']) {
      const value = record[field];
      if (typeof value === 'string') return value;
    }
  }
  return 'other';
}

export function summarizeHistory(entries: readonly HistoryEntry[], kindOf: (input: unknown) => string = defaultKindOf): HistorySummary {
  const summary: HistorySummary = {
    entries: entries.length, processes: 0, byOutcome: emptyCounts(), byKind: {}, firstCallTime: null, lastReturnTime: null,
  };
  const processes = new Set<number | string>();
  for (const entry of entries) {
    processes.add(entry.process);
    summary.byOutcome[entry.outcome]++;
    const kind = kindOf(entry.input);
    (summary.byKind[kind] ??= emptyCounts())[entry.outcome]++;
    summary.firstCallTime = Math.min(summary.firstCallTime ?? entry.callTime, entry.callTime);
    if (entry.returnTime !== null) summary.lastReturnTime = Math.max(summary.lastReturnTime ?? entry.returnTime, entry.returnTime);
  }
  summary.processes = processes.size;
  return summary;
}

function emptyCounts(): Record<Outcome, number> {
  return { ok: 0, fail: 0, unknown: 0 };
}

/** A few human-readable lines, e.g. for the chaos report. */
export function formatHistorySummary(summary: HistorySummary): string {
  const counts = (record: Record<Outcome, number>) => OUTCOMES.map((outcome) => `${record[outcome]} ${outcome}`).join(', ');
  const lines = [`${summary.entries} operations from ${summary.processes} processes (${counts(summary.byOutcome)})`];
  for (const kind of Object.keys(summary.byKind).sort()) lines.push(`  ${kind}: ${counts(summary.byKind[kind]!)}`);
  return lines.join('\n');
}
