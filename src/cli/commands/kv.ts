// `cairn kv ...`: keys, values, transactions and watches over the client. Keys and values are
// UTF-8 text by default; --base64 takes and prints them as base64 (any bytes); --file reads a
// value from a file or stdin (-).
import type { Command } from 'commander';
import type { CairnClient, Compare, KeyValue, ScanResult, TxnOperation, TxnOperationResult } from '../../client/index.ts';
import { addGlobalOptions, createClient, explainClientError, withClient } from '../client-options.ts';
import type { GlobalOptions } from '../client-options.ts';
import { CliError, EXIT, usageError } from '../errors.ts';
import { argumentBytes, bytesText, keyValueJson, readInput, table, valueInput, wholeNumber, writeJson, writeLine, writeNote } from '../output.ts';
import { registerLease } from './lease.ts';

export interface KvOptions extends GlobalOptions {
  readonly base64?: boolean;
}

const TXN_BYTES_MAX = 16 * 1024 * 1024;

export function kvLeaf(parent: Command, name: string, description: string, examples: string): Command {
  const command = parent.command(name).description(description).option('--base64', 'keys and values are given and printed as base64 (any bytes)');
  addGlobalOptions(command);
  command.addHelpText('after', `\nExamples:\n${examples}`);
  return command;
}

function printText(bytes: Buffer, base64: boolean): void {
  const shown = bytesText(bytes, base64);
  if (shown.base64 && !base64) writeNote('note: the value is not valid UTF-8; printed as base64 (use --base64 to say so, or --json)');
  writeLine(shown.text);
}

/** Fills in the `kv` command group. */
export function registerKv(kv: Command): void {
  registerSet(kv);
  registerGet(kv);
  registerDelete(kv);
  registerScan(kv);
  registerCas(kv);
  registerTxn(kv);
  registerWatch(kv);
  registerLease(kv);
}

function registerSet(kv: Command): void {
  kvLeaf(kv, 'set', 'write a value (alias: put)', '  cairn kv set greeting hello\n  cairn kv set config/app --file app.json\n  echo -n secret | cairn kv set token --file - --lease 7587')
    .alias('put')
    .argument('<key>').argument('[value]', 'the value (or --file)')
    .option('--file <path>', 'read the value from a file, or - for stdin')
    .option('--lease <id>', 'attach the key to a lease (deleted when it expires)')
    .option('--prev-kv', 'print the value it replaced')
    .action(async (key: string, value: string | undefined, options: KvOptions & { file?: string; lease?: string; prevKv?: boolean }) => {
      const keyBytes = argumentBytes(key, options.base64 === true, 'key');
      const valueBytes = valueInput(value, options);
      const lease = options.lease === undefined ? undefined : wholeNumber(options.lease, '--lease', 1);
      const answer = await withClient(options, (client) => client.put(keyBytes, valueBytes, { ...(lease === undefined ? {} : { lease }), ...(options.prevKv === true ? { prevKv: true } : {}) }));
      if (options.json === true) {
        writeJson({ revision: answer.revision, ...(answer.prevKv === undefined ? {} : { prevKv: keyValueJson(answer.prevKv, options.base64 === true) }) });
        return;
      }
      writeLine(`OK (revision ${answer.revision})`);
      if (options.prevKv === true) writeLine(answer.prevKv === undefined ? '(no previous value)' : `previous: ${bytesText(answer.prevKv.value, options.base64 === true).text}`);
    });
}

function registerGet(kv: Command): void {
  kvLeaf(kv, 'get', 'print a key\'s value (exit code 6 when the key does not exist)', '  cairn kv get greeting\n  cairn kv get greeting --json\n  cairn kv get greeting --revision 5 --serializable')
    .argument('<key>')
    .option('--revision <n>', 'read at a past revision (until compacted)')
    .option('--serializable', 'read the answering node\'s local state (faster, possibly stale)')
    .action(async (key: string, options: KvOptions & { revision?: string; serializable?: boolean }) => {
      const keyBytes = argumentBytes(key, options.base64 === true, 'key');
      const revision = options.revision === undefined ? undefined : wholeNumber(options.revision, '--revision', 1);
      const kv = await withClient(options, (client) => client.get(keyBytes, { ...(revision === undefined ? {} : { revision }), ...(options.serializable === true ? { consistency: 'serializable' } : {}) }));
      if (kv === undefined) throw new CliError('key-not-found', `key-not-found: ${JSON.stringify(key)} does not exist`, EXIT.notFound);
      if (options.json === true) writeJson({ kv: keyValueJson(kv, options.base64 === true) });
      else printText(kv.value, options.base64 === true);
    });
}

