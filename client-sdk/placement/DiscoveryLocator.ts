/**
 * NodeLocator backed by a discovery service: one HTTP round trip for a shortlist, and probe
 * reports sent back so discovery learns each node's real latency. Uses global `fetch` only, so it
 * runs unchanged in browsers and Node ≥ 20.
 */
import { DEFAULT_LIMITS, ProtocolError, type Capability, type Evidence, type FrameTaskBody, type JsonTensor } from '../../protocol/index.js';
import { DiscoveryErrorCode, DiscoveryRoute, errorBodySchema, queryAnswerSchema, reportAnswerSchema, evidenceAnswerSchema, standingAnswerSchema, signedReferenceSchema, type Candidate, type EvidenceAnswer, type SignedReference } from '../../protocol/discovery.js';
import type { Schema } from '../../protocol/schema.js';
import type { NodeCandidate, NodeLocator, ProbeReport, Shortlist } from './locator.js';

export interface DiscoveryLocatorOptions {
  /** Discovery base URL, e.g. `https://discovery.example:7070`. */
  url: string;
  /** Where the client is, when it knows better than its IP (GPS, user setting, private network). */
  location?: { lat: number; lon: number };
  /** Edge candidates wanted. Discovery's default (8) when absent. */
  k?: number;
  /** Cloud fallbacks wanted. Discovery's default (3) when absent. */
  kCloud?: number;
  /** Highest price per minute the app accepts. */
  maxPrice?: number;
  /**
   * ms of estimated RTT the app trades for one unit of price per minute: discovery ranks by
   * RTT + priceWeight × price. Default 0 (RTT only).
   */
  priceWeight?: number;
  /** The app's RTT budget; discovery's first edge candidate (its placement pick) is within it. Discovery's default (20 ms) when absent. */
  budgetMs?: number;
  /** Capabilities every candidate must have, on top of those a shortlist() call asks for. */
  caps?: Capability[];
  /** Per-request timeout. Default 3000 ms. */
  timeoutMs?: number;
  /** Largest answer read from discovery; a longer one is refused (BAD_ANSWER) unread. Default 256 KiB. */
  maxAnswerBytes?: number;
  /** Called when a fire-and-forget report fails (reports never throw into the session). */
  onReportError?: (err: Error) => void;
}

/**
 * Discovery refused or failed a request; `code` is discovery's stable error code
 * (protocol/discovery.ts `DiscoveryErrorCode`), `BAD_ANSWER` when its answer broke the contract,
 * or `HTTP_<status>` when a refusal came without one.
 */
