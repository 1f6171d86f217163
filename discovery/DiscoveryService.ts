/**
 * Discovery's operations, free of any transport: the HTTP routes and the ws messages of
 * DiscoveryServer both call these with an already-parsed JSON body and the caller's IP.
 */
import { querySchema, reportSchema, type Candidate, type HealthAnswer, type HeartbeatAnswer, type QueryAnswer, type RegisterAnswer, type ReportAnswer, type EvidenceAnswer, type StandingAnswer, standingSchema } from '../protocol/discovery.js';
import { Admission, type AdmissionOptions } from './admission.js';
import { DiscoveryError, DiscoveryErrorCode as E, parseBody } from './errors.js';
import { learnFromReports, type FeedbackOptions } from './feedback.js';
import { IpLocator } from './locate.js';
import { DEFAULT_RANK_OPTIONS, shortlist, type RankOptions, type RankedNode } from './rank.js';
import type { Registry } from './registry/Registry.js';
import { auditFile } from './ledger/AuditLog.js';
import type { StakeLedger } from './ledger/StakeLedger.js';
import { TrustedOperators } from './trust.js';
import { TrustService, type TrustServiceOptions } from './TrustService.js';
import { constantVelocity, noPrediction } from '../protocol/motion/baselinePredictors.js';
import { kalmanPredictor } from '../protocol/motion/KalmanPredictor.js';

export interface DiscoveryServiceOptions {
  operators?: TrustedOperators;
  locator?: IpLocator;
  rank?: RankOptions;
  feedback?: FeedbackOptions;
  admission?: AdmissionOptions;
  /** Told to nodes on registration so their agent heartbeats at the rate the registry expects. */
  heartbeatIntervalMs?: number;
  /**
   * The trust desk's options (report tickets, probe reputation, evidence, ledger). Default: a
   * random ticket secret (replicas must share one: `tickets.secret`), the reputation defaults, node
   * keys and operators from the registry, evidence re-checked with the deterministic predictors
   * (kalman, constant-velocity, none; pass `predictors` with `learned` to judge it too), no ledger.
   */
  trust?: Partial<TrustServiceOptions>;
  /**
   * Charged per proven identity (discovery/clientLimits.ts): node key, node id, report ticket.
   * Throws to refuse. The server wires its ClientLimits here; default none.
   */
  limitIdentity?: (op: 'register' | 'heartbeat' | 'report', identity: string) => void;
  /**
   * [vouchedMemory=100000] nodes whose key and operator discovery keeps after they leave the
   * registry (most recently shortlisted first): evidence about a session on a node that has since
   * deregistered still verifies, so leaving at once does not escape the slash.
   */
  vouchedMemory?: number;
}

export class DiscoveryService {
  readonly registry: Registry;
  readonly admission: Admission;
  readonly locator: IpLocator;
  readonly trust: TrustService;
  readonly #ledger: StakeLedger | undefined;
  readonly #rank: Required<RankOptions>;
  readonly #feedback: FeedbackOptions;
  readonly #limitIdentity: NonNullable<DiscoveryServiceOptions['limitIdentity']>;
  /** Keys of nodes put on a shortlist, kept past their registration (`vouchedMemory`). */
  readonly #vouched = new Map<string, { publicKey: string; operator: string; at: number }>();
  /** Vouches made so far: an entry's `at` against it says how far from eviction it is. */
  #vouches = 0;
  readonly #vouchedMemory: number;
  /** The liveness interval nodes are told (signed heartbeats, node-channel pings). */
  readonly heartbeatIntervalMs: number;