function registerDelete(kv: Command): void {
  kvLeaf(kv, 'delete', 'delete a key, every key with a prefix, or a range (alias: del)', '  cairn kv delete greeting\n  cairn kv delete users/ --prefix\n  cairn kv delete lock --if-value me      # compare-and-delete')
    .alias('del')
    .argument('<key>', 'the key, or the prefix / range start')
    .option('--prefix', 'delete every key starting with <key>')
    .option('--end <key>', 'delete the range [<key>, end)')
    .option('--prev-kv', 'print what was deleted')
    .option('--if-value <value>', 'delete only if the value is this (exit code 7 otherwise)')
    .action(async (key: string, options: KvOptions & { prefix?: boolean; end?: string; prevKv?: boolean; ifValue?: string }) => {
      const base64 = options.base64 === true;
      const keyBytes = argumentBytes(key, base64, 'key');
      if (options.ifValue !== undefined) {
        if (options.prefix === true || options.end !== undefined) throw usageError('--if-value deletes one key: it cannot be combined with --prefix or --end');
        const expected = argumentBytes(options.ifValue, base64, '--if-value');
        const result = await withClient(options, (client) => client.compareAndDelete(keyBytes, expected));
        return printConditional(result, options, 'deleted');
      }
      const end = options.end === undefined ? undefined : argumentBytes(options.end, base64, '--end');
      const answer = await withClient(options, (client) => client.delete(keyBytes, { ...(options.prefix === true ? { prefix: true } : {}), ...(end === undefined ? {} : { end }), ...(options.prevKv === true ? { prevKv: true } : {}) }));
      if (options.json === true) {
        writeJson({ revision: answer.revision, deleted: answer.deleted, ...(answer.prevKvs === undefined ? {} : { prevKvs: answer.prevKvs.map((kv) => keyValueJson(kv, base64)) }) });
        return;
      }
      writeLine(`deleted ${answer.deleted} (revision ${answer.revision})`);
      for (const kv of answer.prevKvs ?? []) writeLine(`${bytesText(kv.key, base64).text} = ${bytesText(kv.value, base64).text}`);
    });
}

function scanLines(page: ScanResult, options: { base64: boolean; keysOnly: boolean }): string[] {
  return page.kvs.map((kv) => (options.keysOnly ? bytesText(kv.key, options.base64).text : `${bytesText(kv.key, options.base64).text} = ${bytesText(kv.value, options.base64).text}`));
}

function registerScan(kv: Command): void {
  kvLeaf(kv, 'scan', 'list keys by prefix or range (all keys when neither is given), page by page', '  cairn kv scan --prefix users/\n  cairn kv scan --start a --end m --limit 100\n  cairn kv scan --prefix logs/ --count-only\n  cairn kv scan --all --keys-only --json')
    .option('--prefix <prefix>', 'keys starting with this')
    .option('--start <key>', 'keys from this one (inclusive)')
    .option('--end <key>', 'keys before this one (exclusive)')
    .option('--limit <n>', 'keys per page at most')
    .option('--all', 'follow continuations: every matching key (all pages at the first page\'s revision)')
    .option('--continuation <token>', 'continue a previous scan')
    .option('--keys-only', 'keys without values')
    .option('--count-only', 'only the number of matching keys')
    .option('--revision <n>', 'at a past revision')
    .option('--serializable', 'read the answering node\'s local state')
    .action(async (options: KvOptions & { prefix?: string; start?: string; end?: string; limit?: string; all?: boolean; continuation?: string; keysOnly?: boolean; countOnly?: boolean; revision?: string; serializable?: boolean }) => {
      const base64 = options.base64 === true;
      if (options.prefix !== undefined && (options.start !== undefined || options.end !== undefined)) throw usageError('give --prefix or --start/--end, not both');
      const selector = {
        ...(options.prefix === undefined ? {} : { prefix: argumentBytes(options.prefix, base64, '--prefix') }),
        ...(options.start === undefined ? {} : { start: argumentBytes(options.start, base64, '--start') }),
        ...(options.end === undefined ? {} : { end: argumentBytes(options.end, base64, '--end') }),
        ...(options.limit === undefined ? {} : { limit: wholeNumber(options.limit, '--limit', 1) }),
        ...(options.keysOnly === true ? { keysOnly: true } : {}), ...(options.countOnly === true ? { countOnly: true } : {}),
        ...(options.revision === undefined ? {} : { revision: wholeNumber(options.revision, '--revision', 1) }),
        ...(options.serializable === true ? { consistency: 'serializable' as const } : {}),
      };
      await withClient(options, async (client) => {
        let continuation = options.continuation;
        for (;;) {
          const page = await client.scan({ ...selector, ...(continuation === undefined ? {} : { continuation }) });
          printScanPage(page, { base64, keysOnly: options.keysOnly === true, countOnly: options.countOnly === true, json: options.json === true });
          continuation = page.more ? page.continuation : undefined;
          if (continuation === undefined || options.all !== true) break;
        }
        if (continuation !== undefined && options.json !== true) writeNote(`more keys: add --continuation ${continuation} (or --all)`);
      });
    });
}