export class DiscoveryRequestError extends Error {
  override readonly name = 'DiscoveryRequestError';
  readonly code: string;
  readonly status: number;
  constructor(code: string, message: string, status: number) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export class DiscoveryLocator implements NodeLocator {
  readonly #options: DiscoveryLocatorOptions;
  readonly #base: string;
  /** The latest query answer's report ticket: reports on its candidates must carry it. */
  #ticket: string | undefined;

  constructor(options: DiscoveryLocatorOptions) {
    if (typeof options.url !== 'string' || !/^https?:\/\//.test(options.url)) throw new TypeError('options.url must be an http(s) URL of a discovery service');
    this.#options = options;
    this.#base = options.url.replace(/\/+$/, '');
  }

  async shortlist(options: { signal?: AbortSignal; caps?: Capability[] } = {}): Promise<Shortlist> {
    const o = this.#options;
    const caps = o.caps || options.caps ? [...new Set([...(o.caps ?? []), ...(options.caps ?? [])])] : undefined;
    const body = { ...o.location, k: o.k, kCloud: o.kCloud, maxPrice: o.maxPrice, priceWeight: o.priceWeight, budgetMs: o.budgetMs, caps };
    const answer = await this.#post(DiscoveryRoute.query, body, queryAnswerSchema, options.signal);
    this.#ticket = answer.ticket;
    return { edge: answer.edge.map(toCandidate), cloud: answer.cloud.map(toCandidate), ...(answer.pick !== undefined ? { pick: answer.pick } : {}) };
  }

  report(reports: ProbeReport[]): void {
    this.reportNow(reports).catch((err: Error) => this.#options.onReportError?.(err));
  }

  /**
   * `report` that can be awaited; resolves to how many reports discovery learned from. Reports
   * travel with the latest shortlist's ticket, which discovery redeems once: a second batch
   * on one shortlist is answered `learned: 0` (Placement reports once per shortlist).
   */
  async reportNow(reports: ProbeReport[]): Promise<number> {
    if (reports.length === 0) return 0;
    const ticket = this.#ticket;
    const answer = await this.#post(DiscoveryRoute.report, { ...this.#options.location, reports, ...(ticket ? { ticket } : {}) }, reportAnswerSchema);
    return answer.learned;
  }

  /**
   * Posts evidence that a node answered wrongly (a trap caught it) to `POST /v1/evidence`;
   * resolves with what the confirmed offence did, rejects with discovery's code
   * (`NOT_SIGNED_BY_NODE`, `NOT_WRONG`, `DUPLICATE`…) when it was refused.
   */
  async submitEvidence(evidence: Evidence): Promise<EvidenceAnswer> {
    return this.#post(DiscoveryRoute.evidence, evidence, evidenceAnswerSchema);
  }

  /**
   * Discovery's signed reference result for an infer trap (`POST /v1/reference/infer`), for
   * `remoteInferReference`; rejects with discovery's code (`UNVERIFIABLE` when it runs no engine).
   */
  async inferReference(task: { model: string; input: JsonTensor }): Promise<SignedReference> {
    return this.#post(DiscoveryRoute.inferReference, task, signedReferenceSchema);
  }

  /** Discovery's signed PSNR of a trap's frame against its own render (`POST /v1/reference/frame`), for `remoteFrameReference`. */
  async frameReference(task: FrameTaskBody): Promise<SignedReference> {
    return this.#post(DiscoveryRoute.frameReference, task, signedReferenceSchema);
  }

  /** Which of `ids` discovery has ejected (`POST /v1/standing`): a session on one of them moves away. */
  async ejected(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    return (await this.#post(DiscoveryRoute.standing, { ids }, standingAnswerSchema)).ejected;
  }

  /** Discovery's answer is peer input: size-capped, then parsed with the contract's schema. */
  async #post<T>(path: string, body: unknown, schema: Schema<T>, signal?: AbortSignal): Promise<T> {
    const timeout = AbortSignal.timeout(this.#options.timeoutMs ?? 3000);
    const res = await fetch(this.#base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    const json = await readCapped(res, this.#options.maxAnswerBytes ?? 256 * 1024);
    if (!res.ok) {
      const refusal = json === undefined ? undefined : tryParse(errorBodySchema, json, 'error');
      throw new DiscoveryRequestError(refusal?.error.code ?? 'HTTP_' + res.status, refusal?.error.message ?? `discovery answered HTTP ${res.status}`, res.status);
    }
    if (json === undefined) throw badAnswer(`discovery's answer to ${path} is not JSON`, res.status);
    try {
      return schema.parse(json, 'answer', DEFAULT_LIMITS);
    } catch (err) {
      if (err instanceof ProtocolError) throw badAnswer(`discovery's answer to ${path} breaks the contract: ${err.message}`, res.status);
      throw err;
    }
  }
}

function badAnswer(message: string, status: number): DiscoveryRequestError {
  return new DiscoveryRequestError(DiscoveryErrorCode.BAD_ANSWER, message, status);
}

function tryParse<T>(schema: Schema<T>, value: unknown, path: string): T | undefined {
  try {
    return schema.parse(value, path, DEFAULT_LIMITS);
  } catch {
    return undefined;
  }
}

/** The body as JSON, or undefined when it is not JSON; over `maxBytes` is refused before it is all read. */
async function readCapped(res: Response, maxBytes: number): Promise<unknown> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel();
    throw badAnswer(`discovery's answer of ${declared} bytes is over maxAnswerBytes (${maxBytes})`, res.status);
  }
  if (res.body === null) return undefined;
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw badAnswer(`discovery's answer is over maxAnswerBytes (${maxBytes})`, res.status);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
}

function toCandidate(c: Candidate): NodeCandidate {
  return { id: c.id, url: c.url, tier: c.tier, estimatedRttMs: c.estimatedRttMs, caps: c.caps, ...(c.publicKey ? { publicKey: c.publicKey } : {}) };
}
