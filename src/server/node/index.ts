// The public API of a Cairn node: assemble, start, init or join, stop.
export { CairnNode } from './cairn-node.ts';
export { CAIRN_NODE_DEFAULTS, CairnNodeError, resolveNodeOptions } from './options.ts';
export type { CairnNodeErrorCode, CairnNodeOptions, InjectedNodeBugs, ResolvedNodeOptions } from './options.ts';
export { DataDirectory } from './data-dir.ts';
export type { NodeIdentity } from './data-dir.ts';
export { NodeMetrics } from './metrics.ts';
export { createLogger } from './logger.ts';
export type { LoggerOptions } from './logger.ts';