function printScanPage(page: ScanResult, options: { base64: boolean; keysOnly: boolean; countOnly: boolean; json: boolean }): void {
  if (options.json) {
    writeJson({
      revision: page.revision, kvs: page.kvs.map((kv) => keyValueJson(kv, options.base64, { keysOnly: options.keysOnly })), more: page.more,
      ...(page.continuation === undefined ? {} : { continuation: page.continuation }), ...(page.count === undefined ? {} : { count: page.count }),
    });
    return;
  }
  if (options.countOnly) writeLine(String(page.count ?? page.kvs.length));
  else for (const line of scanLines(page, options)) writeLine(line);
}

function printConditional(result: { succeeded: boolean; revision: number; prevKv?: KeyValue; kv?: KeyValue }, options: KvOptions, verb: string): void {
  const base64 = options.base64 === true;
  if (options.json === true) {
    writeJson({
      succeeded: result.succeeded, revision: result.revision, ...(result.prevKv === undefined ? {} : { prevKv: keyValueJson(result.prevKv, base64) }),
      ...(result.succeeded ? {} : { kv: result.kv === undefined ? null : keyValueJson(result.kv, base64) }),
    });
  } else if (result.succeeded) {
    writeLine(`OK: ${verb} (revision ${result.revision})`);
  }
  if (!result.succeeded) {
    const current = result.kv === undefined ? 'the key does not exist' : `its value is ${JSON.stringify(bytesText(result.kv.value, base64).text)} (mod revision ${result.kv.modRevision})`;
    throw new CliError('compare-failed', `compare-failed: nothing changed; ${current}`, EXIT.compareFailed);
  }
}

function registerCas(kv: Command): void {
  kvLeaf(kv, 'cas', 'compare-and-swap: write only if the key\'s value (or mod revision, or absence) is as expected (exit code 7 otherwise)',
    '  cairn kv cas lock me --expect-absent\n  cairn kv cas counter 2 --expect 1\n  cairn kv cas config new --expect-mod-revision 42')
    .argument('<key>').argument('[value]', 'the new value (or --file)')
    .option('--expect <value>', 'the current value must be this')
    .option('--expect-absent', 'the key must not exist')
    .option('--expect-mod-revision <n>', 'the key\'s mod revision must be this (0: absent)')
    .option('--file <path>', 'read the new value from a file, or - for stdin')
    .option('--lease <id>', 'attach the key to a lease')
    .action(async (key: string, value: string | undefined, options: KvOptions & { expect?: string; expectAbsent?: boolean; expectModRevision?: string; file?: string; lease?: string }) => {
      const given = [options.expect !== undefined, options.expectAbsent === true, options.expectModRevision !== undefined].filter(Boolean).length;
      if (given !== 1) throw usageError('give exactly one of --expect <value>, --expect-absent, --expect-mod-revision <n>');
      const base64 = options.base64 === true;
      const keyBytes = argumentBytes(key, base64, 'key');
      const valueBytes = valueInput(value, options);
      const lease = options.lease === undefined ? {} : { lease: wholeNumber(options.lease, '--lease', 1) };
      const result = await withClient(options, (client) => {
        if (options.expectModRevision !== undefined) return client.casRevision(keyBytes, wholeNumber(options.expectModRevision, '--expect-mod-revision'), valueBytes, lease);
        return client.cas(keyBytes, options.expect === undefined ? undefined : argumentBytes(options.expect, base64, '--expect'), valueBytes, lease);
      });
      printConditional(result, options, 'written');
    });
}

