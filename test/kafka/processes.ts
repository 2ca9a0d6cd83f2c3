// Running the external Kafka clients (kcat, the python scripts) as child processes with a hard
// timeout, so a hung client fails its test instead of hanging the suite.
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';

export interface ProcessResult {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunningProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** Calls `listener` with each complete stdout line as it arrives. */
  onLine(listener: (line: string) => void): void;
  readonly done: Promise<ProcessResult>;
}

/** Starts `command`; it is killed (SIGKILL) after timeoutMs. */
export function start(command: string, args: readonly string[], options: { timeoutMs: number; env?: Record<string, string> }): RunningProcess {
  const child = spawn(command, args, { env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let partial = '';
  const listeners: ((line: string) => void)[] = [];
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) for (const listener of listeners) listener(line);
  });
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdin.on('error', () => undefined);
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
  const done = new Promise<ProcessResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
  return { child, onLine: (listener) => listeners.push(listener), done };
}

/** Runs to completion with `input` on stdin. */
export function run(command: string, args: readonly string[], options: { timeoutMs: number; input?: string; env?: Record<string, string> }): Promise<ProcessResult> {
  const running = start(command, args, options);
  running.child.stdin.end(options.input ?? '');
  return running.done;
}

/** Fails with the process's output when it did not exit 0. */
export function expectSuccess(result: ProcessResult, what: string): ProcessResult {
  if (result.status !== 0) {
    throw new Error(`${what} exited with ${result.status ?? result.signal}: ${result.stderr.slice(-2000)} ${result.stdout.slice(-500)}`);
  }
  return result;
}
