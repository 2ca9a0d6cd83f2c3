// `cairn kv lease grant|keep-alive|revoke|list|show`: leases (TTLs shared by keys).
import type { Command } from 'commander';
import { addGlobalOptions, createClient, explainClientError, withClient } from '../client-options.ts';
import type { GlobalOptions } from '../client-options.ts';
import { CliError, EXIT } from '../errors.ts';
import { bytesText, table, wholeNumber, writeJson, writeLine } from '../output.ts';

const KEEP_ALIVE_INTERVAL_MIN_MS = 200;

function leaf(parent: Command, name: string, description: string, examples: string): Command {
  const command = parent.command(name).description(description);
  addGlobalOptions(command);
  command.addHelpText('after', `\nExamples:\n${examples}`);
  return command;
}

export function registerLease(kv: Command): void {
  const lease = kv.command('lease').description('leases: a TTL that deletes the keys attached to it when it expires');
  leaf(lease, 'grant', 'create a lease', '  cairn kv lease grant 30\n  LEASE=$(cairn kv lease grant 10 --json | jq .id)')
    .argument('<ttl-seconds>')
    .option('--id <id>', 'choose the lease id (default: assigned)')
    .action(async (ttl: string, options: GlobalOptions & { id?: string }) => {
      const ttlSeconds = wholeNumber(ttl, 'ttl-seconds', 1);
      const answer = await withClient(options, (client) => client.grantLease(ttlSeconds, options.id === undefined ? {} : { id: wholeNumber(options.id, '--id', 1) }));
      if (options.json === true) writeJson(answer);
      else writeLine(`lease ${answer.id} granted (ttl ${answer.ttlSeconds}s)`);
    });
  leaf(lease, 'keep-alive', 'renew a lease every third of its TTL until Ctrl-C (or once)', '  cairn kv lease keep-alive 7587\n  cairn kv lease keep-alive 7587 --once')
    .argument('<id>')
    .option('--once', 'renew once and exit')
    .action(async (id: string, options: GlobalOptions & { once?: boolean }) => {
      await keepAlive(wholeNumber(id, 'lease id', 1), options);
    });
  leaf(lease, 'revoke', 'delete a lease and every key attached to it', '  cairn kv lease revoke 7587')
    .argument('<id>')
    .action(async (id: string, options: GlobalOptions) => {
      const answer = await withClient(options, (client) => client.revokeLease(wholeNumber(id, 'lease id', 1)));
      if (options.json === true) writeJson(answer);
      else writeLine(`lease ${answer.id} revoked; ${answer.deleted} key${answer.deleted === 1 ? '' : 's'} deleted (revision ${answer.revision})`);
    });
  leaf(lease, 'list', 'every lease', '  cairn kv lease list')
    .action(async (options: GlobalOptions) => {
      const leases = await withClient(options, (client) => client.leases());
      if (options.json === true) writeJson({ leases });
      else writeLine(leases.length === 0 ? '(no leases)' : table([['ID', 'TTL'], ...leases.map((entry) => [String(entry.id), `${entry.ttlSeconds}s`])]));
    });
  leaf(lease, 'show', 'a lease\'s TTL, time left and attached keys (exit code 6 when it does not exist)', '  cairn kv lease show 7587 --keys')
    .argument('<id>')
    .option('--keys', 'list the attached keys (up to 1000)')
    .option('--base64', 'print keys as base64')
    .action(async (id: string, options: GlobalOptions & { keys?: boolean; base64?: boolean }) => {
      const leaseId = wholeNumber(id, 'lease id', 1);
      const info = await withClient(options, (client) => client.lease(leaseId, options.keys === true ? { keys: true } : {}));
      if (info === undefined) throw new CliError('lease-not-found', `lease-not-found: lease ${leaseId} does not exist (expired or revoked)`, EXIT.notFound);
      const keys = (info.keyBytes ?? []).map((key) => bytesText(key, options.base64 === true).text);
      if (options.json === true) {
        writeJson({ id: info.id, ttlSeconds: info.ttlSeconds, remainingMs: info.remainingMs, ...(options.keys === true ? { keys } : {}) });
        return;
      }
      writeLine(`lease ${info.id}: ttl ${info.ttlSeconds}s, ${info.remainingMs === null ? 'time left unknown' : `${(info.remainingMs / 1000).toFixed(1)}s left`}`);
      for (const key of keys) writeLine(`  ${key}`);
    });
}

async function keepAlive(leaseId: number, options: GlobalOptions & { once?: boolean }): Promise<void> {
  const client = createClient(options);
  let stopped = false;
  let wake: (() => void) | undefined;
  const onSignal = (): void => {
    stopped = true;
    wake?.();
  };
  process.once('SIGINT', onSignal);
  try {
    let first = true;
    while (!stopped) {
      const answer = await client.keepAliveLease(leaseId);
      if (options.json === true) writeJson({ ...answer, time: new Date().toISOString() });
      else if (first) writeLine(`lease ${answer.id} kept alive (ttl ${answer.ttlSeconds}s)${options.once === true ? '' : '; renewing until Ctrl-C'}`);
      first = false;
      if (options.once === true) break;
      const waitMs = Math.max(KEEP_ALIVE_INTERVAL_MIN_MS, (answer.ttlSeconds * 1000) / 3);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, waitMs);
      });
    }
  } catch (error) {
    throw await explainClientError(error, client);
  } finally {
    process.removeListener('SIGINT', onSignal);
    client.close();
  }
}
