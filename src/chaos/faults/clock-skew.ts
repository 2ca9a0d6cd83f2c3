// Clock skew for one process through libfaketime (Debian package `faketime`): the process is
// started with LD_PRELOAD=libfaketime.so.1 and FAKETIME_TIMESTAMP_FILE pointing at a control file
// that holds the current skew ("+10s", "-2.5", "+0 x2"), so a scenario can change or clear the skew
// while the process runs. Measured on Node 24 (clock-skew.test.ts, README):
// - Date.now() follows the skew (offset and rate).
// - By default libfaketime fakes CLOCK_MONOTONIC as well (performance.now(), process.hrtime, timers):
//   a rate speeds up timers, and changing the offset at runtime makes the monotonic clock jump
//   (backwards for a negative change). Real clock skew (an NTP step, a wrong RTC) moves only the
//   wall clock, so ClockSkew sets FAKETIME_DONT_FAKE_MONOTONIC=1 unless `fakeMonotonic` is asked.
import { accessSync, constants, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CleanupRegistry } from './cleanup.ts';
import { processCleanup } from './cleanup.ts';
import { runCommand } from './commands.ts';
import { FaultError, requireIntegerInRange, requireNumberInRange } from './errors.ts';
import { defineFault } from './fault-timeline.ts';
import type { Fault } from './fault-timeline.ts';

const LIBRARY_CANDIDATES = [
  '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/faketime/libfaketime.so.1',
  '/usr/local/lib/faketime/libfaketime.so.1',
];

const MAX_OFFSET_MS = 10 * 365 * 24 * 3600 * 1000;

/** The libfaketime library path, or undefined when the `faketime` package is not installed. */
export function findFaketimeLibrary(): string | undefined {
  for (const candidate of LIBRARY_CANDIDATES) {
    try {
      accessSync(candidate, constants.R_OK);
      return candidate;
    } catch {
      // try the next
    }
  }
  return undefined;
}

export interface FaketimeAvailability {
  readonly available: boolean;
  readonly libraryPath?: string;
  readonly reason?: string;
}

/** Finds libfaketime and checks that it really shifts a child's clock (`date` a day ahead). */
export async function detectFaketime(): Promise<FaketimeAvailability> {
  const libraryPath = findFaketimeLibrary();
  if (libraryPath === undefined) return { available: false, reason: 'libfaketime.so.1 not found: apt-get install faketime' };
  try {
    const { stdout } = await runCommand(['date', '+%s'], {
      timeoutMs: 5000, env: { ...process.env, LD_PRELOAD: libraryPath, FAKETIME: '+1d' },
    });
    const skewSeconds = Number(stdout.trim()) - Date.now() / 1000;
    if (Math.abs(skewSeconds - 86_400) < 60) return { available: true, libraryPath };
    return { available: false, libraryPath, reason: `libfaketime loaded but the clock moved ${skewSeconds} s instead of a day` };
  } catch (error) {
    return { available: false, libraryPath, reason: (error as Error).message };
  }
}

/** libfaketime's relative spec: "+10.5" (seconds), with " x<rate>" when the clock runs at another speed. */
export function faketimeSpec(offsetMs: number, rate = 1): string {
  requireNumberInRange('offsetMs', offsetMs, -MAX_OFFSET_MS, MAX_OFFSET_MS);
  requireNumberInRange('rate', rate, 0.001, 1000);
  const seconds = (offsetMs / 1000).toFixed(3).replace(/\.?0+$/, '');
  const signed = offsetMs < 0 ? seconds : `+${seconds}`;
  return rate === 1 ? signed : `${signed} x${rate}`;
}

export interface ClockSkewOptions {
  /** Initial skew; default 0. */
  readonly offsetMs?: number;
  /** Initial speed of the wall clock; default 1. */
  readonly rate?: number;
  /** Also fake the monotonic clock (timers, performance.now). Default false: only the wall clock. */
  readonly fakeMonotonic?: boolean;
  /** How often the process re-reads the control file; default 1 s (a change shows within that). */
  readonly cacheDurationSeconds?: number;
  readonly cleanupRegistry?: CleanupRegistry;
}

export class ClockSkew {
  readonly libraryPath: string;
  readonly controlFile: string;
  readonly #directory: string;
  readonly #fakeMonotonic: boolean;
  readonly #cacheDurationSeconds: number;
  readonly #unregister: () => void;
  #spec: string;

  private constructor(libraryPath: string, options: ClockSkewOptions) {
    this.libraryPath = libraryPath;
    this.#fakeMonotonic = options.fakeMonotonic ?? false;
    this.#cacheDurationSeconds = requireIntegerInRange('cacheDurationSeconds', options.cacheDurationSeconds ?? 1, 1, 3600);
    this.#directory = mkdtempSync(join(tmpdir(), 'cairn-chaos-clock-'));
    this.controlFile = join(this.#directory, 'faketime.rc');
    this.#spec = faketimeSpec(options.offsetMs ?? 0, options.rate ?? 1);
    writeFileSync(this.controlFile, `${this.#spec}\n`);
    const remove = (): void => rmSync(this.#directory, { recursive: true, force: true });
    this.#unregister = (options.cleanupRegistry ?? processCleanup).add({ name: `clock skew ${this.controlFile}`, run: async () => remove(), runSync: remove });
  }

  /** Throws 'tool-missing' when libfaketime is not installed. */
  static create(options: ClockSkewOptions = {}): ClockSkew {
    const libraryPath = findFaketimeLibrary();
    if (libraryPath === undefined) throw new FaultError('tool-missing', 'libfaketime.so.1 not found: apt-get install faketime');
    return new ClockSkew(libraryPath, options);
  }

  /** The current spec, e.g. "+10". */
  get spec(): string {
    return this.#spec;
  }

  /** Environment variables to start the skewed process with (merge into its env). */
  environment(baseEnvironment: NodeJS.ProcessEnv = process.env): Record<string, string> {
    const preload = baseEnvironment.LD_PRELOAD;
    const environment: Record<string, string> = {
      LD_PRELOAD: preload === undefined || preload === '' ? this.libraryPath : `${this.libraryPath}:${preload}`,
      FAKETIME_TIMESTAMP_FILE: this.controlFile,
      FAKETIME_CACHE_DURATION: String(this.#cacheDurationSeconds),
    };
    if (!this.#fakeMonotonic) environment.FAKETIME_DONT_FAKE_MONOTONIC = '1';
    return environment;
  }

  /** Changes the skew of every process started with environment(); visible within cacheDurationSeconds. */
  set(offsetMs: number, rate = 1): void {
    const spec = faketimeSpec(offsetMs, rate);
    const temporary = `${this.controlFile}.tmp`;
    // Rename is atomic: a process never reads a half-written spec.
    writeFileSync(temporary, `${spec}\n`);
    renameSync(temporary, this.controlFile);
    this.#spec = spec;
  }

  clear(): void {
    this.set(0, 1);
  }

  /** A Fault that sets the skew on start and clears it on stop. */
  fault(offsetMs: number, rate = 1): Fault {
    faketimeSpec(offsetMs, rate);
    return defineFault(`clock skew ${faketimeSpec(offsetMs, rate)}`, () => this.set(offsetMs, rate), () => this.clear());
  }

  /** Removes the control file (skewed processes keep their last skew). Idempotent. */
  cleanup(): void {
    this.#unregister();
    rmSync(this.#directory, { recursive: true, force: true });
  }
}
