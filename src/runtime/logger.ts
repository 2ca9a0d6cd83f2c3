// The pino subset the runtime logs through (pino itself satisfies it).
export interface NodeLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export const SILENT_NODE_LOGGER: NodeLogger = { debug() {}, info() {}, warn() {}, error() {} };
