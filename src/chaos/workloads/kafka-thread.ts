// The worker thread that runs the Kafka workload for isolated-kafka.ts: it takes one command at a
// time, answers each with 'done', and relays every recorder call to the main thread, on the
// main thread's clock (process.hrtime is one clock for every thread of the process).
import { parentPort, workerData } from 'node:worker_threads';
import type { Outcome } from '../../check/history.ts';
import type { OperationHandle, WorkloadRecorder } from '../recorder.ts';
import { KafkaWorkload } from './kafka.ts';
import type { KafkaThreadCommand, KafkaThreadData, KafkaThreadEvent } from './isolated-kafka.ts';

const data = workerData as KafkaThreadData;
const port = parentPort!;

function post(event: KafkaThreadEvent): void {
  port.postMessage(event);
}

/** Milliseconds since the scenario started, rounded to microseconds as HistoryRecorder does. */
function now(): number {
  return Math.round(Number(process.hrtime.bigint() - data.originNs) / 1000) / 1000;
}

let nextOperation = 0;

const relay: WorkloadRecorder = {
  now,
  record(process: string, callTime: number, returnTime: number | null, input: unknown, output: unknown, outcome: Outcome): void {
    post({ type: 'record', process, callTime, returnTime, input, output: output ?? null, outcome });
  },
  begin(process: string, input: unknown): OperationHandle {
    const id = nextOperation++;
    const callTime = now();
    post({ type: 'begin', id, process, input, callTime });
    let done = false;
    const finish = (outcome: Outcome, output: unknown): void => {
      if (done) return;
      done = true;
      post({ type: 'end', id, outcome, output, returnTime: Math.max(callTime, now()) });
    };
    return {
      callTime,
      ok: (output) => finish('ok', output),
      fail: (output) => finish('fail', output ?? null),
      unknown: () => finish('unknown', null),
    };
  },
};

const workload = new KafkaWorkload({ ...data.options, recorder: relay });

port.on('message', (command: KafkaThreadCommand) => {
  void run(command).then(
    () => post({ type: 'done', command: command.type }),
    (error: unknown) => post({ type: 'done', command: command.type, error: error instanceof Error ? error.message : String(error) }),
  );
});

function run(command: KafkaThreadCommand): Promise<void> {
  switch (command.type) {
    case 'start':
      return workload.start();
    case 'stop':
      return workload.stop();
    case 'drain':
      return workload.drain(command.timeoutMs);
    case 'close':
      return workload.close();
  }
}
