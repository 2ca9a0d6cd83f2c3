// A cluster ticket: one copy-pasteable token holding the cluster id and its members' client
// endpoints, `cairn1.` + base64url(JSON). `cairn local up` prints one; `--ticket` reads it.
import { TICKET_PREFIX } from '../server/http/api-types.ts';
import type { WireTicket } from '../server/http/api-types.ts';

const ENDPOINTS_MAX = 256;
const TICKET_LENGTH_MAX = 64 * 1024;

export type ClusterTicket = WireTicket;

export function encodeTicket(ticket: ClusterTicket): string {
  checkTicket(ticket);
  const json = JSON.stringify({ clusterId: ticket.clusterId, endpoints: [...ticket.endpoints] });
  return TICKET_PREFIX + Buffer.from(json, 'utf8').toString('base64url');
}

/** Throws a TypeError that says what is wrong with the token. */
export function decodeTicket(text: string): ClusterTicket {
  const token = text.trim();
  if (!token.startsWith(TICKET_PREFIX)) throw new TypeError(`a Cairn ticket starts with "${TICKET_PREFIX}"`);
  if (token.length > TICKET_LENGTH_MAX) throw new TypeError('the ticket is too long');
  const payload = token.slice(TICKET_PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(payload)) throw new TypeError('the ticket is damaged (not base64url after the prefix)');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw new TypeError('the ticket is damaged (its content is not JSON)');
  }
  const ticket = parsed as ClusterTicket;
  checkTicket(ticket);
  return { clusterId: ticket.clusterId, endpoints: [...ticket.endpoints] };
}

function checkTicket(ticket: ClusterTicket): void {
  if (typeof ticket !== 'object' || ticket === null) throw new TypeError('a ticket holds an object');
  if (typeof ticket.clusterId !== 'string' || ticket.clusterId.length === 0 || ticket.clusterId.length > 128) throw new TypeError('the ticket has no valid clusterId');
  if (!Array.isArray(ticket.endpoints) || ticket.endpoints.length === 0 || ticket.endpoints.length > ENDPOINTS_MAX) throw new TypeError(`the ticket must list 1 to ${ENDPOINTS_MAX} endpoints`);
  for (const endpoint of ticket.endpoints) {
    if (typeof endpoint !== 'string' || !/^(?:\[[^\]]+\]|[^:[\]]+):\d{1,5}$/.test(endpoint)) throw new TypeError(`ticket endpoint ${JSON.stringify(endpoint)} is not host:port`);
  }
}
