// Output and input helpers: JSON or human text on stdout, keys and values as UTF-8 or base64,
// values read from a file or stdin with a size bound.
import { openSync, readSync, closeSync } from 'node:fs';
import type { KeyValue } from '../client/index.ts';
import { usageError } from './errors.ts';

/** Largest value read from --file or stdin (the server's own limit may be lower). */
export const INPUT_BYTES_MAX = 64 * 1024 * 1024;

export function writeJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export function writeLine(text: string): void {
  process.stdout.write(`${text}\n`);
}

export function writeNote(text: string): void {
  process.stderr.write(`${text}\n`);
}

function isUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Bytes as text: UTF-8, or base64 when asked or when they are not valid UTF-8. */
export function bytesText(bytes: Buffer, base64: boolean): { text: string; base64: boolean } {
  if (base64 || !isUtf8(bytes)) return { text: bytes.toString('base64'), base64: true };
  return { text: bytes.toString('utf8'), base64: false };
}

/** A key/value pair for --json output, shaped like the HTTP API's (encoding: base64 when needed). */
export function keyValueJson(kv: KeyValue, base64: boolean, options: { keysOnly?: boolean } = {}): Record<string, unknown> {
  const key = bytesText(kv.key, base64);
  const value = bytesText(kv.value, base64);
  const encoded = key.base64 || (options.keysOnly !== true && value.base64);
  return {
    key: encoded && !key.base64 ? kv.key.toString('base64') : key.text,
    ...(options.keysOnly === true ? {} : { value: encoded && !value.base64 ? kv.value.toString('base64') : value.text }),
    createRevision: kv.createRevision, modRevision: kv.modRevision, version: kv.version, lease: kv.lease,
    ...(encoded && !base64 ? { encoding: 'base64' } : {}),
  };
}

/** A key or value given on the command line: UTF-8, or base64 with --base64. */
export function argumentBytes(text: string, base64: boolean, what: string): Buffer {
  if (!base64) return Buffer.from(text, 'utf8');
  // Strict: Buffer.from silently drops what it cannot decode, so check that the bytes re-encode to the text.
  const normalized = text.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  const bytes = Buffer.from(normalized, 'base64');
  if (!/^[A-Za-z0-9+/]*$/.test(normalized) || bytes.toString('base64').replace(/=+$/, '') !== normalized) {
    throw usageError(`${what} ${JSON.stringify(text.slice(0, 40))} is not base64 (--base64 was given: keys and values are read as base64)`);
  }
  return bytes;
}

function readBounded(fd: number, what: string): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  const chunk = Buffer.allocUnsafe(64 * 1024);
  for (;;) {
    let read: number;
    try {
      read = readSync(fd, chunk, 0, chunk.length, null);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      if ((error as NodeJS.ErrnoException).code === 'EOF') break;
      throw error;
    }
    if (read === 0) break;
    total += read;
    if (total > INPUT_BYTES_MAX) throw usageError(`${what} is larger than ${INPUT_BYTES_MAX} bytes`);
    chunks.push(Buffer.from(chunk.subarray(0, read)));
  }
  return Buffer.concat(chunks);
}

/** The bytes of a file, or of stdin for "-", bounded by INPUT_BYTES_MAX. */
export function readInput(path: string): Buffer {
  if (path === '-') return readBounded(0, 'standard input');
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw usageError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    return readBounded(fd, path);
  } finally {
    closeSync(fd);
  }
}

/** The value of a write: the argument, or --file (a path or - for stdin); exactly one. */
export function valueInput(argument: string | undefined, options: { file?: string; base64?: boolean }, what = 'value'): Buffer {
  if (argument !== undefined && options.file !== undefined) throw usageError(`give the ${what} as an argument or with --file, not both`);
  if (options.file !== undefined) {
    const bytes = readInput(options.file);
    return options.base64 === true ? argumentBytes(bytes.toString('utf8').trim(), true, what) : bytes;
  }
  if (argument === undefined) throw usageError(`the ${what} is missing: give it as an argument or with --file <path|->`);
  return argumentBytes(argument, options.base64 === true, what);
}

/** Fixed-width columns for human tables. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, index) => { widths[index] = Math.max(widths[index] ?? 0, cell.length); });
  return rows.map((row) => row.map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index]!))).join('  ')).join('\n');
}

/** A whole number given on the command line (ids, revisions, limits). */
export function wholeNumber(text: string, what: string, min = 0): number {
  if (!/^\d{1,16}$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < min) throw usageError(`${what} ${JSON.stringify(text)} must be a whole number >= ${min}`);
  return Number(text);
}
