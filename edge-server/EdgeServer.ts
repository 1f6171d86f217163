/**
 * An edge (or cloud) node: one HTTP port that upgrades `/v1/session` to the session protocol and
 * answers `GET /healthz`. Owns the sessions and the engines' lifetimes: it hears each session's
 * `@close` to forget it (no polling), emits `session` for each new one, and `close()` closes
 * every session and waits for their sockets before closing the engines.
 *
 * For web pages: `tls` makes it https/wss (an https page may not open ws://), `/healthz` answers
 * CORS for `corsOrigins`, and `viewer` serves the viewer page at `/viewer/`.
 */
import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { CloseCode, EnhancedEventEmitter, Logger, resolveLimits, type ErrorCode, type NodeTier, type WireLimits } from '../protocol/index.js';
import { AdminEndpoint, publicHealth, type OperatorKeys } from './admin/index.js';
import { NodeGuards, type NodeGuardsOptions } from './admission/index.js';
import type { InferenceEngine, PredictorFactory, RenderEngine } from './engines.js';
import { EdgeMetrics } from './metrics.js';
import { baselinePredictors } from '../protocol/motion/baselinePredictors.js';
import type { NodeContext } from './handlers/index.js';
import { Session } from './Session.js';
import type { WorkerPool } from './webrtc/WorkerPool.js';
import type { ResultSignerOptions } from './trust/ResultSigner.js';
import { CorsPolicy, createWebServer, type TlsOptions } from '../protocol/server/webAccess.js';
import { serveViewerFile, VIEWER_PATH } from './viewerAssets.js';
import { warmUpPredictPath, type WarmUpOptions, type WarmUpReport } from './warmUp.js';

const logger = new Logger('edge:server');

export const SESSION_PATH = '/v1/session';

export interface EdgeServerOptions {
  /** TCP port; 0 picks a free one. @default 0 */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Stable node id (discovery uses it). @default a random UUID */
  nodeId?: string;
  /** @default 'edge' */
  tier?: NodeTier;
  /** Predictors offered to clients; the first is the default unless `defaultPredictor` says otherwise. */
  predictors?: readonly PredictorFactory[];
  defaultPredictor?: string;
  inference?: InferenceEngine;
  renderer?: RenderEngine;
  /** Wire limits for what clients send. */
  limits?: Partial<WireLimits>;
  /** @default 5000 (env EDGE_OFFLOAD_HELLO_TIMEOUT_MS) */
  helloTimeoutMs?: number;
  /** Sessions beyond this are refused with HTTP 503. @default 1000 */
  maxSessions?: number;
  /** @default 64 */
  maxInflightRequests?: number;
  /** @default 8 MiB */
  maxBufferedBytes?: number;
  /** A client that does not answer our close frame within this is cut off. @default 1000 */
  closeHandshakeMs?: number;
  /**
   * mediasoup workers (`await WorkerPool.create(options)`, edge-offload/edge/webrtc): sessions may
   * then move pose/predict onto WebRTC data channels. The server owns the pool from here and
   * closes it with itself. @default undefined: ws only
   */
  webrtc?: WorkerPool;
  /** Serve https/wss with this certificate. @default plain http/ws */
  tls?: TlsOptions;
  /** Page origins allowed to read `/healthz` cross-origin; `[]` none. @default ['*'] (public, no credentials) */
  corsOrigins?: readonly string[];
  /** Serve the viewer page at `/viewer/` (same origin as the node; it still finds nodes through discovery). @default false */
  viewer?: boolean;
  /**
   * Admission control and budgets: per-address and per-token session caps, hello tokens, idle
   * and slowloris reaping, send budgets, decoded-scene memory, fair CPU scheduling. Every field
   * has a documented default (edge-server/admission); `maxSessions` above is the node-wide cap.
   */
  guards?: NodeGuardsOptions;
  /** Serve Prometheus `GET /metrics` (needs the optional prom-client). @default true */
  metrics?: boolean;
  /**
   * Where `GET /metrics` comes from instead of this server's own registry: a cluster worker asks
   * its primary for the whole node's (edge-server/cluster). @default this server's registry
   */
  metricsSource?: () => Promise<{ text: string; contentType: string }>;
  /** Operators whose signed requests may call `/admin/health` and `/admin/drain`; without, there is no admin endpoint. */
  admin?: { operators: OperatorKeys; maxSkewMs?: number };
  /**
   * The node's Ed25519 private key (PEM or KeyObject), the one its discovery registration carries:
   * `welcome` then signs the client's hello nonce, so a client holding the key discovery vouched for
   * knows it reached this node. The discovery agent sets it (`useNodeKey`). @default none (unsigned welcome)
   */
  nodeKey?: KeyObject | string;
  /**
   * Signed results on a node with a `nodeKey`: each session hash-chains its answers and sends a
   * signed `seal` every `sealEvery` answers or `sealAfterMs` (TRUST.md); `false` turns it off.
   * @default {} (sealEvery 128, sealAfterMs 250: about +1 µs of node CPU per predict frame)
   */
  resultSigning?: ResultSignerOptions | false;
  /**
   * Run the predict path (codec and every predictor) on synthetic poses in `listen()`, before the
   * port opens, so the first sessions do not pay for V8 optimising it (edge-server/warmUp.ts).
   * @default false here (a library caller's own predictors may count or refuse calls); the
   * `edge-offload edge` CLI turns it on (`warmUpFrames`, default 2000)
   */
  warmUp?: WarmUpOptions | false;
}