type JsonObject = Record<string, unknown>;

function textField(object: JsonObject, name: string, where: string, base64: boolean, required = true): Buffer | undefined {
  const value = object[name];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string') throw usageError(`${where}.${name} must be a string${base64 ? ' (base64)' : ''}`);
  return argumentBytes(value, base64, `${where}.${name}`);
}

function txnCompare(item: unknown, index: number, base64: boolean): Compare {
  const where = `compare[${index}]`;
  if (typeof item !== 'object' || item === null) throw usageError(`${where} must be an object`);
  const object = item as JsonObject;
  const target = object['target'] ?? 'value';
  const targets = ['value', 'version', 'createRevision', 'modRevision', 'lease', 'exists'];
  if (typeof target !== 'string' || !targets.includes(target)) throw usageError(`${where}.target must be one of ${targets.join(', ')}`);
  const operator = object['operator'] ?? '=';
  if (!['=', '!=', '<', '>'].includes(operator as string)) throw usageError(`${where}.operator must be =, !=, < or >`);
  const value = target === 'value' ? textField(object, 'value', where, base64)! : object['value'];
  if (target === 'exists' && typeof value !== 'boolean') throw usageError(`${where}.value must be true or false for target exists`);
  if (target !== 'value' && target !== 'exists' && (typeof value !== 'number' || !Number.isSafeInteger(value))) throw usageError(`${where}.value must be a whole number for target ${target}`);
  return { key: textField(object, 'key', where, base64)!, target: target as Compare['target'], operator: operator as '=', value: value as number };
}

function txnOperation(item: unknown, where: string, base64: boolean): TxnOperation {
  if (typeof item !== 'object' || item === null) throw usageError(`${where} must be an object`);
  const object = item as JsonObject;
  const range = {
    ...(object['key'] === undefined ? {} : { key: textField(object, 'key', where, base64)! }), ...(object['prefix'] === undefined ? {} : { prefix: textField(object, 'prefix', where, base64)! }),
    ...(object['start'] === undefined ? {} : { start: textField(object, 'start', where, base64)! }), ...(object['end'] === undefined ? {} : { end: textField(object, 'end', where, base64)! }),
  };
  switch (object['type']) {
    case 'put': return { type: 'put', key: textField(object, 'key', where, base64)!, value: textField(object, 'value', where, base64)!, ...(typeof object['lease'] === 'number' ? { lease: object['lease'] } : {}) };
    case 'delete': return { type: 'delete', ...range };
    case 'get': case 'range': return { type: 'range', ...range, ...(typeof object['limit'] === 'number' ? { limit: object['limit'] } : {}) };
    default: throw usageError(`${where}.type must be put, delete, get or range`);
  }
}

function txnResultJson(result: TxnOperationResult, base64: boolean): unknown {
  if (result.type === 'range') return { type: 'range', revision: result.revision, kvs: result.kvs.map((kv) => keyValueJson(kv, base64)), more: result.more };
  if (result.type === 'put') return { type: 'put', revision: result.revision, ...(result.prevKv === undefined ? {} : { prevKv: keyValueJson(result.prevKv, base64) }) };
  if (result.type === 'delete') return { type: 'delete', revision: result.revision, deleted: result.deleted };
  return result;
}

