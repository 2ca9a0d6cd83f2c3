// The bench scripts' command lines: --help lists the options, a bad option or value is one line
// naming it with exit status 2 (not a stack trace), and a good command line runs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

function bench(script: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [`bench/${script}.ts`, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('--help lists every option with its default', () => {
  const help = bench('kv-vs-etcd', ['--help']);
  assert.equal(help.code, 0, help.stderr);
  for (const option of ['--duration <value>', '--rounds <value>', '--concurrency <value>', '--kills <value>', '--skip-etcd', '--keep', '--json']) {
    assert.ok(help.stdout.includes(option), `${option} missing from:\n${help.stdout}`);
  }
  assert.match(help.stdout, /--concurrency <value> +comma-separated .*\(default: 1,64,256\)/);
});

test('an unknown option or a bad value is a one-line error with status 2', () => {
  for (const [script, args, expected] of [
    ['failover', ['--bogus'], /^error: Unknown option '--bogus'/],
    ['kv-vs-etcd', ['--rounds', '0'], /^error: --rounds must be a whole number of at least 1, got "0"/],
    ['kafka-vs-nats', ['--duration', 'soon'], /^error: --duration must be a number of at least 1, got "soon"/],
    ['core', ['--entries', '1.5'], /^error: --entries must be a whole number/],
    ['linearizability', ['--corrupt-read-at', '2'], /^error: --corrupt-read-at must be between 0 and 1/],
  ] as const) {
    const run = bench(script, [...args]);
    assert.equal(run.code, 2, `${script} ${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, expected);
    assert.ok(!run.stderr.includes('    at '), `no stack trace: ${run.stderr}`);
  }
});

test('a good command line runs', () => {
  const run = bench('core', ['--entries', '2000', '--json']);
  assert.equal(run.code, 0, run.stderr);
  const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  assert.ok(Object.keys(summary).length > 0);
});
