// Signals for process faults (crash, graceful stop, pause), sent only to the process we mean: a
// pid is captured with its start time and command line from /proc, and re-checked before each
// signal, so a recycled pid is never hit. Each signal is followed by a check of its effect.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CleanupRegistry } from './cleanup.ts';
import { processCleanup } from './cleanup.ts';
import { FaultError, requireIntegerInRange } from './errors.ts';
import { defineFault } from './fault-timeline.ts';
import type { Fault } from './fault-timeline.ts';

export interface ProcessIdentity {
  readonly pid: number;
  /** Field 22 of /proc/PID/stat: clock ticks after boot; differs for a recycled pid. */
  readonly startTimeTicks: number;
  readonly commandLine: readonly string[];
}

export type FaultSignal = 'SIGKILL' | 'SIGTERM' | 'SIGSTOP' | 'SIGCONT';

export interface SignalResult {
  readonly signal: FaultSignal;
  readonly pid: number;
  readonly effect: 'exited' | 'stopped' | 'continued';
  /** From sending the signal to seeing its effect. */
  readonly elapsedMs: number;
  /** SIGTERM was not enough and SIGKILL followed. */
  readonly escalated: boolean;
}

export interface SignalOptions {
  /** How long to wait for the effect. Default 10 000 (SIGTERM: the graceful shutdown budget). */
  readonly timeoutMs?: number;
  /** SIGTERM only: send SIGKILL when the process has not exited after timeoutMs. Default false. */
  readonly escalateToKill?: boolean;
}

const POLL_MS = 5;

/** State letter and start time from /proc/PID/stat, or undefined when the pid does not exist. */
export function readProcessStat(pid: number): { readonly state: string; readonly startTimeTicks: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain spaces and ')': split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, startTimeTicks: Number(fields[19]) };
}

export function captureProcessIdentity(pid: number): ProcessIdentity {
  requireIntegerInRange('pid', pid, 1, 2 ** 22);
  const stat = readProcessStat(pid);
  if (stat === undefined || isDead(stat.state)) throw new FaultError('process-mismatch', `process ${pid} does not exist`);
  let commandLine: string[] = [];
  try {
    commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((part) => part !== '');
  } catch {
    // exited meanwhile: the start time still identifies it
  }
  return { pid, startTimeTicks: stat.startTimeTicks, commandLine };
}

function isDead(state: string): boolean {
  return state === 'Z' || state === 'X' || state === 'x';
}

function isStopped(state: string): boolean {
  return state === 'T' || state === 't';
}

/** True while the pid still belongs to this process and it has not exited. */
export function isAlive(identity: ProcessIdentity): boolean {
  const stat = readProcessStat(identity.pid);
  return stat !== undefined && stat.startTimeTicks === identity.startTimeTicks && !isDead(stat.state);
}

function assertSameProcess(identity: ProcessIdentity, signal: FaultSignal): void {
  if (isAlive(identity)) return;
  throw new FaultError('process-mismatch',
    `not sending ${signal} to pid ${identity.pid} (${identity.commandLine.join(' ')}): it exited or the pid now belongs to another process`);
}

async function waitForEffect(identity: ProcessIdentity, wanted: SignalResult['effect'], timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const stat = readProcessStat(identity.pid);
    const gone = stat === undefined || stat.startTimeTicks !== identity.startTimeTicks || isDead(stat.state);
    if (wanted === 'exited' && gone) return true;
    if (wanted === 'stopped' && !gone && isStopped(stat.state)) return true;
    if (wanted === 'continued' && (gone || !isStopped(stat.state))) return true;
    if (performance.now() >= deadline) return false;
    await sleep(POLL_MS);
  }
}

const EFFECTS: Record<FaultSignal, SignalResult['effect']> = {
  SIGKILL: 'exited', SIGTERM: 'exited', SIGSTOP: 'stopped', SIGCONT: 'continued',
};

/** Sends `signal` after checking the identity, then waits until its effect is visible in /proc. */
export async function signalProcess(identity: ProcessIdentity, signal: FaultSignal, options: SignalOptions = {}): Promise<SignalResult> {
  const timeoutMs = requireIntegerInRange('timeoutMs', options.timeoutMs ?? 10_000, 1, 3_600_000);
  assertSameProcess(identity, signal);
  const started = performance.now();
  process.kill(identity.pid, signal);
  const effect = EFFECTS[signal];
  if (await waitForEffect(identity, effect, timeoutMs)) {
    return { signal, pid: identity.pid, effect, elapsedMs: performance.now() - started, escalated: false };
  }
  if (signal === 'SIGTERM' && options.escalateToKill === true && isAlive(identity)) {
    process.kill(identity.pid, 'SIGKILL');
    if (await waitForEffect(identity, 'exited', timeoutMs)) {
      return { signal, pid: identity.pid, effect, elapsedMs: performance.now() - started, escalated: true };
    }
  }
  throw new FaultError('signal-timeout', `pid ${identity.pid} was sent ${signal} but is not ${effect} after ${timeoutMs} ms`);
}

/**
 * A Fault that pauses the process (SIGSTOP) on start and resumes it (SIGCONT) on stop. While it is
 * paused, a SIGCONT is registered for process exit, so an interrupted run never leaves it frozen.
 */
export function pauseFault(identity: ProcessIdentity, registry: CleanupRegistry = processCleanup): Fault {
  let unregister: (() => void) | undefined;
  const resume = (): void => {
    unregister?.();
    unregister = undefined;
    if (isAlive(identity)) process.kill(identity.pid, 'SIGCONT');
  };
  return defineFault(`pause pid ${identity.pid}`, async () => {
    unregister = registry.add({ name: `SIGCONT pid ${identity.pid}`, run: async () => resume(), runSync: resume });
    await signalProcess(identity, 'SIGSTOP', { timeoutMs: 5000 });
  }, async () => {
    unregister?.();
    unregister = undefined;
    if (isAlive(identity)) await signalProcess(identity, 'SIGCONT', { timeoutMs: 5000 });
  });
}
