/**
 * Where a session finds nodes. The session state machine asks a locator for candidates and
 * probes them itself; discovery is one implementation (`DiscoveryLocator`), a fixed list another
 * (`StaticLocator`, for tests and for apps that pin their nodes).
 */
import type { Capability, NodeTier, Evidence } from '../../protocol/index.js';

export interface NodeCandidate {
  id: string;
  /** ws:// or wss:// URL of the node's session endpoint. */
  url: string;
  tier: NodeTier;
  /** Discovery's estimate before probing, when it has one. */
  estimatedRttMs?: number;
  caps?: Capability[];
  /** The node's Ed25519 public key (base64url) as discovery vouched for it: the SDK refuses a node that cannot sign with it. */
  publicKey?: string;
}

export interface Shortlist {
  /** Nearby nodes, best estimate first. */
  edge: NodeCandidate[];
  /** Distant fallback nodes; always present when the operator runs one. */
  cloud: NodeCandidate[];
  /**
   * Discovery's placement pick (an `edge` id) when it gave one: the less loaded of two random
   * candidates within the client's budget. Preferring it among candidates that probe within
   * budget spreads a metro's sessions instead of piling them onto its single best node.
   */
  pick?: string;
}

export interface ProbeReport {
  id: string;
  /** Median measured RTT, or undefined when the node did not answer. */
  rttMs?: number;
}

export interface NodeLocator {
  shortlist(options?: { signal?: AbortSignal; caps?: Capability[] }): Promise<Shortlist>;
  /** Measured RTTs go back so discovery can learn each node's real latency. */
  report?(reports: ProbeReport[]): void;
  /** Sends evidence that a node answered wrongly (a failed trap) to whoever judges it (discovery's POST /v1/evidence). */
  submitEvidence?(evidence: Evidence): Promise<unknown>;
  /** Which of `ids` were ejected from selection (verified offences): the session leaves them. */
  ejected?(ids: readonly string[]): Promise<string[]>;
}

/** A fixed list of nodes. */
export class StaticLocator implements NodeLocator {
  readonly #shortlist: Shortlist;
  constructor(shortlist: Partial<Shortlist>) {
    this.#shortlist = { edge: shortlist.edge ?? [], cloud: shortlist.cloud ?? [] };
  }
  async shortlist(): Promise<Shortlist> {
    return { edge: [...this.#shortlist.edge], cloud: [...this.#shortlist.cloud] };
  }
}