function registerTxn(kv: Command): void {
  kvLeaf(kv, 'txn', 'a transaction: if every compare holds, run success, else failure (JSON from an argument, --file or stdin)',
    `  cairn kv txn '{"compare":[{"key":"stock","value":"1"}],"success":[{"type":"put","key":"stock","value":"0"},{"type":"put","key":"sold","value":"yes"}],"failure":[{"type":"get","key":"stock"}]}'
  cairn kv txn --file txn.json --json

  compare: {key, target: value|version|createRevision|modRevision|lease|exists (default value), operator: = != < > (default =), value}
  operations: {type: put, key, value, lease?} | {type: delete, key|prefix|start+end} | {type: get|range, key|prefix|start+end, limit?}`)
    .argument('[json]', 'the transaction as JSON (or --file)')
    .option('--file <path>', 'read the transaction from a file, or - for stdin')
    .action(async (json: string | undefined, options: KvOptions & { file?: string }) => {
      if ((json === undefined) === (options.file === undefined)) throw usageError('give the transaction as a JSON argument or with --file <path|->, exactly one');
      const text = json ?? readInput(options.file!).toString('utf8');
      if (text.length > TXN_BYTES_MAX) throw usageError('the transaction is too large');
      let parsed: JsonObject;
      try {
        parsed = JSON.parse(text) as JsonObject;
      } catch (error) {
        throw usageError(`the transaction is not valid JSON: ${(error as Error).message}`);
      }
      const base64 = options.base64 === true;
      const list = (name: string): unknown[] => {
        const value = parsed[name] ?? [];
        if (!Array.isArray(value)) throw usageError(`${name} must be an array`);
        return value;
      };
      const txn = {
        compare: list('compare').map((item, index) => txnCompare(item, index, base64)),
        success: list('success').map((item, index) => txnOperation(item, `success[${index}]`, base64)),
        failure: list('failure').map((item, index) => txnOperation(item, `failure[${index}]`, base64)),
      };
      const result = await withClient(options, (client) => client.txn(txn));
      if (options.json === true) {
        writeJson({ succeeded: result.succeeded, revision: result.revision, results: result.results.map((item) => txnResultJson(item, base64)) });
        return;
      }
      writeLine(`${result.succeeded ? 'SUCCESS' : 'FAILURE'} (revision ${result.revision})`);
      for (const item of result.results) {
        if (item.type === 'range') writeLine(table(item.kvs.map((kv) => [bytesText(kv.key, base64).text, '=', bytesText(kv.value, base64).text])));
        else if (item.type === 'delete') writeLine(`deleted ${item.deleted}`);
        else if (item.type === 'put') writeLine('OK');
        else writeLine(`error ${item.error.code}: ${item.error.message}`);
      }
    });
}

function registerWatch(kv: Command): void {
  kvLeaf(kv, 'watch', 'print changes of a key or prefix as they happen (resumes across reconnects; Ctrl-C stops)',
    '  cairn kv watch greeting\n  cairn kv watch users/ --prefix --from-revision 1 --json\n  cairn kv watch jobs/ --prefix --count 1   # wait for the next change')
    .argument('<key>', 'the key, or the prefix with --prefix')
    .option('--prefix', 'every key starting with <key>')
    .option('--from-revision <n>', 'start at this revision (default: changes from now on)')
    .option('--prev-kv', 'include the previous value')
    .option('--count <n>', 'stop after this many events')
    .action(async (key: string, options: KvOptions & { prefix?: boolean; fromRevision?: string; prevKv?: boolean; count?: string }) => {
      const base64 = options.base64 === true;
      const keyBytes = argumentBytes(key, base64, 'key');
      const count = options.count === undefined ? Infinity : wholeNumber(options.count, '--count', 1);
      const client = createClient(options);
      const controller = new AbortController();
      const onSignal = (): void => controller.abort();
      process.once('SIGINT', onSignal);
      try {
        await runWatch(client, { ...(options.prefix === true ? { prefix: keyBytes } : { key: keyBytes }), ...(options.fromRevision === undefined ? {} : { fromRevision: wholeNumber(options.fromRevision, '--from-revision', 1) }), ...(options.prevKv === true ? { prevKv: true } : {}), signal: controller.signal }, { base64, json: options.json === true, count });
      } catch (error) {
        throw await explainClientError(error, client);
      } finally {
        process.removeListener('SIGINT', onSignal);
        client.close();
      }
    });
}

async function runWatch(client: CairnClient, watchOptions: Parameters<CairnClient['watch']>[0], output: { base64: boolean; json: boolean; count: number }): Promise<void> {
  const watch = client.watch(watchOptions);
  await watch.ready;
  writeNote('watching (Ctrl-C to stop)');
  let seen = 0;
  for await (const event of watch) {
    if (output.json) {
      writeJson({ type: event.type, revision: event.revision, kv: keyValueJson(event.kv, output.base64, { keysOnly: event.type === 'delete' }), ...(event.prevKv === undefined ? {} : { prevKv: keyValueJson(event.prevKv, output.base64) }) });
    } else {
      const keyText = bytesText(event.kv.key, output.base64).text;
      writeLine(event.type === 'put' ? `PUT ${keyText} = ${bytesText(event.kv.value, output.base64).text} (revision ${event.revision})` : `DELETE ${keyText} (revision ${event.revision})`);
    }
    if (++seen >= output.count) break;
  }
  watch.close();
}
