/**
 * NodeLocator backed by a discovery service: one HTTP round trip for a shortlist, and probe
 * reports sent back so discovery learns each node's real latency. Uses global `fetch` only, so it
 * runs unchanged in browsers and Node ≥ 20.
 */
import type { Capability } from '../../protocol/index.js';
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
  /** Per-request timeout. Default 3000 ms. */
  timeoutMs?: number;
  /** Called when a fire-and-forget report fails (reports never throw into the session). */
  onReportError?: (err: Error) => void;
}

/** Discovery refused or failed a request; `code` is discovery's stable error code. */
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

interface CandidateWire {
  id: string;
  url: string;
  tier: 'edge' | 'cloud';
  caps: Capability[];
  estimatedRttMs: number;
}

export class DiscoveryLocator implements NodeLocator {
  readonly #options: DiscoveryLocatorOptions;
  readonly #base: string;

  constructor(options: DiscoveryLocatorOptions) {
    if (typeof options.url !== 'string' || !/^https?:\/\//.test(options.url)) throw new TypeError('options.url must be an http(s) URL of a discovery service');
    this.#options = options;
    this.#base = options.url.replace(/\/+$/, '');
  }

  async shortlist(options: { signal?: AbortSignal; caps?: Capability[] } = {}): Promise<Shortlist> {
    const o = this.#options;
    const answer = (await this.#post('/v1/query', { ...o.location, k: o.k, kCloud: o.kCloud, maxPrice: o.maxPrice, caps: options.caps }, options.signal)) as {
      edge: CandidateWire[];
      cloud: CandidateWire[];
    };
    return { edge: answer.edge.map(toCandidate), cloud: answer.cloud.map(toCandidate) };
  }

  report(reports: ProbeReport[]): void {
    this.reportNow(reports).catch((err: Error) => this.#options.onReportError?.(err));
  }

  /** `report` that can be awaited; resolves to how many reports discovery learned from. */
  async reportNow(reports: ProbeReport[]): Promise<number> {
    if (reports.length === 0) return 0;
    const answer = (await this.#post('/v1/report', { ...this.#options.location, reports })) as { learned: number };
    return answer.learned;
  }

  async #post(path: string, body: unknown, signal?: AbortSignal): Promise<unknown> {
    const timeout = AbortSignal.timeout(this.#options.timeoutMs ?? 3000);
    const res = await fetch(this.#base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    const answer = (await res.json().catch(() => undefined)) as { error?: { code?: string; message?: string } } | undefined;
    if (!res.ok) {
      throw new DiscoveryRequestError(answer?.error?.code ?? 'HTTP_' + res.status, answer?.error?.message ?? `discovery answered HTTP ${res.status}`, res.status);
    }
    return answer;
  }
}

function toCandidate(c: CandidateWire): NodeCandidate {
  return { id: c.id, url: c.url, tier: c.tier, estimatedRttMs: c.estimatedRttMs, caps: c.caps };
}
