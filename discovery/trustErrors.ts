/**
 * Stable codes for the trust mechanisms (report tickets, evidence, stake ledger). Kept apart from
 * errors.ts while the discovery API is being reshaped; each maps to an HTTP status the same way.
 */
import { DiscoveryErrorCode as D } from '../protocol/discovery.js';
import { httpStatusOf } from './errors.js';

/** The trust subset of the discovery contract's codes (protocol/discovery.ts `DiscoveryErrorCode`). */
export const TrustErrorCode = {
  /** Evidence or ticket does not match its schema. */
  MALFORMED: D.MALFORMED,
  /** The ticket's MAC does not verify: forged or altered. */
  TICKET_FORGED: D.TICKET_FORGED,
  /** The ticket is older than its lifetime (or from the future). */
  TICKET_EXPIRED: D.TICKET_EXPIRED,
  /** The ticket was issued to another client. */
  TICKET_WRONG_CLIENT: D.TICKET_WRONG_CLIENT,
  /** Evidence names a node discovery does not know (no key to check its signature against). */
  UNKNOWN_NODE: D.UNKNOWN_NODE,
  /** The seal does not verify against the node's key, or belongs to another node/session. */
  BAD_SIGNATURE: D.BAD_SIGNATURE,
  /** The answer recomputed from the evidence's requests is not a record of the sealed block. */
  NOT_SIGNED_BY_NODE: D.NOT_SIGNED_BY_NODE,
  /** Discovery cannot recompute the answer (predictor it does not run, no poses before the predict). */
  UNVERIFIABLE: D.UNVERIFIABLE,
  /** The node's answer matches the recomputation within tolerance: nothing to punish. */
  NOT_WRONG: D.NOT_WRONG,
  /** The same offence was already judged (duplicate evidence). */
  DUPLICATE: D.DUPLICATE,
  /** An operator without enough stake (registration, or a withdrawal past the balance). */
  INSUFFICIENT_STAKE: D.INSUFFICIENT_STAKE,
  /** The audit log does not verify. */
  AUDIT_BROKEN: D.AUDIT_BROKEN,
} as const;
export type TrustErrorCode = (typeof TrustErrorCode)[keyof typeof TrustErrorCode];

export class TrustError extends Error {
  override readonly name = 'TrustError';
  readonly code: TrustErrorCode;
  constructor(code: TrustErrorCode, message: string) {
    super(message);
    this.code = code;
  }
  get status(): number {
    return httpStatusOf(this.code);
  }
  toJSON(): { error: { code: TrustErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}
