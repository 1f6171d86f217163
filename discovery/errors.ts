/**
 * Stable error codes of the discovery API. Every rejection a node or client can see carries one,
 * with the HTTP status it travels under; callers switch on `code`, never on the message text.
 */
export const DiscoveryErrorCode = {
  /** The body is not JSON. */
  BAD_JSON: 'BAD_JSON',
  /** JSON, but not the shape the endpoint expects (field path in the message). */
  MALFORMED: 'MALFORMED',
  /** The body is over the endpoint's size cap. */
  TOO_LARGE: 'TOO_LARGE',
  /** A registration or heartbeat without a signature. */
  UNSIGNED: 'UNSIGNED',
  /** The node signature does not verify against the node's public key. */
  BAD_SIGNATURE: 'BAD_SIGNATURE',
  /** No operator authorisation, an operator this discovery does not trust, or a bad operator signature. */
  UNAUTHORISED_OPERATOR: 'UNAUTHORISED_OPERATOR',
  /** The signed timestamp is outside the accepted clock-skew window. */
  STALE_TIMESTAMP: 'STALE_TIMESTAMP',
  /** The nonce was already used inside the skew window. */
  REPLAYED_NONCE: 'REPLAYED_NONCE',
  /** The id is registered under another public key that is still alive. */
  ID_TAKEN: 'ID_TAKEN',
  /** A heartbeat for a node the registry does not hold (expired or never registered): register again. */
  UNKNOWN_NODE: 'UNKNOWN_NODE',
  /** This IP sent too many requests; retry after the `Retry-After` seconds. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** No such endpoint. */
  NOT_FOUND: 'NOT_FOUND',
  /** The endpoint exists but not for this method. */
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  /** The registry backend failed (Redis down…); retry later. */
  UNAVAILABLE: 'UNAVAILABLE',
  /** A bug in discovery. */
  INTERNAL: 'INTERNAL',
} as const;
export type DiscoveryErrorCode = (typeof DiscoveryErrorCode)[keyof typeof DiscoveryErrorCode];

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
  RATE_LIMITED: 429,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

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

export function isDiscoveryErrorCode(value: unknown): value is DiscoveryErrorCode {
  return typeof value === 'string' && Object.hasOwn(HTTP_STATUS, value);
}
