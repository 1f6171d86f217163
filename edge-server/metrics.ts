/**
 * What an edge node tells Prometheus (`GET /metrics`). `EdgeMetrics.create()` returns a working
 * set when prom-client is installed and a no-op set otherwise, so callers never branch.
 *
 * - `edge_sessions` (gauge), `edge_sessions_opened_total`
 * - `edge_requests_total{kind}` and `edge_request_handling_seconds{kind}`: the node's own time
 *   from the frame being read to the answer being handed to the socket (receive → send), which
 *   the client's round trip cannot separate from the network
 * - `edge_rejected_total{code}`: every `error` sent, by code (bad frames, rate limits, busy…)
 * - `edge_tier_switches_total{tier,reason}`: tier moves the clients report
 * - `edge_stage_seconds{stage}`: render, encode, infer, scene decode
 * - `edge_admission_refused_total{reason}`, `edge_send_dropped_total`, `edge_slow_consumer_total`
 * - prom-client's defaults as `edge_nodejs_eventloop_lag_*`, `edge_nodejs_gc_duration_seconds`, RSS
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type * as PromClient from 'prom-client';
import { LATENCY_BUCKETS, loadPromClient, newRegistry, serveMetrics } from '../protocol/server/prometheus.js';
import { KindHistogram } from './KindHistogram.js';

export type RequestKind = 'predict' | 'infer' | 'render' | 'scene' | 'ping' | 'pose';
export type Stage = 'render' | 'encode' | 'infer' | 'scene';

export interface EdgeMetricsSink {
  sessionOpened(): void;
  sessionClosed(): void;
  /** One answered request: `handlingMs` from the frame read to the answer sent. */
  request(kind: RequestKind, handlingMs: number): void;
  rejected(code: string): void;
  tierSwitch(tier: string, reason: string): void;
  stage(stage: Stage, ms: number): void;
  admissionRefused(reason: string): void;
  sendDropped(bytes: number): void;
  /** A prediction not computed: the client had not read its backlog (SendBudget.wantsAnswer). */
  answerSkipped(): void;
  slowConsumer(): void;
  /** A prediction a motion guard answered instead of the model (`reset`, `stall`, …). */
  motionFallback(reason: string): void;
}

export class EdgeMetrics implements EdgeMetricsSink {
  /** Undefined when prom-client is not installed (every method is then a no-op). */
  readonly registry: PromClient.Registry | undefined;
  readonly #m: ReturnType<typeof build> | undefined;

  private constructor(prom: PromClient.Registry | undefined, metrics: ReturnType<typeof build> | undefined) {
    this.registry = prom;
    this.#m = metrics;
  }

  /** Metrics off: every method a no-op, `/metrics` answers 404. */
  static none(): EdgeMetrics {
    return new EdgeMetrics(undefined, undefined);
  }

  static create(): EdgeMetrics {
    const prom = loadPromClient();
    if (!prom) return new EdgeMetrics(undefined, undefined);
    const registry = newRegistry(prom, 'edge_');
    return new EdgeMetrics(registry, build(prom, registry));
  }

  get enabled(): boolean {
    return this.#m !== undefined;
  }

  sessionOpened(): void {
    this.#m?.sessions.inc();
    this.#m?.sessionsOpened.inc();
  }
  sessionClosed(): void {
    this.#m?.sessions.dec();
  }
  request(kind: RequestKind, handlingMs: number): void {
    // the per-frame path (every predict): typed-array buckets, no prom-client call (KindHistogram.ts)
    this.#m?.handling.observe(kind, handlingMs / 1000);
  }
  rejected(code: string): void {
    this.#m?.rejected.inc({ code });
  }
  tierSwitch(tier: string, reason: string): void {
    this.#m?.tierSwitches.inc({ tier, reason });
  }
  stage(stage: Stage, ms: number): void {
    this.#m?.stages.observe({ stage }, ms / 1000);
  }
  admissionRefused(reason: string): void {
    this.#m?.refused.inc({ reason });
  }
  sendDropped(bytes: number): void {
    this.#m?.dropped.inc();
    this.#m?.droppedBytes.inc(bytes);
  }
  answerSkipped(): void {
    this.#m?.skipped.inc();
  }
  slowConsumer(): void {
    this.#m?.slowConsumer.inc();
  }
  motionFallback(reason: string): void {
    const m = this.#m;
    if (!m) return;
    // per predict that falls back: the labelled child is looked up once per reason (few: the
    // PREDICTION_FALLBACKS), not hashed from a fresh label object every time
    let child = m.fallbackByReason.get(reason);
    if (!child) m.fallbackByReason.set(reason, (child = m.motionFallbacks.labels({ reason })));
    child.inc();
  }

  /** `GET /metrics`. */
  serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return serveMetrics(this.registry, req, res);
  }
}

function build(prom: typeof PromClient, registry: PromClient.Registry) {
  const registers = [registry];
  // edge_requests_total is the count of the handling histogram: one observation per answer
  const handling = new KindHistogram<RequestKind>({
    name: 'edge_request_handling_seconds',
    help: "The node's own handling time per request, frame read to answer sent",
    counterName: 'edge_requests_total',
    counterHelp: 'Requests answered, by kind',
    labelName: 'kind',
    buckets: LATENCY_BUCKETS,
  });
  registry.registerMetric(handling.counter);
  registry.registerMetric(handling.histogram);
  return {
    handling,
    sessions: new prom.Gauge({ name: 'edge_sessions', help: 'Sessions open now', registers }),
    sessionsOpened: new prom.Counter({ name: 'edge_sessions_opened_total', help: 'Sessions admitted since start', registers }),
    rejected: new prom.Counter({ name: 'edge_rejected_total', help: 'Errors sent to clients, by code', labelNames: ['code'], registers }),
    tierSwitches: new prom.Counter({ name: 'edge_tier_switches_total', help: 'Tier switches reported by clients', labelNames: ['tier', 'reason'], registers }),
    stages: new prom.Histogram({ name: 'edge_stage_seconds', help: 'Time in render, encode, infer and scene decode', labelNames: ['stage'], buckets: LATENCY_BUCKETS, registers }),
    refused: new prom.Counter({ name: 'edge_admission_refused_total', help: 'Connections or sessions refused, by reason', labelNames: ['reason'], registers }),
    dropped: new prom.Counter({ name: 'edge_send_dropped_total', help: 'Answers dropped because the client reads too slowly', registers }),
    droppedBytes: new prom.Counter({ name: 'edge_send_dropped_bytes_total', help: 'Bytes of answers dropped for slow clients', registers }),
    skipped: new prom.Counter({ name: 'edge_answers_skipped_total', help: 'Predictions not computed because the client had not read its backlog', registers }),
    slowConsumer: new prom.Counter({ name: 'edge_slow_consumer_total', help: 'Sessions closed with SLOW_CONSUMER', registers }),
    // a rising rate means trackers re-localising or stalling (or clients sending such poses): the
    // answers are still served, from the guard's safe extrapolation, so only this shows it
    motionFallbacks: new prom.Counter({ name: 'edge_motion_fallbacks_total', help: 'Predictions a motion guard answered instead of the model, by reason', labelNames: ['reason'], registers }),
    fallbackByReason: new Map<string, PromClient.Counter.Internal>(),
  };
}
