/**
 * Every knob of the failover machine, with its default. Timeouts are options (tests shorten them
 * instead of sleeping); the ping interval also reads EDGE_OFFLOAD_PING_INTERVAL_MS.
 */
import type { HelloMessage } from '../../protocol/index.js';
import type { BackoffOptions } from '../link/Backoff.js';
import { DEFAULT_REQUEST_HEALTH, type RequestHealthOptions } from '../link/RequestHealth.js';
import type { NodeLocator } from './locator.js';
import type { ProbeOptions } from './probe.js';
import type { SessionMemoryOptions } from '../session/SessionMemory.js';
import type { SessionTrustOptions } from '../trust/SessionTrust.js';
import type { WebSocketConstructor } from '../transport/WebSocketTransport.js';
import type { DataPathOptions } from '../transport/RtcPeer.js';

export interface FailoverOptions extends DataPathOptions {
  locator: NodeLocator;
  /** RTT an edge must stay within, ms. @default 20 */
  budgetMs?: number;
  /** What every `hello` carries besides the resume state (token, client name, capabilities). */
  hello?: Omit<HelloMessage, 't' | 'v' | 'resume'>;
  /** Ping interval on the active node, ms. @default 50 (env EDGE_OFFLOAD_PING_INTERVAL_MS) */
  pingIntervalMs?: number;
  /** Intervals without a pong (beyond the usual RTT) before the node counts as lost. @default 3 */
  missedPings?: number;
  /**
   * Extra silence tolerated, ms, on an active node with no standby behind it: losing the last
   * node leaves only local answers, so it gets the benefit of the doubt. @default 500
   */
  lastResortGraceMs?: number;
  /** Consecutive pongs over budget before leaving the edge. @default 3 */
  overBudgetPings?: number;
  /** Keep a warm cloud connection while on an edge. @default true */
  standby?: boolean;
  /** Ping interval on the standby, ms. @default 1000 */
  standbyPingIntervalMs?: number;
  /**
   * Pings per probe of a candidate that count, after one discarded warm-up ping; their median
   * judges the node (probe.ts). @default 4
   */
  probePings?: number;
  /** One probe ping's timeout, ms. @default max(500, 4 × budgetMs) */
  probePingTimeoutMs?: number;
  /**
   * RTT (ms) the session gives up to follow discovery's placement pick (which spreads sessions by
   * load) over the lowest measured node; 0 always takes the lowest. @default 5
   */
  spreadSlackMs?: number;
  /** Medians within this of the best (ms, or 5 % of the best) are re-probed as a tie. @default 0.3 */
  probeTieMs?: number;
  /** Extra pings per tied node. @default 8 */
  probeTiePings?: number;
  /** Stragglers are cut off this many times the first finisher's probe time later; 0 waits for all. @default 1 */
  probeStraggleFactor?: number;
  /** Edge candidates probed at once. @default 3 */
  maxParallelProbes?: number;
  /** TCP + WebSocket + hello, ms. @default 2000 */
  connectTimeoutMs?: number;
  /** Re-discovery interval while off the edge: starts here… @default 100 */
  rediscoverInitialMs?: number;
  /** …and grows (jittered) to this, ms. @default 500 */
  rediscoverMaxMs?: number;
  /** …by this factor per empty round. @default 1.5 */
  rediscoverFactor?: number;
  /** Per-node reconnect backoff after a failure (refused, died, drained). @default { initialMs: 250, maxMs: 5000 } */
  nodeBackoff?: BackoffOptions;
  /**
   * Backoff for an edge that answered but over budget: short and capped, because "too slow" is
   * often a passing spike and restore should follow it within a second. @default { initialMs: 250, maxMs: 1000 }
   */
  slowBackoff?: BackoffOptions;
  /** A draining node is not retried for its announced deadline, and at least this long, ms. @default 5000 */
  drainFloorMs?: number;
  /** First wait before re-opening a lost standby (jittered backoff), ms. @default 250 */
  standbyRetryMs?: number;
  /** Poses replayed to a new node (hello.resume and the catch-up `pose`), at most. @default 64 */
  replayPoses?: number;
  /** Wait before re-sending a call a node answered "busy"/"shutting down", ms; doubles per retry. @default 20 */
  retryDelayMs?: number;
  /** Such retries per call before its error reaches the app. @default 5 */
  maxRetries?: number;
  /** How long an edge left for latency is not probed again, at least, ms. @default 1000 */
  overBudgetCooldownMs?: number;
  /** Overall deadline of one call, ms. @default 10000 */
  deadlineMs?: number;
  /** `predict` answers locally when no node answered within this, ms. @default 150 */
  localFallbackMs?: number;
  /**
   * When a node that answers pings counts as failing all the same: predictions unanswered after
   * `unansweredAfterMs` (default 1000), `maxUnanswered` in a row (default 3), or `maxWrongIds`
   * answers with ids never sent (default 3). The session then leaves it (`nodeFault` event).
   */
  requestHealth?: Partial<RequestHealthOptions>;
  /** A node left for a fault (`nodeFault`) is not tried again for this long, ms. @default 60000 */
  faultCooldownMs?: number;
  /** Predictor the nodes should use (dropped for nodes that lack it). */
  predictor?: string;
  memory?: SessionMemoryOptions;
  WebSocket?: WebSocketConstructor;
  /**
   * EntrapNet trap tasks against the nodes the session uses (client-sdk/trust/SessionTrust.ts):
   * on by default at `trapShare` 2 %; a node caught answering wrongly is left like a draining one
   * and the evidence goes to discovery through the locator. `false` turns it off.
   * @default {} (trapShare 0.02, local reference for kalman / constant-velocity / none)
   */
  trust?: SessionTrustOptions | false;
  /** How long a node this session distrusts (caught by a trap, or ejected) is not used again, ms. @default 3600000 */
  distrustCooldownMs?: number;
}

