// Local clusters: start, watch, signal and stop Cairn node processes on this machine (used by
// `cairn local`, the integration tests and the chaos suite).
export { CAIRN_BIN, LocalCluster, LocalClusterError, NODES_MAX, logTail } from './local-cluster.ts';
export type { LocalClusterErrorCode, LocalClusterOptions, LocalNodeStatus, NodeLaunch, NodeLaunchHook, Progress, StopReport } from './local-cluster.ts';
export { DEFAULT_BASE_PORT, PORT_STRIDE, findFreeBasePort, isPortFree, nodePorts, portsInUse } from './ports.ts';
export type { NodePorts } from './ports.ts';
export { identify, isAlive, ownership, waitForExit } from './processes.ts';
export type { Ownership, ProcessIdentity } from './processes.ts';
export { STATE_FILE_NAME, readLocalState, stateFilePath, writeLocalState } from './state-file.ts';
export type { LocalNodeState, LocalState } from './state-file.ts';
