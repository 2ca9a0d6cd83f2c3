// kafkajs 2.2.4 computes some timer delays as negative numbers, which Node 24 reports on stderr as
// a TimeoutNegativeWarning (harmless: Node clamps the delay to 1 ms). Importing this module drops
// that one warning, process-wide, so the CLI and the bench scripts keep their output clean; every
// other warning is still printed. (The chaos workloads filter their own, listener-based.)
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
  if (type === 'TimeoutNegativeWarning' || (warning instanceof Error && warning.name === 'TimeoutNegativeWarning')) return;
  (emitWarning as (...parameters: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;
