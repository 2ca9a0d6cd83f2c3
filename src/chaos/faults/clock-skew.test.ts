import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { CleanupRegistry } from './cleanup.ts';
import { ClockSkew, detectFaketime, faketimeSpec } from './clock-skew.ts';

const availability = await detectFaketime();
// CI installs faketime (.ci/run): there a missing library is a failure, not a skip.
const skip = !availability.available && process.env.CI !== 'true' ? `libfaketime unavailable: ${availability.reason}` : false;

interface Sample {
  /** The child's Date.now() minus ours when the line arrived. */
  readonly wallSkewMs: number;
  readonly childMonotonicMs: number;
  readonly parentMonotonicMs: number;
}

/** Runs a Node child under `environment` that reports its clocks every 50 ms, for `durationMs`. */
async function sampleChild(environment: Record<string, string>, durationMs: number, onSample?: (sample: Sample) => void): Promise<Sample[]> {
  const script = 'const t = setInterval(() => console.log(JSON.stringify([Date.now(), performance.now()])), 50);'
    + `setTimeout(() => clearInterval(t), ${durationMs});`;
  const child = spawn(process.execPath, ['-e', script], { env: { ...process.env, ...environment }, stdio: ['ignore', 'pipe', 'inherit'] });
  const samples: Sample[] = [];
  for await (const line of createInterface({ input: child.stdout! })) {
    const [wall, monotonic] = JSON.parse(line) as [number, number];
    const sample = { wallSkewMs: wall - Date.now(), childMonotonicMs: monotonic, parentMonotonicMs: performance.now() };
    samples.push(sample);
    onSample?.(sample);
  }
  return samples;
}

test('faketimeSpec formats offsets and rates the way libfaketime reads them', () => {
  assert.equal(faketimeSpec(10_000), '+10');
  assert.equal(faketimeSpec(-2250), '-2.25');
  assert.equal(faketimeSpec(0), '+0');
  assert.equal(faketimeSpec(1500, 2), '+1.5 x2');
  assert.throws(() => faketimeSpec(0, 0), /rate/);
});

test('a child under ClockSkew sees a skewed Date.now() that can change while it runs, and an unskewed monotonic clock', { skip }, async () => {
  const registry = new CleanupRegistry();
  const skew = ClockSkew.create({ offsetMs: 10_000, cleanupRegistry: registry });
  try {
    let changed = false;
    const samples = await sampleChild(skew.environment(), 2500, (sample) => {
      if (!changed && sample.parentMonotonicMs > 0) {
        changed = true;
        setTimeout(() => skew.set(-5000), 600);
      }
    });
    assert.ok(samples.length >= 20, `${samples.length} samples`);
    const first = samples[2]!;
    const last = samples.at(-1)!;
    assert.ok(Math.abs(first.wallSkewMs - 10_000) < 500, `first skew ${first.wallSkewMs} ms`);
    assert.ok(Math.abs(last.wallSkewMs + 5000) < 500, `skew after set(-5000): ${last.wallSkewMs} ms`);
    // The monotonic clock runs at real speed and never jumped when the wall clock did.
    for (let index = 1; index < samples.length; index++) {
      const childStep = samples[index]!.childMonotonicMs - samples[index - 1]!.childMonotonicMs;
      const parentStep = samples[index]!.parentMonotonicMs - samples[index - 1]!.parentMonotonicMs;
      assert.ok(Math.abs(childStep - parentStep) < 200, `monotonic step ${childStep} ms vs real ${parentStep} ms`);
    }
  } finally {
    skew.cleanup();
  }
  assert.equal(existsSync(skew.controlFile), false);
  assert.equal(registry.size, 0);
});

test('with fakeMonotonic and a rate, libfaketime also speeds up the monotonic clock (measured)', { skip }, async () => {
  const skew = ClockSkew.create({ offsetMs: 0, rate: 2, fakeMonotonic: true, cleanupRegistry: new CleanupRegistry() });
  try {
    const samples = await sampleChild(skew.environment(), 1200);
    const first = samples[1]!;
    const last = samples.at(-1)!;
    const ratio = (last.childMonotonicMs - first.childMonotonicMs) / (last.parentMonotonicMs - first.parentMonotonicMs);
    assert.ok(ratio > 1.7 && ratio < 2.3, `monotonic ran at ${ratio.toFixed(2)}x`);
  } finally {
    skew.cleanup();
  }
});
