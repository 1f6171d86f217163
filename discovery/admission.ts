/**
 * The gate in front of the registry: a registration or heartbeat gets in only when it parses, is
 * signed by the node key, is authorised by a trusted operator, is fresh, and was never seen
 * before. Each failure has its own code (errors.ts), checked in that order so the cheapest and
 * most specific answer comes first.
 */
import { registrationSchema, heartbeatSchema, type NodeDescriptor } from '../protocol/discovery.js';
import { DiscoveryError, DiscoveryErrorCode as E, parseBody } from './errors.js';
import { SIGNING_DOMAIN, authorizationPayload, heartbeatPayload, registrationPayload, verifyPayload } from './identity.js';
import type { IpLocator } from './locate.js';
import type { NodeRecord, Registry } from './registry/Registry.js';
import type { TrustedOperators } from './trust.js';

export interface AdmissionOptions {
  /** Largest difference between a signed timestamp and our clock. Default 30 s (env `DISCOVERY_MAX_SKEW_MS`). */
  maxSkewMs?: number;
  /** Clock (epoch ms) for freshness and lastSeen; give it the registry's clock in tests. Default `Date.now`. */
  now?: () => number;
  /**
   * Charged once a request is proven (signed, authorised, fresh, nonce unused): the node key of a
   * registration, the node id of a heartbeat. Throws to refuse (KEY_RATE_LIMITED). Default none.
   */
  limitIdentity?: (op: 'register' | 'heartbeat', identity: string) => void;
  /**
   * Whether an operator's nodes may register: with a stake ledger, whether the operator holds its
   * minimum stake (StakeLedger.canRegister). Asked once a registration is proven, so a forger
   * cannot make discovery read the ledger. Default: every trusted operator may.
   */
  mayRegister?: (operator: string) => Promise<boolean>;
}

export class Admission {
  readonly maxSkewMs: number;
  readonly #registry: Registry;
  readonly #trust: TrustedOperators;
  readonly #locator: IpLocator;
  readonly #now: () => number;
  readonly #limitIdentity: NonNullable<AdmissionOptions['limitIdentity']>;
  readonly #mayRegister: AdmissionOptions['mayRegister'];

  constructor(registry: Registry, trust: TrustedOperators, locator: IpLocator, options: AdmissionOptions = {}) {
    this.#registry = registry;
    this.#trust = trust;
    this.#locator = locator;
    this.maxSkewMs = options.maxSkewMs ?? (Number(process.env.DISCOVERY_MAX_SKEW_MS) || 30_000);
    this.#now = options.now ?? Date.now;
    this.#limitIdentity = options.limitIdentity ?? (() => {});
    this.#mayRegister = options.mayRegister;
  }

  /**
   * @param challenge on the node channel, the connection's challenge: the signed nonce must be it,
   * so a registration captured on one connection cannot authenticate another.
   */
  async register(body: unknown, now = this.#now(), challenge?: string): Promise<NodeRecord> {
    const reg = parseBody(registrationSchema, body, 'registration');
    const d = reg.descriptor;
    if (reg.signature === undefined) throw new DiscoveryError(E.UNSIGNED, 'registration has no signature; sign it with the node key (signRegistration)');
    if (challenge !== undefined && reg.nonce !== challenge) {
      throw new DiscoveryError(E.BAD_CHALLENGE, "registration's nonce is not this connection's challenge; sign a registration over the challenge you were sent");
    }
    if (!verifyPayload(SIGNING_DOMAIN.register, registrationPayload(reg), reg.signature, d.publicKey)) {
      throw new DiscoveryError(E.BAD_SIGNATURE, `registration signature does not verify against node ${d.id}'s public key`);
    }
    this.#checkOperator(reg.authorization, d);
    this.#checkFresh(reg.timestamp, now);
    await this.#claim(`r:${d.id}:${reg.nonce}`);
    // charged only now, for a registration signed, authorised, fresh and never seen: nobody but the
    // key's holder can spend its tokens (not a forger, not a replay of a captured registration)
    this.#limitIdentity('register', d.publicKey);
    if (this.#mayRegister && !(await this.#mayRegister(d.operator))) {
      throw new DiscoveryError(E.INSUFFICIENT_STAKE, `operator '${d.operator}' holds less than the stake this discovery requires of its nodes; deposit stake, then the node's next registration gets in`);
    }
    const existing = await this.#registry.get(d.id);
    if (existing !== undefined && existing.publicKey !== d.publicKey && existing.operator !== d.operator) {
      throw new DiscoveryError(E.ID_TAKEN, `node id ${d.id} is registered by operator ${existing.operator} under another key`);
    }
    const place = await this.#place(d);
    const record: NodeRecord = {
      id: d.id,
      publicKey: d.publicKey,
      url: d.url,
      tier: d.tier,
      lat: place.lat,
      lon: place.lon,
      caps: d.caps,
      capacity: d.capacity,
      pricePerMinute: d.pricePerMinute,
      operator: d.operator,
      // the load it signed into the registration (a status cannot claim more than the capacity)
      load: reg.status?.load ?? 0,
      freeCapacity: Math.min(reg.status?.freeCapacity ?? d.capacity, d.capacity),
      lastSeen: now,
    };
    await this.#registry.put(record);
    return record;
  }

