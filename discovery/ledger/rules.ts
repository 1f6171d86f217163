/**
 * The stake ledger's rules, once: the memory ledger applies them, the audit verifier replays them
 * to re-derive every recorded result, and RedisLedger's Lua script is held to them by a test that
 * runs both side by side. Amounts are integers (micro-units of whatever the operators deposit),
 * below 1e13 so they survive Lua doubles and JSON exactly.
 */
import { TrustError, TrustErrorCode } from '../trustErrors.js';

export interface LedgerParams {
  /** [minStake=1000000] stake an operator needs before its nodes may register. */
  minStake: number;
  /** [slashBps=2000] share of the operator's stake one verified offence forfeits (basis points). */
  slashBps: number;
  /** [rewardBps=5000] share of the forfeit paid to the reporting client; the rest goes to the pool. */
  rewardBps: number;
}

export const DEFAULT_LEDGER_PARAMS: LedgerParams = { minStake: 1_000_000, slashBps: 2000, rewardBps: 5000 };
export const MAX_AMOUNT = 1e13;

export type LedgerOp =
  | { op: 'deposit'; operator: string; amount: number }
  | { op: 'withdraw'; operator: string; amount: number }
  | { op: 'slash'; operator: string; node: string; offenceId: string; reporter: string };

/** What an op did: the balances it left (and for a slash, what moved where). */
export interface LedgerResult {
  stake: number;
  pool: number;
  slashed?: number;
  reward?: number;
  credit?: number;
}

export interface LedgerState {
  stakes: Map<string, number>;
  credits: Map<string, number>;
  offences: Set<string>;
  pool: number;
}

export function emptyState(): LedgerState {
  return { stakes: new Map(), credits: new Map(), offences: new Set(), pool: 0 };
}

export function checkOp(op: LedgerOp): void {
  if (op.op === 'slash') return;
  if (!Number.isSafeInteger(op.amount) || op.amount <= 0 || op.amount > MAX_AMOUNT) throw new TrustError(TrustErrorCode.MALFORMED, `amount must be an integer in 1..${MAX_AMOUNT}`);
}

/** Applies `op` to `state` in place; throws (changing nothing) when it is refused. */
export function applyOp(state: LedgerState, op: LedgerOp, params: LedgerParams): LedgerResult {
  checkOp(op);
  const stake = state.stakes.get(op.operator) ?? 0;
  switch (op.op) {
    case 'deposit':
      state.stakes.set(op.operator, stake + op.amount);
      return { stake: stake + op.amount, pool: state.pool };
    case 'withdraw':
      if (op.amount > stake) throw new TrustError(TrustErrorCode.INSUFFICIENT_STAKE, `operator '${op.operator}' holds ${stake}`);
      state.stakes.set(op.operator, stake - op.amount);
      return { stake: stake - op.amount, pool: state.pool };
    case 'slash': {
      if (state.offences.has(op.offenceId)) throw new TrustError(TrustErrorCode.DUPLICATE, `offence ${op.offenceId} was already slashed`);
      const slashed = mulBps(stake, params.slashBps);
      const reward = mulBps(slashed, params.rewardBps);
      const credit = (state.credits.get(op.reporter) ?? 0) + reward;
      state.offences.add(op.offenceId);
      state.stakes.set(op.operator, stake - slashed);
      state.credits.set(op.reporter, credit);
      state.pool += slashed - reward;
      return { stake: stake - slashed, pool: state.pool, slashed, reward, credit };
    }
  }
}

/** floor(x · bps / 10000) without the product leaving the doubles' exact integers (Lua does the same). */
export function mulBps(x: number, bps: number): number {
  return Math.floor(x / 10_000) * bps + Math.floor(((x % 10_000) * bps) / 10_000);
}
