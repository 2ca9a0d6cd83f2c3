// The simulator's replicated state machine: a map of registers written by put and
// compare-and-swap commands. Tiny on purpose: the simulator proves the consensus layer, and a
// small, obviously-correct state machine keeps any violation attributable to Raft.

export type RegisterCommand =
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'cas'; readonly key: string; readonly expected: string | null; readonly value: string };

export type RegisterResult = { readonly op: 'put' } | { readonly op: 'cas'; readonly swapped: boolean };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeRegisterCommand(command: RegisterCommand): Uint8Array {
  return encoder.encode(JSON.stringify(command));
}

export function decodeRegisterCommand(data: Uint8Array): RegisterCommand {
  return JSON.parse(decoder.decode(data)) as RegisterCommand;
}

export class RegisterStore {
  private values = new Map<string, string>();
  appliedIndex = 0;

  get(key: string): string | null {
    return this.values.get(key) ?? null;
  }

  apply(index: number, command: RegisterCommand): RegisterResult {
    this.appliedIndex = index;
    if (command.op === 'put') {
      this.values.set(command.key, command.value);
      return { op: 'put' };
    }
    const current = this.get(command.key);
    if (current !== command.expected) return { op: 'cas', swapped: false };
    this.values.set(command.key, command.value);
    return { op: 'cas', swapped: true };
  }

  /** Marks an entry without a command (no-op, membership change) as applied. */
  skip(index: number): void {
    this.appliedIndex = index;
  }

  snapshot(): Uint8Array {
    const entries = [...this.values.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return encoder.encode(JSON.stringify(entries));
  }

  restore(index: number, data: Uint8Array): void {
    this.values = new Map(data.byteLength === 0 ? [] : (JSON.parse(decoder.decode(data)) as [string, string][]));
    this.appliedIndex = index;
  }

  /** A digest of the whole state, to compare replicas. */
  digest(): string {
    return decoder.decode(this.snapshot());
  }
}
