/**
 * Discovery over HTTP and WebSocket on one port.
 *
 *   POST /v1/register    signed registration          → { id, heartbeatIntervalMs, ttlMs }
 *   POST /v1/heartbeat   signed heartbeat             → { id, ttlMs }
 *   GET  /v1/query?lat=&lon=&k=&kCloud=&caps=render,infer&maxPrice=&priceWeight=&budgetMs=
 *   POST /v1/query       { lat?, lon?, k?, kCloud?, caps?, maxPrice?, priceWeight?, budgetMs? } → { location, edge[], cloud[], pick?, ticket }
 *   POST /v1/report      { lat?, lon?, reports: [{ id, rttMs? }], ticket } → { learned }  (ticket: the query answer's; TICKET_* codes)
 *   POST /v1/evidence    a node's signed wrong answer (protocol/evidence.ts) → { node, offenceId, ejected, slashed?, … }
 *                        (re-checked here: NOT_SIGNED_BY_NODE, BAD_SIGNATURE, UNVERIFIABLE, NOT_WRONG, DUPLICATE…)
 *   POST /v1/standing    { ids } → { ejected }  (a session's check that its node was not ejected meanwhile)
 *   POST /v1/reference/infer  { model, input } → { payload, signature }: a trap's reference result (--verify-infer --reference-key)
 *   POST /v1/reference/frame  { request, frame } → { payload, signature }: a trap frame's PSNR against discovery's render (--verify-render --reference-key)
 *   GET  /healthz        { ok, backend, nodes }
 *   WS   /v1/node        the node channel: one signed registration, then ws pings and pushed load (NodeChannel.ts)
 *   WS   /v1/ws          text frames `{ op: 'register'|'heartbeat'|'query'|'report', id?, body }`
 *                        → `{ id, ok: true, result }` or `{ id, ok: false, error: { code, message } }`
 *
 * Errors are `{ error: { code, message } }` with the status from errors.ts. Bodies are capped
 * before parsing, and each client IP has token buckets per operation.
 *
 * Web pages: with `tls` it serves https/wss. The client endpoints (query, report, healthz) answer
 * CORS for `corsOrigins` (default `*`: they are public and credential-free) including the JSON
 * POST's preflight; register/heartbeat never do (nodes are not browsers).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { ConnectionGuard, type ConnectionGuardOptions } from '../protocol/server/ConnectionGuard.js';
import { DiscoveryMetrics } from './metrics.js';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { Logger } from '../protocol/Logger.js';
import { DiscoveryRoute, WS_OPERATIONS } from '../protocol/discovery.js';
import { DiscoveryService, type DiscoveryServiceOptions } from './DiscoveryService.js';
import { DiscoveryError, DiscoveryErrorCode as E } from './errors.js';
import { TrustError } from './trustErrors.js';
import { normaliseIp } from './locate.js';
import type { RateLimit } from './rateLimit.js';
import { ClientLimits, type IdentityOperation, type Operation } from './clientLimits.js';
import { NodeChannels, type NodeChannelOptions } from './NodeChannel.js';
import { ChannelProcess, type ChannelProcessOptions } from './channels/ChannelProcess.js';
import type { NodeChannelHost } from './channels/NodeChannelHost.js';
import { MemoryRegistry } from './registry/MemoryRegistry.js';
import type { Registry } from './registry/Registry.js';
import { CorsPolicy, createWebServer, type TlsOptions } from '../protocol/server/webAccess.js';

const logger = new Logger('discovery');


export interface DiscoveryServerOptions extends DiscoveryServiceOptions {
  /** Default 0 (any free port). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default a new MemoryRegistry. The server closes it on close(). */
  registry?: Registry;
  /** Largest request body (HTTP) or message (ws). Default 16 KiB. */
  maxBodyBytes?: number;
  /** Largest `POST /v1/evidence` body: a trap's messages and its sealed block (~50 KB at 90 answers). Default 256 KiB. */
  maxEvidenceBytes?: number;
  /** The node channel (`/v1/node`): cheap liveness after one signed registration. */
  nodeChannel?: NodeChannelOptions;
  /**
   * Where the node channels run: `'process'`, a channel process of their own (the replica hands it
   * each `/v1/node` socket; their garbage stays out of the query heap, discovery/README.md), or
   * `'inline'`, in this process (embedding, tests that drive the channels' clock). With `tls` they
   * always run inline (a TLS session cannot move to another process). Default `'inline'`
   * (env DISCOVERY_NODE_CHANNELS is read by the CLI, not here).
   */
  nodeChannelProcess?: 'process' | 'inline';
  /** The channel process's timeouts, restart delay, niceness and IPC caps (channels/ChannelProcess.ts). */
  channelProcess?: ChannelProcessOptions;
  /**
   * Per-address limits (IPv6: per /64). Defaults (clientLimits.ts): query 100/s burst 500 (a NAT
   * of headsets), register 2/s burst 20, heartbeat 200/s burst 400, report 100/s burst 500, evidence 2/s burst 10, standing 100/s burst 500.
   */
  rateLimits?: Partial<Record<Operation, RateLimit>>;
  /**
   * Per-subnet limits (IPv4 /24, IPv6 /56): a host with many addresses stays one client.
   * Defaults: query 400/s burst 2000, register 4/s burst 40, heartbeat 1000/s burst 2000, report 400/s burst 2000.
   */
  subnetRateLimits?: Partial<Record<Operation, RateLimit>>;
  /**
   * Per proven identity: register per node key 0.2/s burst 5, heartbeat per node id 5/s burst 20,
   * report per ticket 0.1/s burst 3.
   */
  identityRateLimits?: Partial<Record<IdentityOperation, RateLimit>>;
  /** Serve https/wss with this certificate. Default plain http/ws. */
  tls?: TlsOptions;
  /** Page origins allowed to call query/report/healthz cross-origin; `[]` none. Default `['*']`. */
  corsOrigins?: readonly string[];
  /** Idle/slowloris reaping and socket caps per address. Defaults: DISCOVERY_CONNECTION_DEFAULTS over edge-server/admission's. */
  connections?: ConnectionGuardOptions;
  /** Serve Prometheus `GET /metrics` (needs the optional prom-client). Default true. */
  metrics?: boolean;
}

