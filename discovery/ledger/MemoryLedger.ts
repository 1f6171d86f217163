/** The stake ledger of a single discovery process: the rules applied in memory, each change signed at once. */
import { AuditSigner, type AuditEntry, type AuditHeader } from './AuditLog.js';
import { applyOp, DEFAULT_LEDGER_PARAMS, emptyState, type LedgerOp, type LedgerParams, type LedgerResult } from './rules.js';
import type { Offence, StakeLedger } from './StakeLedger.js';

export interface MemoryLedgerOptions {
  /** PKCS#8 PEM of discovery's audit key (Ed25519). */
  auditKeyPem: string;
  params?: Partial<LedgerParams>;
  now?: () => number;
}

export class MemoryLedger implements StakeLedger {
  readonly params: LedgerParams;
  readonly #state = emptyState();
  readonly #signer: AuditSigner;
  readonly #entries: AuditEntry[] = [];
  readonly #now: () => number;

  constructor(options: MemoryLedgerOptions) {
    this.params = { ...DEFAULT_LEDGER_PARAMS, ...options.params };
    this.#signer = new AuditSigner(options.auditKeyPem, this.params);
    this.#now = options.now ?? Date.now;
  }

  async #apply(op: LedgerOp): Promise<LedgerResult> {
    const result = applyOp(this.#state, op, this.params);
    this.#entries.push(this.#signer.sign({ seq: this.#signer.head.seq + 1, time: this.#now(), op, result }));
    return result;
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
  async stake(operator: string) {
    return this.#state.stakes.get(operator) ?? 0;
  }
  async credit(client: string) {
    return this.#state.credits.get(client) ?? 0;
  }
  async pool() {
    return this.#state.pool;
  }
  async canRegister(operator: string) {
    return (this.#state.stakes.get(operator) ?? 0) >= this.params.minStake;
  }
  async audit(): Promise<{ header: AuditHeader; entries: AuditEntry[] }> {
    return { header: this.#signer.header, entries: [...this.#entries] };
  }
  async close() {}
}
