// Exit codes of every `cairn` command (documented in docs/cli.md) and the error that carries one.
export const EXIT = {
  ok: 0,
  /** The operation failed (an error answer from the cluster, a node that failed while running). */
  failed: 1,
  /** Bad command line, setting or input. */
  usage: 2,
  /** `serve`: the node could not start (data directory locked or foreign, port in use, bad data). */
  startFailed: 3,
  /** `serve --join`: the cluster refused this node (wrong secret, id taken) or could not be joined. */
  joinFailed: 4,
  /** No endpoint answered, or the cluster had no leader, within --timeout. */
  unavailable: 5,
  /** `kv get`, `kv lease show`: no such key or lease. */
  notFound: 6,
  /** `kv cas`, `kv delete --if-value`: the comparison did not hold; nothing changed. */
  compareFailed: 7,
  /** A write timed out or lost its connection: it may or may not have been applied. */
  outcomeUnknown: 8,
  /** Stopped by SIGINT (Ctrl-C) before finishing. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  override name = 'CliError';
  readonly exitCode: number;
  /** A stable code for --json output (the server's code when it came from the cluster). */
  readonly code: string;

  constructor(code: string, message: string, exitCode: number) {
    super(message);
    this.code = code;
    this.exitCode = exitCode;
  }
}

export function usageError(message: string): CliError {
  return new CliError('usage', message, EXIT.usage);
}
