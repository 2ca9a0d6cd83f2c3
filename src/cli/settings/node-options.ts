// From effective settings to CairnNodeOptions, validated by the node's own resolveNodeOptions; a
// problem it finds is reported against the setting (flag) and source it came from.
import { CairnNodeError, resolveNodeOptions } from '../../server/node/options.ts';
import type { CairnNodeOptions } from '../../server/node/options.ts';
import { NODE_OPTION_SOURCES } from './definitions.ts';
import { HEAP_GROWTH_PERCENT_MAX } from '../v8-memory.ts';
import { SettingsError, clusterSecretOf } from './resolve.ts';
import type { ResolvedSettings } from './resolve.ts';

export interface ServeConfiguration {
  readonly node: CairnNodeOptions;
  readonly logLevel: string;
  readonly logFormat: 'auto' | 'json' | 'pretty';
  /** Switch on V8's --external-memory-accounted-in-global-limit (src/cli/v8-memory.ts). */
  readonly bufferMemoryInHeapLimit: boolean;
  /** V8's --heap-growing-percent, 0 for V8's own choice (src/cli/v8-memory.ts). */
  readonly heapGrowthPercent: number;
  readonly warnings: readonly string[];
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** host:port others use: the explicit address, else --advertise-host with the port. */
function advertisedAddress(settings: ResolvedSettings, explicitKey: string, portKey: string): string | undefined {
  const explicit = settings.values.get(explicitKey) as string | undefined;
  if (explicit !== undefined) return explicit;
  const host = settings.values.get('advertiseHost') as string | undefined;
  if (host === undefined) return undefined;
  const port = settings.values.get(portKey) as number;
  if (port === 0) throw new SettingsError('advertiseHost', settings.sources.get('advertiseHost'), `needs a fixed port, but ${portKey === 'peerPort' ? '--peer-port' : portKey === 'clientPort' ? '--client-port' : '--kafka-port'} is 0`);
  return hostPort(host, port);
}

function given(settings: ResolvedSettings, key: string): boolean {
  const source = settings.sources.get(key);
  return source !== undefined && source.kind !== 'default';
}

/** The setting (of those a node option is built from) to blame for a problem with that option. */
function blame(settings: ResolvedSettings, option: string): string {
  const keys = (NODE_OPTION_SOURCES as Record<string, readonly string[]>)[option.replace(/\[\d+\]$/, '')] ?? ['config'];
  return keys.find((key) => given(settings, key)) ?? keys[0]!;
}

function copyDirect(settings: ResolvedSettings, options: Record<string, unknown>): void {
  for (const [option, keys] of Object.entries(NODE_OPTION_SOURCES)) {
    if (keys.length !== 1) continue;
    const value = settings.values.get(keys[0]);
    if (value !== undefined) options[option] = value;
  }
}

/** The Kafka listener: --listen-host with --kafka-port, advertised like the other listeners. */
function kafkaOptions(settings: ResolvedSettings, options: Record<string, unknown>): void {
  options['kafkaListen'] = hostPort(settings.values.get('listenHost') as string, settings.values.get('kafkaPort') as number);
  const advertise = advertisedAddress(settings, 'kafkaAdvertisedAddr', 'kafkaPort');
  if (advertise !== undefined) options['kafkaAdvertise'] = advertise;
}

export function serveConfiguration(settings: ResolvedSettings): ServeConfiguration {
  const warnings = [...settings.warnings];
  const options: Record<string, unknown> = {};
  copyDirect(settings, options);
  options['clusterSecret'] = clusterSecretOf(settings);
  const listenHost = settings.values.get('listenHost') as string;
  options['peerListen'] = hostPort(listenHost, settings.values.get('peerPort') as number);
  options['clientListen'] = hostPort(listenHost, settings.values.get('clientPort') as number);
  const peerAdvertise = advertisedAddress(settings, 'peerAdvertise', 'peerPort');
  const clientAdvertise = advertisedAddress(settings, 'clientAdvertise', 'clientPort');
  if (peerAdvertise !== undefined) options['peerAdvertise'] = peerAdvertise;
  if (clientAdvertise !== undefined) options['clientAdvertise'] = clientAdvertise;
  if ((listenHost === '0.0.0.0' || listenHost === '::') && (peerAdvertise === undefined || clientAdvertise === undefined)) {
    throw new SettingsError('advertiseHost', settings.sources.get('listenHost'), `is required when --listen-host is ${listenHost}: other nodes and clients need an address that reaches this node`);
  }
  kafkaOptions(settings, options);
  if (options['init'] === false) delete options['init'];
  if (options['learner'] === false) delete options['learner'];
  const node = options as unknown as CairnNodeOptions;
  try {
    resolveNodeOptions(node);
  } catch (error) {
    if (!(error instanceof CairnNodeError) || error.setting === undefined) throw error;
    const key = blame(settings, error.setting);
    throw new SettingsError(key, settings.sources.get(key), error.message.replace(/^option \S+ /, ''));
  }
  return {
    node, warnings,
    logLevel: settings.values.get('logLevel') as string,
    logFormat: settings.values.get('logFormat') as ServeConfiguration['logFormat'],
    bufferMemoryInHeapLimit: settings.values.get('bufferMemoryInHeapLimit') as boolean,
    heapGrowthPercent: heapGrowthPercentOf(settings),
  };
}

function heapGrowthPercentOf(settings: ResolvedSettings): number {
  const percent = settings.values.get('heapGrowthPercent') as number;
  if (percent < 0 || percent > HEAP_GROWTH_PERCENT_MAX) {
    throw new SettingsError('heapGrowthPercent', settings.sources.get('heapGrowthPercent'), `must be between 0 and ${HEAP_GROWTH_PERCENT_MAX} (got ${percent})`);
  }
  return percent;
}
