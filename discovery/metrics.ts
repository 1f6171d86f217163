/**
 * What discovery tells Prometheus (`GET /metrics`); a no-op set when prom-client is absent.
 *
 * - `discovery_requests_total{op,transport,status}` and `discovery_request_seconds{op,transport}`
 * - `discovery_rejected_total{code}`: refused requests by error code (rate limits, bad signatures…)
 * - `discovery_nodes{tier}`: registered nodes, read from the registry at scrape time
 * - `discovery_reports_total`: client RTT reports received
 * - prom-client's defaults as `discovery_nodejs_eventloop_lag_*`, GC, RSS
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type * as PromClient from 'prom-client';
import { LATENCY_BUCKETS, loadPromClient, newRegistry, serveMetrics } from '../protocol/server/prometheus.js';

export type Transport = 'http' | 'ws';

export class DiscoveryMetrics {
  readonly registry: PromClient.Registry | undefined;
  readonly #m: ReturnType<typeof build> | undefined;

  private constructor(registry: PromClient.Registry | undefined, metrics: ReturnType<typeof build> | undefined) {
    this.registry = registry;
    this.#m = metrics;
  }

  /** Metrics off: every method a no-op, `/metrics` answers 404. */
  static none(): DiscoveryMetrics {
    return new DiscoveryMetrics(undefined, undefined);
  }

  /** `countNodes` is called at each scrape: node counts by tier. */
  static create(countNodes: () => Record<string, number> | Promise<Record<string, number>> = () => ({})): DiscoveryMetrics {
    const prom = loadPromClient();
    if (!prom) return new DiscoveryMetrics(undefined, undefined);
    const registry = newRegistry(prom, 'discovery_');
    return new DiscoveryMetrics(registry, build(prom, registry, countNodes));
  }

  get enabled(): boolean {
    return this.#m !== undefined;
  }

  request(op: string, transport: Transport, status: number, ms: number): void {
    if (!this.#m) return;
    this.#m.requests.inc({ op, transport, status: String(status) });
    this.#m.latency.observe({ op, transport }, ms / 1000);
  }
  rejected(code: string): void {
    this.#m?.rejected.inc({ code });
  }
  reports(n: number): void {
    this.#m?.reports.inc(n);
  }

  serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return serveMetrics(this.registry, req, res);
  }
}

function build(prom: typeof PromClient, registry: PromClient.Registry, countNodes: () => Record<string, number> | Promise<Record<string, number>>) {
  const registers = [registry];
  return {
    requests: new prom.Counter({ name: 'discovery_requests_total', help: 'Requests by operation, transport and status', labelNames: ['op', 'transport', 'status'], registers }),
    latency: new prom.Histogram({ name: 'discovery_request_seconds', help: 'Time to answer, by operation', labelNames: ['op', 'transport'], buckets: LATENCY_BUCKETS, registers }),
    rejected: new prom.Counter({ name: 'discovery_rejected_total', help: 'Refused requests by error code', labelNames: ['code'], registers }),
    reports: new prom.Counter({ name: 'discovery_reports_total', help: 'Client RTT reports received', registers }),
    nodes: new prom.Gauge({
      name: 'discovery_nodes',
      help: 'Registered nodes by tier',
      labelNames: ['tier'],
      registers,
      async collect() {
        this.reset();
        for (const [tier, n] of Object.entries(await countNodes())) this.set({ tier }, n);
      },
    }),
  };
}
