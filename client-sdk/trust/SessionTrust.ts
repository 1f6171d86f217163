/**
 * EntrapNet for one `openSession` session, on by default: a `TrustOfficer` that follows the node
 * the session uses, sees the live stream go by, and sends trap predicts to that node. What it
 * concludes comes out as `distrust` (the Failover leaves the node the way it leaves a draining
 * one: make-before-break, no failed call) and, for a proven wrong answer, as evidence posted to
 * discovery (`NodeLocator.submitEvidence`), which re-checks it, slashes and ejects.
 *
 * The live path only calls `observe` and `onPredict`: synchronous, O(1), nothing awaited.
 *
 * A trap runs on a session of its own on the same node, and a node that correlates sessions by
 * address and timing could answer short new sessions honestly; so the same share of the live
 * session's own predicts is spot-checked too (LiveSpotCheck, on ws links): a wrong sealed live
 * answer is `distrust('caught')` like a trap's, with evidence while the session's input since
 * its hello fits discovery's evidence cap.
 */
import { EnhancedEventEmitter } from '../../protocol/EnhancedEventEmitter.js';
import type { Device, FrameRequest, PoseSample, Evidence, Tensor } from '../../protocol/index.js';
import { constantVelocity, noPrediction } from '../../protocol/motion/baselinePredictors.js';
import { kalmanPredictor } from '../../protocol/motion/KalmanPredictor.js';
import type { WebSocketConstructor } from '../transport/WebSocketTransport.js';
import { localReference } from './localReference.js';
import { nodeTrapChannel } from './nodeTrapChannel.js';
import { TrustOfficer } from './TrustOfficer.js';
import { LiveSpotCheck } from './LiveSpotCheck.js';
import type { NodeCandidate } from '../placement/locator.js';
import type { PredictorFactory } from '../../protocol/motion/predictor.js';
import type { ResumeState, WelcomeMessage } from '../../protocol/index.js';
import type { FrameReferenceSource, InferReferenceSource, ReferenceSource, TrapOutcome } from './TrapVerifier.js';
import type { TrapStreamOptions } from './trapStream.js';

export interface SessionTrustOptions {
  /**
   * [trapShare=0.02] share of the node's predict requests that are traps (EntrapNet's q: 86.7 %
   * caught after 100 bad answers). A trap is a stream of `minSamples`..`maxSamples` predicts, so a
   * live predict starts one with probability trapShare / (mean trap length): the node then serves
   * about trapShare extra requests, not a second stream.
   */
  trapShare?: number;
  /** Trusted answers for traps. @default local replay of kalman, constant-velocity and none (learned traps go unjudged) */
  reference?: ReferenceSource;
  /**
   * Trusted results for the infer requests traps repeat (`remoteInferReference`: a verifier's
   * signed ones). Without it infer results are checked for their seals only, never judged by value.
   */
  inferReference?: InferReferenceSource;
  /**
   * Trusted judgements of the frames traps ask for (`remoteFrameReference`: a verifier's signed
   * PSNR against its own render). Without it frames are checked for their seals only.
   */
  frameReference?: FrameReferenceSource;
  /** Who reports, credited at discovery when the offence is confirmed. @default a random id per session */
  reporter?: string;
  /** [frameIntervalMs=11.1] trap predicts are paced like the live ones (90 Hz). */
  frameIntervalMs?: number;
  /** [sealTimeoutMs=2000] wait for the node's seal over a trap's answers (it seals every ≤ 250 ms). */
  sealTimeoutMs?: number;
  /** [trapTimeoutMs=60000] a trap not judged by then is given up (TrustOfficer). */
  trapTimeoutMs?: number;
  /** [requestTimeoutMs=1000] one trap predict's answer. */
  requestTimeoutMs?: number;
  /** Trap stream shape (window, jitter, length). */
  stream?: TrapStreamOptions;
  /**
   * [spotChecks=true] also judge trapShare of the live session's own predicts (ws links, replayable
   * predictors: kalman, constant-velocity, none), which a node cannot tell from the rest.
   */
  spotChecks?: boolean;
  /** [maxEvidenceBytes=196608] the live input kept for spot-check evidence (LiveSpotCheck). */
  maxEvidenceBytes?: number;
  /**
   * How often the session asks discovery whether its node was ejected meanwhile (another client's
   * evidence), ms; 0 never asks. Needs a locator with `ejected` (DiscoveryLocator). @default 30000
   */
  standingCheckMs?: number;
}

