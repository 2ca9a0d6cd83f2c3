// The node's HTTP server (node:http, no framework): bounded headers, URLs and bodies, timeouts
// against slow clients (slowloris), JSON errors for everything including malformed HTTP, and a
// graceful close that ends watch streams and lets in-flight requests finish.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { parseQuery } from './codec.ts';
import { ApiError, toApiError } from './errors.ts';
import type { ApiHost } from './host.ts';
import { Router } from './router.ts';
import type { JsonReply, RequestContext, Route } from './router.ts';
import { clusterRoutes } from './cluster-routes.ts';
import { dashboardRoutes } from './dashboard/dashboard-routes.ts';
import { healthRoutes } from './health-routes.ts';
import { kvRoutes } from './kv-routes.ts';
import { leaseRoutes } from './lease-routes.ts';
import { watchRoutes } from './watch-route.ts';

export interface HttpServerOptions {
  readonly listenHost: string;
  /** 0: an ephemeral port (read it back from start()). */
  readonly listenPort: number;
  /** Whole request headers must arrive within this (slowloris). */
  readonly headersTimeoutMs: number;
  /** The whole request (headers and body) must arrive within this. */
  readonly requestTimeoutMs: number;
  /** Idle keep-alive connections are closed after this. */
  readonly keepAliveTimeoutMs: number;
  readonly maxHeaderBytes: number;
  /** Open connections at most (watch streams included). */
  readonly maxConnections: number;
}

export class HttpApi {
  readonly #host: ApiHost;
  readonly #options: HttpServerOptions;
  readonly #router = new Router();
  readonly #server: Server;
  readonly #shutdownHooks = new Set<() => void>();
  #closing = false;

  constructor(host: ApiHost, options: HttpServerOptions, extraRoutes: readonly Route[] = []) {
    this.#host = host;
    this.#options = options;
    this.#router.add([...healthRoutes(), ...kvRoutes(), ...watchRoutes(), ...leaseRoutes(), ...clusterRoutes(), ...dashboardRoutes(), ...extraRoutes]);
    this.#server = createServer({
      maxHeaderSize: options.maxHeaderBytes,
      requestTimeout: options.requestTimeoutMs,
      headersTimeout: options.headersTimeoutMs,
      keepAliveTimeout: options.keepAliveTimeoutMs,
      // How often header and request timeouts are checked (Node's default is every 30 s).
      connectionsCheckingInterval: Math.min(1000, options.headersTimeoutMs),
      // Small JSON answers: send them at once.
      noDelay: true,
    }, (request, response) => void this.#handle(request, response));
    this.#server.maxConnections = options.maxConnections;
    this.#server.on('clientError', (error, socket) => this.#clientError(error, socket as Socket));
  }

  async start(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.listenPort, this.#options.listenHost, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('the HTTP server has no TCP address');
    this.#server.on('error', (error) => this.#host.logger.error({ error: error.message }, 'HTTP server error'));
    return { host: address.address, port: address.port };
  }

  /** Stops accepting, ends watch streams, waits up to graceMs for requests in flight, then cuts the rest. */
  async close(graceMs: number): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (const hook of [...this.#shutdownHooks]) hook();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    const timer = setTimeout(() => this.#server.closeAllConnections(), graceMs);
    await closed;
    clearTimeout(timer);
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const startedAt = performance.now();
    let routeName = 'unmatched';
    response.setHeader('x-cairn-node', String(this.#host.nodeId()));
    try {
      const target = request.url ?? '/';
      if (target.length > this.#host.settings.maxUrlBytes) {
        throw new ApiError(414, 'url-too-long', `the request target is ${target.length} bytes; the limit is ${this.#host.settings.maxUrlBytes}`);
      }
      if (!target.startsWith('/')) throw new ApiError(400, 'bad-request', 'the request target must be a path starting with "/"');
      const queryStart = target.indexOf('?');
      const pathname = queryStart < 0 ? target : target.slice(0, queryStart);
      const method = request.method ?? 'GET';
      const matched = this.#router.match(method, pathname);
      if (matched === undefined) throw new ApiError(404, 'not-found', `no route ${method} ${pathname.slice(0, 200)}; see docs/http-api.md`);
      if ('allowed' in matched) {
        throw new ApiError(405, 'method-not-allowed', `${method} is not allowed on ${pathname.slice(0, 200)}; use ${matched.allowed.join(', ')}`, {}, { allow: matched.allowed.join(', ') });
      }
      routeName = matched.route.path;
      if (this.#closing) throw new ApiError(503, 'stopped', 'the node is shutting down; use another node', { retryable: true });
      const context = this.#context(request, response, target, queryStart, matched.params, matched.rest);
      const reply = await matched.route.handler(context);
      if (reply !== 'streamed') this.#sendJson(response, reply);
    } catch (error) {
      const apiError = toApiError(error, (leaderId) => this.#host.memberClientAddress(leaderId));
      if (apiError.status >= 500 && apiError.code === 'internal') {
        this.#host.logger.error({ error: (error as Error)?.message, stack: (error as Error)?.stack, url: request.url?.slice(0, 200) }, 'HTTP request failed');
      }
      this.#sendError(request, response, apiError);
    } finally {
      const finish = (): void => this.#host.observeRequest(routeName, request.method ?? 'GET', response.statusCode, (performance.now() - startedAt) / 1000);
      if (response.writableFinished) finish();
      else response.once('close', finish);
    }
  }

  #context(request: IncomingMessage, response: ServerResponse, target: string, queryStart: number, params: Record<string, string>, rest: string): RequestContext {
    const hooks = this.#shutdownHooks;
    return {
      request, response, host: this.#host, params, rest, target,
      query: parseQuery(queryStart < 0 ? '' : target.slice(queryStart + 1)),
      onShutdown(close) {
        hooks.add(close);
        return () => hooks.delete(close);
      },
    };
  }

  #sendJson(response: ServerResponse, reply: JsonReply): void {
    if (response.headersSent) {
      response.end();
      return;
    }
    const body = JSON.stringify(reply.body);
    response.writeHead(reply.status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      ...reply.headers,
    });
    response.end(body);
  }

  #sendError(request: IncomingMessage, response: ServerResponse, error: ApiError): void {
    if (response.headersSent) {
      response.destroy();
      return;
    }
    // A body we refused to read must not be parsed as the next request: close the connection.
    const unread = !request.complete;
    this.#sendJson(response, { status: error.status, body: error.toWire(), headers: unread ? { ...error.headers, connection: 'close' } : error.headers });
    if (unread) response.once('finish', () => request.socket.destroySoon());
  }

  /** Malformed HTTP, oversized headers, timeouts: answer JSON if the socket can still take it. */
  #clientError(error: NodeJS.ErrnoException, socket: Socket): void {
    if (!socket.writable || (error as { code?: string }).code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    // Garbage after a request whose answer is still being written: finish that answer, then
    // close. Writing a 400 now would interleave two responses.
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (inFlight !== undefined && inFlight !== null) {
      if (!inFlight.headersSent) inFlight.setHeader('connection', 'close');
      inFlight.once('finish', () => socket.destroySoon());
      return;
    }
    const [status, code] = error.code === 'HPE_HEADER_OVERFLOW' ? [431, 'headers-too-large']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'request-timeout'] : [400, 'bad-http'];
    const body = JSON.stringify({ code, message: `${status === 431 ? 'request headers are too large' : status === 408 ? 'the request did not arrive in time' : 'malformed HTTP request'} (${error.code ?? error.message})` });
    socket.end(`HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  }
}
