/**
 * Discovery's rate limits, in three scopes, so that a client cannot escape them by changing
 * address and honest clients behind one NAT are not throttled as one:
 *
 * - per **address** (IPv6: per /64): the first line, generous for queries (a carrier-grade NAT
 *   puts hundreds of headsets behind one address);
 * - per **subnet** (IPv4 /24, IPv6 /56): what one host holding many addresses (loopback aliases,
 *   a walked /64) shares; generous, it only stops one network from flooding;
 * - per **identity**, after it is proven: a registration counts against its node key once it is
 *   signed, authorised, fresh and its nonce unused, a heartbeat likewise against its node id, a
 *   report against its ticket. Proven first, so nobody can spend a node's tokens with its
 *   (public) key or a replay.
 *
 * Queries carry no identity (they are anonymous and cheap); reports carry their query's ticket.
 * Each scope refuses with its own code (all HTTP 429): RATE_LIMITED, SUBNET_RATE_LIMITED,
 * KEY_RATE_LIMITED.
 */
import { addressKey, subnetKey } from '../protocol/server/addressKey.js';
import type { WsOperation } from '../protocol/discovery.js';
import { DiscoveryError, DiscoveryErrorCode as E } from './errors.js';
import { TokenBuckets, type RateLimit } from './rateLimit.js';

/** Evidence, standing and the audit log are HTTP only (evidence is larger than a ws frame may be, and rare). */
export type Operation = WsOperation | 'evidence' | 'standing' | 'audit' | 'reference';
export type IdentityOperation = 'register' | 'heartbeat' | 'report';

/** Per address (IPv6 /64). Queries: a NAT's worth of headsets each asking at start-up and on every move. */
export const DEFAULT_ADDRESS_LIMITS: Record<Operation, RateLimit> = {
  query: { ratePerSecond: 100, burst: 500 },
  register: { ratePerSecond: 2, burst: 20 },
  // many nodes of one operator may sit behind one address, each heartbeating every second
  heartbeat: { ratePerSecond: 200, burst: 400 },
  report: { ratePerSecond: 100, burst: 500 },
  // each one replays a trap through the predictors: rare from an honest client, CPU for discovery
  evidence: { ratePerSecond: 2, burst: 10 },
  // every open session asks every standingCheckMs (30 s): ~3,000 sessions behind one NAT
  standing: { ratePerSecond: 100, burst: 500 },
  // the whole audit log: an auditor's occasional download, megabytes once the ledger is busy
  audit: { ratePerSecond: 0.2, burst: 5 },
  // one model run per infer trap (a trap starts about once per 3,000 live predicts at q = 2 %)
  reference: { ratePerSecond: 5, burst: 20 },
};

/** Per subnet (/24, /56): a few NATs' worth for clients; a rack of nodes restarting for registrations. */
export const DEFAULT_SUBNET_LIMITS: Record<Operation, RateLimit> = {
  query: { ratePerSecond: 400, burst: 2000 },
  register: { ratePerSecond: 4, burst: 40 },
  heartbeat: { ratePerSecond: 1000, burst: 2000 },
  report: { ratePerSecond: 400, burst: 2000 },
  evidence: { ratePerSecond: 8, burst: 40 },
  standing: { ratePerSecond: 400, burst: 2000 },
  audit: { ratePerSecond: 1, burst: 20 },
  reference: { ratePerSecond: 20, burst: 80 },
};

/**
 * Per proven identity. A node registers once per start (and after a discovery restart); one
 * heartbeat per interval (1 s by default); a ticket is redeemed once, and the SDK reports once
 * per probe round.
 */
export const DEFAULT_IDENTITY_LIMITS: Record<IdentityOperation, RateLimit> = {
  register: { ratePerSecond: 0.2, burst: 5 },
  heartbeat: { ratePerSecond: 5, burst: 20 },
  report: { ratePerSecond: 0.1, burst: 3 },
};

export interface ClientLimitOptions {
  /** Per address (IPv6: /64). Defaults: DEFAULT_ADDRESS_LIMITS. */
  perAddress?: Partial<Record<Operation, RateLimit>>;
  /** Per subnet (IPv4 /24, IPv6 /56). Defaults: DEFAULT_SUBNET_LIMITS. */
  perSubnet?: Partial<Record<Operation, RateLimit>>;
  /** Per node key (register), node id (heartbeat), ticket (report). Defaults: DEFAULT_IDENTITY_LIMITS. */
  perIdentity?: Partial<Record<IdentityOperation, RateLimit>>;
}

export interface EffectiveClientLimits {
  perAddress: Record<Operation, RateLimit>;
  perSubnet: Record<Operation, RateLimit>;
  perIdentity: Record<IdentityOperation, RateLimit>;
}

/** Defaults overlaid with `options`: what discovery enforces (`discovery --print-limits` shows it). */
export function effectiveClientLimits(options: ClientLimitOptions): EffectiveClientLimits {
  return {
    perAddress: { ...DEFAULT_ADDRESS_LIMITS, ...options.perAddress },
    perSubnet: { ...DEFAULT_SUBNET_LIMITS, ...options.perSubnet },
    perIdentity: { ...DEFAULT_IDENTITY_LIMITS, ...options.perIdentity },
  };
}

type Buckets<K extends string> = Record<K, TokenBuckets>;

function buckets<K extends string>(limits: Record<K, RateLimit>): Buckets<K> {
  return Object.fromEntries(Object.entries<RateLimit>(limits).map(([op, limit]) => [op, new TokenBuckets(limit)])) as Buckets<K>;
}

export class ClientLimits {
  readonly #address: Buckets<Operation>;
  readonly #subnet: Buckets<Operation>;
  readonly #identity: Buckets<IdentityOperation>;

  constructor(options: ClientLimitOptions = {}) {
    const limits = effectiveClientLimits(options);
    this.#address = buckets(limits.perAddress);
    this.#subnet = buckets(limits.perSubnet);
    this.#identity = buckets(limits.perIdentity);
  }

  /** Before anything is parsed: the caller's address and subnet. Throws RATE_LIMITED / SUBNET_RATE_LIMITED. */
  take(op: Operation, ip: string): void {
    // the address first: a flooding address runs into its own limit and then stops spending its
    // subnet's tokens, so its honest neighbours keep theirs
    const address = addressKey(ip);
    const wait = this.#address[op].take(address);
    if (wait > 0) throw new DiscoveryError(E.RATE_LIMITED, `too many ${op} requests from ${address}; retry in ${wait.toFixed(2)} s`);
    const subnet = subnetKey(ip);
    const subnetWait = this.#subnet[op].take(subnet);
    if (subnetWait > 0) throw new DiscoveryError(E.SUBNET_RATE_LIMITED, `too many ${op} requests from ${subnet}; retry in ${subnetWait.toFixed(2)} s`);
  }

  /** Once the identity is proven (signature verified, ticket read). Throws KEY_RATE_LIMITED. */
  takeIdentity(op: IdentityOperation, identity: string): void {
    const wait = this.#identity[op].take(identity);
    if (wait > 0) throw new DiscoveryError(E.KEY_RATE_LIMITED, `too many ${op} requests for this ${op === 'report' ? 'ticket' : 'node'}; retry in ${wait.toFixed(2)} s`);
  }
}
