/**
 * The edge/cloud node's side of discovery. By default it holds the node channel (`/v1/node`,
 * protocol/discovery.ts): one registration signed over the connection's challenge, then a bare
 * ws pong frame every interval keeps it alive (and discovery's rare pings tell the node that
 * discovery is still there), and the load goes
 * out only when it moved by more than `loadThreshold` (or the node filled up or freed up), at
 * most every `statusIntervalMs`. With `transport: 'http'` it POSTs a signed heartbeat every
 * interval instead (discoveries without the channel; the bench's baseline).
 *
 * Either way it re-registers when discovery forgot it (expired, restarted, swept), and keeps
 * retrying with backoff while discovery is unreachable — a node never stops serving its
 * sessions because discovery is down.
 */
import { EventEmitter } from 'node:events';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { WebSocket } from 'ws';
import { DEFAULT_LIMITS } from '../protocol/index.js';
import { DiscoveryRoute, NodeChannelClose, nodeChannelOutSchema, type NodeDescriptor, type OperatorAuthorization } from '../protocol/discovery.js';
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
  /** Current load; read every `statusIntervalMs` (channel) or before every heartbeat (http). Default: idle at full capacity. */
  status?: () => NodeStatus;
  /** `channel` (default): the node channel. `http`: a signed heartbeat POST every interval. */
  transport?: 'channel' | 'http';
  /** Channel: a load change smaller than this is not pushed. Default 0.05. */
  loadThreshold?: number;
  /** Channel: how often the load is looked at, and the shortest gap between two pushes. Default 1000 ms. */
  statusIntervalMs?: number;
  /** Overrides the interval discovery announces (http heartbeats; channel: the least time, ×3, without a ping before discovery counts as gone). */
  heartbeatIntervalMs?: number;
  /** Per-request timeout (http), and the time to connect and register (channel). Default 2000 ms. */
  requestTimeoutMs?: number;
  /** Longest wait between retries while discovery is unreachable. Default 10 s. */
  maxBackoffMs?: number;
}

