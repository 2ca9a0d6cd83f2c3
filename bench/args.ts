// Command-line options of the bench scripts: node's parseArgs, plus what a user expects of any
// command: `--help` built from the options' descriptions, and a one-line error that names the bad
// option (exit status 2) instead of a stack trace.
import { parseArgs } from 'node:util';

export interface BenchOption {
  readonly type: 'string' | 'boolean';
  readonly default?: string | boolean;
  readonly description: string;
}

type Values<T extends Record<string, BenchOption>> = {
  [K in keyof T]: T[K] extends { type: 'boolean' } ? boolean : T[K] extends { default: string } ? string : string | undefined;
};

/** Parses `argv` (the script's arguments); prints help or an error and exits when asked or wrong. */
export function parseBenchArgs<const T extends Record<string, BenchOption>>(usage: string, options: T, argv = process.argv.slice(2)): Values<T> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(helpText(usage, options));
    process.exit(0);
  }
  const definitions = Object.fromEntries(Object.entries(options).map(([name, option]) =>
    [name, option.default === undefined ? { type: option.type } : { type: option.type, default: option.default }]));
  try {
    return parseArgs({ args: argv, options: definitions as never, strict: true, allowPositionals: false }).values as Values<T>;
  } catch (error) {
    return usageError(error instanceof Error ? error.message : String(error));
  }
}

/** A whole number of at least `min`, or a usage error naming the option. */
export function integerOption(name: string, text: string, min = 1): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min) usageError(`--${name} must be a whole number of at least ${min}, got ${JSON.stringify(text)}`);
  return value;
}

/** A number of at least `min` (fractions allowed), or a usage error naming the option. */
export function numberOption(name: string, text: string, min = 0): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min) usageError(`--${name} must be a number of at least ${min}, got ${JSON.stringify(text)}`);
  return value;
}

export function usageError(message: string): never {
  process.stderr.write(`error: ${message}\nrun with --help for the options\n`);
  process.exit(2);
}

function helpText(usage: string, options: Record<string, BenchOption>): string {
  const lines = Object.entries(options).map(([name, option]) => {
    const flag = option.type === 'boolean' ? `--${name}` : `--${name} <value>`;
    const fallback = option.type === 'string' && option.default !== undefined ? ` (default: ${String(option.default)})` : '';
    return `  ${flag.padEnd(26)} ${option.description}${fallback}`;
  });
  return `${usage}\n\nOptions:\n${lines.join('\n')}\n  ${'--help'.padEnd(26)} show this help\n`;
}
