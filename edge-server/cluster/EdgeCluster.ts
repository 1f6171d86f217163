/**
 * One edge node on all of a machine's cores: `node:cluster` workers behind one port. Sessions are
 * per connection, so the primary hands each new connection to a worker (round robin) and a
 * session lives in one worker for its whole life; the workers share nothing on the hot path.
 *
 * What must stay one node and not N:
 * - the node id: the primary picks it (or takes `--node-id`) and every worker serves under it;
 * - `/metrics`: whichever worker a scrape reaches asks the primary, which aggregates every
 *   worker's registry (prom-client's AggregatorRegistry: counters and histograms summed);
 * - an admin drain: the worker that got it drains and the primary tells every other worker to;
 * - discovery: only worker 1 registers and heartbeats, reporting the sessions of all workers
 *   (`ClusterWorker.sessionCount`); admin health shows the cluster's totals beside its own;
 * - the `listening` line: the primary prints one when every worker listens;
 * - signals: the primary forwards SIGINT/SIGTERM to the workers, each drains its sessions, and
 *   the primary exits when they have. A worker that dies otherwise is replaced.
 *
 * Messages between primary and workers are `{ t: 'edge-cluster:…' }` objects on cluster IPC.
 */
import cluster, { type Worker } from 'node:cluster';
import { Logger } from '../../protocol/index.js';
import { loadPromClient } from '../../protocol/server/prometheus.js';
import type * as PromClient from 'prom-client';

type ClusterMessage =
  | { t: 'edge-cluster:listening'; url: string; port: number }
  | { t: 'edge-cluster:sessions'; count: number }
  | { t: 'edge-cluster:total'; sessions: number; workers: number }
  | { t: 'edge-cluster:metrics'; id: number }
  | { t: 'edge-cluster:metrics-text'; id: number; text?: string; contentType?: string; error?: string }
  | { t: 'edge-cluster:drain'; deadlineMs: number; reason: string };

const isClusterMessage = (m: unknown): m is ClusterMessage => typeof (m as { t?: unknown })?.t === 'string' && (m as { t: string }).t.startsWith('edge-cluster:');

/** Env the primary gives its workers. */
const ENV_WORKER = 'EDGE_OFFLOAD_CLUSTER_WORKER';
const ENV_WORKERS = 'EDGE_OFFLOAD_CLUSTER_WORKERS';
const ENV_NODE_ID = 'EDGE_OFFLOAD_CLUSTER_NODE_ID';

/** In a worker of an edge cluster: its number (1…N) and the cluster's size; undefined otherwise. */
export function clusterWorkerInfo(): { index: number; workers: number; nodeId: string } | undefined {
  if (!cluster.isWorker || !process.env[ENV_WORKER]) return undefined;
  return { index: Number(process.env[ENV_WORKER]), workers: Number(process.env[ENV_WORKERS]), nodeId: process.env[ENV_NODE_ID]! };
}

export interface ClusterPrimaryOptions {
  workers: number;
  nodeId: string;
  /** Printed once every worker listens (the CLI's JSON `listening` line). */
  onListening(url: string, port: number): void;
  /** Printed when the workers have stopped after a signal. */
  onStopped(): void;
  log(event: Record<string, unknown>): void;
}

/** Runs the primary: forks `workers` processes (the same command line) and keeps them one node. */
export function runClusterPrimary(options: ClusterPrimaryOptions): void {
  const prom = loadPromClient();
  const aggregator = prom ? new prom.AggregatorRegistry() : undefined;
  const sessions = new Map<Worker, number>();
  const listening = new Map<Worker, { url: string; port: number }>();
  let announced = false;
  let stopping = false;
  const indexOf = new Map<Worker, number>();

  const fork = (index: number) => {
    const worker = cluster.fork({ [ENV_WORKER]: String(index), [ENV_WORKERS]: String(options.workers), [ENV_NODE_ID]: options.nodeId });
    indexOf.set(worker, index);
    worker.on('message', (message: unknown) => void onMessage(worker, message));
    worker.on('exit', (code, signal) => {
      sessions.delete(worker);
      listening.delete(worker);
      indexOf.delete(worker);
      if (stopping) {
        if (Object.keys(cluster.workers ?? {}).length === 0) {
          options.onStopped();
          process.exit(0);
        }
        return;
      }
      options.log({ event: 'worker-exit', worker: index, code, signal, action: 'restarting' });
      fork(index);
    });
  };

  const broadcast = (message: ClusterMessage, except?: Worker) => {
    for (const worker of Object.values(cluster.workers ?? {})) if (worker && worker !== except && worker.isConnected()) worker.send(message);
  };

  const onMessage = async (worker: Worker, message: unknown) => {
    if (!isClusterMessage(message)) return;
    switch (message.t) {
      case 'edge-cluster:listening':
        listening.set(worker, message);
        if (!announced && listening.size === options.workers) {
          announced = true;
          options.onListening(message.url, message.port);
        }
        break;
      case 'edge-cluster:sessions': {
        sessions.set(worker, message.count);
        const total = [...sessions.values()].reduce((a, b) => a + b, 0);
        broadcast({ t: 'edge-cluster:total', sessions: total, workers: options.workers });
        break;
      }
      case 'edge-cluster:metrics': {
        if (!aggregator) return void worker.send({ t: 'edge-cluster:metrics-text', id: message.id, error: 'metrics are off: install the optional dependency prom-client' } satisfies ClusterMessage);
        try {
          const text = await aggregator.clusterMetrics();
          worker.send({ t: 'edge-cluster:metrics-text', id: message.id, text, contentType: aggregator.contentType } satisfies ClusterMessage);
        } catch (err) {
          worker.send({ t: 'edge-cluster:metrics-text', id: message.id, error: (err as Error).message } satisfies ClusterMessage);
        }
        break;
      }
      case 'edge-cluster:drain':
        // on a signal every worker drains by itself
        if (!stopping) broadcast(message, worker);
        break;
    }
  };

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    options.log({ event: 'draining', signal, workers: options.workers });
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  for (let i = 1; i <= options.workers; i++) fork(i);
}

