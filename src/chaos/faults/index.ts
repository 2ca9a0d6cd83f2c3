// Fault-injection primitives of the chaos suite (see README.md in this folder).
export { CleanupRegistry, installProcessCleanupHooks, processCleanup } from './cleanup.ts';
export type { CleanupAction } from './cleanup.ts';
export { FaultError } from './errors.ts';
export type { FaultErrorCode } from './errors.ts';
export type { FaultLogger } from './logger.ts';
export { SILENT_FAULT_LOGGER } from './logger.ts';
export { FaultTimeline, defineFault } from './fault-timeline.ts';
export type { Fault, FaultEvent, ScheduledFault } from './fault-timeline.ts';
export { FaultProxy, formatHostPort, parseHostPort } from './proxy/fault-proxy.ts';
export type { FaultProxyOptions, HostPort, ProxyStats } from './proxy/fault-proxy.ts';
export type { Direction, Toxic, ToxicType } from './proxy/toxics.ts';
export { ProxyMesh } from './proxy/proxy-mesh.ts';
export type { LinkToxic, MeshNode, PartitionMode, ProxyMeshOptions } from './proxy/proxy-mesh.ts';
export {
  bridge, groupsPartition, isolate, majorityOf, minorityGroups, oneWay, reachableFrom, ring, splitMinorities,
} from './proxy/partition-shapes.ts';
export type { Link, NodeId, PartitionShape } from './proxy/partition-shapes.ts';
export { NetnsLab, sweepLeftovers as sweepNetnsLeftovers } from './netns/netns-lab.ts';
export type { LabNode, LossOptions, NetnsLabOptions } from './netns/netns-lab.ts';
export { ClockSkew, detectFaketime, faketimeSpec } from './clock-skew.ts';
export type { ClockSkewOptions, FaketimeAvailability } from './clock-skew.ts';
export { LoopDisk, sweepLoopDiskLeftovers } from './loop-disk.ts';
export type { LoopDiskOptions, PowerCutResult } from './loop-disk.ts';
export { captureProcessIdentity, isAlive, pauseFault, signalProcess } from './signals.ts';
export type { FaultSignal, ProcessIdentity, SignalOptions, SignalResult } from './signals.ts';
export { isRoot } from './commands.ts';