const ROUTES: Record<string, { op: Operation | 'health'; methods: string[]; cors?: true }> = {
  [DiscoveryRoute.register]: { op: 'register', methods: ['POST'] },
  [DiscoveryRoute.heartbeat]: { op: 'heartbeat', methods: ['POST'] },
  // what a web page calls (cross-origin): the read-only query, probe reports, health
  [DiscoveryRoute.query]: { op: 'query', methods: ['GET', 'POST'], cors: true },
  [DiscoveryRoute.report]: { op: 'report', methods: ['POST'], cors: true },
  [DiscoveryRoute.evidence]: { op: 'evidence', methods: ['POST'], cors: true },
  [DiscoveryRoute.standing]: { op: 'standing', methods: ['POST'], cors: true },
  [DiscoveryRoute.audit]: { op: 'audit', methods: ['GET'], cors: true },
  [DiscoveryRoute.inferReference]: { op: 'reference', methods: ['POST'], cors: true },
  [DiscoveryRoute.frameReference]: { op: 'reference', methods: ['POST'], cors: true },
  [DiscoveryRoute.health]: { op: 'health', methods: ['GET'], cors: true },
};

/**
 * Discovery's socket hygiene: nodes keep one channel each, and many nodes of one operator may sit
 * behind one address, so the per-address cap is far above an edge node's; keep-alive stays long
 * for SDK clients that query now and then.
 */
export const DISCOVERY_CONNECTION_DEFAULTS: ConnectionGuardOptions = { maxConnectionsPerIp: 1024, maxConnections: 16_384, keepAliveTimeoutMs: 30_000 };

export class DiscoveryServer {
  readonly service: DiscoveryService;
  readonly registry: Registry;
  readonly #options: DiscoveryServerOptions;
  readonly #maxBodyBytes: number;
  readonly #limits: ClientLimits;
  readonly #maxEvidenceBytes: number;
  readonly #http: Server;
  readonly #wss: WebSocketServer;
  readonly #cors: CorsPolicy;
  readonly #nodeWss: WebSocketServer;
  readonly nodeChannels: NodeChannelHost;
  readonly connections: ConnectionGuard;
  readonly metrics: DiscoveryMetrics;
  #closed = false;

