/**
 * The stake ledger as `edge-offload discovery` runs it (`--ledger-key`): in memory for one
 * process, in Redis (atomic scripts, one audit chain) when replicas share `--redis`. Operators'
 * stakes come from a stakes file (`--stakes`), topped up at start: each operator is brought up to
 * the amount the file names (never down: a slash stays slashed across restarts), and every top-up
 * is an ordinary audited deposit.
 */
import { readFileSync } from 'node:fs';
import { ID_PATTERN } from '../../protocol/discovery.js';
import { readNodeKey } from '../keyFiles.js';
import { MemoryLedger } from './MemoryLedger.js';
import { RedisLedger } from './RedisLedger.js';
import { MAX_AMOUNT, type LedgerParams } from './rules.js';
import type { StakeLedger } from './StakeLedger.js';

export interface OpenLedgerOptions {
  /** A key file of `edge-offload discovery keygen node` (the audit log's signing key, the same on every replica). */
  keyFile: string;
  /** `{ "operator": amount, … }`: stakes to top up to at start. */
  stakesFile?: string | undefined;
  params?: Partial<LedgerParams>;
  /** Share the ledger through this Redis; unset: in memory. */
  redisUrl?: string | undefined;
  prefix?: string | undefined;
}

/** Reads `--min-stake`, `--slash-bps`, `--reward-bps` (strings from the command line). */
export function ledgerParamsFromFlags(flags: { minStake?: string | undefined; slashBps?: string | undefined; rewardBps?: string | undefined }): Partial<LedgerParams> {
  const int = (raw: string | undefined, flag: string, max: number): number | undefined => {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < 0 || n > max) throw new TypeError(`${flag} must be a whole number in 0..${max}, got '${raw}'`);
    return n;
  };
  const params: Partial<LedgerParams> = {};
  const minStake = int(flags.minStake, '--min-stake', MAX_AMOUNT);
  const slashBps = int(flags.slashBps, '--slash-bps', 10_000);
  const rewardBps = int(flags.rewardBps, '--reward-bps', 10_000);
  if (minStake !== undefined) params.minStake = minStake;
  if (slashBps !== undefined) params.slashBps = slashBps;
  if (rewardBps !== undefined) params.rewardBps = rewardBps;
  return params;
}

/** The stakes file, checked: operator names as discovery knows them, whole amounts within the ledger's range. */
export function readStakesFile(path: string): Map<string, number> {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new TypeError(`cannot read stakes file ${path}: ${(err as Error).message}; it is JSON {"operator": amount, …}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new TypeError(`${path}: must be a JSON object {"operator": amount, …}`);
  const stakes = new Map<string, number>();
  for (const [operator, amount] of Object.entries(doc)) {
    if (!ID_PATTERN.test(operator)) throw new TypeError(`${path}: '${operator.slice(0, 80)}' is not an operator name (1-128 characters of A-Z a-z 0-9 . _ : -)`);
    if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 0 || amount > MAX_AMOUNT) throw new TypeError(`${path}: ${operator}'s stake must be a whole number in 0..${MAX_AMOUNT}`);
    stakes.set(operator, amount);
  }
  return stakes;
}

export async function openLedger(options: OpenLedgerOptions): Promise<StakeLedger> {
  const { privateKeyPem } = readNodeKey(options.keyFile);
  const stakes = options.stakesFile === undefined ? new Map<string, number>() : readStakesFile(options.stakesFile);
  const params = options.params ?? {};
  const ledger: StakeLedger = options.redisUrl
    ? await RedisLedger.open({ url: options.redisUrl, auditKeyPem: privateKeyPem, params, ...(options.prefix ? { prefix: options.prefix } : {}) })
    : new MemoryLedger({ auditKeyPem: privateKeyPem, params });
  // replicas starting together could each top up the same operator: give --stakes to one of them
  for (const [operator, amount] of stakes) {
    const held = await ledger.stake(operator);
    if (amount > held) await ledger.deposit(operator, amount - held);
  }
  return ledger;
}