export interface ListenResult {
  port: number;
  /** ws:// (wss:// with TLS) URL of the session endpoint. */
  url: string;
}

export type EdgeServerEvents = {
  /** A client upgraded to a session (before its `hello`); listen to its `open`/`close`. */
  session: [Session];
  /** `drain()` was called (the admin endpoint, `close()`, or the application). */
  drain: [{ deadlineMs: number; reason: string }];
};

export class EdgeServer extends EnhancedEventEmitter<EdgeServerEvents> {
  readonly nodeId: string;
  readonly tier: NodeTier;
  readonly #options: EdgeServerOptions;
  readonly #http: Server;
  readonly #wss: WebSocketServer;
  readonly #sessions = new Map<string, Session>();
  readonly #errors = new Map<ErrorCode, number>();
  readonly #context: NodeContext;
  /** Resolves `close()`'s wait for clients to leave during a drain; called when the last session closes. */
  #allGone: (() => void) | undefined;
  readonly #startedAt = performance.now();
  readonly #healthSections = new Map<string, () => unknown>();
  readonly #guards: NodeGuards;
  readonly #metrics: EdgeMetrics;
  readonly #admin: AdminEndpoint | undefined;
  #draining = false;
  #closed = false;
  #url = '';
  readonly #cors: CorsPolicy;
  #warmedUp: WarmUpReport | undefined;

