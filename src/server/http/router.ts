// A tiny router: route templates of literal segments, `:name` (one segment) and a trailing `*`
// (the rest of the path, slashes included, still percent-encoded).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiHost } from './host.ts';

export interface RequestContext {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  readonly host: ApiHost;
  /** Raw (percent-encoded) values of `:name` segments. */
  readonly params: Readonly<Record<string, string>>;
  /** Raw remainder matched by `*` ('' when none). */
  readonly rest: string;
  /** Raw query values by name. */
  readonly query: ReadonlyMap<string, string>;
  /** The raw request target, for forwarding. */
  readonly target: string;
  /** Registers a function called when the server shuts down (streams end themselves). */
  onShutdown(close: () => void): () => void;
}

export interface JsonReply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A handler answers with JSON, or returns 'streamed' after writing the response itself. */
export type Handler = (context: RequestContext) => Promise<JsonReply | 'streamed'>;

export interface Route {
  readonly method: string;
  /** Template; also the `route` label of the request metrics. */
  readonly path: string;
  readonly handler: Handler;
}

interface CompiledRoute extends Route {
  readonly segments: readonly string[];
  readonly wildcard: boolean;
}

export interface RouteMatch {
  readonly route: Route;
  readonly params: Record<string, string>;
  readonly rest: string;
}

export class Router {
  readonly #routes: CompiledRoute[] = [];

  add(routes: readonly Route[]): void {
    for (const route of routes) {
      const segments = route.path.split('/').slice(1);
      const wildcard = segments[segments.length - 1] === '*';
      this.#routes.push({ ...route, segments: wildcard ? segments.slice(0, -1) : segments, wildcard });
    }
  }

  /** The route for this method and path; or the methods the path allows (for 405); or undefined (404). */
  match(method: string, pathname: string): RouteMatch | { allowed: string[] } | undefined {
    const allowed: string[] = [];
    for (const route of this.#routes) {
      const found = matchPath(route, pathname);
      if (found === undefined) continue;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) return { route, ...found };
      allowed.push(route.method);
    }
    return allowed.length > 0 ? { allowed: [...new Set(allowed)] } : undefined;
  }
}

function matchPath(route: CompiledRoute, pathname: string): { params: Record<string, string>; rest: string } | undefined {
  const params: Record<string, string> = {};
  let position = 1;
  for (let index = 0; index < route.segments.length; index++) {
    const segment = route.segments[index]!;
    const slash = pathname.indexOf('/', position);
    const last = index === route.segments.length - 1;
    const end = slash < 0 ? pathname.length : slash;
    const part = pathname.slice(position, end);
    if (segment.startsWith(':')) {
      if (part.length === 0) return undefined;
      params[segment.slice(1)] = part;
    } else if (part !== segment) {
      return undefined;
    }
    if (last && !route.wildcard) return end === pathname.length ? { params, rest: '' } : undefined;
    if (last) return slash < 0 ? undefined : { params, rest: pathname.slice(slash + 1) };
    if (slash < 0) return undefined;
    position = slash + 1;
  }
  return route.segments.length === 0 ? { params, rest: pathname.slice(1) } : undefined;
}
