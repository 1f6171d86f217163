/**
 * Reputation, in two parts that cannot stand in for each other:
 *
 * - **Probe reputation** (from clients' probe reports, which nobody can verify): an average of
 *   answered (1) / unanswered (0) probes that always drifts back toward `neutral` with a
 *   half-life, where one client's influence on one node is capped per window. A node that really
 *   stopped answering stays low while reports keep coming; one that was framed, or was down for a
 *   while, comes back on its own. Probes alone never remove a node for longer than the recovery.
 * - **Offences** (verified evidence, discovery/evidence.ts): re-checked by discovery itself, they
 *   do not fade; past `ejectAfterOffences` the node is ejected from selection until an operator
 *   reinstates it (after the stake ledger took its share).
 *
 * Pure model with an injectable clock: time only moves when the caller says.
 */

export interface ReputationOptions {
  /** [neutral=0.9] where probe reputation starts and returns to. Must be ≥ minReputation. */
  neutral?: number;
  /** [alpha=0.2] weight of one report in the running average. */
  alpha?: number;
  /** [recoveryHalfLifeMs=600000] time for probe reputation to close half its gap to neutral. */
  recoveryHalfLifeMs?: number;
  /** [minReputation=0.5] below this the node is left out of shortlists (for now). */
  minReputation?: number;
  /** [clientReportsPerWindow=2] reports of one client that count for one node per window. */
  clientReportsPerWindow?: number;
  /** [clientWindowMs=600000] */
  clientWindowMs?: number;
  /** [ejectAfterOffences=2] verified offences that eject a node. */
  ejectAfterOffences?: number;
  /** [offencePenalty=0.25] each verified offence scales probe reputation by (1 - this), once (0.9 → 0.675: still selectable until the threshold). */
  offencePenalty?: number;
  /** [maxTrackedClients=64] per node; the oldest window is dropped first. */
  maxTrackedClients?: number;
  now?: () => number;
}

interface NodeState {
  score: number;
  at: number;
  /** client → [window start, reports counted in it] */
  clients: Map<string, [number, number]>;
  offences: string[];
  ejected: boolean;
}

export interface NodeStanding {
  /** Probe reputation now (after recovery). */
  reputation: number;
  offences: number;
  ejected: boolean;
  selectable: boolean;
  /** Why it is not selectable, for the operator. */
  reason?: 'ejected' | 'low-reputation';
}

export class ReputationModel {
  readonly #o: Required<Omit<ReputationOptions, 'now'>>;
  readonly #now: () => number;
  readonly #nodes = new Map<string, NodeState>();

  constructor(options: ReputationOptions = {}) {
    this.#o = {
      neutral: options.neutral ?? 0.9,
      alpha: options.alpha ?? 0.2,
      recoveryHalfLifeMs: options.recoveryHalfLifeMs ?? 600_000,
      minReputation: options.minReputation ?? 0.5,
      clientReportsPerWindow: options.clientReportsPerWindow ?? 2,
      clientWindowMs: options.clientWindowMs ?? 600_000,
      ejectAfterOffences: options.ejectAfterOffences ?? 2,
      offencePenalty: options.offencePenalty ?? 0.25,
      maxTrackedClients: options.maxTrackedClients ?? 64,
    };
    if (this.#o.neutral < this.#o.minReputation) throw new TypeError('neutral must be ≥ minReputation, or probes could eject a node for good');
    this.#now = options.now ?? Date.now;
  }

  #state(id: string): NodeState {
    let s = this.#nodes.get(id);
    if (!s) this.#nodes.set(id, (s = { score: this.#o.neutral, at: this.#now(), clients: new Map(), offences: [], ejected: false }));
    return s;
  }

  /** Moves the stored score to now: the gap to neutral halves every half-life. */
  #recover(s: NodeState): void {
    const now = this.#now();
    const dt = Math.max(0, now - s.at);
    s.score = this.#o.neutral + (s.score - this.#o.neutral) * Math.pow(2, -dt / this.#o.recoveryHalfLifeMs);
    s.at = now;
  }

  /**
   * One probe report (already through the ticket gate). Returns false when the client's share of
   * this node for the current window is spent and the report changed nothing.
   */
  observe(id: string, client: string, answered: boolean): boolean {
    const s = this.#state(id);
    this.#recover(s);
    const now = this.#now();
    let budget = s.clients.get(client);
    if (!budget || now - budget[0] >= this.#o.clientWindowMs) {
      s.clients.delete(client);
      if (s.clients.size >= this.#o.maxTrackedClients) s.clients.delete(s.clients.keys().next().value!);
      s.clients.set(client, (budget = [now, 0]));
    }
    if (budget[1] >= this.#o.clientReportsPerWindow) return false;
    budget[1]++;
    s.score += this.#o.alpha * ((answered ? 1 : 0) - s.score);
    return true;
  }

  /** A verified offence (discovery re-checked the evidence); counted once per offence id. */
  offence(id: string, offenceId: string): NodeStanding {
    const s = this.#state(id);
    this.#recover(s);
    if (!s.offences.includes(offenceId)) {
      s.offences.push(offenceId);
      s.score *= 1 - this.#o.offencePenalty;
      if (s.offences.length >= this.#o.ejectAfterOffences) s.ejected = true;
    }
    return this.standing(id);
  }

  /** Lifts an ejection (an operator's decision after slashing); offences stay on record. */
  reinstate(id: string): void {
    const s = this.#state(id);
    s.ejected = false;
    s.offences = [];
    s.score = this.#o.neutral;
    s.at = this.#now();
  }

  standing(id: string): NodeStanding {
    const s = this.#nodes.get(id);
    if (!s) return { reputation: this.#o.neutral, offences: 0, ejected: false, selectable: true };
    this.#recover(s);
    const low = s.score < this.#o.minReputation;
    return {
      reputation: s.score,
      offences: s.offences.length,
      ejected: s.ejected,
      selectable: !s.ejected && !low,
      ...(s.ejected ? { reason: 'ejected' as const } : low ? { reason: 'low-reputation' as const } : {}),
    };
  }

  selectable(id: string): boolean {
    return this.standing(id).selectable;
  }

  forget(id: string): void {
    this.#nodes.delete(id);
  }
}
