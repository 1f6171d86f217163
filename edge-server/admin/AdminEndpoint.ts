/**
 * The operator's door into a running node, beside the public `/healthz` (which says only
 * `up`/`draining`, nothing an attacker can use: issue #15, attack 9).
 *
 *   GET  /admin/health   detailed health: sessions, limits, engines, errors, discovery state
 *   POST /admin/drain    { deadlineMs?, reason? } → clients are asked to move, new ones refused
 *
 * Every request is checked by `AdminVerifier` before its body is parsed or anything runs;
 * refusals are 401 `{ error: { code, message } }` with an `AdminErrorCode`. Without configured
 * operators the endpoint does not exist (404), so a node is never open by mistake.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Logger } from '../../protocol/index.js';
import { AdminAuthError, AdminVerifier, type AdminVerifierOptions } from './adminAuth.js';

const logger = new Logger('edge:admin');

export interface AdminActions {
  health(): unknown;
  drain(options: { deadlineMs?: number; reason?: string }): Promise<unknown> | unknown;
}

/** Largest admin body read. */
export const MAX_ADMIN_BODY_BYTES = 4096;

export class AdminEndpoint {
  readonly #verifier: AdminVerifier;
  readonly #nodeId: string;
  readonly #actions: AdminActions;

  constructor(nodeId: string, actions: AdminActions, options: AdminVerifierOptions) {
    this.#nodeId = nodeId;
    this.#actions = actions;
    this.#verifier = new AdminVerifier(options);
  }

  /** True when the request was an admin request (answered here), false to let the caller route it. */
  handles(req: IncomingMessage): boolean {
    return (req.url ?? '').startsWith('/admin/');
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const path = req.url ?? '/';
      const route = path.split('?')[0];
      const body = await readBody(req);
      const operator = this.#verifier.verify(req.headers, { method: req.method ?? 'GET', path, nodeId: this.#nodeId, body });
      if (req.method === 'GET' && route === '/admin/health') return send(res, 200, this.#actions.health());
      if (req.method === 'POST' && route === '/admin/drain') {
        const options = parseDrain(body);
        logger.warn(`drain requested by operator ${operator}`, { operator, ...options });
        return send(res, 202, { draining: true, result: (await this.#actions.drain(options)) ?? null });
      }
      send(res, 404, { error: { code: 'NOT_FOUND', message: 'admin routes: GET /admin/health, POST /admin/drain' } });
    } catch (err) {
      if (err instanceof AdminAuthError) {
        logger.warn(`admin request refused: ${err.code}`, { code: err.code, address: req.socket.remoteAddress });
        return send(res, err.status, { error: { code: err.code, message: err.message } });
      }
      if (err instanceof BodyError) return send(res, err.status, { error: { code: err.code, message: err.message } });
      logger.error(`admin request failed: ${(err as Error)?.stack ?? err}`);
      send(res, 500, { error: { code: 'INTERNAL', message: 'admin action failed; see the node log' } });
    }
  }
}

class BodyError extends Error {
  constructor(
    readonly code: 'TOO_LARGE' | 'BAD_REQUEST',
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The public `/healthz` body: nothing beyond up or draining. */
export function publicHealth(draining: boolean): { status: 'up' | 'draining' } {
  return { status: draining ? 'draining' : 'up' };
}

async function readBody(req: IncomingMessage): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_ADMIN_BODY_BYTES) throw new BodyError('TOO_LARGE', 413, `admin bodies are at most ${MAX_ADMIN_BODY_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > MAX_ADMIN_BODY_BYTES) throw new BodyError('TOO_LARGE', 413, `admin bodies are at most ${MAX_ADMIN_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function parseDrain(body: Uint8Array): { deadlineMs?: number; reason?: string } {
  if (body.byteLength === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    throw new BodyError('BAD_REQUEST', 400, 'drain body must be JSON: { "deadlineMs"?: number, "reason"?: string }');
  }
  const v = value as { deadlineMs?: unknown; reason?: unknown };
  if (typeof value !== 'object' || value === null) throw new BodyError('BAD_REQUEST', 400, 'drain body must be an object');
  const out: { deadlineMs?: number; reason?: string } = {};
  if (v.deadlineMs !== undefined) {
    if (!Number.isInteger(v.deadlineMs) || (v.deadlineMs as number) < 0 || (v.deadlineMs as number) > 600_000) throw new BodyError('BAD_REQUEST', 400, 'deadlineMs must be an integer in [0, 600000]');
    out.deadlineMs = v.deadlineMs as number;
  }
  if (v.reason !== undefined) {
    if (typeof v.reason !== 'string' || v.reason.length > 200) throw new BodyError('BAD_REQUEST', 400, 'reason must be a string of at most 200 characters');
    out.reason = v.reason;
  }
  return out;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}
