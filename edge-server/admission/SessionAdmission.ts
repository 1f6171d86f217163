/**
 * Who may hold a session on this node, and how many (issue #15, attack 1: ~1,000 sessions that
 * said `hello` and went silent refused every new client).
 *
 * Two gates:
 * - at the upgrade, by address: at most `maxSessions` in all, `maxSessionsPerIp` per client
 *   address (an IPv6 client is counted by its /64: one host gets a whole /64 for free) and
 *   `maxSessionsPerSubnet` per subnet (IPv4 /24, IPv6 /56: 20 loopback aliases of one host are
 *   one client, and cannot fill the node between them);
 * - at `hello`, by token: with a `verifier`, `hello.token` must verify to an identity, and one
 *   identity holds at most `maxSessionsPerToken` sessions. Without a verifier tokens are ignored
 *   (an open node), unless `requireToken` says otherwise.
 *
 * A refusal is a `ProtocolError` with code `UNAUTHORIZED` (close code `UNAUTHORIZED`) at hello,
 * or an `AdmissionRefusal` (HTTP 503 / 429) at the upgrade.
 */
import { CloseCode, ErrorCode, ProtocolError } from '../../protocol/index.js';
import type { TokenVerifier } from './TokenVerifier.js';
import { addressKey, subnetKey } from '../../protocol/server/addressKey.js';

export interface SessionAdmissionOptions {
  /** Sessions on the node at once. @default 1000 */
  maxSessions?: number;
  /** Sessions from one address (IPv6: one /64) at once. @default 64 */
  maxSessionsPerIp?: number;
  /** Sessions from one subnet (IPv4 /24, IPv6 /56) at once. @default 256 */
  maxSessionsPerSubnet?: number;
  /** Sessions of one verified token identity at once. @default 8 */
  maxSessionsPerToken?: number;
  /** Checks `hello.token`; without one, tokens are not checked. */
  verifier?: TokenVerifier;
  /** Refuse a hello without a token even when no verifier is set. @default false (true when a verifier is given) */
  requireToken?: boolean;
}

export const DEFAULT_MAX_SESSIONS = 1000;
// a venue of headsets behind one NAT fits; past it, hello tokens (per-token caps) are the tool
export const DEFAULT_MAX_SESSIONS_PER_IP = 64;
export const DEFAULT_MAX_SESSIONS_PER_TOKEN = 8;
// four NATs' worth; a quarter of the node: one network cannot fill it however many addresses it holds
export const DEFAULT_MAX_SESSIONS_PER_SUBNET = 256;

export type RefusalCode = 'NODE_FULL' | 'ADDRESS_FULL' | 'SUBNET_FULL' | 'DRAINING';

export class AdmissionRefusal extends Error {
  override readonly name = 'AdmissionRefusal';
  readonly code: RefusalCode;
  /** HTTP status for the refused upgrade. */
  readonly status: number;
  constructor(code: AdmissionRefusal['code'], message: string) {
    super(message);
    this.code = code;
    this.status = AdmissionRefusal.statusOf(code);
  }

  /** 429 for a client over its own share (address, subnet), 503 for the node's (full, draining). */
  static statusOf(code: RefusalCode): 429 | 503 {
    return code === 'ADDRESS_FULL' || code === 'SUBNET_FULL' ? 429 : 503;
  }
}


/** One admitted connection; `authorize` at hello, `release` when it closes (idempotent). */
export interface AdmissionTicket {
  readonly address: string;
  identity: string | undefined;
  /** The verified identity (undefined on an open node); throws ProtocolError UNAUTHORIZED. */
  authorize(token: string | undefined): string | undefined;
  release(): void;
}

export class SessionAdmission {
  readonly maxSessions: number;
  readonly maxSessionsPerIp: number;
  readonly maxSessionsPerSubnet: number;
  readonly maxSessionsPerToken: number;
  readonly requireToken: boolean;
  readonly #verifier: TokenVerifier | undefined;
  readonly #byAddress = new Map<string, number>();
  readonly #bySubnet = new Map<string, number>();
  readonly #byIdentity = new Map<string, number>();
  #total = 0;
  #draining = false;
  readonly #refused = new Map<string, number>();

  constructor(options: SessionAdmissionOptions = {}) {
    this.maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    this.maxSessionsPerIp = options.maxSessionsPerIp ?? DEFAULT_MAX_SESSIONS_PER_IP;
    this.maxSessionsPerToken = options.maxSessionsPerToken ?? DEFAULT_MAX_SESSIONS_PER_TOKEN;
    this.maxSessionsPerSubnet = options.maxSessionsPerSubnet ?? DEFAULT_MAX_SESSIONS_PER_SUBNET;
    this.#verifier = options.verifier;
    this.requireToken = options.requireToken ?? options.verifier !== undefined;
    for (const [k, v] of Object.entries({ maxSessions: this.maxSessions, maxSessionsPerIp: this.maxSessionsPerIp, maxSessionsPerSubnet: this.maxSessionsPerSubnet, maxSessionsPerToken: this.maxSessionsPerToken })) {
      if (!Number.isInteger(v) || v < 1) throw new TypeError(`admission.${k} must be a positive integer`);
    }
  }

