/**
 * prom-client for the servers (edge node and discovery), loaded on demand: it is an optional
 * dependency, so a headset-only install never pulls it, and a server without it runs with
 * metrics off (`/metrics` answers 404 with what to install) instead of failing to start.
 *
 * Each server gets its own Registry (several servers in one process, as in tests, never share
 * counters) with prom-client's default process metrics: event-loop lag, GC pauses, RSS, fds.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';
import { OptionalPackageError, requireOptional } from './optionalPackages.js';

export type Prom = typeof PromClient;

let loaded: { prom: Prom | undefined } | undefined;

/**
 * prom-client, or undefined when it is not installed (metrics are then off; the server runs).
 * Synchronous (prom-client is CommonJS), so a server's constructor can set its metrics up.
 */
export function loadPromClient(): Prom | undefined {
  if (!loaded) {
    try {
      loaded = { prom: requireOptional<Prom>(createRequire(import.meta.url), 'prom-client', 'GET /metrics') };
    } catch (err) {
      if (!(err instanceof OptionalPackageError)) throw err;
      loaded = { prom: undefined };
    }
  }
  return loaded.prom;
}

/** Latency buckets, seconds: fine below 1 ms, where a node's own handling time lives. */
export const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** A registry with the default process metrics, named with `prefix` (`edge_`, `discovery_`). */
export function newRegistry(prom: Prom, prefix: string): PromClient.Registry {
  const registry = new prom.Registry();
  prom.collectDefaultMetrics({ register: registry, prefix, eventLoopMonitoringPrecision: 10 });
  return registry;
}

/** `GET /metrics` for a registry (or a 404 saying how to turn metrics on when there is none). */
export async function serveMetrics(registry: PromClient.Registry | undefined, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!registry) {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'NOT_FOUND', message: 'metrics are off: install the optional dependency prom-client' }));
    return;
  }
  try {
    const body = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
    res.end(body);
  } catch (err) {
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'INTERNAL', message: `metrics collection failed: ${(err as Error).message}` }));
  }
}