type Optional = 'hello' | 'predictor' | 'memory' | 'WebSocket' | 'rtcPeers' | 'rtcResendAfterMs' | 'trust';
export type ResolvedFailoverOptions = Required<Omit<FailoverOptions, Optional>> & Pick<FailoverOptions, Optional>;

const envNumber = (name: string): number | undefined => {
  const value = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
  return value === undefined || value === '' ? undefined : Number(value);
};

export function resolveFailoverOptions(options: FailoverOptions): ResolvedFailoverOptions {
  if (!options?.locator || typeof options.locator.shortlist !== 'function') throw new TypeError('options.locator must be a NodeLocator');
  const resolved: ResolvedFailoverOptions = {
    locator: options.locator,
    budgetMs: options.budgetMs ?? 20,
    pingIntervalMs: options.pingIntervalMs ?? envNumber('EDGE_OFFLOAD_PING_INTERVAL_MS') ?? 50,
    missedPings: options.missedPings ?? 3,
    lastResortGraceMs: options.lastResortGraceMs ?? 500,
    overBudgetPings: options.overBudgetPings ?? 3,
    standby: options.standby ?? true,
    standbyPingIntervalMs: options.standbyPingIntervalMs ?? 1000,
    probePings: options.probePings ?? 4,
    probePingTimeoutMs: options.probePingTimeoutMs ?? Math.max(500, 4 * (options.budgetMs ?? 20)),
    probeTieMs: options.probeTieMs ?? 0.3,
    spreadSlackMs: options.spreadSlackMs ?? 5,
    probeTiePings: options.probeTiePings ?? 8,
    probeStraggleFactor: options.probeStraggleFactor ?? 1,
    maxParallelProbes: options.maxParallelProbes ?? 3,
    connectTimeoutMs: options.connectTimeoutMs ?? 2000,
    rediscoverInitialMs: options.rediscoverInitialMs ?? 100,
    rediscoverMaxMs: options.rediscoverMaxMs ?? 500,
    rediscoverFactor: options.rediscoverFactor ?? 1.5,
    nodeBackoff: { initialMs: 250, maxMs: 5000, ...options.nodeBackoff },
    slowBackoff: { initialMs: 250, maxMs: 1000, ...options.slowBackoff },
    drainFloorMs: options.drainFloorMs ?? 5000,
    standbyRetryMs: options.standbyRetryMs ?? 250,
    replayPoses: options.replayPoses ?? 64,
    retryDelayMs: options.retryDelayMs ?? 20,
    maxRetries: options.maxRetries ?? 5,
    overBudgetCooldownMs: options.overBudgetCooldownMs ?? 1000,
    deadlineMs: options.deadlineMs ?? 10_000,
    localFallbackMs: options.localFallbackMs ?? 150,
    requestHealth: { ...DEFAULT_REQUEST_HEALTH, ...options.requestHealth },
    faultCooldownMs: options.faultCooldownMs ?? 60_000,
    hello: options.hello,
    predictor: options.predictor,
    WebSocket: options.WebSocket,
    memory: options.memory,
    trust: options.trust ?? {},
    distrustCooldownMs: options.distrustCooldownMs ?? 3_600_000,
    transport: options.transport ?? 'auto',
    rtcPeers: options.rtcPeers,
    rtcConnectTimeoutMs: options.rtcConnectTimeoutMs ?? 5000,
    rtcResendAfterMs: options.rtcResendAfterMs,
  };
  for (const key of ['budgetMs', 'pingIntervalMs', 'missedPings', 'deadlineMs', 'localFallbackMs', 'connectTimeoutMs', 'probePings', 'probePingTimeoutMs', 'replayPoses'] as const) {
    if (!(resolved[key] > 0)) throw new TypeError(`options.${key} must be a positive number`);
  }
  return resolved;
}

/** What the probe (probe.ts) is told, from the session's options: the SDK and `bench discovery` both use this. */
export function probeOptions(o: ResolvedFailoverOptions): ProbeOptions {
  return {
    pings: o.probePings + 1, // probe.ts counts the discarded warm-up ping
    pingTimeoutMs: o.probePingTimeoutMs,
    connectTimeoutMs: o.connectTimeoutMs,
    budgetMs: o.budgetMs,
    tieMs: o.probeTieMs,
    spreadSlackMs: o.spreadSlackMs,
    tiePings: o.probeTiePings,
    straggleFactor: o.probeStraggleFactor,
  };
}