/** What a worker needs from its EdgeServer. */
export interface ClusterServer {
  readonly sessionCount: number;
  readonly draining: boolean;
  drain(options: { deadlineMs: number; reason: string }): unknown;
  on(event: 'session', listener: (session: { on(event: '@close', l: () => void): unknown }) => void): unknown;
  on(event: 'drain', listener: (options: { deadlineMs: number; reason: string }) => void): unknown;
}

const logger = new Logger('edge:cluster');

/** The worker side: reports sessions, answers for the cluster's metrics, joins cluster drains. */
export class ClusterWorker {
  readonly index: number;
  readonly workers: number;
  readonly #pending = new Map<number, { resolve: (r: { text: string; contentType: string }) => void; reject: (err: Error) => void }>();
  #nextId = 1;
  #total = 0;
  #server: ClusterServer | undefined;
  /** Applying a drain another worker started: not to be sent round again. */
  #joining = false;

  constructor(info: { index: number; workers: number }, registry: PromClient.Registry | undefined) {
    this.index = info.index;
    this.workers = info.workers;
    const prom = loadPromClient();
    if (prom && registry) {
      // the primary's AggregatorRegistry asks every worker for this registry
      prom.AggregatorRegistry.setRegistries([registry]);
      new prom.AggregatorRegistry(); // installs the worker's reply listener (idempotent)
    }
    process.on('message', (message: unknown) => {
      if (!isClusterMessage(message)) return;
      if (message.t === 'edge-cluster:total') this.#total = message.sessions;
      else if (message.t === 'edge-cluster:metrics-text') {
        const pending = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        if (message.text !== undefined) pending?.resolve({ text: message.text, contentType: message.contentType ?? 'text/plain' });
        else pending?.reject(new Error(message.error ?? 'no metrics'));
      } else if (message.t === 'edge-cluster:drain') {
        const server = this.#server;
        if (!server || server.draining) return;
        this.#joining = true;
        try {
          server.drain({ deadlineMs: message.deadlineMs, reason: message.reason });
        } finally {
          this.#joining = false;
        }
      }
    });
  }

  /** Follows `server`'s sessions (for the cluster's total) once it exists. */
  attach(server: ClusterServer): void {
    this.#server = server;
    const report = () => this.#toPrimary({ t: 'edge-cluster:sessions', count: server.sessionCount } satisfies ClusterMessage);
    server.on('session', (session) => {
      // counted when the socket arrives and when it goes (sessionCount is already updated then)
      report();
      session.on('@close', () => setImmediate(report));
    });
    // a drain that started here (the admin endpoint) drains every worker: one node
    server.on('drain', ({ deadlineMs, reason }) => {
      if (!this.#joining) this.#toPrimary({ t: 'edge-cluster:drain', deadlineMs, reason } satisfies ClusterMessage);
    });
  }

  /**
   * A message to the primary, if it is still there. A primary killed outright (SIGKILL) leaves the
   * channel closed before Node's cluster module exits this worker on 'disconnect'; a session
   * closing in that gap must not turn the failed write (EPIPE) into an uncaught 'error'.
   */
  #toPrimary(message: ClusterMessage): void {
    if (!process.connected || !process.send) return;
    process.send(message, undefined, undefined, (err) => {
      if (err) logger.debug(`cluster primary unreachable: ${err.message}`);
    });
  }

  /** Sessions on every worker of the node, as the primary last reported (this worker's own at least). */
  get sessionCount(): number {
    return Math.max(this.#total, this.#server?.sessionCount ?? 0);
  }

  listening(url: string, port: number): void {
    this.#toPrimary({ t: 'edge-cluster:listening', url, port } satisfies ClusterMessage);
  }

  /** The whole node's metrics, aggregated by the primary. */
  metrics(timeoutMs = 5000): Promise<{ text: string; contentType: string }> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`the cluster primary did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.#toPrimary({ t: 'edge-cluster:metrics', id } satisfies ClusterMessage);
    });
  }

}
