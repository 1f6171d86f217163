/**
 * Raw-connection hygiene for a node's HTTP port (issue #15, attack 6: 2,000 idle or slowloris
 * TCP connections were never reaped, and at the fd limit `/healthz` timed out).
 *
 * - Every accepted socket gets an inactivity timer (`idleMs`): a connection that sends nothing
 *   for that long before it becomes a WebSocket is destroyed. `ws` clears the socket timeout when
 *   it takes the socket over, so live sessions are untouched (their own idle timer applies).
 * - Headers must be complete within `headersTimeoutMs`, checked by the guard itself: every
 *   accepted socket joins a queue in accept order (one small record; one duration, so the
 *   deadlines are in order too) until its request or upgrade arrives, and every `checkIntervalMs`
 *   the expired head of the queue joins the paced reaping below. Node's own header check was the
 *   burst (issue #15, attack 6): its sweep hands every connection that expired since the last one
 *   over in one synchronous call, an Error with a stack and a 'clientError' each (2,000 slowloris
 *   sockets opened within a second: bursts of ~450-650 sockets, 6-9 ms stalls at a 100 ms check,
 *   9-15 ms at Node's 1 s). Node's check stays as the backstop for a whole request
 *   (`requestTimeoutMs`, and a later request's headers on a kept-alive socket), which the guard's
 *   earlier deadline leaves it nothing to hand over in a slowloris.
 * - At most `maxConnectionsPerIp` open sockets per client address (IPv6: per /64) and
 *   `maxConnections` in all; a socket over either cap is destroyed at accept, before any parsing.
 * - Reaping is paced, `reapPerTurn` sockets per event-loop turn: sockets opened together expire
 *   together (Node's header-timeout sweep hands over every expired one in one call, and timers of
 *   one duration fire in one run), and closing 1,000 at once stalled the loop for ~100 ms, a
 *   spike in every live session's latency (bench attacks, attack 6). In between, I/O is served.
 */
