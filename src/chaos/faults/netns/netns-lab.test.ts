import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { CleanupRegistry } from '../cleanup.ts';
import { isRoot, runCommandSync } from '../commands.ts';
import { isolate } from '../proxy/partition-shapes.ts';
import { NetnsLab, parseNamespaceList, sweepLeftovers } from './netns-lab.ts';

// Root only; CI runs as root, so there a missing privilege is a failure, not a skip.
const skip = !isRoot() && process.env.CI !== 'true' ? 'network namespaces need root' : false;
const moduleUrl = new URL('./netns-lab.ts', import.meta.url).href;

const ECHO_SERVER = `
  const server = require('node:net').createServer((socket) => { socket.on('error', () => {}); socket.pipe(socket); });
  server.listen(7000, process.argv[1], () => console.log('ready'));`;
const TCP_CLIENT = `
  const socket = require('node:net').connect({ host: process.argv[1], port: 7000 });
  const timer = setTimeout(() => { console.log('timeout'); process.exit(0); }, 700);
  socket.on('error', (error) => { console.log(error.code); process.exit(0); });
  socket.on('connect', () => socket.write('ping'));
  socket.on('data', (data) => { console.log(String(data)); clearTimeout(timer); socket.destroy(); });`;
// Sends 400 KB to the echo server and prints how many bytes came back.
const BULK_CLIENT = `
  const socket = require('node:net').connect({ host: process.argv[1], port: 7000 });
  let received = 0;
  socket.on('connect', () => socket.end(Buffer.alloc(400000)));
  socket.on('data', (data) => { received += data.length; });
  socket.on('close', () => console.log(received));`;
const UDP_RECEIVER = `
  const socket = require('node:dgram').createSocket('udp4');
  let count = 0;
  socket.on('message', () => count++);
  socket.bind(7001, process.argv[1], () => console.log('ready'));
  process.stdin.on('end', () => setTimeout(() => { console.log(count); process.exit(0); }, 200));
  process.stdin.resume();`;
const UDP_SENDER = `
  const socket = require('node:dgram').createSocket('udp4');
  let sent = 0;
  const burst = () => {
    for (let index = 0; index < 20 && sent < 1000; index++, sent++) socket.send('datagram ' + sent, 7001, process.argv[1]);
    if (sent < 1000) setTimeout(burst, 2); else setTimeout(() => process.exit(0), 50);
  };
  burst();`;

async function firstLine(child: ChildProcess): Promise<string> {
  for await (const line of createInterface({ input: child.stdout! })) return line;
  return '';
}

/** Runs a short script inside node `id` and returns its first line of output. */
async function runIn(lab: NetnsLab, id: number, script: string, argument: string): Promise<string> {
  const { stdout } = await lab.exec(id, [process.execPath, '-e', script, argument], { timeoutMs: 10_000 });
  return stdout.trim();
}

async function startEchoServer(lab: NetnsLab, id: number): Promise<ChildProcess> {
  const child = lab.spawn(id, process.execPath, ['-e', ECHO_SERVER, lab.node(id).address], { stdio: ['ignore', 'pipe', 'inherit'] });
  assert.equal(await firstLine(child), 'ready');
  return child;
}

/** Datagrams out of 1000 sent from `from` that `to` received. */
async function udpDelivered(lab: NetnsLab, from: number, to: number): Promise<number> {
  const receiver = lab.spawn(to, process.execPath, ['-e', UDP_RECEIVER, lab.node(to).address], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: receiver.stdout! })[Symbol.asyncIterator]();
  assert.equal((await lines.next()).value, 'ready');
  await runIn(lab, from, UDP_SENDER, lab.node(to).address);
  receiver.stdin!.end();
  return Number((await lines.next()).value);
}

async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 5000;
  while (!condition()) {
    if (performance.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** How many processes have exactly this /proc/PID/cmdline. */
function processesRunning(commandLine: string): number {
  let count = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8') === commandLine) count++;
    } catch {
      // exited while we looked
    }
  }
  return count;
}

function namespacesNow(): string[] {
  return parseNamespaceList(runCommandSync(['ip', 'netns', 'list']).stdout);
}

