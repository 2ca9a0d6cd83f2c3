// Request bodies: read with a byte limit (the declared Content-Length is checked before reading
// anything), parsed as a JSON object, and small typed field readers that turn a wrong type into
// a 400 that names the field.
import type { IncomingMessage } from 'node:http';
import { ApiError, badRequest } from './errors.ts';

export function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = request.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) return Promise.reject(tooLarge(maxBytes));
  // Events, not `for await`: with the stream's async iterator a put at concurrency 1 took a
  // median 195 µs from the request's arrival to its proposal, with events 132 µs.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const finish = (error?: Error): void => {
      request.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (error !== undefined) reject(error);
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length));
    };
    const onData = (chunk: Buffer): void => {
      length += chunk.length;
      if (length <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      finish(tooLarge(maxBytes));
      request.resume(); // drop the rest as it arrives, so the 413 can still be sent
    };
    const onEnd = (): void => finish();
    const onError = (error: Error): void => finish(error);
    const onClose = (): void => finish(new ApiError(400, 'bad-request', 'the connection closed before the request body ended'));
    request.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(413, 'body-too-large', `the request body is larger than ${maxBytes} bytes; send smaller values (base64 is 4/3 of the raw size)`);
}

export type JsonObject = Readonly<Record<string, unknown>>;

/** The body as a JSON object; an empty body is `{}` when `emptyAllowed`. */
export async function readJsonObject(request: IncomingMessage, maxBytes: number, emptyAllowed = false): Promise<JsonObject> {
  const body = await readBody(request, maxBytes);
  if (body.length === 0) {
    if (emptyAllowed) return {};
    throw badRequest('bad-json', 'the request needs a JSON object body');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw badRequest('bad-json', `the body is not valid JSON: ${(error as Error).message.slice(0, 200)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw badRequest('bad-json', 'the body must be a JSON object');
  return parsed as JsonObject;
}

/** Rejects fields the route does not know, so a typo is an error instead of being ignored. */
export function allowFields(object: JsonObject, allowed: readonly string[], where: string): void {
  for (const name of Object.keys(object)) {
    if (!allowed.includes(name)) throw badRequest('unknown-field', `${where}: unknown field ${JSON.stringify(name.slice(0, 60))} (known: ${allowed.join(', ')})`);
  }
}

export function optionalBoolean(object: JsonObject, name: string): boolean | undefined {
  const value = object[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw badRequest('bad-request', `${name} must be true or false`);
  return value;
}

/** A whole number in [min, max], or undefined when absent. */
export function optionalInteger(object: JsonObject, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const value = object[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw badRequest('bad-request', `${name} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

export function requiredInteger(object: JsonObject, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = optionalInteger(object, name, min, max);
  if (value === undefined) throw badRequest('bad-request', `${name} is required`);
  return value;
}

export function optionalString(object: JsonObject, name: string, maxLength: number): string | undefined {
  const value = object[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length > maxLength) throw badRequest('bad-request', `${name} must be a string of at most ${maxLength} characters`);
  return value;
}

/** A query parameter as a whole number in [min, max]. */
export function queryInteger(query: ReadonlyMap<string, string>, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = query.get(name);
  if (raw === undefined || raw === '') return undefined;
  if (!/^[0-9]{1,16}$/.test(raw)) throw badRequest('bad-request', `query parameter ${name} must be a whole number`);
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min || value > max) throw badRequest('bad-request', `query parameter ${name} must be from ${min} to ${max}`);
  return value;
}

/** A query flag: present without value, "true"/"1" = true; "false"/"0" = false. */
export function queryFlag(query: ReadonlyMap<string, string>, name: string): boolean {
  const raw = query.get(name);
  if (raw === undefined || raw === 'false' || raw === '0') return false;
  if (raw === '' || raw === 'true' || raw === '1') return true;
  throw badRequest('bad-request', `query parameter ${name} must be true or false`);
}

export function allowQuery(query: ReadonlyMap<string, string>, allowed: readonly string[]): void {
  for (const name of query.keys()) {
    if (!allowed.includes(name)) throw badRequest('unknown-parameter', `unknown query parameter ${JSON.stringify(name.slice(0, 60))} (known: ${allowed.join(', ') || 'none'})`);
  }
}
