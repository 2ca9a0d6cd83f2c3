// The pino subset the fault primitives log through (pino itself satisfies it). Injected, so a
// scenario can route every fault's lines into its run log with the scenario's bindings.
export interface FaultLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export const SILENT_FAULT_LOGGER: FaultLogger = { debug() {}, info() {}, warn() {}, error() {} };