export type SessionTrustEvents = {
  /** Leave this node: it answered a trap wrongly (`caught`) or its seals do not cover what it was sent (`untrusted`). */
  distrust: [nodeId: string, reason: 'caught' | 'untrusted' | 'ejected'];
  /** A trap finished (any outcome), for diagnostics and tests. */
  trap: [nodeId: string, outcome: TrapOutcome];
  /** A spot check of live answers: a sealed block judged, a catch (`local`: no evidence, input past the cap), or checks stopped on that link. */
  spot: [nodeId: string, outcome: { kind: 'pass'; checked: number } | { kind: 'caught'; local: boolean; accused: number; positionM: number; angleRad: number } | { kind: 'stopped'; reason: string }];
  /** Evidence against `nodeId` was submitted; `error` set when discovery refused or was unreachable. */
  evidence: [nodeId: string, evidence: Evidence, error?: Error];
};

/** The node the session uses now, as the trust officer needs it. */
export interface TrustedLink {
  nodeId: string;
  url: string;
  /** Undefined for a node discovery vouched no key for: it cannot be trapped (nothing it signs is checkable). */
  publicKey: string | undefined;
  /** The link's spot checker (made by `spotCheck` when the link opened). */
  spotCheck?: LiveSpotCheck;
}

/** Predictors a client replays to judge answers itself (learned needs a trusted verifier). */
const LOCAL_PREDICTORS: readonly PredictorFactory[] = [kalmanPredictor(), constantVelocity, noPrediction];

export class SessionTrust extends EnhancedEventEmitter<SessionTrustEvents> {
  readonly officer: TrustOfficer;
  readonly #o: SessionTrustOptions;
  readonly #connectTimeoutMs: number;
  readonly #WebSocket: WebSocketConstructor | undefined;
  readonly #ejected: ((ids: readonly string[]) => Promise<string[]>) | undefined;
  #nodeId: string | undefined;
  #standingTimer: ReturnType<typeof setInterval> | undefined;
  readonly #share: number;
  readonly #reporter: string;
  readonly #submit: ((evidence: Evidence) => Promise<void>) | undefined;
  #closed = false;

