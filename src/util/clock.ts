// Time as the node sees it: a monotonic millisecond clock and one-shot timers. Injected
// everywhere, so the simulator can run the real runtime on simulated time.

export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds, monotonic (not wall time). */
  now(): number;
  setTimer(callback: () => void, delayMs: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

export const SYSTEM_CLOCK: Clock = {
  now: () => performance.now(),
  setTimer: (callback, delayMs) => {
    const timer = setTimeout(callback, delayMs);
    // Timers of a node must never keep a finished process alive on their own.
    timer.unref?.();
    return timer;
  },
  clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