  constructor(options: DiscoveryServerOptions = {}) {
    this.#options = options;
    this.registry = options.registry ?? new MemoryRegistry();
    const limits = (this.#limits = new ClientLimits({ perAddress: options.rateLimits, perSubnet: options.subnetRateLimits, perIdentity: options.identityRateLimits }));
    this.service = new DiscoveryService(this.registry, { limitIdentity: (op, identity) => limits.takeIdentity(op, identity), ...options });
    this.#maxBodyBytes = options.maxBodyBytes ?? 16 * 1024;
    this.#maxEvidenceBytes = options.maxEvidenceBytes ?? 256 * 1024;
    this.#cors = new CorsPolicy({ origins: options.corsOrigins ?? ['*'] });
    this.connections = new ConnectionGuard({ ...DISCOVERY_CONNECTION_DEFAULTS, ...options.connections });
    this.metrics = options.metrics === false ? DiscoveryMetrics.none() : DiscoveryMetrics.create(() => this.registry.count());
    this.#http = createWebServer(options.tls, (req, res) => void this.#onRequest(req, res), this.connections.httpServerOptions());
    this.connections.attach(this.#http);
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: this.#maxBodyBytes });
    // no per-message deflate: a node channel's frames are tiny, and zlib state per socket is memory per node
    this.#nodeWss = new WebSocketServer({ noServer: true, maxPayload: this.#maxBodyBytes, perMessageDeflate: false });
    const allowRegister = (ip: string) => this.#take('register', ip);
    const inProcess = options.nodeChannelProcess === 'process' && options.tls === undefined;
    const host = inProcess
      ? new ChannelProcess(this.registry, this.service.admission, this.service.heartbeatIntervalMs, allowRegister, options.nodeChannel ?? {}, this.#maxBodyBytes, options.channelProcess)
      : new NodeChannels(this.registry, this.service.admission, this.service.heartbeatIntervalMs, allowRegister, options.nodeChannel);
    this.nodeChannels = host;
    this.#http.on('upgrade', (req, socket, head) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === DiscoveryRoute.ws) this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onSocket(ws, req));
      else if (path === DiscoveryRoute.node) {
        const ip = normaliseIp(req.socket.remoteAddress ?? '');
        if (host instanceof ChannelProcess) host.route(req, socket, head, ip);
        else this.#nodeWss.handleUpgrade(req, socket, head, (ws) => host.accept(ws, ip));
      } else socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
    });
  }

  async listen(): Promise<{ port: number; url: string }> {
    // the channel process is ready before the port opens: no node is turned away by a cold start
    if (this.nodeChannels instanceof ChannelProcess && this.nodeChannels.child === undefined) await this.nodeChannels.start();
    await new Promise<void>((resolve, reject) => {
      this.#http.once('error', reject);
      this.#http.listen(this.#options.port ?? 0, this.#options.host ?? '127.0.0.1', () => {
        this.#http.off('error', reject);
        resolve();
      });
    });
    const { port, address, family } = this.#http.address() as AddressInfo;
    const host = family === 'IPv6' ? `[${address}]` : address;
    return { port, url: `${this.#options.tls ? 'https' : 'http'}://${host}:${port}` };
  }

  get closed(): boolean {
    return this.#closed;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.nodeChannels.close();
    for (const ws of this.#wss.clients) ws.terminate();
    for (const ws of this.#nodeWss.clients) ws.terminate();
    this.#wss.close();
    this.#nodeWss.close();
    this.#http.closeAllConnections();
    await new Promise<void>((resolve) => this.#http.close(() => resolve()));
    await this.registry.close();
  }

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const ip = normaliseIp(req.socket.remoteAddress ?? '');
    const started = performance.now();
    let op = 'unknown';
    res.once('finish', () => this.metrics.request(op, 'http', res.statusCode, performance.now() - started));
    try {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/metrics' && req.method === 'GET') {
        op = 'metrics';
        return void (await this.metrics.serve(req, res));
      }
      const route = ROUTES[url.pathname];
      if (route === undefined) throw new DiscoveryError(E.NOT_FOUND, `no endpoint ${url.pathname}; see GET /healthz, POST /v1/register, /v1/heartbeat, /v1/query, /v1/report, /v1/evidence, /v1/standing, /v1/reference/infer, /v1/reference/frame, GET /v1/audit`);
      if (route.cors && this.#cors.handle(req, res, route.methods)) return;
      if (!route.methods.includes(req.method ?? '')) {
        res.setHeader('allow', route.methods.join(', '));
        throw new DiscoveryError(E.METHOD_NOT_ALLOWED, `${url.pathname} accepts ${route.methods.join(' or ')}`);
      }
      op = route.op;
      if (route.op === 'health') return send(res, 200, await this.service.health());
      if (route.op === 'audit') {
        this.#take('audit', ip);
        return sendText(res, 'application/jsonl', await this.service.auditLog());
      }
      const body = req.method === 'GET' ? queryFromSearch(url.searchParams) : await readJson(req, route.op === 'evidence' || route.op === 'reference' ? this.#maxEvidenceBytes : this.#maxBodyBytes);
      send(res, 200, await this.#dispatch(route.op, body, ip, url.pathname));
    } catch (err) {
      // the client went away mid-body (reaped as a slowloris, or reset): nobody to answer, not our error
      if (res.destroyed || req.socket?.destroyed === true) return;
      const error = asDiscoveryError(err);
      this.metrics.rejected(error.code);
      if (error.status === 429) res.setHeader('retry-after', '1');
      // an oversize body is still arriving; answer and close rather than read it
      if (error.code === E.TOO_LARGE) res.setHeader('connection', 'close');
      send(res, error.status, error.toJSON());
    }
  }

  #take(op: Operation, ip: string): void {
    this.#limits.take(op, ip);
  }

  async #dispatch(op: Operation, body: unknown, ip: string, path = ''): Promise<unknown> {
    this.#take(op, ip);
    switch (op) {
      case 'register':
        return this.service.register(body);
      case 'heartbeat':
        return this.service.heartbeat(body);
      case 'query':
        return this.service.query(body, ip);
      case 'report':
        return this.service.report(body, ip);
      case 'evidence':
        return this.service.evidence(body);
      case 'standing':
        return this.service.standing(body);
      case 'reference':
        return path === DiscoveryRoute.frameReference ? this.service.frameReference(body) : this.service.inferReference(body);
    }
  }

  #onSocket(ws: WebSocket, req: IncomingMessage): void {
    const ip = normaliseIp(req.socket.remoteAddress ?? '');
    ws.on('error', (err) => logger.debug('ws error from %s: %s', ip, err.message));
    ws.on('message', async (data, isBinary) => {
      let id: unknown;
      try {
        if (isBinary) throw new DiscoveryError(E.BAD_JSON, 'send JSON text frames');
        const message = parseJson(data.toString());
        if (typeof message !== 'object' || message === null || Array.isArray(message)) throw new DiscoveryError(E.MALFORMED, 'message is not an object');
        const { op, body } = message as Record<string, unknown>;
        id = (message as Record<string, unknown>).id;
        if (!(WS_OPERATIONS as readonly unknown[]).includes(op)) {
          throw new DiscoveryError(E.MALFORMED, 'op must be register, heartbeat, query or report');
        }
        const started = performance.now();
        const result = await this.#dispatch(op as Operation, body ?? {}, ip);
        this.metrics.request(op as string, 'ws', 200, performance.now() - started);
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ id: safeId(id), ok: true, result }));
      } catch (err) {
        const error = asDiscoveryError(err);
        this.metrics.rejected(error.code);
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ id: safeId(id), ok: false, ...error.toJSON() }));
      }
    });
  }
}

