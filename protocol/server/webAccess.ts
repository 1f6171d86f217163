/**
 * What lets a web page reach a server (Node side only; the browser entry never imports this):
 * TLS (an https page may only open https/wss) and CORS (a page on another origin may only read
 * answers that allow its origin, and a JSON POST is preceded by a preflight `OPTIONS`).
 * Discovery and the edge node both use it, so the two speak the same policy.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';

/** PEM certificate (chain) and private key. */
export interface TlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
}

export class WebAccessError extends Error {
  override readonly name = 'WebAccessError';
  constructor(readonly code: 'TLS_CONFIG' | 'CORS_CONFIG', message: string) {
    super(message);
  }
}

/** http, or https when `tls` is given. */
export function createWebServer(tls: TlsOptions | undefined, listener: RequestListener, options: ServerOptions = {}): Server {
  return tls ? createHttpsServer({ ...options, cert: tls.cert, key: tls.key }, listener) : createHttpServer(options, listener);
}

/** `--tls-cert`/`--tls-key` → TlsOptions; both or neither, and readable, else an error saying what to do. */
export function loadTlsFiles(certFile: string | undefined, keyFile: string | undefined): TlsOptions | undefined {
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) throw new WebAccessError('TLS_CONFIG', 'give both --tls-cert and --tls-key (PEM files), or neither');
  try {
    return { cert: readFileSync(certFile), key: readFileSync(keyFile) };
  } catch (err) {
    throw new WebAccessError('TLS_CONFIG', `cannot read the TLS files: ${(err as Error).message}`);
  }
}

export interface CorsOptions {
  /**
   * Origins (`https://app.example:8443`) whose pages may call; `['*']` any page; `[]` none.
   * Nothing is sent with credentials (cookies) and the endpoints it covers are the public,
   * read-mostly client ones, so `*` exposes nothing a server-side fetch could not get.
   */
  origins: readonly string[];
  /** How long a browser may cache a preflight answer, s. @default 600 */
  maxAgeS?: number;
}

/** `--cors-origin` values (repeatable, or comma-separated; `none` for no cross-origin access). */
export function parseCorsOrigins(values: readonly string[]): string[] {
  const origins = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  if (origins.length === 1 && origins[0] === 'none') return [];
  for (const origin of origins) {
    if (origin === '*') continue;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new WebAccessError('CORS_CONFIG', `--cors-origin '${origin}' is not an origin; write scheme://host[:port], '*' or 'none'`);
    }
    if (url.origin !== origin) throw new WebAccessError('CORS_CONFIG', `--cors-origin '${origin}' is not an origin; did you mean '${url.origin}'?`);
  }
  return origins;
}

export class CorsPolicy {
  readonly origins: readonly string[];
  readonly #maxAgeS: number;

  constructor(options: CorsOptions) {
    this.origins = options.origins;
    this.#maxAgeS = options.maxAgeS ?? 600;
  }

  allows(origin: string): boolean {
    return this.origins.includes('*') || this.origins.includes(origin);
  }

  /**
   * Adds the CORS headers for this request's origin, if allowed. Returns true when the request
   * was a preflight and has been answered (204 allowed, 403 refused): the caller is done.
   */
  handle(req: IncomingMessage, res: ServerResponse, methods: readonly string[]): boolean {
    const origin = req.headers.origin;
    // caches must not serve one origin's answer to another
    res.setHeader('vary', 'origin');
    const allowed = typeof origin === 'string' && this.allows(origin);
    if (allowed) res.setHeader('access-control-allow-origin', this.origins.includes('*') ? '*' : origin);
    const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    if (!preflight) return false;
    if (!allowed) {
      const body = JSON.stringify({ error: { code: 'CORS_ORIGIN_REFUSED', message: `origin ${origin ?? '(none)'} is not allowed; start the server with --cors-origin ${origin ?? 'ORIGIN'}` } });
      res.writeHead(403, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
      return true;
    }
    res.writeHead(204, {
      'access-control-allow-methods': methods.join(', '),
      'access-control-allow-headers': 'content-type',
      'access-control-max-age': String(this.#maxAgeS),
      'content-length': '0',
    });
    res.end();
    return true;
  }
}