  constructor(options: EdgeServerOptions = {}) {
    super();
    this.#options = options;
    this.nodeId = options.nodeId ?? randomUUID();
    this.tier = options.tier ?? 'edge';
    const limits = resolveLimits(options.limits);
    const predictors = new Map((options.predictors ?? baselinePredictors).map((p) => [p.name, p]));
    const defaultPredictor = options.defaultPredictor ?? predictors.keys().next().value;
    if (!defaultPredictor || !predictors.has(defaultPredictor)) throw new TypeError(`options.defaultPredictor '${defaultPredictor}' is not among the predictors`);
    this.#metrics = options.metrics === false ? EdgeMetrics.none() : EdgeMetrics.create();
    this.#guards = new NodeGuards({
      ...options.guards,
      admission: { maxSessions: options.maxSessions ?? 1000, ...options.guards?.admission },
      metrics: this.#metrics,
    });
    this.#admin = options.admin
      ? new AdminEndpoint(this.nodeId, { health: () => this.health(), drain: (o) => this.drain(o) }, { operators: options.admin.operators, maxSkewMs: options.admin.maxSkewMs })
      : undefined;
    this.#context = {
      nodeId: this.nodeId,
      tier: this.tier,
      limits,
      predictors,
      defaultPredictor,
      inference: options.inference,
      renderer: options.renderer,
      helloTimeoutMs: options.helloTimeoutMs ?? Number(process.env.EDGE_OFFLOAD_HELLO_TIMEOUT_MS ?? 5000),
      maxInflightRequests: options.maxInflightRequests ?? 64,
      maxBufferedBytes: options.maxBufferedBytes ?? 8 << 20,
      closeHandshakeMs: options.closeHandshakeMs ?? 1000,
      rtc: options.webrtc,
      ...(options.nodeKey !== undefined ? { nodeKey: asPrivateKey(options.nodeKey) } : {}),
      resultSigning: options.resultSigning ?? {},
      countError: (code) => {
        this.#errors.set(code, (this.#errors.get(code) ?? 0) + 1);
        this.#metrics.rejected(code);
      },
      guards: this.#guards,
      metrics: this.#metrics,
    };
    // ws enforces maxPayload while reading, before a frame is buffered whole. It is set to twice
    // our limit so a moderately oversize frame reaches the codec and gets a TOO_LARGE `error`
    // the client can read; anything larger is cut off by ws itself (close 1009), unread
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxFrameBytes * 2, perMessageDeflate: false });
    this.#cors = new CorsPolicy({ origins: options.corsOrigins ?? ['*'] });
    this.#http = createWebServer(options.tls, (req, res) => this.#onHttp(req, res), this.#guards.httpServerOptions());
    this.#guards.attach(this.#http);
    this.#http.on('upgrade', (req, socket, head) => this.#onUpgrade(req, socket, head));
  }

  /** Signs every later `welcome` with this key (the discovery agent calls it with the registered node key). */
  useNodeKey(key: KeyObject | string): void {
    this.#context.nodeKey = asPrivateKey(key);
  }

  async listen(): Promise<ListenResult> {
    const { port = 0, host = '127.0.0.1', warmUp } = this.#options;
    if (warmUp && warmUp.frames !== 0 && !this.#warmedUp) {
      const { errors, ...report } = await warmUpPredictPath(this.#context.predictors, this.#context.limits, warmUp);
      this.#warmedUp = report;
      if (errors > 0) logger.warn(`warm-up: ${errors} of ${report.frames} synthetic frames failed (the node serves them anyway)`);
      logger.debug(`warm-up: ${report.frames} frames in ${report.ms.toFixed(0)} ms`);
    }
    await new Promise<void>((resolve, reject) => {
      this.#http.once('error', reject);
      this.#http.listen(port, host, () => {
        this.#http.off('error', reject);
        resolve();
      });
    });
    const address = this.#http.address() as AddressInfo;
    const printableHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.#url = `${this.#options.tls ? 'wss' : 'ws'}://${printableHost}:${address.port}${SESSION_PATH}`;
    logger.debug(`node ${this.nodeId} (${this.tier}) listening on ${this.#url}`);
    return { port: address.port, url: this.#url };
  }

  /** What `listen()` warmed (undefined without `warmUp`): frames and milliseconds of start-up. */
  get warmedUp(): WarmUpReport | undefined {
    return this.#warmedUp;
  }

  get url(): string {
    return this.#url;
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Adds a section to `/healthz` (discovery registration state, say). */
  addHealthSection(name: string, describe: () => unknown): void {
    this.#healthSections.set(name, describe);
  }

  health(): Record<string, unknown> {
    const { inference, renderer, predictors, defaultPredictor, limits } = this.#context;
    const health: Record<string, unknown> = {
      status: this.#draining ? 'draining' : 'ok',
      nodeId: this.nodeId,
      tier: this.tier,
      sessions: this.#sessions.size,
      maxSessions: this.#guards.admission.maxSessions,
      admission: { refused: this.#guards.admission.refusals(), connections: this.#guards.connections.stats(), upgrades: this.#guards.upgrades.stats() },
      memory: { usedBytes: this.#guards.memory.usedBytes, perSessionBytes: this.#guards.memory.perSessionBytes, perNodeBytes: this.#guards.memory.perNodeBytes },
      heavy: (({ running, waiting, deferred }) => ({ running, waiting, deferred }))(this.#guards.scheduler.stats()),
      uptimeS: Math.round((performance.now() - this.#startedAt) / 1000),
      predictors: [...predictors.keys()],
      defaultPredictor,
      inference: inference?.describe() ?? null,
      render: renderer?.describe() ?? null,
      webrtc: this.#context.rtc ? { workers: this.#context.rtc.workers } : null,
      limits,
      errors: Object.fromEntries(this.#errors),
    };
    for (const [name, describe] of this.#healthSections) health[name] = describe();
    return health;
  }

  /**
   * Graceful stop: stop accepting sessions, ask every client to move (`drain`), wait until they
   * have left or `deadlineMs` passed, then close what is left and the engines.
   */
  async close({ deadlineMs = 2000, reason = 'node shutting down' }: { deadlineMs?: number; reason?: string } = {}): Promise<void> {
    if (this.#closed) return;
    this.drain({ deadlineMs, reason });
    if (this.#sessions.size > 0 && deadlineMs > 0) await this.#sessionsGone(deadlineMs);
    this.#closed = true;
    const left = [...this.#sessions.values()];
    for (const session of left) session.close(CloseCode.DRAINED, reason);
    // sessions answer our close frame (or are cut off after closeHandshakeMs): their sockets are gone
    // before the engines they were using close
    await Promise.all(left.map((session) => session.socketClosed));
    this.#wss.close();
    this.#http.closeAllConnections();
    await new Promise<void>((resolve) => this.#http.close(() => resolve()));
    this.#context.rtc?.close();
    this.#guards.close();
    await Promise.all([this.#context.inference?.close(), this.#context.renderer?.close()]);
  }

  /**
   * Stops admitting sessions and asks every client to move within `deadlineMs` (the admin
   * endpoint's drain, and the first half of `close()`); the node keeps serving them meanwhile.
   */
  drain({ deadlineMs = 2000, reason = 'node draining' }: { deadlineMs?: number; reason?: string } = {}): { sessions: number } {
    this.#draining = true;
    this.#guards.drain();
    if (deadlineMs > 0) for (const session of this.#sessions.values()) session.drain(reason, deadlineMs);
    this.safeEmit('drain', { deadlineMs, reason });
    return { sessions: this.#sessions.size };
  }

  async #serveMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const source = this.#options.metricsSource;
    if (!source || !this.#metrics.enabled) return this.#metrics.serve(req, res);
    try {
      const { text, contentType } = await source();
      res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
      res.end(text);
    } catch (err) {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'UNAVAILABLE', message: `metrics collection failed: ${(err as Error).message}; try again` }));
    }
  }

  /** This server's own metrics registry (undefined when metrics are off), for a cluster primary to aggregate. */
  get metricsRegistry(): EdgeMetrics['registry'] {
    return this.#metrics.registry;
  }

  /** Resolves when every session has closed (each one's `@close`) or after `deadlineMs`. */
  #sessionsGone(deadlineMs: number): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(deadline);
        this.#allGone = undefined;
        resolve();
      };
      const deadline = setTimeout(finish, deadlineMs);
      this.#allGone = finish;
    });
  }

  #onHttp(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/healthz' && this.#cors.handle(req, res, ['GET'])) return;
    if (req.method === 'GET' && path === '/healthz') {
      // public: up or draining, nothing else (details are the operator's: GET /admin/health)
      const body = JSON.stringify(publicHealth(this.#draining));
      res.writeHead(this.#draining ? 503 : 200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(body);
      return;
    }
    if (req.method === 'GET' && path === '/metrics') return void this.#serveMetrics(req, res);
    if (this.#admin?.handles(req)) return void this.#admin.handle(req, res);
    if (this.#options.viewer && req.method === 'GET' && path.startsWith(VIEWER_PATH.slice(0, -1))) {
      void serveViewerFile(path, res);
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'NOT_FOUND', message: `try GET /healthz or a WebSocket upgrade on ${SESSION_PATH}` }));
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '/').split('?')[0];
    const refuse = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\ncontent-length: 0\r\n\r\n`);
    };
    if (path !== SESSION_PATH) return refuse(404, 'Not Found');
    if (this.#draining) return refuse(503, 'Service Unavailable');
    // per-address and node-wide caps; refuses on the socket itself (429/503 + the reason)
    const ticket = this.#guards.admitUpgrade(req, socket);
    if (!ticket) return;
    // a bad upgrade (ws answers 400 and drops the socket) never becomes a session: free its slot
    let adopted = false;
    socket.once('close', () => adopted || ticket.release());
    // the handshake and the session it starts run in their turn, a few per turn (attack 1)
    const paced = this.#guards.paceUpgrade(socket, () => {
      if (this.#closed) return void socket.destroy();
      this.#wss.handleUpgrade(req, socket, head, (ws) => {
        adopted = true;
        const id = randomUUID();
        const session = new Session(id, ws, this.#context, ticket, socket);
        this.#sessions.set(id, session);
        session.on('@close', () => {
          this.#sessions.delete(id);
          if (this.#sessions.size === 0) this.#allGone?.();
        });
        this.safeEmit('session', session);
      });
    });
    if (!paced) ticket.release();
  }
}

function asPrivateKey(key: KeyObject | string): KeyObject {
  return typeof key === 'string' ? createPrivateKey(key) : key;
}