  get sessions(): number {
    return this.#total;
  }

  /** Refusals so far by reason (`NODE_FULL`, `ADDRESS_FULL`, `UNAUTHORIZED`, `TOKEN_FULL`, `DRAINING`). */
  refusals(): Record<string, number> {
    return Object.fromEntries(this.#refused);
  }

  /** Stop admitting (drain): every later `admit` is refused with `DRAINING`. */
  drain(): void {
    this.#draining = true;
  }

  /** The upgrade gate. Throws `AdmissionRefusal`; the caller answers its `status`. */
  admit(remoteAddress: string | undefined): AdmissionTicket {
    const admitted = this.tryAdmit(remoteAddress);
    if (typeof admitted !== 'string') return admitted;
    const limit = { NODE_FULL: `node holds its most sessions (${this.maxSessions})`, ADDRESS_FULL: `${addressKey(remoteAddress)} holds its most sessions (${this.maxSessionsPerIp})`, SUBNET_FULL: `${subnetKey(remoteAddress)} holds its most sessions (${this.maxSessionsPerSubnet})`, DRAINING: 'node is draining; try another node' }[admitted];
    throw new AdmissionRefusal(admitted, limit);
  }

  /**
   * The upgrade gate without an Error: a ticket, or the refusal's code (`AdmissionRefusal.statusOf`
   * gives its HTTP status). A storm refused by the hundred pays for no stack traces (attack 1).
   */
  tryAdmit(remoteAddress: string | undefined): AdmissionTicket | RefusalCode {
    if (this.#draining) return this.#countRefusal('DRAINING');
    if (this.#total >= this.maxSessions) return this.#countRefusal('NODE_FULL');
    const address = addressKey(remoteAddress);
    const fromAddress = this.#byAddress.get(address) ?? 0;
    if (fromAddress >= this.maxSessionsPerIp) return this.#countRefusal('ADDRESS_FULL');
    const subnet = subnetKey(remoteAddress);
    const fromSubnet = this.#bySubnet.get(subnet) ?? 0;
    if (fromSubnet >= this.maxSessionsPerSubnet) return this.#countRefusal('SUBNET_FULL');
    this.#byAddress.set(address, fromAddress + 1);
    this.#bySubnet.set(subnet, fromSubnet + 1);
    this.#total++;
    let released = false;
    const ticket: AdmissionTicket = {
      address,
      identity: undefined,
      authorize: (token) => this.#authorize(ticket, token),
      release: () => {
        if (released) return;
        released = true;
        this.#total--;
        decrement(this.#byAddress, address);
        decrement(this.#bySubnet, subnet);
        if (ticket.identity !== undefined) decrement(this.#byIdentity, ticket.identity);
      },
    };
    return ticket;
  }

  #authorize(ticket: AdmissionTicket, token: string | undefined): string | undefined {
    if (token === undefined) {
      if (this.requireToken) this.#refuse('UNAUTHORIZED', unauthorized('this node needs hello.token'));
      return undefined;
    }
    if (!this.#verifier) return undefined;
    let identity: string | undefined;
    try {
      identity = this.#verifier.verify(token);
    } catch {
      identity = undefined; // a verifier that throws refuses; it never takes the session's error path
    }
    if (identity === undefined) this.#refuse('UNAUTHORIZED', unauthorized('hello.token was refused'));
    const held = this.#byIdentity.get(identity) ?? 0;
    if (held >= this.maxSessionsPerToken) this.#refuse('TOKEN_FULL', unauthorized(`this token holds its most sessions (${this.maxSessionsPerToken})`));
    this.#byIdentity.set(identity, held + 1);
    ticket.identity = identity;
    return identity;
  }

  /** Counts a refusal by its reason (refusals()) and returns the reason. */
  #countRefusal<R extends string>(reason: R): R {
    this.#refused.set(reason, (this.#refused.get(reason) ?? 0) + 1);
    return reason;
  }

  #refuse(reason: string, err: Error): never {
    this.#countRefusal(reason);
    throw err;
  }
}

function unauthorized(message: string): ProtocolError {
  return new ProtocolError(ErrorCode.UNAUTHORIZED, message, CloseCode.UNAUTHORIZED);
}

function decrement(map: Map<string, number>, key: string): void {
  const n = (map.get(key) ?? 0) - 1;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}
