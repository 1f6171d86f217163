/**
 * Raw-connection hygiene for a node's HTTP port (issue #15, attack 6: 2,000 idle or slowloris
 * TCP connections were never reaped, and at the fd limit `/healthz` timed out).
 *
 * - Every accepted socket gets an inactivity timer (`idleMs`): a connection that sends nothing
 *   for that long before it becomes a WebSocket is destroyed. `ws` clears the socket timeout when
 *   it takes the socket over, so live sessions are untouched (their own idle timer applies).
 * - Headers must be complete within `headersTimeoutMs` and a request within `requestTimeoutMs`,
 *   whatever the trickle (Node's own checks, which run every `connectionsCheckingInterval`:
 *   `httpServerOptions()` shortens that interval for the server it is passed to).
 * - At most `maxConnectionsPerIp` open sockets per client address (IPv6: per /64) and
 *   `maxConnections` in all; a socket over either cap is destroyed at accept, before any parsing.
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
}

export const DEFAULT_CONNECTION_GUARD = Object.freeze({
  idleMs: 10_000,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  maxConnectionsPerIp: 128,
  maxConnections: 4096,
});

export class ConnectionGuard {
  readonly options: Required<ConnectionGuardOptions>;
  readonly #byAddress = new Map<string, number>();
  #open = 0;
  #reaped = 0;
  #refused = 0;

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
    const { headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs } = this.options;
    return {
      headersTimeout: headersTimeoutMs,
      requestTimeout: requestTimeoutMs,
      keepAliveTimeout: keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(headersTimeoutMs / 2))),
    };
  }

  /** Starts guarding `server`'s sockets. Call before `listen`. */
  attach(server: Server): void {
    server.on('connection', (socket: Socket) => this.#onConnection(socket));
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
    socket.setTimeout(this.options.idleMs, () => {
      this.#reaped++;
      socket.destroy();
    });
  }
}
