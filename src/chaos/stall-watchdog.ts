// A process whose event loop stops turning (a livelock: a loop of already-resolved promises, or
// synchronous code that never ends) cannot notice it itself. In `cairn chaos` that freezes the
// fault proxies, which run in the runner, and every deadline with them, so a run would hang until
// something outside killed it — CI once did, after 19 minutes, with nothing to show for it. A
// worker thread watches a counter the main thread bumps every second; when it has not moved for
// `stallMs`, the worker pauses the main thread through the inspector, prints its JavaScript stack,
// and makes it call process.exit there, so the 'exit' cleanup hooks still stop the cluster's nodes
// and remove the fault resources.
import { Worker } from 'node:worker_threads';

/** The exit status of a process the watchdog stopped. */
export const STALL_EXIT_CODE = 70;
const HEARTBEAT_MS = 1000;

export interface StallWatchdogOptions {
  /** How long the main thread may go without a turn of its event loop. */
  readonly stallMs: number;
  /** What the process is, for the message ("cairn chaos run"). */
  readonly what: string;
}

export interface StallWatchdogData extends StallWatchdogOptions {
  readonly beats: Int32Array;
  readonly heartbeatMs: number;
  readonly exitCode: number;
}

export interface StallWatchdog {
  stop(): void;
}

export function startStallWatchdog(options: StallWatchdogOptions): StallWatchdog {
  const beats = new Int32Array(new SharedArrayBuffer(4));
  const heartbeat = setInterval(() => Atomics.add(beats, 0, 1), HEARTBEAT_MS);
  heartbeat.unref();
  const workerData: StallWatchdogData = { ...options, beats, heartbeatMs: HEARTBEAT_MS, exitCode: STALL_EXIT_CODE };
  const worker = new Worker(new URL('./stall-watchdog-worker.ts', import.meta.url), { workerData });
  // The watchdog never keeps the process alive, and its own failure is not the process's.
  worker.unref();
  worker.on('error', () => undefined);
  return {
    stop(): void {
      clearInterval(heartbeat);
      void worker.terminate();
    },
  };
}
