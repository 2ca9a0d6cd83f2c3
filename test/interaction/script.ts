// Parsing of the interaction test scripts (after etcd-io/raft's datadriven files):
//
//   # a comment
//   command arg1 key=value key=(1,2,3)
//   ----
//   expected output, up to a blank line
//
// Output may contain blank lines only if the block ends with an explicit line "----" too
// (not needed so far); commands without output still have the "----" separator.

export interface Argument {
  readonly key: string;
  readonly values: string[];
}

export interface Block {
  readonly line: number;
  readonly leadingLines: string[];
  readonly command: string;
  readonly positional: string[];
  readonly named: Map<string, string[]>;
  readonly commandLine: string;
  readonly expected: string;
}

export function tokenize(commandLine: string): { command: string; positional: string[]; named: Map<string, string[]> } {
  const tokens = commandLine.match(/(?:[^\s"(]+|"[^"]*"|\([^)]*\))+/g) ?? [];
  const [command, ...rest] = tokens;
  const positional: string[] = [];
  const named = new Map<string, string[]>();
  for (const token of rest) {
    const equals = token.indexOf('=');
    if (equals > 0 && !token.startsWith('"')) named.set(token.slice(0, equals), parseValues(token.slice(equals + 1)));
    else positional.push(unquote(token));
  }
  return { command: command ?? '', positional, named };
}

function parseValues(raw: string): string[] {
  if (raw.startsWith('(') && raw.endsWith(')')) {
    const inner = raw.slice(1, -1).trim();
    return inner === '' ? [] : inner.split(/[\s,]+/).map(unquote);
  }
  return [unquote(raw)];
}

function unquote(value: string): string {
  return value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
}

export function parseScript(text: string, file: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  let position = 0;
  let leadingLines: string[] = [];
  while (position < lines.length) {
    const line = lines[position]!;
    if (line.trim() === '' || line.startsWith('#')) {
      leadingLines.push(line);
      position++;
      continue;
    }
    const commandLine = line;
    const separator = lines[position + 1];
    if (separator !== '----') throw new Error(`${file}:${position + 2}: expected "----" after the command "${commandLine}"`);
    const output: string[] = [];
    position += 2;
    while (position < lines.length && lines[position] !== '') output.push(lines[position++]!);
    const { command, positional, named } = tokenize(commandLine);
    blocks.push({ line: position, leadingLines, command, positional, named, commandLine, expected: output.join('\n') });
    leadingLines = [];
  }
  return blocks;
}

export function renderScript(blocks: readonly Block[], outputs: readonly string[]): string {
  const parts: string[] = [];
  blocks.forEach((block, index) => {
    for (const line of block.leadingLines) parts.push(line);
    parts.push(block.commandLine, '----');
    const output = outputs[index]!;
    if (output !== '') parts.push(output);
  });
  return parts.join('\n').replace(/\n*$/, '\n');
}
