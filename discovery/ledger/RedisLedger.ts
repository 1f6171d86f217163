/**
 * The stake ledger shared by discovery replicas: balances in Redis, each change one Lua script
 * (check, move, sequence number, pending audit body: atomic, so two replicas slashing the same
 * offence slash it once and the log's order is the ledger's order). Ed25519 cannot run in Lua, so
 * the pending bodies are signed afterwards, in order, by whichever replica gets there: the signed
 * entry is appended only if the signed log still has the length the signer saw (a compare-and-set
 * script), so the chain never forks. All replicas share the audit key and the params (checked at
 * start against the header stored in Redis).
 */
// types only: the package is optional and loads in RedisLedger.open() (protocol/server/optionalPackages.ts)
import type { createClient as CreateClient } from '@redis/client';
import { importOptional } from '../../protocol/server/optionalPackages.js';
import { TrustError, TrustErrorCode } from '../trustErrors.js';
import { AuditSigner, headerHash, type AuditBody, type AuditEntry, type AuditHeader } from './AuditLog.js';
import { canonicalJson } from '../identity.js';
import { checkOp, DEFAULT_LEDGER_PARAMS, type LedgerOp, type LedgerParams, type LedgerResult } from './rules.js';
import type { Offence, StakeLedger } from './StakeLedger.js';

// KEYS stakes, credits, meta, offences, pending; ARGV op, operator, amount, reporter, offenceId, time, slashBps, rewardBps, opJson
const APPLY = `
local stakes, credits, meta, offences, pending = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local op, operator, amount, reporter, offence = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local time, slashBps, rewardBps, opJson = ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9]
local function mulBps(x, bps) return math.floor(x / 10000) * bps + math.floor(((x % 10000) * bps) / 10000) end
local stake = tonumber(redis.call('HGET', stakes, operator) or '0')
local pool = tonumber(redis.call('HGET', meta, 'pool') or '0')
local result
if op == 'deposit' then
  stake = stake + amount
  redis.call('HSET', stakes, operator, string.format('%d', stake))
  result = string.format('{"pool":%d,"stake":%d}', pool, stake)
elseif op == 'withdraw' then
  if amount > stake then return {'INSUFFICIENT_STAKE', string.format('%d', stake)} end
  stake = stake - amount
  redis.call('HSET', stakes, operator, string.format('%d', stake))
  result = string.format('{"pool":%d,"stake":%d}', pool, stake)
elseif op == 'slash' then
  if redis.call('SISMEMBER', offences, offence) == 1 then return {'DUPLICATE', offence} end
  local slashed = mulBps(stake, slashBps)
  local reward = mulBps(slashed, rewardBps)
  local credit = tonumber(redis.call('HGET', credits, reporter) or '0') + reward
  stake = stake - slashed
  pool = pool + slashed - reward
  redis.call('SADD', offences, offence)
  redis.call('HSET', stakes, operator, string.format('%d', stake))
  redis.call('HSET', credits, reporter, string.format('%d', credit))
  redis.call('HSET', meta, 'pool', string.format('%d', pool))
  result = string.format('{"credit":%d,"pool":%d,"reward":%d,"slashed":%d,"stake":%d}', credit, pool, reward, slashed, stake)
else
  return {'MALFORMED', op}
end
local seq = redis.call('HINCRBY', meta, 'seq', 1)
local body = '{"op":' .. opJson .. ',"result":' .. result .. ',"seq":' .. seq .. ',"time":' .. time .. '}'
redis.call('RPUSH', pending, body)
return {'OK', body}
`;

// KEYS audit; ARGV expected length before, entry JSON
const COMMIT = `
if redis.call('LLEN', KEYS[1]) ~= tonumber(ARGV[1]) then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[2])
return 1
`;

function connectClient(createClient: typeof CreateClient, url: string) {
  const client = createClient({ url, socket: { connectTimeout: 3000, reconnectStrategy: (n) => Math.min(50 * 2 ** n, 2000) } });
  client.on('error', () => {}); // reconnects; commands fail meanwhile and callers see it
  return client;
}
type Client = ReturnType<typeof connectClient>;

export interface RedisLedgerOptions {
  url: string;
  /** PKCS#8 PEM of discovery's audit key, the same on every replica. */
  auditKeyPem: string;
  params?: Partial<LedgerParams>;
  /** [prefix='eo:'] */
  prefix?: string;
  now?: () => number;
}

export class RedisLedger implements StakeLedger {
  readonly params: LedgerParams;
  readonly #client: Client;
  readonly #keys: { stakes: string; credits: string; meta: string; offences: string; pending: string; audit: string; header: string };
  readonly #pem: string;
  readonly #header: AuditHeader;
  readonly #now: () => number;