import type { IncomingMessage, Server, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import { addressKey } from './addressKey.js';

export interface ConnectionGuardOptions {
  /** A socket silent this long before its upgrade is destroyed. @default 10000 (env EDGE_OFFLOAD_CONN_IDLE_MS) */
  idleMs?: number;
  /** Whole request headers within this. @default 5000 */
  headersTimeoutMs?: number;
  /** Whole request within this. @default 10000 */
  requestTimeoutMs?: number;
  /** Keep-alive sockets closed after this idle time between requests. @default 5000 */
  keepAliveTimeoutMs?: number;
  /** Open sockets per client address (IPv6: per /64): above the session cap, so probes and /healthz still fit. @default 128 */
  maxConnectionsPerIp?: number;
  /** Open sockets in all. @default 4096 */
  maxConnections?: number;
  /** Expired sockets closed per event-loop turn, the rest in the next turns. @default 32 */
  reapPerTurn?: number;
  /** How often the guard (and Node, for whole requests) checks deadlines (at most half of `headersTimeoutMs`). @default 100 */
  checkIntervalMs?: number;
}

export const DEFAULT_CONNECTION_GUARD = Object.freeze({
  idleMs: 10_000,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  maxConnectionsPerIp: 128,
  maxConnections: 4096,
  reapPerTurn: 32,
  checkIntervalMs: 100,
});

// Node's own answers to a request it gives up on (node:_http_server), for the 'clientError' handler below
const TIMEOUT_RESPONSE = 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n';
const BAD_REQUEST_RESPONSE = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n';
const HEADERS_TOO_LARGE_RESPONSE = 'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n';

/** One socket's header deadline; `socket` is cleared once its headers arrived. */
interface HeaderDeadline {
  socket: Socket | undefined;
  at: number;
}

export class ConnectionGuard {
  readonly options: Required<ConnectionGuardOptions>;
  readonly #byAddress = new Map<string, number>();
  #open = 0;
  #reaped = 0;
  #refused = 0;
  /** Sockets still waiting for their request headers, in accept order (so in deadline order). */
  #awaiting: HeaderDeadline[] = [];
  #awaitingHead = 0;
  readonly #deadlineOf = new WeakMap<Socket, HeaderDeadline>();
  #checkTimer: NodeJS.Timeout | undefined;
  /** Under TLS the guard holds the TCP socket under the TLSSocket: no plaintext 408 goes on it. */
  #tls = false;
  /** Expired sockets waiting for their turn to be closed, with what to write first. */
  #reapQueue: { socket: Socket; response: string | undefined }[] = [];
  #reapScheduled = false;

  constructor(options: ConnectionGuardOptions = {}) {
    const envIdle = Number(process.env.EDGE_OFFLOAD_CONN_IDLE_MS);
    this.options = {
      ...DEFAULT_CONNECTION_GUARD,
      ...(Number.isInteger(envIdle) && envIdle > 0 ? { idleMs: envIdle } : {}),
      ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    };
    for (const [k, v] of Object.entries(this.options)) {
      if (!Number.isInteger(v) || v < 1) throw new TypeError(`connection guard: ${k} must be a positive integer`);
    }
    if (this.options.headersTimeoutMs > this.options.requestTimeoutMs) throw new TypeError('connection guard: headersTimeoutMs must be <= requestTimeoutMs');
  }

  /** How often deadlines are checked: `checkIntervalMs`, at most half the header timeout. */
  get checkEveryMs(): number {
    return Math.max(1, Math.min(this.options.checkIntervalMs, Math.floor(this.options.headersTimeoutMs / 2)));
  }

  /**
   * Options for `http.createServer`. Node's header deadline is pushed out to the request's: the
   * guard enforces `headersTimeoutMs` itself, paced; Node's check is the backstop for whole requests.
   */
  httpServerOptions(): ServerOptions {
    const { requestTimeoutMs, keepAliveTimeoutMs } = this.options;
    return {
      headersTimeout: requestTimeoutMs,
      requestTimeout: requestTimeoutMs,
      keepAliveTimeout: keepAliveTimeoutMs,
      connectionsCheckingInterval: this.checkEveryMs,
    };
  }

  /** Starts guarding `server`'s sockets. Call before `listen`. */
  attach(server: Server): void {
    this.#tls = server instanceof TlsServer;
    server.on('connection', (socket: Socket) => this.#onConnection(socket));
    // headers complete: off the deadline queue (a request's body and later requests are Node's to time)
    // (under TLS the request's socket is the TLSSocket; 'connection' saw the TCP socket under it, its `_parent`)
    const headersDone = (req: IncomingMessage) => {
      const socket = req.socket as Socket & { _parent?: Socket };
      const entry = this.#deadlineOf.get(socket) ?? (socket._parent && this.#deadlineOf.get(socket._parent));
      if (entry) entry.socket = undefined;
    };
    server.on('request', headersDone);
    server.on('upgrade', headersDone);
    const startChecks = () => {
      if (this.#checkTimer) return;
      this.#checkTimer = setInterval(() => this.#checkDeadlines(), this.checkEveryMs);
      this.#checkTimer.unref();
    };
    if (server.listening) startChecks();
    server.on('listening', startChecks);
    server.on('close', () => {
      clearInterval(this.#checkTimer);
      this.#checkTimer = undefined;
    });
    // a 'timeout' listener tells Node's HTTP server not to destroy an idle socket itself: the
    // guard's own inactivity timer closes it, paced (unlistened, Node destroyed them all at once)
    server.on('timeout', () => {});
    // Node's default for a client error, except that a timed-out request joins the paced reaping
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      const unanswered = socket.writable && socket.bytesWritten === 0;
      if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return this.#reap(socket, unanswered ? TIMEOUT_RESPONSE : undefined);
      if (unanswered) socket.write(err.code === 'HPE_HEADER_OVERFLOW' ? HEADERS_TOO_LARGE_RESPONSE : BAD_REQUEST_RESPONSE);
      socket.destroy(err);
    });
  }

  stats(): { open: number; reaped: number; refused: number; awaitingHeaders: number } {
    return { open: this.#open, reaped: this.#reaped, refused: this.#refused, awaitingHeaders: this.#awaiting.length - this.#awaitingHead };
  }

  #onConnection(socket: Socket): void {
    const address = addressKey(socket.remoteAddress);
    const fromAddress = this.#byAddress.get(address) ?? 0;
    if (this.#open >= this.options.maxConnections || fromAddress >= this.options.maxConnectionsPerIp) {
      this.#refused++;
      socket.destroy();
      return;
    }
    this.#open++;
    this.#byAddress.set(address, fromAddress + 1);
    socket.once('close', () => {
      const entry = this.#deadlineOf.get(socket);
      if (entry) entry.socket = undefined;
      this.#open--;
      const n = (this.#byAddress.get(address) ?? 1) - 1;
      if (n <= 0) this.#byAddress.delete(address);
      else this.#byAddress.set(address, n);
    });
    // inactivity, not age: a slow but live HTTP exchange resets it with every byte
    socket.setTimeout(this.options.idleMs, () => this.#reap(socket, undefined));
    const entry: HeaderDeadline = { socket, at: performance.now() + this.options.headersTimeoutMs };
    this.#awaiting.push(entry);
    this.#deadlineOf.set(socket, entry);
  }

  /** Every expired socket still without its headers joins the paced reaping (408 when nothing was answered). */
  #checkDeadlines(): void {
    const now = performance.now();
    const queue = this.#awaiting;
    let head = this.#awaitingHead;
    while (head < queue.length && queue[head]!.at <= now) {
      const socket = queue[head]!.socket;
      queue[head++] = undefined as never;
      if (!socket || socket.destroyed) continue;
      this.#deadlineOf.delete(socket);
      this.#reap(socket, !this.#tls && socket.writable && socket.bytesWritten === 0 ? TIMEOUT_RESPONSE : undefined);
    }
    // compact once the consumed head dominates (amortised O(1) per socket)
    if (head > 1024 && head * 2 > queue.length) {
      this.#awaiting = queue.slice(head);
      head = 0;
    }
    this.#awaitingHead = head;
  }

  #reap(socket: Socket, response: string | undefined): void {
    this.#reapQueue.push({ socket, response });
    if (this.#reapScheduled) return;
    this.#reapScheduled = true;
    setImmediate(() => this.#reapSome());
  }

  #reapSome(): void {
    const batch = this.#reapQueue.splice(0, this.options.reapPerTurn);
    for (const { socket, response } of batch) {
      if (socket.destroyed) continue;
      this.#reaped++;
      if (response && socket.writable) socket.write(response);
      socket.destroy();
    }
    if (this.#reapQueue.length) setImmediate(() => this.#reapSome());
    else this.#reapScheduled = false;
  }
}
