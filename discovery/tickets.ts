/**
 * Report tickets: discovery only learns from a probe report about nodes it shortlisted to that
 * same client a moment ago. Every query answer carries a ticket, an HMAC-SHA256 (discovery's own
 * secret) over (client, shortlisted node ids, issue time, nonce); a report must bring it back.
 * So nobody can report on a node they were never sent to, nor on behalf of another client, nor
 * long after; and a ticket is redeemed once, so a batch replayed (or one node listed four times)
 * counts once.
 *
 * Replicas of discovery share the secret (`--ticket-secret-file` or EDGE_OFFLOAD_TICKET_SECRET,
 * `loadTicketSecret`); redemption is remembered per
 * process, which bounds a replayed ticket to one use per replica within its lifetime, and the
 * per-client cap of reputation.ts bounds what those uses can move.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TrustError, TrustErrorCode } from './trustErrors.js';

export interface TicketOptions {
  /** HMAC key, ≥ 32 bytes; default a random one (tickets then die with the process). */
  secret?: Uint8Array;
  /** [lifetimeMs=120000] a report must arrive this soon after the query: probing takes seconds. */
  lifetimeMs?: number;
  /** [maxNodes=96] nodes one ticket may name (edge k + cloud k of one query). */
  maxNodes?: number;
  /** [maxRemembered=200000] redeemed tickets remembered (until they expire anyway). */
  maxRemembered?: number;
  /** Clock, injectable for tests. */
  now?: () => number;
}

interface TicketBody {
  /** Client key (its IP as discovery sees it, or an authenticated id). */
  c: string;
  /** Shortlisted node ids. */
  n: string[];
  /** Issue time, epoch ms. */
  t: number;
  /** Nonce: the ticket's identity for redemption. */
  r: string;
}

export interface ReportLike {
  id: string;
}

export interface GatedReports<R extends ReportLike> {
  /** One report per shortlisted node, first occurrence wins. */
  accepted: R[];
  /** Reports dropped: not on the ticket, or a duplicate. */
  dropped: number;
}

const TICKET_PATTERN = /^[A-Za-z0-9_-]{1,8192}\.[A-Za-z0-9_-]{43}$/;

export class TicketIssuer {
  readonly #secret: Uint8Array;
  readonly #lifetimeMs: number;
  readonly #maxNodes: number;
  readonly #maxRemembered: number;
  readonly #now: () => number;
  /** nonce → expiry; insertion order is expiry order (constant lifetime). */
  readonly #redeemed = new Map<string, number>();

  constructor(options: TicketOptions = {}) {
    this.#secret = options.secret ?? randomBytes(32);
    if (this.#secret.length < 32) throw new TypeError('ticket secret must be at least 32 bytes');
    this.#lifetimeMs = options.lifetimeMs ?? 120_000;
    this.#maxNodes = options.maxNodes ?? 96;
    this.#maxRemembered = options.maxRemembered ?? 200_000;
    this.#now = options.now ?? Date.now;
  }

  #mac(body: string): string {
    return createHmac('sha256', this.#secret).update(body).digest('base64url');
  }

  /** The ticket a query answer carries. */
  issue(client: string, nodeIds: readonly string[]): string {
    const body: TicketBody = { c: client, n: [...new Set(nodeIds)].slice(0, this.#maxNodes), t: this.#now(), r: randomBytes(12).toString('base64url') };
    const encoded = Buffer.from(JSON.stringify(body)).toString('base64url');
    return `${encoded}.${this.#mac(encoded)}`;
  }

  /** Checks a ticket without redeeming it; rejects with a TrustError code. */
  open(ticket: unknown, client: string): TicketBody {
    if (typeof ticket !== 'string' || !TICKET_PATTERN.test(ticket)) throw new TrustError(TrustErrorCode.TICKET_FORGED, 'no valid report ticket: send the ticket of the query that shortlisted these nodes');
    const [encoded, mac] = ticket.split('.') as [string, string];
    const expected = Buffer.from(this.#mac(encoded), 'base64url');
    if (!timingSafeEqual(expected, Buffer.from(mac, 'base64url'))) throw new TrustError(TrustErrorCode.TICKET_FORGED, 'the report ticket was not issued by this discovery');
    const body = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as TicketBody;
    const age = this.#now() - body.t;
    if (!(age >= -5_000 && age <= this.#lifetimeMs)) throw new TrustError(TrustErrorCode.TICKET_EXPIRED, `the report ticket is ${Math.round(age / 1000)} s old; query again`);
    if (body.c !== client) throw new TrustError(TrustErrorCode.TICKET_WRONG_CLIENT, 'the report ticket was issued to another client');
    return body;
  }

  /**
   * Redeems a ticket for a batch of reports: only nodes on it, each once, and only the first time
   * the ticket is used (a second use keeps nothing). Throws for a forged/expired/foreign ticket.
   */
  gate<R extends ReportLike>(ticket: unknown, client: string, reports: readonly R[]): GatedReports<R> {
    const body = this.open(ticket, client);
    this.#forgetExpired();
    if (this.#redeemed.has(body.r)) return { accepted: [], dropped: reports.length };
    if (this.#redeemed.size >= this.#maxRemembered) this.#redeemed.delete(this.#redeemed.keys().next().value!);
    this.#redeemed.set(body.r, body.t + this.#lifetimeMs);
    const allowed = new Set(body.n);
    const accepted: R[] = [];
    for (const report of reports) {
      if (!allowed.delete(report.id)) continue;
      accepted.push(report);
    }
    return { accepted, dropped: reports.length - accepted.length };
  }

  #forgetExpired(): void {
    const now = this.#now();
    for (const [nonce, expiry] of this.#redeemed) {
      if (expiry > now) break;
      this.#redeemed.delete(nonce);
    }
  }
}

/** The env var replicas may take their shared ticket secret from (the same text as the file). */
export const TICKET_SECRET_ENV = 'EDGE_OFFLOAD_TICKET_SECRET';

/**
 * The ticket secret replicas share: the file's text (`--ticket-secret-file`), else the env var
 * EDGE_OFFLOAD_TICKET_SECRET, else undefined (a random secret per process: one replica only).
 * The text is ≥ 32 bytes as hex or base64/base64url (`openssl rand -base64 32`), whitespace trimmed.
 */
export function loadTicketSecret(file?: string, env: Record<string, string | undefined> = process.env): Uint8Array | undefined {
  let text: string | undefined;
  let origin: string;
  if (file !== undefined) {
    origin = file;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new TypeError(`cannot read the ticket secret file ${file}: ${(err as Error).message}`);
    }
  } else {
    origin = TICKET_SECRET_ENV;
    text = env[TICKET_SECRET_ENV];
    if (text === undefined || text === '') return undefined;
  }
  const trimmed = text.trim();
  const bytes = /^(?:[0-9a-fA-F]{2})+$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : /^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed) ? Buffer.from(trimmed, 'base64') : undefined;
  if (!bytes || bytes.length < 32) {
    throw new TypeError(`${origin}: the ticket secret must be at least 32 bytes as hex or base64 (make one with: openssl rand -base64 32)`);
  }
  return new Uint8Array(bytes);
}