  private constructor(options: RedisLedgerOptions, client: Client) {
    this.params = { ...DEFAULT_LEDGER_PARAMS, ...options.params };
    this.#client = client;
    const p = `${options.prefix ?? 'eo:'}{ledger}:`;
    this.#keys = { stakes: `${p}stakes`, credits: `${p}credits`, meta: `${p}meta`, offences: `${p}offences`, pending: `${p}pending`, audit: `${p}audit`, header: `${p}header` };
    this.#pem = options.auditKeyPem;
    this.#header = new AuditSigner(options.auditKeyPem, this.params).header;
    this.#now = options.now ?? Date.now;
  }

  static async open(options: RedisLedgerOptions): Promise<RedisLedger> {
    const { createClient } = await importOptional('the shared stake ledger (edge-offload discovery --ledger-key with --redis)', () => import('@redis/client'));
    const client = connectClient(createClient, options.url);
    await client.connect();
    const ledger = new RedisLedger(options, client);
    const mine = canonicalJson(ledger.#header);
    await client.sendCommand(['SET', ledger.#keys.header, mine, 'NX']);
    const stored = await client.sendCommand<string>(['GET', ledger.#keys.header]);
    if (stored !== mine) {
      await client.quit();
      throw new TypeError('this Redis holds a ledger with another audit key or other params; replicas must share both');
    }
    return ledger;
  }

  async #apply(op: LedgerOp): Promise<LedgerResult> {
    checkOp(op);
    const k = this.#keys;
    const amount = op.op === 'slash' ? '0' : String(op.amount);
    const [status, detail] = await this.#client.sendCommand<[string, string]>([
      'EVAL', APPLY, '5', k.stakes, k.credits, k.meta, k.offences, k.pending,
      op.op, op.operator, amount, op.op === 'slash' ? op.reporter : '', op.op === 'slash' ? op.offenceId : '',
      String(Math.round(this.#now())), String(this.params.slashBps), String(this.params.rewardBps), canonicalJson(op),
    ]);
    if (status === 'INSUFFICIENT_STAKE') throw new TrustError(TrustErrorCode.INSUFFICIENT_STAKE, `operator '${op.operator}' holds ${detail}`);
    if (status === 'DUPLICATE') throw new TrustError(TrustErrorCode.DUPLICATE, `offence ${detail} was already slashed`);
    if (status !== 'OK') throw new TrustError(TrustErrorCode.MALFORMED, `ledger refused ${op.op}`);
    await this.#signPending();
    return (JSON.parse(detail) as AuditBody).result;
  }

  /** Signs pending bodies onto the audit chain, in order; other replicas may be doing the same. */
  async #signPending(): Promise<void> {
    const k = this.#keys;
    for (let attempt = 0; attempt < 100; attempt++) {
      const signed = Number(await this.#client.sendCommand<number>(['LLEN', k.audit]));
      const pending = await this.#client.sendCommand<string[]>(['LRANGE', k.pending, String(signed), '-1']);
      if (pending.length === 0) return;
      const last = signed === 0 ? undefined : (JSON.parse((await this.#client.sendCommand<string[]>(['LRANGE', k.audit, '-1', '-1']))[0]!) as AuditEntry);
      const signer = new AuditSigner(this.#pem, this.params, { seq: signed, hash: last?.hash ?? headerHash(this.#header) });
      let length = signed;
      for (const body of pending) {
        const entry = signer.sign(JSON.parse(body) as AuditBody);
        if (Number(await this.#client.sendCommand<number>(['EVAL', COMMIT, '1', k.audit, String(length), JSON.stringify(entry)])) !== 1) break;
        length++;
      }
      if (length === signed + pending.length) return;
    }
    throw new Error('could not sign the ledger audit log: another replica keeps winning');
  }

  deposit(operator: string, amount: number) {
    return this.#apply({ op: 'deposit', operator, amount });
  }
  withdraw(operator: string, amount: number) {
    return this.#apply({ op: 'withdraw', operator, amount });
  }
  slash(o: Offence) {
    return this.#apply({ op: 'slash', operator: o.operator, node: o.node, offenceId: o.offenceId, reporter: o.reporter });
  }
  async #number(key: string, field: string): Promise<number> {
    return Number((await this.#client.sendCommand<string | null>(['HGET', key, field])) ?? 0);
  }
  stake(operator: string) {
    return this.#number(this.#keys.stakes, operator);
  }
  credit(client: string) {
    return this.#number(this.#keys.credits, client);
  }
  pool() {
    return this.#number(this.#keys.meta, 'pool');
  }
  async canRegister(operator: string) {
    return (await this.stake(operator)) >= this.params.minStake;
  }
  async audit(): Promise<{ header: AuditHeader; entries: AuditEntry[] }> {
    await this.#signPending();
    const lines = await this.#client.sendCommand<string[]>(['LRANGE', this.#keys.audit, '0', '-1']);
    return { header: this.#header, entries: lines.map((l) => JSON.parse(l) as AuditEntry) };
  }
  async close() {
    await this.#client.quit();
  }
}
