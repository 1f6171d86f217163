/**
 * The edge/cloud node's side of discovery: registers with a signed descriptor, then heartbeats
 * its load every interval; re-registers when discovery forgot it (expired, restarted), and
 * keeps retrying with backoff while discovery is unreachable — a node never stops serving
 * its sessions because discovery is down.
 */
import { EventEmitter } from 'node:events';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { NodeDescriptor, OperatorAuthorization } from '../protocol/discovery.js';
import { DiscoveryError, DiscoveryErrorCode as E, isDiscoveryErrorCode } from './errors.js';
import { publicKeyFromPrivate, signHeartbeat, signRegistration } from './identity.js';

export interface NodeStatus {
  load: number;
  freeCapacity: number;
}

export interface NodeAgentOptions {
  /** Discovery base URL, e.g. http://127.0.0.1:7070. */
  discoveryUrl: string;
  /** Everything but the public key, which comes from the private key. */
  descriptor: Omit<NodeDescriptor, 'publicKey'>;
  privateKeyPem: string;
  authorization: OperatorAuthorization;
  /** Current load; called before every heartbeat. Default: idle at full capacity. */
  status?: () => NodeStatus;
  /** Overrides the interval discovery announces. */
  heartbeatIntervalMs?: number;
  /** Per-request timeout. Default 2000 ms. */
  requestTimeoutMs?: number;
  /** Longest wait between retries while discovery is unreachable. Default 10 s. */
  maxBackoffMs?: number;
}

export type NodeAgentEvents = {
  registered: [{ heartbeatIntervalMs: number; ttlMs: number }];
  heartbeat: [NodeStatus];
  /** A failed request; the agent retries on its own. */
  error: [Error];
  close: [];
};

export class NodeAgent extends EventEmitter<NodeAgentEvents> {
  readonly descriptor: NodeDescriptor;
  readonly #options: NodeAgentOptions;
  readonly #key: KeyObject;
  readonly #base: string;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #abort = new AbortController();
  #intervalMs: number;
  #failures = 0;
  #registered = false;
  #closed = false;

  constructor(options: NodeAgentOptions) {
    super();
    this.#options = options;
    this.#key = createPrivateKey(options.privateKeyPem);
    this.descriptor = { ...options.descriptor, publicKey: publicKeyFromPrivate(options.privateKeyPem) } as NodeDescriptor;
    this.#base = options.discoveryUrl.replace(/\/+$/, '');
    this.#intervalMs = options.heartbeatIntervalMs ?? 1000;
  }

  get registered(): boolean {
    return this.#registered;
  }
  get closed(): boolean {
    return this.#closed;
  }

  /** Registers once (throws the DiscoveryError on refusal), then heartbeats until close(). */
  async start(): Promise<void> {
    await this.register();
    this.#schedule(this.#intervalMs);
  }

  /** Like start(), but never throws: the first registration is retried with backoff like any other. */
  startInBackground(): void {
    this.#schedule(0);
  }

  async register(): Promise<void> {
    const body = signRegistration(this.descriptor, this.#key, this.#options.authorization);
    const answer = (await this.#post('/v1/register', body)) as { heartbeatIntervalMs: number; ttlMs: number };
    this.#intervalMs = this.#options.heartbeatIntervalMs ?? answer.heartbeatIntervalMs;
    this.#registered = true;
    this.emit('registered', answer);
  }

  async heartbeat(): Promise<void> {
    const status = this.#options.status?.() ?? { load: 0, freeCapacity: this.descriptor.capacity };
    await this.#post('/v1/heartbeat', signHeartbeat(this.descriptor.id, status, this.#key));
    this.emit('heartbeat', status);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#abort.abort();
    this.emit('close');
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => void this.#tick(), delayMs);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    try {
      if (this.#registered) await this.heartbeat();
      else await this.register();
      this.#failures = 0;
      this.#schedule(this.#intervalMs);
    } catch (err) {
      if (this.#closed) return;
      if (err instanceof DiscoveryError && err.code === E.UNKNOWN_NODE) {
        // discovery forgot us (expiry, restart): register right away
        this.#registered = false;
        this.#schedule(0);
        return;
      }
      this.#failures++;
      if (this.listenerCount('error') > 0) this.emit('error', err as Error);
      const backoff = Math.min(this.#options.maxBackoffMs ?? 10_000, this.#intervalMs * 2 ** Math.min(this.#failures - 1, 8));
      this.#schedule(backoff);
    }
  }

  async #post(path: string, body: unknown): Promise<unknown> {
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#options.requestTimeoutMs ?? 2000)]);
    const res = await fetch(this.#base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
    const answer = (await res.json().catch(() => undefined)) as { error?: { code?: unknown; message?: unknown } } | undefined;
    if (!res.ok) {
      const code = answer?.error?.code;
      throw new DiscoveryError(isDiscoveryErrorCode(code) ? code : E.INTERNAL, String(answer?.error?.message ?? `discovery answered HTTP ${res.status}`));
    }
    return answer;
  }
}
