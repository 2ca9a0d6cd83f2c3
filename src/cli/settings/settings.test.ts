// The settings model: one table, every node option covered, precedence flag > env > file >
// default, the same parser for every source, and errors that name the setting and its source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { CAIRN_NODE_DEFAULTS } from '../../server/node/options.ts';
import { NODE_OPTION_SOURCES, SETTINGS, envOf, flagOf, settingByKey } from './definitions.ts';
import { serveConfiguration } from './node-options.ts';
import { parseSettingValue } from './parse.ts';
import { SettingsError, effectiveSettings, resolveSettings } from './resolve.ts';

const SECRET = { CAIRN_CLUSTER_SECRET: 'a-secret-for-tests' };

function withFile(content: string, body: (path: string) => void): void {
  const directory = mkdtempSync(join(tmpdir(), 'cairn-settings-'));
  try {
    const path = join(directory, 'config.json');
    writeFileSync(path, content);
    body(path);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

function errorOf(body: () => unknown): SettingsError {
  try {
    body();
  } catch (error) {
    assert.ok(error instanceof SettingsError, `expected a SettingsError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected an error');
}

test('every node option with a default and every NODE_OPTION_SOURCES entry maps to settings in the table', () => {
  for (const option of Object.keys(CAIRN_NODE_DEFAULTS)) assert.ok(option in NODE_OPTION_SOURCES, `node option ${option} has no setting`);
  for (const [option, keys] of Object.entries(NODE_OPTION_SOURCES)) {
    for (const key of keys) assert.ok(settingByKey(key) !== undefined, `${option} names unknown setting ${key}`);
  }
  const keys = SETTINGS.map((setting) => setting.key);
  assert.equal(new Set(keys).size, keys.length, 'setting keys are unique');
});

test('node defaults are the node\'s own (not copies)', () => {
  for (const [option, value] of Object.entries(CAIRN_NODE_DEFAULTS)) {
    const setting = settingByKey(option);
    if (setting !== undefined && setting.default !== undefined) assert.equal(setting.default, value, option);
  }
});

test('flag and env names derive from the key', () => {
  assert.equal(flagOf('peerPort'), '--peer-port');
  assert.equal(envOf('peerPort'), 'CAIRN_PEER_PORT');
  assert.equal(flagOf('kafkaAdvertisedAddr'), '--kafka-advertised-addr');
  assert.equal(envOf('lmdbMapSizeBytes'), 'CAIRN_LMDB_MAP_SIZE_BYTES');
});

test('precedence: flag > env > file > default, with the source remembered', () => {
  withFile(JSON.stringify({ peerPort: 3001, clientPort: 3002, tickMs: 50 }), (path) => {
    const settings = resolveSettings({ flags: { config: path, peerPort: '4001' }, env: { CAIRN_PEER_PORT: '5001', CAIRN_CLIENT_PORT: '5002', ...SECRET } });
    assert.equal(settings.values.get('peerPort'), 4001);
    assert.deepEqual(settings.sources.get('peerPort'), { kind: 'flag' });
    assert.equal(settings.values.get('clientPort'), 5002);
    assert.deepEqual(settings.sources.get('clientPort'), { kind: 'env', name: 'CAIRN_CLIENT_PORT' });
    assert.equal(settings.values.get('tickMs'), 50);
    assert.deepEqual(settings.sources.get('tickMs'), { kind: 'file', path });
    assert.equal(settings.values.get('electionTimeoutTicks'), CAIRN_NODE_DEFAULTS.electionTimeoutTicks);
    assert.deepEqual(settings.sources.get('electionTimeoutTicks'), { kind: 'default' });
    const node = serveConfiguration(settings).node;
    assert.equal(node.peerListen, '127.0.0.1:4001');
    assert.equal(node.clientListen, '127.0.0.1:5002');
    assert.equal(node.tickMs, 50);
  });
});

test('errors name the flag and where the value came from', () => {
  assert.equal(errorOf(() => resolveSettings({ flags: {}, env: { CAIRN_PEER_PORT: '70000' } })).message, 'invalid --peer-port (from CAIRN_PEER_PORT): 70000 is not a port (0-65535)');
  assert.equal(errorOf(() => resolveSettings({ flags: { peerPort: 'abc' }, env: {} })).message, 'invalid --peer-port: abc is not a port (0-65535)');
  withFile('{"tickMs": "fast"}', (path) => {
    assert.equal(errorOf(() => resolveSettings({ flags: { config: path }, env: {} })).message, `invalid --tick-ms (from config file ${path}, key "tickMs"): fast is not a whole number`);
  });
  // Ranges are the node's: its error is mapped back to the setting and its source.
  const range = errorOf(() => serveConfiguration(resolveSettings({ flags: {}, env: { CAIRN_TICK_MS: '0', ...SECRET } })));
  assert.equal(range.setting, 'tickMs');
  assert.match(range.message, /^invalid --tick-ms \(from CAIRN_TICK_MS\): must be a whole number from 1 to 60000 \(got 0\)$/);
  const pair = errorOf(() => serveConfiguration(resolveSettings({ flags: { heartbeatIntervalTicks: '20' }, env: SECRET })));
  assert.match(pair.message, /^invalid --heartbeat-interval-ticks: must be below electionTimeoutTicks/);
});

test('config files: unknown keys are refused with a suggestion; bad JSON names the file', () => {
  withFile('{"peer-port": 1}', (path) => {
    assert.match(errorOf(() => resolveSettings({ flags: { config: path }, env: {} })).message, /unknown key "peer-port" \(did you mean "peerPort"\?\)/);
  });
  withFile('{"peerPrt": 1}', (path) => {
    assert.match(errorOf(() => resolveSettings({ flags: {}, env: { CAIRN_CONFIG: path } })).message, /^invalid --config \(from CAIRN_CONFIG\): .*did you mean "peerPort"/);
  });
  withFile('{nope', (path) => {
    assert.match(errorOf(() => resolveSettings({ flags: { config: path }, env: {} })).message, /is not valid JSON/);
  });
  assert.match(errorOf(() => resolveSettings({ flags: { config: '/nonexistent/cairn.json' }, env: {} })).message, /cannot read \/nonexistent\/cairn.json: ENOENT/);
});

test('cluster secret: required, from a file, one of the two per source', () => {
  assert.match(errorOf(() => serveConfiguration(resolveSettings({ flags: {}, env: {} }))).message, /a cluster secret is required/);
  withFile('from-a-file-secret\n', (path) => {
    const node = serveConfiguration(resolveSettings({ flags: { clusterSecretFile: path }, env: {} })).node;
    assert.equal(node.clusterSecret, 'from-a-file-secret');
    // A flag beats the variable of the other form; two of the same strength are an error.
    assert.equal(serveConfiguration(resolveSettings({ flags: { clusterSecretFile: path }, env: SECRET })).node.clusterSecret, 'from-a-file-secret');
    assert.match(errorOf(() => serveConfiguration(resolveSettings({ flags: { clusterSecretFile: path, clusterSecret: 'other-secret' }, env: {} }))).message, /give either --cluster-secret or --cluster-secret-file/);
  });
  assert.match(errorOf(() => serveConfiguration(resolveSettings({ flags: { clusterSecret: 'short' }, env: {} }))).message, /^invalid --cluster-secret: is required: a shared secret of at least 8 characters/);
});

test('the secret never appears in the effective settings', () => {
  const effective = effectiveSettings(resolveSettings({ flags: {}, env: SECRET }));
  assert.equal(effective.find((entry) => entry.key === 'clusterSecret')?.value, '<redacted>');
  assert.ok(!JSON.stringify(effective).includes(SECRET.CAIRN_CLUSTER_SECRET));
});

test('unknown CAIRN_ variables are reported with a suggestion, client ones are not', () => {
  const { warnings } = resolveSettings({ flags: {}, env: { CAIRN_PEER_PROT: '1', CAIRN_ENDPOINTS: 'x:1', ...SECRET } });
  assert.deepEqual(warnings, ['ignoring unknown environment variable CAIRN_PEER_PROT (did you mean CAIRN_PEER_PORT?)']);
});

test('addresses: advertise host, 0.0.0.0 needs it, join lists and seed peers parse', () => {
  const settings = resolveSettings({ flags: { listenHost: '0.0.0.0', advertiseHost: 'db1.example', join: '10.0.0.1:2379, 10.0.0.2:2379', seedPeers: '1=10.0.0.1:2380,2=10.0.0.2:2380' }, env: SECRET });
  const node = serveConfiguration(settings).node;
  assert.equal(node.peerListen, '0.0.0.0:2380');
  assert.equal(node.peerAdvertise, 'db1.example:2380');
  assert.equal(node.clientAdvertise, 'db1.example:2379');
  assert.deepEqual(node.join, ['10.0.0.1:2379', '10.0.0.2:2379']);
  assert.deepEqual(node.seedPeers, { 1: '10.0.0.1:2380', 2: '10.0.0.2:2380' });
  assert.match(errorOf(() => serveConfiguration(resolveSettings({ flags: { listenHost: '0.0.0.0' }, env: SECRET }))).message, /^invalid --advertise-host: is required when --listen-host is 0.0.0.0/);
  assert.match(errorOf(() => resolveSettings({ flags: { seedPeers: 'x=1.2.3.4:5' }, env: {} })).message, /^invalid --seed-peers: x is not a node id/);
});

test('the parser gives one answer for a value whatever its source (string or JSON)', () => {
  const port = settingByKey('peerPort')!;
  const bytes = settingByKey('maxValueBytes')!;
  const flag = settingByKey('init')!;
  fc.assert(fc.property(fc.integer({ min: 0, max: 65535 }), (value) => parseSettingValue(port, String(value)) === value && parseSettingValue(port, value) === value));
  fc.assert(fc.property(fc.integer({ min: 65536, max: 10_000_000 }), (value) => {
    assert.throws(() => parseSettingValue(port, String(value)), /is not a port/);
    return true;
  }));
  assert.equal(parseSettingValue(bytes, '2MiB'), 2 * 1024 * 1024);
  assert.equal(parseSettingValue(bytes, '1_048_576'), 1_048_576);
  assert.throws(() => parseSettingValue(bytes, '2MB'), /is not a size/);
  for (const [raw, value] of [['true', true], ['1', true], ['yes', true], ['false', false], ['0', false], [true, true]] as const) assert.equal(parseSettingValue(flag, raw), value);
  assert.throws(() => parseSettingValue(flag, 'maybe'), /is not true or false/);
});

test('docs/cli.md documents every setting (flag and variable)', () => {
  const doc = readFileSync(new URL('../../../docs/cli.md', import.meta.url), 'utf8');
  for (const setting of SETTINGS) {
    assert.ok(doc.includes(`\`${flagOf(setting.key)}\``), `docs/cli.md lacks ${flagOf(setting.key)}`);
    assert.ok(doc.includes(`\`${envOf(setting.key)}\``), `docs/cli.md lacks ${envOf(setting.key)}`);
  }
});