  async heartbeat(body: unknown, now = this.#now()): Promise<NodeRecord> {
    const hb = parseBody(heartbeatSchema, body, 'heartbeat');
    if (hb.signature === undefined) throw new DiscoveryError(E.UNSIGNED, 'heartbeat has no signature; sign it with the node key (signHeartbeat)');
    const node = await this.#registry.get(hb.id);
    if (node === undefined) throw new DiscoveryError(E.UNKNOWN_NODE, `node ${hb.id} is not registered (or expired); register again`);
    if (!verifyPayload(SIGNING_DOMAIN.heartbeat, heartbeatPayload(hb), hb.signature, node.publicKey)) {
      throw new DiscoveryError(E.BAD_SIGNATURE, `heartbeat signature does not verify against node ${hb.id}'s registered key`);
    }
    this.#checkFresh(hb.timestamp, now);
    await this.#claim(`h:${hb.id}:${hb.nonce}`);
    this.#limitIdentity('heartbeat', hb.id);
    const touched = await this.#registry.touch(hb.id, { load: hb.load, freeCapacity: Math.min(hb.freeCapacity, node.capacity) }, now);
    if (touched === undefined) throw new DiscoveryError(E.UNKNOWN_NODE, `node ${hb.id} expired; register again`);
    return touched;
  }

  #checkOperator(auth: { operator: string; operatorKey: string; signature?: string | undefined } | undefined, d: NodeDescriptor): void {
    if (auth === undefined) throw new DiscoveryError(E.UNAUTHORISED_OPERATOR, 'registration has no operator authorisation; ask your operator to authorise this node key');
    const trustedName = this.#trust.nameOf(auth.operatorKey);
    if (trustedName === undefined) throw new DiscoveryError(E.UNAUTHORISED_OPERATOR, `operator key of '${auth.operator}' is not trusted by this discovery`);
    if (trustedName !== auth.operator || d.operator !== auth.operator) {
      throw new DiscoveryError(E.UNAUTHORISED_OPERATOR, `descriptor names operator '${d.operator}' but the trusted key belongs to '${trustedName}'`);
    }
    if (auth.signature === undefined || !verifyPayload(SIGNING_DOMAIN.authorize, authorizationPayload(auth.operator, d.id, d.publicKey), auth.signature, auth.operatorKey)) {
      throw new DiscoveryError(E.UNAUTHORISED_OPERATOR, `operator '${auth.operator}' did not sign an authorisation for node ${d.id} with this key`);
    }
  }

  #checkFresh(timestamp: number, now: number): void {
    if (Math.abs(now - timestamp) > this.maxSkewMs) {
      throw new DiscoveryError(E.STALE_TIMESTAMP, `signed timestamp is ${Math.round((now - timestamp) / 1000)} s from discovery's clock (max ±${this.maxSkewMs / 1000} s); check the node's clock`);
    }
  }

  async #claim(key: string): Promise<void> {
    // a nonce must outlive every timestamp that could still pass the skew check
    if (!(await this.#registry.claimNonce(key, 2 * this.maxSkewMs))) {
      throw new DiscoveryError(E.REPLAYED_NONCE, 'this nonce was already used; sign each request with a fresh nonce');
    }
  }

  async #place(d: NodeDescriptor): Promise<{ lat: number; lon: number }> {
    if (d.lat !== undefined && d.lon !== undefined) return { lat: d.lat, lon: d.lon };
    const found = await this.#locator.lookupIp(d.ip!);
    if (found === undefined) throw new DiscoveryError(E.MALFORMED, `registration.descriptor.ip ${d.ip} cannot be located; send lat and lon`);
    return found;
  }
}
