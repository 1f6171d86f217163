/**
 * One node as the failover machine sees it: the connection, what the locator said about it, the
 * monitor judging it, and whether it is going away. Opening and probing live here so the machine
 * itself reads as policy (which link, when to move).
 */
import type { DrainMessage, HelloMessage, ResumeState } from '../../protocol/index.js';
import { LinkMonitor, type LinkMonitorOptions } from './LinkMonitor.js';
import type { NodeCandidate } from '../placement/locator.js';
import { NodeConnection } from './NodeConnection.js';
import type { WebSocketConstructor } from '../transport/WebSocketTransport.js';

export interface NodeLinkOpenOptions {
  hello?: Omit<HelloMessage, 't' | 'v' | 'resume'>;
  resume: ResumeState;
  connectTimeoutMs: number;
  WebSocket?: WebSocketConstructor;
  monitor: Pick<LinkMonitorOptions, 'intervalMs' | 'missedPings' | 'budgetMs' | 'overBudgetPings'>;
  /** What happens to the link is reported to its owner through these. */
  on: {
    rtt(link: NodeLink, rttMs: number): void;
    lost(link: NodeLink, why: string): void;
    overBudget(link: NodeLink, rttMs: number): void;
    drain(link: NodeLink, message: DrainMessage): void;
  };
}

export interface ProbeResult {
  /** The fastest ping: queueing on a busy client or node only ever adds delay. */
  rttMs: number;
  /** What the locator is told (discovery learns typical, not best-case, latency). */
  medianMs: number;
}

export class NodeLink {
  readonly conn: NodeConnection;
  readonly candidate: NodeCandidate;
  readonly monitor: LinkMonitor;
  /** Closed, on purpose or not; a link is never reused. */
  down = false;
  /** The node asked us to leave. */
  draining = false;

  /** Dials the node and says hello with the session's resume state; pings are left to the monitor. */
  static async open(candidate: NodeCandidate, options: NodeLinkOpenOptions): Promise<NodeLink> {
    const conn = await NodeConnection.open(candidate.url, {
      hello: { ...options.hello, resume: options.resume },
      pingIntervalMs: 0, // the LinkMonitor pings, at a rate that depends on the link's role
      connectTimeoutMs: options.connectTimeoutMs,
      ...(options.WebSocket ? { WebSocket: options.WebSocket } : {}),
    });
    return new NodeLink(conn, candidate, options);
  }

  private constructor(conn: NodeConnection, candidate: NodeCandidate, options: NodeLinkOpenOptions) {
    this.conn = conn;
    this.candidate = candidate;
    const { on } = options;
    this.monitor = new LinkMonitor(conn, {
      ...options.monitor,
      onRtt: (rttMs) => on.rtt(this, rttMs),
      onLost: (why) => on.lost(this, why),
      onOverBudget: (rttMs) => on.overBudget(this, rttMs),
    });
    conn.on('close', (code, reason) => on.lost(this, `socket closed (${code}${reason ? ` ${reason}` : ''})`));
    conn.on('drain', (message) => on.drain(this, message));
  }

  get tier() {
    return this.candidate.tier;
  }

  get url() {
    return this.candidate.url;
  }

  /** `pings` round trips after one discarded warm-up ping (it pays for lazy set-up on both ends). */
  async probe(pings: number, timeoutMs: number): Promise<ProbeResult> {
    await this.conn.ping(timeoutMs);
    const rtts: number[] = [];
    for (let i = 0; i < pings; i++) rtts.push(await this.conn.ping(timeoutMs));
    rtts.sort((a, b) => a - b);
    const medianMs = rtts[Math.floor(rtts.length / 2)]!;
    this.monitor.seed(medianMs);
    return { rttMs: rtts[0]!, medianMs };
  }

  /** Closes on purpose: marks the link down first so its close is not taken for a failure. */
  close(why: string): void {
    this.down = true;
    this.monitor.stop();
    if (!this.conn.closed) this.conn.close(1000, why.slice(0, 100));
  }
}
