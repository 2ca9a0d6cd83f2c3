// `cairn serve` settings through the real command: flag vs CAIRN_* vs config file precedence
// (--print-config), an error that names the bad setting and its source (exit code 2), `--help`
// listing every setting, and settings reaching a running node (it serves on the configured port
// and stops cleanly on SIGTERM).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SETTINGS, envOf, flagOf } from '../../src/cli/settings/definitions.ts';
import { CairnClient } from '../../src/client/index.ts';
import { findFreeBasePort } from '../../src/local/index.ts';
import { eventually, jsonOf, removeDirectory, runCairn, startCairn, temporaryDirectory } from './helpers.ts';

describe('cairn serve settings', { timeout: 60_000 }, () => {
  const root = temporaryDirectory();
  after(() => removeDirectory(root));

  test('flag > env > config file > default, as --print-config reports', async () => {
    const config = join(root, 'node.json');
    writeFileSync(config, JSON.stringify({ peerPort: 3001, clientPort: 3002, tickMs: 50, name: 'from-file' }));
    const run = await runCairn(['serve', '--print-config', '--json', '--config', config, '--peer-port', '4001'], {
      env: { CAIRN_PEER_PORT: '5001', CAIRN_CLIENT_PORT: '5002', CAIRN_CLUSTER_SECRET: 'env-secret-value' },
    });
    assert.equal(run.code, 0, run.stderr);
    const { settings } = jsonOf(run);
    assert.deepEqual(settings.peerPort, { value: '4001', source: 'flag', flag: '--peer-port', env: 'CAIRN_PEER_PORT' });
    assert.equal(settings.clientPort.value, '5002');
    assert.equal(settings.clientPort.source, 'env CAIRN_CLIENT_PORT');
    assert.equal(settings.tickMs.value, '50');
    assert.equal(settings.tickMs.source, `file ${config}`);
    assert.equal(settings.name.value, 'from-file');
    assert.equal(settings.electionTimeoutTicks.source, 'default');
    assert.equal(settings.clusterSecret.value, '<redacted>');
    assert.ok(!run.stdout.includes('env-secret-value'), 'the secret is not printed');
  });

  test('a bad value names the setting and where it came from, exit code 2', async () => {
    const fromEnv = await runCairn(['serve', '--data-dir', join(root, 'bad')], { env: { CAIRN_PEER_PORT: '70000', CAIRN_CLUSTER_SECRET: 'env-secret-value' } });
    assert.equal(fromEnv.code, 2);
    assert.equal(fromEnv.stderr.trim(), 'error: invalid --peer-port (from CAIRN_PEER_PORT): 70000 is not a port (0-65535)');
    const config = join(root, 'bad.json');
    writeFileSync(config, JSON.stringify({ electionTimeoutTicks: 1 }));
    const fromFile = await runCairn(['serve', '--config', config, '--cluster-secret', 'flag-secret-value']);
    assert.equal(fromFile.code, 2);
    assert.match(fromFile.stderr, new RegExp(`^error: invalid --election-timeout-ticks \\(from config file ${config}, key "electionTimeoutTicks"\\): must be a whole number from 2 to`));
    const missingSecret = await runCairn(['serve', '--data-dir', join(root, 'bad')]);
    assert.equal(missingSecret.code, 2);
    assert.match(missingSecret.stderr, /a cluster secret is required/);
  });

  test('--help lists every setting with its flag and environment variable', async () => {
    const help = await runCairn(['serve', '--help']);
    assert.equal(help.code, 0, help.stderr);
    for (const setting of SETTINGS) {
      assert.ok(help.stdout.includes(flagOf(setting.key)), `--help shows ${flagOf(setting.key)}`);
      assert.ok(help.stdout.includes(envOf(setting.key)), `--help shows ${envOf(setting.key)}`);
    }
  });

  test('Kafka settings reach the node options', async () => {
    const run = await runCairn(['serve', '--print-config', '--json', '--kafka-port', '9999', '--kafka-default-partitions', '3'], { env: { CAIRN_CLUSTER_SECRET: 'env-secret-value' } });
    assert.equal(run.code, 0, run.stderr);
    const { settings, warnings } = jsonOf(run);
    assert.equal(settings.kafkaPort.value, '9999');
    assert.equal(settings.kafkaDefaultPartitions.value, '3');
    assert.deepEqual(warnings, []);
  });

  test('settings from env and file reach a running node; SIGTERM stops it with exit code 0', async () => {
    const base = await findFreeBasePort(1);
    const config = join(root, 'run.json');
    writeFileSync(config, JSON.stringify({ clientPort: base, peerPort: base + 1, name: 'configured', tickMs: 20 }));
    const secretFile = join(root, 'secret');
    writeFileSync(secretFile, 'file-secret-value\n');
    const node = startCairn(['serve', '--init', '--log-format', 'json'], {
      env: { CAIRN_CONFIG: config, CAIRN_DATA_DIR: join(root, 'data'), CAIRN_CLUSTER_SECRET_FILE: secretFile, CAIRN_NODE_ID: '7' },
    });
    const client = new CairnClient({ endpoints: [`127.0.0.1:${base}`], timeoutMs: 2000, maxAttempts: 1 });
    try {
      const status = await eventually('the node to lead', 20_000, async () => {
        const answer = await client.status({ scope: 'local' });
        return answer.node.role === 'leader' ? answer : undefined;
      });
      assert.equal(status.node.nodeId, 7);
      assert.equal(status.node.name, 'configured');
      assert.equal(status.node.peerAddress, `127.0.0.1:${base + 1}`);
      assert.match(node.output(), /"msg":"serving"/);
      // A second node on the same data directory is refused: exit code 3, with the reason.
      const second = await runCairn(['serve', '--client-port', '0', '--peer-port', '0'], { env: { CAIRN_DATA_DIR: join(root, 'data'), CAIRN_CLUSTER_SECRET_FILE: secretFile } });
      assert.equal(second.code, 3, second.stderr);
      assert.match(second.stderr, /^error: cannot start: .*(lock|in use)/m);
    } finally {
      client.close();
      node.child.kill('SIGTERM');
    }
    assert.equal(await node.exited, 0, node.output().slice(-2000));
  });
});
