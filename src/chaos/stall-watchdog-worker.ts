// The watchdog thread of stall-watchdog.ts. It writes with writeSync(2): a worker's
// process.stderr is relayed through the main thread, which is the one that is stuck.
import { writeSync } from 'node:fs';
import { Session } from 'node:inspector';
import { workerData } from 'node:worker_threads';
import type { StallWatchdogData } from './stall-watchdog.ts';

/** If the main thread does not pause within this (stuck in native code), the process is killed. */
const PAUSE_TIMEOUT_MS = 10_000;
const MAX_FRAMES = 40;

interface CallFrame {
  readonly callFrameId: string;
  readonly functionName: string;
  readonly location: { readonly scriptId: string; readonly lineNumber: number; readonly columnNumber: number };
}

const data = workerData as StallWatchdogData;
let lastBeat = Atomics.load(data.beats, 0);
let lastBeatAt = performance.now();

const check = setInterval(() => {
  const beat = Atomics.load(data.beats, 0);
  if (beat !== lastBeat) {
    lastBeat = beat;
    lastBeatAt = performance.now();
    return;
  }
  if (performance.now() - lastBeatAt < data.stallMs) return;
  clearInterval(check);
  stopTheMainThread(Math.round((performance.now() - lastBeatAt) / 1000));
}, data.heartbeatMs);

function stopTheMainThread(stalledSeconds: number): void {
  const say = (text: string): void => {
    writeSync(2, `\n${data.what}: ${text}\n`);
  };
  say(`the event loop has not turned for ${stalledSeconds} s (a livelock in this process or in a library it runs). Its stack, then exit ${data.exitCode} after stopping the nodes and removing the faults:`);
  const fallback = setTimeout(() => {
    say(`the main thread did not pause within ${PAUSE_TIMEOUT_MS / 1000} s (stuck in native code): killing the process; run the command again to sweep what it left`);
    process.kill(process.pid, 'SIGKILL');
  }, PAUSE_TIMEOUT_MS);
  const scripts = new Map<string, string>();
  const session = new Session();
  session.connectToMainThread();
  session.on('Debugger.scriptParsed', (message) => scripts.set(message.params.scriptId, message.params.url));
  session.on('Debugger.paused', (message) => {
    const frames = message.params.callFrames as CallFrame[];
    writeSync(2, `${formatStack(frames, scripts)}\n`);
    clearTimeout(fallback);
    const top = frames[0];
    if (top === undefined) {
      process.kill(process.pid, 'SIGKILL');
      return;
    }
    // Runs on the paused main thread: the 'exit' listeners (cleanup hooks) run, then it exits.
    session.post('Debugger.evaluateOnCallFrame', { callFrameId: top.callFrameId, expression: `process.exit(${data.exitCode})` });
  });
  session.post('Debugger.enable', () => session.post('Debugger.pause'));
}

function formatStack(frames: readonly CallFrame[], scripts: ReadonlyMap<string, string>): string {
  const lines = frames.slice(0, MAX_FRAMES).map((frame) => {
    const url = scripts.get(frame.location.scriptId) ?? `script ${frame.location.scriptId}`;
    return `    at ${frame.functionName === '' ? '(anonymous)' : frame.functionName} (${url}:${frame.location.lineNumber + 1}:${frame.location.columnNumber + 1})`;
  });
  if (frames.length > MAX_FRAMES) lines.push(`    ... ${frames.length - MAX_FRAMES} more frames`);
  return lines.join('\n');
}