test('namespaces talk over the bridge; drops, loss and one-way partitions are real; cleanup leaves nothing', { skip }, async (t) => {
  const registry = new CleanupRegistry();
  const lab = await NetnsLab.create({ nodes: 3, cleanupRegistry: registry });
  try {
    for (const node of lab.nodes) assert.ok(namespacesNow().includes(node.namespace));
    const server = await startEchoServer(lab, 1);
    assert.equal(await runIn(lab, 2, TCP_CLIENT, lab.node(1).address), 'ping', 'n2 reaches n1');
    const fromHost = connect({ host: lab.node(1).address, port: 7000 });
    fromHost.write('host');
    const [answer] = await once(fromHost, 'data') as [Buffer];
    assert.equal(String(answer), 'host', 'the host reaches n1 through its link');
    fromHost.destroy();

    await lab.packetLoss(1, 1);
    assert.equal(await runIn(lab, 2, TCP_CLIENT, lab.node(1).address), 'timeout', '100% drop blocks n2 -> n1');
    await lab.clearRules(1);
    assert.equal(await runIn(lab, 2, TCP_CLIENT, lab.node(1).address), 'ping', 'clearing the rules heals');

    assert.equal(await udpDelivered(lab, 2, 1), 1000, 'no loss without rules');
    await lab.packetLoss(1, 0.2);
    const delivered = await udpDelivered(lab, 2, 1);
    t.diagnostic(`20% inbound loss: ${1000 - delivered} of 1000 datagrams dropped`);
    assert.ok(delivered >= 700 && delivered <= 900, `${delivered} of 1000 delivered under 20% loss`);
    await lab.clearRules();

    await lab.blockTraffic(2, 1);
    assert.equal(await udpDelivered(lab, 2, 1), 0, 'one-way: nothing from n2 reaches n1');
    assert.equal(await udpDelivered(lab, 1, 2), 1000, 'one-way: everything from n1 reaches n2');
    await lab.clearRules();

    // tbf egress shaping on n1: 400 KB from n1 at 2 Mbit/s (250 KB/s) takes about 1.6 s.
    await lab.limitBandwidth(1, 2_000_000);
    const started = performance.now();
    assert.equal(await runIn(lab, 2, BULK_CLIENT, lab.node(1).address), String(400_000));
    const elapsedMs = performance.now() - started;
    t.diagnostic(`tbf 2 Mbit/s: 400 KB in ${Math.round(elapsedMs)} ms`);
    assert.ok(elapsedMs >= 1200, `400 KB at 2 Mbit/s took ${elapsedMs} ms`);
    await lab.clearBandwidthLimit(1);

    await lab.applyPartition(isolate([1, 2, 3], 3));
    assert.equal(await runIn(lab, 3, TCP_CLIENT, lab.node(1).address), 'timeout');
    assert.equal(await runIn(lab, 2, TCP_CLIENT, lab.node(1).address), 'ping');
    assert.equal((await lab.listRules(1)).length, 1);
    await lab.clearRules();
    assert.deepEqual(await lab.listRules(1), []);
    assert.equal(server.exitCode, null);
  } finally {
    await lab.cleanup();
  }
  await lab.cleanup(); // idempotent
  assert.equal(registry.size, 0);
  const left = namespacesNow().filter((name) => name.startsWith(lab.hubNamespace.replace(/-hub$/, '')));
  assert.deepEqual(left, []);
  assert.equal(runCommandSync(['ip', 'link', 'show', lab.hostLink!]).exitCode !== 0, true, 'the host link is gone');
  assert.equal(runCommandSync(['ip', '-4', '-o', 'addr', 'show']).stdout.includes(lab.hostAddress!), false);
});

/** Starts a Node process that builds a lab, prints its namespace prefix, and waits. */
async function startLabOwner(): Promise<{ child: ChildProcess; prefix: string }> {
  const script = `const { NetnsLab } = await import(${JSON.stringify(moduleUrl)});
    const lab = await NetnsLab.create({ nodes: 2 });
    lab.spawn(1, 'sleep', ['60']);
    console.log(lab.hubNamespace.replace(/-hub$/, ''));
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const prefix = await firstLine(child);
  assert.match(prefix, /^cairn-chaos-netns-\d+-0$/);
  return { child, prefix };
}

test('SIGINT to a process that owns a lab removes its namespaces before it dies', { skip }, async () => {
  const { child, prefix } = await startLabOwner();
  assert.equal(namespacesNow().filter((name) => name.startsWith(prefix)).length, 3);
  child.kill('SIGINT');
  const [code, signal] = await once(child, 'exit') as [number | null, string | null];
  assert.equal(signal ?? code, 'SIGINT', 'the process still dies of SIGINT');
  assert.deepEqual(namespacesNow().filter((name) => name.startsWith(prefix)), []);
});

test('sweepLeftovers removes what a SIGKILLed run left, including processes inside', { skip }, async () => {
  const { child, prefix } = await startLabOwner();
  assert.equal(runCommandSync(['ip', 'link', 'show', `ccn-${child.pid!.toString(36)}-0`]).exitCode, 0, 'the owner made a host link');
  child.kill('SIGKILL');
  await once(child, 'exit');
  assert.equal(namespacesNow().filter((name) => name.startsWith(prefix)).length, 3, 'SIGKILL leaves the namespaces behind');
  assert.equal(processesRunning('sleep\u000060\u0000') >= 1, true, 'the process inside outlived its owner');
  const swept = sweepLeftovers();
  assert.equal(swept.namespaces.filter((name) => name.startsWith(prefix)).length, 3);
  // The host link dies with its peer in the hub namespace (or is deleted by the sweep itself).
  const hostLink = `ccn-${child.pid!.toString(36)}-0`;
  await waitUntil(() => runCommandSync(['ip', 'link', 'show', hostLink]).exitCode !== 0, `${hostLink} removed`);
  assert.deepEqual(namespacesNow().filter((name) => name.startsWith(prefix)), []);
  assert.equal(processesRunning('sleep\u000060\u0000'), 0, 'the process left inside was killed');
});
