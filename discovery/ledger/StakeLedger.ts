/**
 * The stake ledger seam (EntrapNet's deposit and incentive pool, without a blockchain): operators
 * deposit stake; registration needs `minStake`; a verified offence moves `slashBps` of the
 * operator's stake out, `rewardBps` of that to the reporting client's credit and the rest to the
 * reward pool. Every change is appended to the signed audit log (AuditLog.ts).
 */
import type { AuditEntry, AuditHeader } from './AuditLog.js';
import type { LedgerParams, LedgerResult } from './rules.js';

export interface Offence {
  operator: string;
  node: string;
  /** discovery/evidence.ts Verdict.offenceId: the same wrong answer is slashed once. */
  offenceId: string;
  reporter: string;
}

export interface StakeLedger {
  readonly params: LedgerParams;
  deposit(operator: string, amount: number): Promise<LedgerResult>;
  /** Rejects with INSUFFICIENT_STAKE past the balance. */
  withdraw(operator: string, amount: number): Promise<LedgerResult>;
  /** Rejects with DUPLICATE when this offence was already slashed. */
  slash(offence: Offence): Promise<LedgerResult>;
  stake(operator: string): Promise<number>;
  credit(client: string): Promise<number>;
  pool(): Promise<number>;
  /** Whether `operator` holds at least `minStake`. */
  canRegister(operator: string): Promise<boolean>;
  /** The audit log so far: header and signed entries (write with `auditFile`). */
  audit(): Promise<{ header: AuditHeader; entries: AuditEntry[] }>;
  close(): Promise<void>;
}
