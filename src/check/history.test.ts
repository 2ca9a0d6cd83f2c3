import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  formatHistoryLine, formatHistorySummary, HistoryFormatError, parseHistoryJsonl, parseHistoryLine,
  readHistoryFile, summarizeHistory, writeHistoryFile, type HistoryEntry,
} from './history.ts';
import { validateKvEntry, type KvInput, type KvOutput } from './kv-model.ts';

const entries: HistoryEntry[] = [
  { process: 0, callTime: 0, returnTime: 5, input: { kind: 'put', key: 'x', value: 1 }, output: null, outcome: 'ok' },
  { process: 'client-1', callTime: 2, returnTime: 9, input: { kind: 'get', key: 'x' }, output: { value: 1 }, outcome: 'ok' },
  { process: 0, callTime: 6, returnTime: null, input: { kind: 'put', key: 'y', value: 2 }, output: null, outcome: 'unknown' },
  { process: 2, callTime: 7, returnTime: 8, input: { kind: 'cas', key: 'x', expected: 1, value: 3 }, output: null, outcome: 'fail' },
];

test('history lines round-trip through format and parse', () => {
  const text = entries.map((entry) => formatHistoryLine(entry)).join('\n') + '\n';
  assert.deepEqual(parseHistoryJsonl(text), entries);
});

test('parse errors name the line and the problem', () => {
  const good = formatHistoryLine(entries[0]!);
  const cases: [string, RegExp][] = [
    ['{not json', /line 3: not valid JSON/],
    ['[1, 2]', /line 3: expected a JSON object/],
    [JSON.stringify({ ...entries[0], outcome: 'maybe' }), /line 3: "outcome" must be one of ok, fail, unknown/],
    [JSON.stringify({ ...entries[0], returnTime: null }), /line 3: an "ok" entry needs a numeric "returnTime"/],
    [JSON.stringify({ ...entries[0], returnTime: -1 }), /line 3: "returnTime" is before "callTime"/],
    [JSON.stringify({ ...entries[0], process: true }), /line 3: "process" must be a number or a string/],
    [JSON.stringify({ process: 1, callTime: 0, returnTime: 1, outcome: 'ok', output: null }), /line 3: "input" is missing/],
  ];
  for (const [line, expected] of cases) {
    assert.throws(() => parseHistoryJsonl(`${good}\n\n${line}\n`), (error: unknown) => {
      assert.ok(error instanceof HistoryFormatError);
      assert.equal(error.code, 'HISTORY_FORMAT');
      assert.equal(error.line, 3);
      assert.match(error.message, expected);
      return true;
    });
  }
});

test('a model validator rejects entries of the wrong shape', () => {
  const validate = (entry: HistoryEntry) => validateKvEntry(entry as HistoryEntry<KvInput, KvOutput>);
  const bad = [
    { ...entries[1], input: { kind: 'scan', key: 'x' } },
    { ...entries[1], output: { value: { nested: true } } },
    { ...entries[0], input: { kind: 'put', key: 'x' } },
    { ...entries[3], outcome: 'ok', output: { swapped: 'yes' } },
  ];
  for (const entry of bad) assert.throws(() => parseHistoryLine(JSON.stringify(entry), 7, validate), /line 7: /);
  for (const entry of entries) assert.doesNotThrow(() => parseHistoryLine(formatHistoryLine(entry), 1, validate));
});

test('the entry limit is enforced', () => {
  const text = entries.map((entry) => formatHistoryLine(entry)).join('\n');
  assert.throws(() => parseHistoryJsonl(text, { entriesMax: 3 }), /line 4: more than 3 entries/);
});

test('history files are written and read back; bad files name the path and line', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'cairn-history-'));
  try {
    const path = join(directory, 'history.jsonl');
    await writeHistoryFile(path, entries);
    assert.deepEqual(await readHistoryFile(path), entries);
    await assert.rejects(readHistoryFile(path, { fileBytesMax: 10 }), /more than the 10 allowed/);
    writeFileSync(path, `${formatHistoryLine(entries[0]!)}\n{"process": 1}\n`);
    await assert.rejects(readHistoryFile(path), (error: unknown) =>
      error instanceof HistoryFormatError && error.message.includes(path) && error.message.includes('line 2'));
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('summaries count entries by outcome and operation kind', () => {
  const summary = summarizeHistory(entries);
  assert.equal(summary.entries, 4);
  assert.equal(summary.processes, 3);
  assert.deepEqual(summary.byOutcome, { ok: 2, fail: 1, unknown: 1 });
  assert.deepEqual(summary.byKind, {
    put: { ok: 1, fail: 0, unknown: 1 }, get: { ok: 1, fail: 0, unknown: 0 }, cas: { ok: 0, fail: 1, unknown: 0 },
  });
  assert.equal(summary.firstCallTime, 0);
  assert.equal(summary.lastReturnTime, 9);
  const text = formatHistorySummary(summary);
  assert.match(text, /^4 operations from 3 processes \(2 ok, 1 fail, 1 unknown\)/);
  assert.match(text, /put: 1 ok, 0 fail, 1 unknown/);
});
