// Running the system tools the faults need (ip, iptables, mount, losetup, e2fsck) with a time
// limit and bounded output, in an async form for normal use and a sync form for exit handlers
// (a process 'exit' listener cannot await).
import { execFile, execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { FaultError } from './errors.ts';

export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CommandOptions {
  readonly timeoutMs?: number;
  /** Exit codes that count as success; default [0]. */
  readonly okExitCodes?: readonly number[];
  readonly env?: NodeJS.ProcessEnv;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_OUTPUT_BYTES = 4 * 1024 * 1024;
// Root's tools live in sbin, which a non-login PATH may lack.
const EXTRA_PATHS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** The absolute path of an executable, or undefined when it is not installed. */
export function findExecutable(name: string): string | undefined {
  const directories = [...(process.env.PATH ?? '').split(delimiter), ...EXTRA_PATHS];
  for (const directory of directories) {
    if (directory === '') continue;
    const candidate = join(directory, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

/** Throws 'tool-missing' naming the Debian package when `name` is not installed. */
export function requireExecutable(name: string, debianPackage: string): string {
  const path = findExecutable(name);
  if (path === undefined) {
    throw new FaultError('tool-missing', `'${name}' is not installed: apt-get install ${debianPackage}`);
  }
  return path;
}

export function requireRoot(what: string): void {
  if (!isRoot()) throw new FaultError('not-root', `${what} needs root (run the chaos suite as root, as CI does)`);
}

function describe(argv: readonly string[]): string {
  return argv.join(' ');
}

/** Runs argv[0] with the rest as arguments; resolves with its output, rejects 'command-failed'. */
export function runCommand(argv: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new FaultError('invalid-argument', 'runCommand needs a command');
  const okExitCodes = options.okExitCodes ?? [0];
  return new Promise((resolve, reject) => {
    execFile(file, args, {
      timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, maxBuffer: MAX_OUTPUT_BYTES, killSignal: 'SIGKILL',
      env: options.env ?? { ...process.env, PATH: `${process.env.PATH ?? ''}:${EXTRA_PATHS.join(':')}` },
    }, (error, stdout, stderr) => {
      const exitCode = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      if (okExitCodes.includes(exitCode)) {
        resolve({ exitCode, stdout, stderr });
        return;
      }
      const reason = error?.killed === true ? 'timed out' : `exited ${String(error?.code ?? exitCode)}`;
      reject(new FaultError('command-failed', `'${describe(argv)}' ${reason}: ${stderr.trim() || error?.message}`, { cause: error }));
    });
  });
}

/** The sync twin of runCommand, for exit handlers. Never throws: returns the exit code (-1 on spawn failure). */
export function runCommandSync(argv: readonly string[], timeoutMs = 10_000): CommandResult {
  const [file, ...args] = argv;
  if (file === undefined) return { exitCode: -1, stdout: '', stderr: 'no command' };
  try {
    const stdout = execFileSync(file, args, {
      timeout: timeoutMs, maxBuffer: MAX_OUTPUT_BYTES, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8',
      env: { ...process.env, PATH: `${process.env.PATH ?? ''}:${EXTRA_PATHS.join(':')}` },
    });
    return { exitCode: 0, stdout, stderr: '' };
  } catch (error) {
    const failure = error as { status?: number | null; stdout?: string; stderr?: string };
    return { exitCode: failure.status ?? -1, stdout: failure.stdout ?? '', stderr: failure.stderr ?? String(error) };
  }
}

/** True if a process with this pid exists (any state, zombies included). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
