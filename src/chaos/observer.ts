// Polls every running node's own status (role, term, leader, commit and applied index, log
// bounds) a few times a second and records each answer: the evidence for "at most one leader per
// term" and the leader/term chart, and the source of the progress line's leader.
import type { ChaosCluster } from './environment.ts';
import type { HistoryRecorder } from './recorder.ts';
import type { NodeSample } from './types.ts';

export const OBSERVER_INTERVAL_MS = 250;

export class Observer {
  readonly #cluster: ChaosCluster;
  readonly #recorder: HistoryRecorder;
  readonly #intervalMs: number;
  readonly latest = new Map<number, NodeSample>();
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(cluster: ChaosCluster, recorder: HistoryRecorder, intervalMs = OBSERVER_INTERVAL_MS) {
    this.#cluster = cluster;
    this.#recorder = recorder;
    this.#intervalMs = intervalMs;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
  }

  /** The leader and term most recently reported (by the node that leads with the highest term). */
  leader(): { id: number; term: number } | undefined {
    let best: { id: number; term: number } | undefined;
    for (const [id, sample] of this.latest) {
      if (sample.role === 'leader' && (best === undefined || sample.term > best.term)) best = { id, term: sample.term };
    }
    return best;
  }

  async #run(): Promise<void> {
    while (this.#running) {
      const startedAt = performance.now();
      await Promise.all(this.#cluster.nodeIds().map((id) => this.#poll(id)));
      const waitMs = Math.max(10, this.#intervalMs - (performance.now() - startedAt));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  async #poll(id: number): Promise<void> {
    if (!this.#cluster.isRunning(id) || this.#cluster.isPaused(id)) {
      this.latest.delete(id);
      return;
    }
    const handle = this.#recorder.begin('observer', { kind: 'status', node: id });
    const answer = await this.#cluster.sample(id);
    if ('sample' in answer) {
      this.latest.set(id, answer.sample);
      handle.ok(answer.sample);
    } else {
      this.latest.delete(id);
      handle.fail({ error: answer.error });
    }
  }
}