  constructor(registry: Registry, options: DiscoveryServiceOptions = {}) {
    this.registry = registry;
    this.locator = options.locator ?? new IpLocator();
    const ledger = (this.#ledger = options.trust?.ledger);
    this.admission = new Admission(registry, options.operators ?? TrustedOperators.load(), this.locator, {
      ...(options.limitIdentity ? { limitIdentity: options.limitIdentity } : {}),
      // with a stake ledger, registration needs the operator's minimum stake (EntrapNet's deposit)
      ...(ledger ? { mayRegister: (operator: string) => ledger.canRegister(operator) } : {}),
      ...options.admission,
    });
    this.#limitIdentity = options.limitIdentity ?? (() => {});
    this.#rank = { ...DEFAULT_RANK_OPTIONS, ...options.rank };
    this.#feedback = { routeFactor: this.#rank.routeFactor, ...options.feedback };
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? registry.ttlMs / 3;
    this.#vouchedMemory = options.vouchedMemory ?? 100_000;
    this.trust = new TrustService({
      nodeInfo: async (id) => {
        const node = await registry.get(id);
        return node ? { publicKey: node.publicKey, operator: node.operator } : this.#vouched.get(id);
      },
      predictors: new Map([kalmanPredictor(), constantVelocity, noPrediction].map((f) => [f.name, f])),
      ...options.trust,
    });
  }

  async register(body: unknown): Promise<RegisterAnswer> {
    const record = await this.admission.register(body);
    return { id: record.id, heartbeatIntervalMs: this.heartbeatIntervalMs, ttlMs: this.registry.ttlMs };
  }

  async heartbeat(body: unknown): Promise<HeartbeatAnswer> {
    const record = await this.admission.heartbeat(body);
    return { id: record.id, ttlMs: this.registry.ttlMs };
  }

  /** `ip` also keys the report ticket: only this client may report on the nodes answered. */
  async query(body: unknown, ip: string | undefined): Promise<QueryAnswer> {
    const q = parseBody(querySchema, body, 'query');
    const location = await this.locator.locate(ip, q);
    const found = await shortlist(this.registry, location, { ...q, selectable: (id) => this.trust.selectable(id) }, this.#rank);
    const ids: string[] = [];
    for (const list of [found.edge, found.cloud]) {
      for (const r of list) {
        this.#vouch(r.node.id, r.node.publicKey, r.node.operator);
        ids.push(r.node.id);
      }
    }
    const ticket = this.trust.ticketFor(ip ?? '', ids);
    return { location, edge: found.edge.map(toCandidate), cloud: found.cloud.map(toCandidate), ...(found.pick ? { pick: found.pick.node.id } : {}), ticket };
  }

  /**
   * Learns only from reports on the batch's ticket (nodes shortlisted to this client, each once,
   * the ticket once) within the client's per-node cap; a missing, forged, expired or foreign
   * ticket is refused with its TrustError code and changes nothing.
   */
  async report(body: unknown, ip: string | undefined): Promise<ReportAnswer> {
    const batch = parseBody(reportSchema, body, 'report');
    // a ticket is one client's, from one query: a few reports at most (the gate counts it once anyway)
    if (typeof batch.ticket === 'string') this.#limitIdentity('report', batch.ticket);
    const counted = this.trust.report(batch.ticket, ip ?? '', batch.reports);
    const location = await this.locator.locate(ip, batch);
    return { learned: await learnFromReports(this.registry, location, counted, this.#feedback) };
  }

  /**
   * Re-checks evidence that a node answered wrongly (TrustService.submitEvidence): forged,
   * unverifiable or not-wrong evidence is refused with its code and changes nothing; a confirmed
   * offence lowers the node's standing (ejects past the threshold) and slashes its operator.
   */
  async evidence(body: unknown): Promise<EvidenceAnswer> {
    const { verdict, standing, slash } = await this.trust.submitEvidence(body);
    return {
      node: verdict.node,
      offenceId: verdict.offenceId,
      kind: verdict.kind,
      predictor: verdict.predictor,
      angleRad: verdict.angleRad,
      positionM: verdict.positionM,
      ...(verdict.maxAbsError !== undefined ? { maxAbsError: Math.min(verdict.maxAbsError, Number.MAX_VALUE) } : {}),
      ...(verdict.psnrDb !== undefined ? { psnrDb: verdict.psnrDb } : {}),
      ejected: standing.ejected,
      offences: standing.offences,
      ...(slash?.slashed !== undefined ? { slashed: slash.slashed } : {}),
      ...(slash?.reward !== undefined ? { reward: slash.reward } : {}),
    };
  }

  #vouch(id: string, publicKey: string, operator: string): void {
    const at = ++this.#vouches;
    const known = this.#vouched.get(id);
    // moved to the back (the oldest entry is the one least recently shortlisted) only once it is
    // in the older half: fewer than vouchedMemory/2 insertions since it cannot have brought it near
    // eviction. A delete and re-insert per shortlisted node (11 per query) was a fifth of a
    // query's CPU, and the Map's churn its garbage.
    if (known !== undefined && known.publicKey === publicKey && known.operator === operator && at - known.at <= this.#vouchedMemory / 2) return;
    this.#vouched.delete(id);
    this.#vouched.set(id, { publicKey, operator, at });
    if (this.#vouched.size > this.#vouchedMemory) this.#vouched.delete(this.#vouched.keys().next().value!);
  }

  /** A signed reference result for an infer trap (discovery/trapReference.ts `InferReferenceSigner`). */
  async inferReference(body: unknown): Promise<{ payload: string; signature: string }> {
    return this.trust.inferReference(body);
  }

  /** A signed PSNR for a trap's frame against the reference render (discovery/trapReference.ts `FrameReferenceSigner`). */
  async frameReference(body: unknown): Promise<{ payload: string; signature: string }> {
    return this.trust.frameReference(body);
  }

  /** Which of the asked nodes are ejected (sessions on them move away; TRUST.md). */
  async standing(body: unknown): Promise<StandingAnswer> {
    const { ids } = parseBody(standingSchema, body, 'standing');
    return { ejected: ids.filter((id) => this.trust.standing(id).ejected) };
  }

  async health(): Promise<HealthAnswer> {
    return { ok: true, backend: this.registry.kind, nodes: await this.registry.count() };
  }

  /**
   * The stake ledger's signed audit log as JSON lines (`edge-offload audit verify` checks it
   * offline): public by design, anyone may check every deposit, slash and reward.
   */
  async auditLog(): Promise<string> {
    const ledger = this.#ledger;
    if (!ledger) throw new DiscoveryError(E.NOT_FOUND, 'this discovery runs no stake ledger (it is started with --ledger-key), so there is no audit log');
    const { header, entries } = await ledger.audit();
    return auditFile(header, entries);
  }
}

function toCandidate(r: RankedNode): Candidate {
  return {
    id: r.node.id,
    url: r.node.url,
    tier: r.node.tier,
    caps: r.node.caps,
    estimatedRttMs: round3(r.estimatedRttMs),
    distanceKm: round3(r.distanceKm),
    pricePerMinute: r.node.pricePerMinute,
    freeCapacity: r.node.freeCapacity,
    load: r.node.load,
    // the registered key: the SDK refuses a node whose welcome is not signed with it (NODE_IDENTITY)
    publicKey: r.node.publicKey,
  };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
