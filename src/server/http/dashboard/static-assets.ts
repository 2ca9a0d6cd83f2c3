// The dashboard's files (assets/: HTML, CSS, ES modules, an icon), read once and served from
// memory with a strict Content-Security-Policy: scripts and styles only from this origin (no
// inline script or style anywhere), requests only back to this origin, no framing. Only the
// files listed here can be served: a request names an asset, never a path.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  svg: 'image/svg+xml',
};

/** Every file the page needs, by the name it is requested under (/dashboard/<name>). */
export const ASSET_NAMES = [
  'index.html', 'dashboard.css', 'favicon.svg',
  'app.js', 'dom.js', 'format.js', 'charts.js', 'nodes.js', 'timeline.js', 'kafka.js', 'kv-browser.js',
] as const;

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "connect-src 'self'",
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

let loaded: Map<string, Asset> | undefined;

/** The assets, read from disk on first use (a missing file is a packaging bug: it throws). */
export function dashboardAssets(): ReadonlyMap<string, Asset> {
  if (loaded !== undefined) return loaded;
  const assets = new Map<string, Asset>();
  for (const name of ASSET_NAMES) {
    const body = readFileSync(new URL(`./assets/${name}`, import.meta.url));
    const extension = name.slice(name.lastIndexOf('.') + 1);
    assets.set(name, { body, contentType: CONTENT_TYPES[extension]!, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  loaded = assets;
  return assets;
}

/** Writes the asset (or 304 when the browser's copy is current); false when there is no such asset. */
export function sendAsset(name: string, ifNoneMatch: string | undefined, response: ServerResponse): boolean {
  const asset = dashboardAssets().get(name);
  if (asset === undefined) return false;
  // Always revalidated (cheap: an ETag round trip), so a restarted node with new files is picked up.
  const headers = { ...SECURITY_HEADERS, etag: asset.etag, 'cache-control': 'no-cache' };
  if (ifNoneMatch !== undefined && ifNoneMatch.split(',').some((tag) => tag.trim() === asset.etag)) {
    response.writeHead(304, headers);
    response.end();
    return true;
  }
  response.writeHead(200, { ...headers, 'content-type': asset.contentType, 'content-length': asset.body.length });
  response.end(asset.body);
  return true;
}