function safeId(id: unknown): string | number | null {
  return (typeof id === 'number' && Number.isSafeInteger(id)) || (typeof id === 'string' && id.length <= 64) ? id : null;
}

function asDiscoveryError(err: unknown): DiscoveryError | TrustError {
  if (err instanceof DiscoveryError || err instanceof TrustError) return err;
  // node-redis's connection failures ("The client is offline", SocketClosedUnexpectedlyError…)
  if (err instanceof Error && /offline|closed|Socket|Connection|ECONNREFUSED|ECONNRESET|CLUSTERDOWN/i.test(`${err.name} ${err.message}`)) {
    logger.debug('registry unreachable: %s', err.message);
    return new DiscoveryError(E.UNAVAILABLE, 'the registry backend is unreachable; retry shortly');
  }
  logger.error('internal error: %s', (err as Error)?.stack ?? err);
  return new DiscoveryError(E.INTERNAL, 'internal error; retry, and report it if it persists');
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function sendText(res: ServerResponse, contentType: string, text: string): void {
  res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new DiscoveryError(E.BAD_JSON, `body is not JSON: ${(err as Error).message}`);
  }
}

/** Reads at most `maxBytes`; the declared length is checked before a byte is read. */
async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw new DiscoveryError(E.TOO_LARGE, `body of ${declared} bytes is over the ${maxBytes}-byte cap`);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) throw new DiscoveryError(E.TOO_LARGE, `body is over the ${maxBytes}-byte cap`);
    chunks.push(chunk);
  }
  if (total === 0) throw new DiscoveryError(E.BAD_JSON, 'body is empty; send a JSON object');
  return parseJson(Buffer.concat(chunks).toString('utf8'));
}

/** GET /v1/query parameters → the same shape POST takes, numbers parsed, caps split on commas. */
function queryFromSearch(params: URLSearchParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of ['lat', 'lon', 'k', 'kCloud', 'maxPrice', 'priceWeight', 'budgetMs']) {
    const raw = params.get(key);
    if (raw !== null) out[key] = raw.trim() === '' ? raw : Number(raw);
  }
  const caps = params.get('caps');
  if (caps !== null) out.caps = caps.split(',').filter(Boolean);
  return out;
}
