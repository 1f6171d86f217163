/**
 * Raw-connection hygiene for a node's HTTP port (issue #15, attack 6: 2,000 idle or slowloris
 * TCP connections were never reaped, and at the fd limit `/healthz` timed out).
 *
 * - Every accepted socket gets an inactivity timer (`idleMs`): a connection that sends nothing
 *   for that long before it becomes a WebSocket is destroyed. `ws` clears the socket timeout when
 *   it takes the socket over, so live sessions are untouched (their own idle timer applies).
 * - Headers must be complete within `headersTimeoutMs` and a request within `requestTimeoutMs`,
 *   whatever the trickle (Node's own checks, which run every `connectionsCheckingInterval`:
 *   `httpServerOptions()` sets that interval to `checkIntervalMs`). Short, because each check
 *   hands over every connection that expired since the last one in one synchronous burst (an
 *   Error and a 'clientError' each): 2,000 slowloris sockets opened within a second expired as
 *   ~1,000 per check at Node's 1 s, a 9-15 ms stall of the event loop each; at 100 ms the largest
 *   burst was ~450-650 sockets, 6-9 ms (measured on this VM). Each check itself walks the
 *   connection list in C++: microseconds for `maxConnections`.
 * - At most `maxConnectionsPerIp` open sockets per client address (IPv6: per /64) and
 *   `maxConnections` in all; a socket over either cap is destroyed at accept, before any parsing.
 * - Reaping is paced, `reapPerTurn` sockets per event-loop turn: sockets opened together expire
 *   together (Node's header-timeout sweep hands over every expired one in one call, and timers of
 *   one duration fire in one run), and closing 1,000 at once stalled the loop for ~100 ms, a
 *   spike in every live session's latency (bench attacks, attack 6). In between, I/O is served.
 */
import type { Server, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
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
  /** How often Node checks header/request deadlines (at most half of `headersTimeoutMs`). @default 100 */
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

export class ConnectionGuard {
  readonly options: Required<ConnectionGuardOptions>;
  readonly #byAddress = new Map<string, number>();
  #open = 0;
  #reaped = 0;
  #refused = 0;
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

  /** Options for `http.createServer`: makes Node check header/request timeouts often enough to matter. */
  httpServerOptions(): ServerOptions {
    const { headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs, checkIntervalMs } = this.options;
    return {
      headersTimeout: headersTimeoutMs,
      requestTimeout: requestTimeoutMs,
      keepAliveTimeout: keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.max(1, Math.min(checkIntervalMs, Math.floor(headersTimeoutMs / 2))),
    };
  }

  /** Starts guarding `server`'s sockets. Call before `listen`. */
  attach(server: Server): void {
    server.on('connection', (socket: Socket) => this.#onConnection(socket));
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

  stats(): { open: number; reaped: number; refused: number } {
    return { open: this.#open, reaped: this.#reaped, refused: this.#refused };
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
      this.#open--;
      const n = (this.#byAddress.get(address) ?? 1) - 1;
      if (n <= 0) this.#byAddress.delete(address);
      else this.#byAddress.set(address, n);
    });
    // inactivity, not age: a slow but live HTTP exchange resets it with every byte
    socket.setTimeout(this.options.idleMs, () => this.#reap(socket, undefined));
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
