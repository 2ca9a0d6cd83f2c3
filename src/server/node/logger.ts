// The node's logger: pino, JSON lines by default, pretty-printed when stdout is a terminal
// (or when asked). The CLI builds one and passes it to CairnNode; libraries and tests omit it
// (silent).
import { pino } from 'pino';
import type { Logger } from 'pino';

export interface LoggerOptions {
  /** pino level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent'. Default 'info'. */
  readonly level?: string;
  /** Default: whether stdout is a TTY. */
  readonly pretty?: boolean;
  /** Fields on every line (e.g. { node: 1 }). */
  readonly base?: Record<string, unknown>;
  /** Where JSON lines go (a file descriptor); default stdout. */
  readonly destination?: number;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const pretty = options.pretty ?? process.stdout.isTTY === true;
  const common = { level: options.level ?? 'info', base: options.base ?? {} };
  if (pretty) {
    return pino({ ...common, transport: { target: 'pino-pretty', options: { colorize: true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', destination: options.destination ?? 1 } } });
  }
  return pino(common, pino.destination({ dest: options.destination ?? 1, sync: false }));
}
