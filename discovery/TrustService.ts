/**
 * Discovery's trust desk, composing the mechanisms so the HTTP layer stays thin:
 * - query answers carry a report ticket (tickets.ts);
 * - probe reports pass the ticket gate, then move probe reputation (reputation.ts), capped per client;
 * - evidence is re-checked (evidence.ts); a confirmed offence lowers reputation, ejects past the
 *   threshold, slashes the operator's stake and credits the reporter (ledger/), all audited;
 * - selection asks `selectable(id)` and the operator can read `standing(id)`.
 */
import { EvidenceVerifier, type EvidenceVerifierOptions, type Verdict } from './evidence.js';
import type { StakeLedger } from './ledger/StakeLedger.js';
import type { LedgerResult } from './ledger/rules.js';
import { ReputationModel, type NodeStanding, type ReputationOptions } from './reputation.js';
import { TicketIssuer, type TicketOptions } from './tickets.js';
import { TrustError, TrustErrorCode } from './trustErrors.js';
import { FrameReferenceSigner, InferReferenceSigner } from './trapReference.js';

export interface TrustNodeInfo {
  publicKey: string;
  operator: string;
}

export interface TrustServiceOptions {
  /** The registered node's key and operator; undefined when discovery does not know it. */
  nodeInfo: (id: string) => TrustNodeInfo | undefined | Promise<TrustNodeInfo | undefined>;
  predictors: EvidenceVerifierOptions['predictors'];
  tolerances?: EvidenceVerifierOptions['tolerances'];
  /** Recomputes infer results for `infer` evidence (bin/ wires a tfjs engine in); without it that evidence is UNVERIFIABLE. */
  infer?: EvidenceVerifierOptions['infer'];
  inferTolerance?: EvidenceVerifierOptions['inferTolerance'];
  /** Renders and decodes frames for `frame` evidence and frame references (bin/ wires edge-server's renderer in). */
  render?: EvidenceVerifierOptions['render'];
  minFramePsnrDb?: EvidenceVerifierOptions['minFramePsnrDb'];
  /**
   * Ed25519 private key (PEM) that signs infer and frame references (`POST /v1/reference/infer`,
   * `/v1/reference/frame`) computed with `infer` / `render`; clients configure its public key
   * (remoteInferReference, remoteFrameReference). Default none: refused UNVERIFIABLE.
   */
  referenceKey?: string;
  ledger?: StakeLedger;
  tickets?: TicketOptions;
  reputation?: ReputationOptions;
  /** Called once when a node is ejected (drop it from the registry's selection, notify its clients). */
  onEject?: (id: string, standing: NodeStanding, verdict: Verdict) => void;
}

export interface EvidenceOutcome {
  verdict: Verdict;
  standing: NodeStanding;
  /** What the ledger moved; undefined without a ledger. */
  slash?: LedgerResult;
}

export class TrustService {
  readonly tickets: TicketIssuer;
  readonly reputation: ReputationModel;
  readonly #evidence: EvidenceVerifier;
  readonly #o: TrustServiceOptions;
  readonly #inferSigner: InferReferenceSigner | undefined;
  readonly #frameSigner: FrameReferenceSigner | undefined;

  constructor(options: TrustServiceOptions) {
    this.#o = options;
    this.tickets = new TicketIssuer(options.tickets);
    this.reputation = new ReputationModel(options.reputation);
    this.#inferSigner = options.referenceKey && options.infer ? new InferReferenceSigner(options.referenceKey, options.infer) : undefined;
    this.#frameSigner = options.referenceKey && options.render ? new FrameReferenceSigner(options.referenceKey, options.render) : undefined;
    this.#evidence = new EvidenceVerifier({
      keyOf: async (id) => (await options.nodeInfo(id))?.publicKey,
      predictors: options.predictors,
      ...(options.tolerances ? { tolerances: options.tolerances } : {}),
      ...(options.infer ? { infer: options.infer } : {}),
      ...(options.inferTolerance ? { inferTolerance: options.inferTolerance } : {}),
      ...(options.render ? { render: options.render } : {}),
      ...(options.minFramePsnrDb !== undefined ? { minFramePsnrDb: options.minFramePsnrDb } : {}),
    });
  }

  /** The ticket a query answer carries for `client` (its IP, as discovery sees it). */
  ticketFor(client: string, nodeIds: readonly string[]): string {
    return this.tickets.issue(client, nodeIds);
  }

  /** Gates a report batch by its ticket and learns from what passed; returns what was counted. */
  report(ticket: unknown, client: string, reports: readonly { id: string; rttMs?: number | undefined }[]): { id: string; rttMs?: number | undefined }[] {
    const { accepted } = this.tickets.gate(ticket, client, reports);
    return accepted.filter((r) => this.reputation.observe(r.id, client, r.rttMs !== undefined));
  }

  /** Re-checks evidence and, when it holds, punishes once per offence. Rejects with TrustError codes. */
  async submitEvidence(body: unknown): Promise<EvidenceOutcome> {
    const verdict = await this.#evidence.verify(body);
    const before = this.reputation.standing(verdict.node);
    const info = await this.#o.nodeInfo(verdict.node);
    if (!info) throw new TrustError(TrustErrorCode.UNKNOWN_NODE, `node '${verdict.node}' left while its evidence was checked`);
    let slash: LedgerResult | undefined;
    if (this.#o.ledger) slash = await this.#o.ledger.slash({ operator: info.operator, node: verdict.node, offenceId: verdict.offenceId, reporter: verdict.reporter });
    const standing = this.reputation.offence(verdict.node, verdict.offenceId);
    if (standing.ejected && !before.ejected) this.#o.onEject?.(verdict.node, standing, verdict);
    return { verdict, standing, ...(slash ? { slash } : {}) };
  }

  /** A signed reference result for an infer trap's `{ model, input }`; UNVERIFIABLE without an engine and key. */
  async inferReference(body: unknown): Promise<{ payload: string; signature: string }> {
    if (!this.#inferSigner) throw new TrustError(TrustErrorCode.UNVERIFIABLE, 'this discovery signs no infer references (start it with --verify-infer and --reference-key)');
    return this.#inferSigner.reference(body);
  }

  /** A signed PSNR for a trap's `{ request, frame }` against the reference render; UNVERIFIABLE without a renderer and key. */
  async frameReference(body: unknown): Promise<{ payload: string; signature: string }> {
    if (!this.#frameSigner) throw new TrustError(TrustErrorCode.UNVERIFIABLE, 'this discovery judges no frames (start it with --verify-render and --reference-key)');
    return this.#frameSigner.reference(body);
  }

  selectable(id: string): boolean {
    return this.reputation.selectable(id);
  }

  standing(id: string): NodeStanding {
    return this.reputation.standing(id);
  }
}