export type NodeAgentEvents = {
  registered: [{ heartbeatIntervalMs: number; ttlMs: number }];
  /** A heartbeat (http) or a status push (channel) that discovery accepted. */
  heartbeat: [NodeStatus];
  /** A failed request or a lost channel; the agent retries on its own. */
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
  // channel state
  #ws: WebSocket | undefined;
  #seq = 0;
  #sent: NodeStatus | undefined;
  #lastPushAt = -Infinity;
  #lastPingAt = 0;
  /** From the challenge: how often to pong, and how often discovery pings. */
  #pongIntervalMs = 1000;
  #pingIntervalMs = 1000;
  #ponger: ReturnType<typeof setInterval> | undefined;

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
  get transport(): 'channel' | 'http' {
    return this.#options.transport ?? 'channel';
  }

  /** Registers once (throws the DiscoveryError on refusal), then stays registered until close(). */
  async start(): Promise<void> {
    await this.register();
    if (this.transport === 'http') this.#schedule(this.#intervalMs);
  }

  /** Like start(), but never throws: the first registration is retried with backoff like any other. */
  startInBackground(): void {
    this.#schedule(0);
  }

  /** One registration: a signed POST (http), or a new node channel that registers (channel). */
  async register(): Promise<void> {
    if (this.transport === 'channel') return this.#openChannel();
    const body = signRegistration(this.descriptor, this.#key, this.#options.authorization, Date.now(), undefined, this.#status());
    const answer = (await this.#post(DiscoveryRoute.register, body)) as { heartbeatIntervalMs: number; ttlMs: number };
    this.#onRegistered(answer);
  }

  /** http only: one signed heartbeat now. */
  async heartbeat(): Promise<void> {
    const status = this.#status();
    await this.#post(DiscoveryRoute.heartbeat, signHeartbeat(this.descriptor.id, status, this.#key));
    this.emit('heartbeat', status);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#abort.abort();
    clearInterval(this.#ponger);
    this.#ws?.close(1000);
    this.emit('close');
  }

  #status(): NodeStatus {
    return this.#options.status?.() ?? { load: 0, freeCapacity: this.descriptor.capacity };
  }

  #onRegistered(answer: { heartbeatIntervalMs: number; ttlMs: number }): void {
    this.#intervalMs = this.#options.heartbeatIntervalMs ?? answer.heartbeatIntervalMs;
    this.#registered = true;
    this.#failures = 0;
    this.emit('registered', answer);
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#tick(), delayMs);
    this.#timer.unref();
  }

  #retryAfterFailure(err: Error): void {
    this.#failures++;
    if (this.listenerCount('error') > 0) this.emit('error', err);
    this.#schedule(Math.min(this.#options.maxBackoffMs ?? 10_000, this.#intervalMs * 2 ** Math.min(this.#failures - 1, 8)));
  }

  async #tick(): Promise<void> {
    try {
      if (this.transport === 'channel') {
        if (this.#ws === undefined) await this.#openChannel();
        else this.#checkChannel();
        if (this.#ws !== undefined) this.#schedule(this.#options.statusIntervalMs ?? 1000);
        return;
      }
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
      this.#retryAfterFailure(err as Error);
    }
  }

  // --- channel ---

  /** Connects, answers the challenge, resolves once registered; rejects with the refusal or the connection failure. */
  #openChannel(): Promise<void> {
    const url = this.#base.replace(/^http/, 'ws') + DiscoveryRoute.node;
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 * 1024, handshakeTimeout: this.#options.requestTimeoutMs ?? 2000 });
    this.#ws = ws;
    this.#seq = 0;
    this.#sent = undefined;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let opened = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        opened = err === undefined;
        clearTimeout(timeout);
        if (err) reject(err);
        else resolve();
      };
      const timeout = setTimeout(() => {
        settle(new DiscoveryError(E.UNAVAILABLE, `discovery at ${url} did not register this node within ${this.#options.requestTimeoutMs ?? 2000} ms`));
        ws.terminate();
      }, this.#options.requestTimeoutMs ?? 2000);
      ws.on('ping', () => (this.#lastPingAt = Date.now()));
      ws.on('error', (err) => settle(new DiscoveryError(E.UNAVAILABLE, `cannot reach discovery at ${url}: ${err.message}`)));
      ws.on('message', (data) => {
        const message = this.#parse(data.toString());
        if (message === undefined) return;
        if (message.t === 'challenge') {
          this.#pongIntervalMs = message.intervalMs;
          this.#pingIntervalMs = message.pingIntervalMs ?? message.intervalMs;
          // registered with its load now: discovery ranks it by that before any status push
          const status = this.#status();
          const registration = signRegistration(this.descriptor, this.#key, this.#options.authorization, Date.now(), message.nonce, status);
          this.#sent = status;
          ws.send(JSON.stringify({ t: 'register', registration }));
        } else if (message.t === 'registered') {
          this.#lastPingAt = Date.now();
          clearInterval(this.#ponger);
          this.#ponger = setInterval(() => ws.readyState === ws.OPEN && ws.pong(), this.#pongIntervalMs);
          this.#ponger.unref();
          this.#onRegistered(message);
          settle();
          this.#schedule(0); // push the status if it moved since the registration carried it
        } else if (message.t === 'ack') {
          if (this.#sent) this.emit('heartbeat', this.#sent);
        } else if (message.t === 'error') {
          const error = new DiscoveryError(isDiscoveryErrorCode(message.code) ? message.code : E.INTERNAL, message.message);
          if (!this.#registered) settle(error);
          else if (this.listenerCount('error') > 0) this.emit('error', error);
        }
      });
      ws.on('close', (code, reason) => {
        if (this.#ws === ws) {
          this.#ws = undefined;
          clearInterval(this.#ponger);
        }
        this.#registered = false;
        const wasOpen = opened;
        settle(new DiscoveryError(E.UNAVAILABLE, `discovery closed the node channel (${code} ${reason.toString()})`));
        // a channel that never registered failed its opener, which retries (or throws from start())
        if (this.#closed || !wasOpen) return;
        // forgotten by discovery: register again at once; anything else: back off
        if (code === NodeChannelClose.UNKNOWN) this.#schedule(0);
        else this.#retryAfterFailure(new DiscoveryError(E.UNAVAILABLE, `node channel closed (${code})`));
      });
    });
  }

  /** Pushes the status when it moved enough; gives up on a discovery that stopped pinging. */
  #checkChannel(): void {
    const ws = this.#ws;
    if (ws === undefined || !this.#registered) return;
    if (Date.now() - this.#lastPingAt > 3 * Math.max(this.#pingIntervalMs, this.#options.heartbeatIntervalMs ?? 0)) {
      ws.terminate(); // discovery went silent: reconnect (possibly to another replica)
      return;
    }
    const status = this.#status();
    const last = this.#sent ?? { load: 0, freeCapacity: this.descriptor.capacity };
    const moved = Math.abs(status.load - last.load) >= (this.#options.loadThreshold ?? 0.05) || (status.freeCapacity === 0) !== (last.freeCapacity === 0);
    const minGap = this.#options.statusIntervalMs ?? 1000;
    if (!moved || Date.now() - this.#lastPushAt < minGap) return;
    this.#sent = status;
    this.#lastPushAt = Date.now();
    ws.send(JSON.stringify({ t: 'status', seq: ++this.#seq, load: status.load, freeCapacity: status.freeCapacity }));
  }

  #parse(text: string) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return undefined;
    }
    const t = (value as { t?: unknown } | null)?.t;
    const schema = typeof t === 'string' && Object.hasOwn(nodeChannelOutSchema, t) ? nodeChannelOutSchema[t as keyof typeof nodeChannelOutSchema] : undefined;
    try {
      return schema?.parse(value, 'message', DEFAULT_LIMITS);
    } catch {
      return undefined; // a discovery that breaks the contract is ignored, message by message
    }
  }

  // --- http ---

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
