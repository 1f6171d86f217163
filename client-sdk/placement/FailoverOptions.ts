/**
 * Every knob of the failover machine, with its default. Timeouts are options (tests shorten them
 * instead of sleeping); the ping interval also reads EDGE_OFFLOAD_PING_INTERVAL_MS.
 */
import type { HelloMessage } from '../../protocol/index.js';
import type { BackoffOptions } from '../link/Backoff.js';
import type { NodeLocator } from './locator.js';
import type { SessionMemoryOptions } from '../session/SessionMemory.js';
import type { WebSocketConstructor } from '../transport/WebSocketTransport.js';

export interface FailoverOptions {
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
  /** Pings per probe of a candidate, after one discarded warm-up ping (the fastest decides). @default 3 */
  probePings?: number;
  /** Edge candidates probed at once. @default 3 */
  maxParallelProbes?: number;
  /** TCP + WebSocket + hello, ms. @default 2000 */
  connectTimeoutMs?: number;
  /** Re-discovery interval while off the edge: starts here… @default 100 */
  rediscoverInitialMs?: number;
  /** …and grows (jittered) to this, ms. @default 500 */
  rediscoverMaxMs?: number;
  /** Per-node reconnect backoff. @default { initialMs: 250, maxMs: 5000 } */
  nodeBackoff?: BackoffOptions;
  /** How long an edge left for latency is not probed again, at least, ms. @default 1000 */
  overBudgetCooldownMs?: number;
  /** Overall deadline of one call, ms. @default 10000 */
  deadlineMs?: number;
  /** `predict` answers locally when no node answered within this, ms. @default 150 */
  localFallbackMs?: number;
  /** Predictor the nodes should use (dropped for nodes that lack it). */
  predictor?: string;
  memory?: SessionMemoryOptions;
  WebSocket?: WebSocketConstructor;
}

export type ResolvedFailoverOptions = Required<Omit<FailoverOptions, 'hello' | 'predictor' | 'memory' | 'WebSocket' | 'nodeBackoff'>> &
  Pick<FailoverOptions, 'hello' | 'predictor' | 'WebSocket'>;

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
    probePings: options.probePings ?? 3,
    maxParallelProbes: options.maxParallelProbes ?? 3,
    connectTimeoutMs: options.connectTimeoutMs ?? 2000,
    rediscoverInitialMs: options.rediscoverInitialMs ?? 100,
    rediscoverMaxMs: options.rediscoverMaxMs ?? 500,
    overBudgetCooldownMs: options.overBudgetCooldownMs ?? 1000,
    deadlineMs: options.deadlineMs ?? 10_000,
    localFallbackMs: options.localFallbackMs ?? 150,
    hello: options.hello,
    predictor: options.predictor,
    WebSocket: options.WebSocket,
  };
  for (const key of ['budgetMs', 'pingIntervalMs', 'missedPings', 'deadlineMs', 'localFallbackMs', 'connectTimeoutMs'] as const) {
    if (!(resolved[key] > 0)) throw new TypeError(`options.${key} must be a positive number`);
  }
  return resolved;
}