  constructor(
    options: SessionTrustOptions,
    context: { submit?: (evidence: Evidence) => Promise<unknown>; ejected?: (ids: readonly string[]) => Promise<string[]>; connectTimeoutMs: number; WebSocket?: WebSocketConstructor },
  ) {
    super();
    this.#ejected = context.ejected;
    this.#o = options;
    this.#connectTimeoutMs = context.connectTimeoutMs;
    this.#WebSocket = context.WebSocket;
    this.#share = options.trapShare ?? 0.02;
    this.#reporter = options.reporter ?? randomReporter();
    // One report per node per session: a trap and a spot check (or a trap answered after the
    // session left) can each catch the same node before the failover lands, and a second report
    // would only be refused as a repeat accusation. A report that failed frees the next catch to try.
    const reporting = new Set<string>();
    this.#submit = context.submit
      ? async (evidence: Evidence) => {
          if (reporting.has(evidence.node)) return;
          reporting.add(evidence.node);
          try {
            await context.submit!(evidence);
            this.safeEmit('evidence', evidence.node, evidence);
          } catch (err) {
            reporting.delete(evidence.node);
            this.safeEmit('evidence', evidence.node, evidence, err as Error);
          }
        }
      : undefined;
    this.officer = new TrustOfficer({
      share: this.#share / meanTrapLength(options.stream),
      reporter: this.#reporter,
      reference: options.reference ?? localReference(LOCAL_PREDICTORS),
      ...(options.inferReference ? { inferReference: options.inferReference } : {}),
      ...(options.frameReference ? { frameReference: options.frameReference } : {}),
      ...(options.stream ? { stream: options.stream } : {}),
      run: { frameIntervalMs: options.frameIntervalMs ?? 1000 / 90, sealTimeoutMs: options.sealTimeoutMs ?? 2000 },
      ...(options.trapTimeoutMs !== undefined ? { trapTimeoutMs: options.trapTimeoutMs } : {}),
      ...(this.#submit ? { submit: this.#submit } : {}),
    });
    this.officer.on('trap', (node, outcome) => this.safeEmit('trap', node, outcome));
    this.officer.on('caught', (node) => this.safeEmit('distrust', node, 'caught'));
    this.officer.on('untrusted', (node) => this.safeEmit('distrust', node, 'untrusted'));
  }

  /** The node live requests go to now; undefined while the session answers locally. */
  follow(link: TrustedLink | undefined): void {
    if (link?.nodeId === this.#nodeId) return;
    this.#nodeId = link?.nodeId;
    this.#watchStanding();
    if (!link?.publicKey) return this.officer.setNode(undefined);
    const channel = nodeTrapChannel(link.url, {
      publicKey: link.publicKey,
      connectTimeoutMs: this.#connectTimeoutMs,
      requestTimeoutMs: this.#o.requestTimeoutMs ?? 1000,
      ...(this.#WebSocket ? { WebSocket: this.#WebSocket } : {}),
    });
    this.officer.setNode({ id: link.nodeId, publicKey: link.publicKey, channel });
  }

  /**
   * A spot checker for a link just opened to a node with a vouched key (Placement calls it before
   * anything is sent on the link); undefined when spot checks are off. Its verdicts count only
   * while the link's node is the one the session follows.
   */
  spotCheck(link: { candidate: NodeCandidate; welcome: WelcomeMessage; resume: ResumeState; onWebRtc: () => boolean }): LiveSpotCheck | undefined {
    const publicKey = link.candidate.publicKey;
    if (this.#closed || this.#o.spotChecks === false || !(this.#share > 0) || !publicKey) return undefined;
    const node = link.welcome.node.id;
    const check = new LiveSpotCheck({
      node,
      publicKey,
      session: link.welcome.session,
      defaultPredictor: link.welcome.predictors[0] ?? 'constant-velocity',
      resume: link.resume,
      factories: new Map(LOCAL_PREDICTORS.map((f) => [f.name, f])),
      share: this.#share,
      reporter: this.#reporter,
      onWebRtc: link.onWebRtc,
      ...(this.#o.maxEvidenceBytes !== undefined ? { maxEvidenceBytes: this.#o.maxEvidenceBytes } : {}),
    });
    const followed = () => !this.#closed && this.#nodeId === node;
    check.on('passed', (checked) => followed() && this.safeEmit('spot', node, { kind: 'pass', checked }));
    check.on('stopped', (reason) => followed() && reason !== 'caught' && this.safeEmit('spot', node, { kind: 'stopped', reason }));
    check.on('unsigned', () => followed() && this.safeEmit('distrust', node, 'untrusted'));
    check.on('caught', (evidence, detail) => {
      if (!followed()) return;
      this.safeEmit('spot', node, { kind: 'caught', local: !evidence, ...detail });
      this.safeEmit('distrust', node, 'caught');
      if (evidence) void this.#submit?.(evidence);
    });
    return check;
  }

  observe(pose: PoseSample): void {
    this.officer.observe(pose);
  }

  onPredict(live: { device: Device; horizonMs: number; predictor?: string }): void {
    this.officer.onPredict(live);
  }

  onInfer(model: string, input: Tensor): void {
    this.officer.onInfer(model, input);
  }

  onRender(request: FrameRequest): void {
    this.officer.onRender(request);
  }

  /** Resolves when the trap in flight (if any) is judged and its evidence sent. */
  settled(): Promise<void> {
    return this.officer.settled();
  }

  close(): void {
    this.#closed = true;
    this.officer.close();
    clearInterval(this.#standingTimer);
    this.#standingTimer = undefined;
  }

  /** Asks discovery now and then whether the node was ejected; a failed ask changes nothing. */
  #watchStanding(): void {
    clearInterval(this.#standingTimer);
    this.#standingTimer = undefined;
    const every = this.#o.standingCheckMs ?? 30_000;
    const nodeId = this.#nodeId;
    if (!this.#ejected || !(every > 0) || nodeId === undefined) return;
    this.#standingTimer = setInterval(() => {
      this.#ejected!([nodeId]).then(
        (ejected) => {
          if (ejected.includes(nodeId) && this.#nodeId === nodeId) this.safeEmit('distrust', nodeId, 'ejected');
        },
        () => {}, // discovery unreachable: the node keeps serving; traps still watch it
      );
    }, every);
    (this.#standingTimer as { unref?: () => void }).unref?.();
  }
}

/** A random reporter id; getRandomValues, unlike randomUUID, works on plain-http pages too. */
function randomReporter(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(12));
  return 'client-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Predicts in a trap on average (trapStream draws its length uniformly in [minSamples, maxSamples]). */
function meanTrapLength(stream: TrapStreamOptions = {}): number {
  const min = stream.minSamples ?? 24;
  return (min + Math.max(min, stream.maxSamples ?? 90)) / 2;
}
