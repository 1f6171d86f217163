/**
 * Discovery's refusals: the stable codes of the contract (protocol/discovery.ts) with the HTTP
 * status each travels under, and the parse step that turns a schema violation into one.
 */
import { DEFAULT_LIMITS, ProtocolError, type WireLimits } from '../protocol/index.js';
import { DiscoveryErrorCode } from '../protocol/discovery.js';
import type { Schema } from '../protocol/schema.js';

export { DiscoveryErrorCode, isDiscoveryErrorCode } from '../protocol/discovery.js';

const HTTP_STATUS: Record<DiscoveryErrorCode, number> = {
  BAD_JSON: 400,
  MALFORMED: 400,
  TOO_LARGE: 413,
  UNSIGNED: 401,
  BAD_SIGNATURE: 401,
  UNAUTHORISED_OPERATOR: 403,
  STALE_TIMESTAMP: 401,
  REPLAYED_NONCE: 409,
  ID_TAKEN: 409,
  UNKNOWN_NODE: 404,
  BAD_CHALLENGE: 401,
  NOT_AUTHENTICATED: 401,
  WRONG_CONNECTION: 403,
  STALE_SEQUENCE: 409,
  RATE_LIMITED: 429,
  SUBNET_RATE_LIMITED: 429,
  KEY_RATE_LIMITED: 429,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  UNAVAILABLE: 503,
  INTERNAL: 500,
  BAD_ANSWER: 502,
  // trust codes (discovery/trustErrors.ts answers with these too)
  TICKET_FORGED: 403,
  TICKET_EXPIRED: 403,
  TICKET_WRONG_CLIENT: 403,
  NOT_SIGNED_BY_NODE: 422,
  UNVERIFIABLE: 422,
  NOT_WRONG: 422,
  DUPLICATE: 409,
  INSUFFICIENT_STAKE: 402,
  AUDIT_BROKEN: 422,
};

/** The HTTP status a discovery (or trust) error code is answered with. */
export function httpStatusOf(code: DiscoveryErrorCode): number {
  return HTTP_STATUS[code];
}

export class DiscoveryError extends Error {
  override readonly name = 'DiscoveryError';
  readonly code: DiscoveryErrorCode;
  constructor(code: DiscoveryErrorCode, message: string) {
    super(message);
    this.code = code;
  }
  get status(): number {
    return HTTP_STATUS[this.code];
  }
  toJSON(): { error: { code: DiscoveryErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

/** Parses an untrusted value; schema violations become `MALFORMED` (or `TOO_LARGE`) discovery errors. */
export function parseBody<T>(schema: Schema<T>, value: unknown, what: string, limits: WireLimits = DEFAULT_LIMITS): T {
  try {
    return schema.parse(value, what, limits);
  } catch (err) {
    if (err instanceof ProtocolError) {
      throw new DiscoveryError(err.code === 'TOO_LARGE' ? DiscoveryErrorCode.TOO_LARGE : DiscoveryErrorCode.MALFORMED, err.message);
    }
    throw err;
  }
}
