/**
 * Spot checks of the LIVE session's own predicts (EntrapNet without a session of its own): traps
 * run on a short session next to the live one, so a node that correlates sessions could answer
 * those honestly and cheat on the long one. These checks judge a share of the live answers
 * themselves, which the node cannot tell apart from the rest because they are the rest.
 *
 * One per link to a node with a vouched key, fed by the connection's `WireTap` from the hello on:
 * every pose/predict sent goes through an incremental replay of the deterministic predictors
 * (protocol/motion/replay.ts, the node's own semantics); a drawn share of predicts also gets the
 * replay's answer. Every signed answer's chain entry is rebuilt in arrival order; when the seal
 * over a block arrives it is verified, and the drawn answers in it are compared (the traps'
 * tolerances, protocol/evidence.ts). Nothing here is awaited by, or reorders, a live call: the tap
 * records after the send, and the judging runs on the seal.
 *
 * Limits, each a `stopped` event with its reason: ws only (WebRTC's unordered channels reorder
 * the input, so the node's input count per answer is not ours to know); a predictor we cannot
 * replay (`learned`); a render whose frame goes on the video track (h264). Evidence for discovery
 * keeps the messages since the hello while they fit `maxEvidenceBytes`; past that the replay
 * goes on, and a catch is local only (`evidence` undefined): the session still leaves the node.
 */
import { EnhancedEventEmitter } from '../../protocol/EnhancedEventEmitter.js';
import {
  DEFAULT_TOLERANCES,
  compareAnswers,
  frameEntry,
  genesisLink,
  inferEntry,
  predictionEntry,
  verifySegment,
  type FrameRequest,
  type Message,
  type PoseSample,
  type PredictEvidence,
  type ResumeState,
  type SealMessage,
  type Tensor,
  type Tolerance,
} from '../../protocol/index.js';
import { MAX_EVIDENCE_MESSAGES } from '../../protocol/evidence.js';
import { ReplaySession, type ReplayMessage, type ReplayedPrediction } from '../../protocol/motion/replay.js';
import type { PredictorFactory } from '../../protocol/motion/predictor.js';
import { cryptoRandom, type Random } from './trapStream.js';

export interface LiveSpotCheckOptions {
  node: string;
  /** The key discovery vouched for. */
  publicKey: string;
  /** From the welcome. */
  session: string;
  /** The node's default predictor (first in its welcome). */
  defaultPredictor: string;
  /** What the hello carried. */
  resume: ResumeState;
  /** Predictors replayed locally (kalman, constant-velocity, none). */
  factories: ReadonlyMap<string, PredictorFactory>;
  /** Share of live predicts judged (the session's trapShare). */
  share: number;
  reporter: string;
  /** Whether the hot path is on WebRTC now (then checks stop). */
  onWebRtc: () => boolean;
  random?: Random;
  tolerances?: Readonly<Record<string, Tolerance>>;
  /**
   * [maxEvidenceBytes=196608] JSON bytes of the messages kept for evidence: discovery takes 256 KiB
   * of evidence, and the sealed block with the answer needs up to ~40 KiB of the rest.
   */
  maxEvidenceBytes?: number;
  /** [maxUnsealed=2048] answers waiting for a seal: past it the node does not seal, checks stop. */
  maxUnsealed?: number;
}

export type SpotCheckEvents = {
  /** A sealed block was judged: `checked` drawn answers in it matched. */
  passed: [checked: number];
  /** A sealed live answer was wrong; `evidence` undefined when the input outgrew the evidence cap (local catch). */
  caught: [evidence: PredictEvidence | undefined, detail: { angleRad: number; positionM: number; accused: number }];
  /** A seal does not verify over the answers received: the node's signatures are worthless. */
  unsigned: [];
  /** No more checks on this link, and why. */
  stopped: [reason: string];
};

type Pending =
  | { t: 'predict'; inputs: number; at: number; reference: ReplayedPrediction | Promise<ReplayedPrediction> | undefined }
  | { t: 'infer'; inputs: number; model: string; input: Tensor }
  | { t: 'render'; inputs: number; request: FrameRequest };

interface Check {
  entry: number;
  at: number;
  answer: { predictor: string; horizonMs: number; pose: PoseSample };
  reference: ReplayedPrediction | Promise<ReplayedPrediction>;
  id: number;
}

export class LiveSpotCheck extends EnhancedEventEmitter<SpotCheckEvents> {
  readonly #o: LiveSpotCheckOptions;
  readonly #random: Random;
  readonly #replay: ReplaySession;
  readonly #pending = new Map<number, Pending>();
  /** Messages since the hello, for evidence; undefined once they outgrew the cap. */
  #messages: ReplayMessage[] | undefined = [];
  #bytes = 0;
  /** Samples sent since the hello (the node's input count), resume first. */
  #inputs: number;
  #block: (string | Promise<string>)[] = [];
  #checks: Check[] = [];
  #sealedTo = 0;
  #previousLink: Promise<string>;
  #work: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(options: LiveSpotCheckOptions) {
    super();
    this.#o = options;
    this.#random = options.random ?? cryptoRandom;
    this.#inputs = options.resume.poses?.length ?? 0;
    this.#bytes = JSON.stringify(options.resume).length;
    this.#replay = new ReplaySession(options.factories, { defaultPredictor: options.defaultPredictor, resume: options.resume });
    this.#previousLink = genesisLink(options.node, options.session);
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Resolves once everything received so far is judged (tests, orderly shutdown). */
  settled(): Promise<void> {
    return this.#work;
  }

  /** WireTap: every message sent, in wire order. */
  sent(message: Message): void {
    if (this.#stopped) return;
    try {
      if (message.t === 'pose' || message.t === 'predict') this.#sentMotion(message);
      else if (message.t === 'infer') this.#pending.set(message.id, { t: 'infer', inputs: this.#inputs, model: message.model, input: message.input });
      else if (message.t === 'render') {
        if (message.codec === 'h264') return this.stop('an h264 render: its frame goes on the video track, its entry cannot be rebuilt here');
        const { pose, eye, camera, codec, quality, scene } = message;
        this.#pending.set(message.id, { t: 'render', inputs: this.#inputs, request: { pose, eye, camera, codec, quality, ...(scene !== undefined ? { scene } : {}) } as FrameRequest });
      }
    } catch (err) {
      this.stop(`the replay cannot follow: ${(err as Error).message}`);
    }
  }

  /** WireTap: answers, seals and errors, in arrival order. */
  received(message: Message): void {
    if (this.#stopped) return;
    if (message.t === 'seal') return this.#sealed(message);
    if (message.t === 'error') return void (message.id !== undefined && this.#pending.delete(message.id));
    if (message.t !== 'prediction' && message.t !== 'result' && message.t !== 'frame') return;
    const sent = this.#pending.get(message.id);
    // an answer to nothing we sent (or a second one) has no entry we can rebuild
    if (!sent) return this.stop(`an answer for id ${message.id} this check did not see sent`);
    this.#pending.delete(message.id);
    if (sent.t === 'predict' && message.t === 'prediction') {
      const answer = { predictor: message.predictor, horizonMs: message.horizonMs, pose: message.pose };
      if (sent.reference) this.#checks.push({ entry: this.#block.length, at: sent.at, answer, reference: sent.reference, id: message.id });
      this.#block.push(predictionEntry(message.id, sent.inputs, answer));
    } else if (sent.t === 'infer' && message.t === 'result') {
      this.#block.push(inferEntry(message.id, sent.inputs, sent.model, sent.input, message.output));
    } else if (sent.t === 'render' && message.t === 'frame') {
      this.#block.push(frameEntry(message.id, sent.inputs, sent.request, message));
    } else {
      return this.stop(`a ${sent.t} answered with a ${message.t}`);
    }
    if (this.#block.length > (this.#o.maxUnsealed ?? 2048)) this.stop(`${this.#block.length} answers and no seal over them`);
  }

  stop(reason: string): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#replay.close();
    this.#pending.clear();
    this.#messages = undefined;
    this.#block = [];
    this.#checks = [];
    this.safeEmit('stopped', reason);
  }

  #sentMotion(message: Extract<Message, { t: 'pose' | 'predict' }>): void {
    if (this.#o.onWebRtc()) return this.stop('the hot path moved to WebRTC, whose unordered channels reorder the input');
    const poses = message.poses ?? [];
    this.#inputs += poses.length;
    const recorded: ReplayMessage =
      message.t === 'pose'
        ? { t: 'pose', poses }
        : { t: 'predict', id: message.id, horizonMs: message.horizonMs, ...(message.device ? { device: message.device } : {}), ...(message.predictor ? { predictor: message.predictor } : {}), ...(poses.length ? { poses } : {}) };
    this.#record(recorded);
    if (recorded.t !== 'predict') return void this.#replay.feed(recorded, false);
    const judge = this.#o.share > 0 && this.#random() < this.#o.share;
    const reference = this.#replay.feed(recorded, judge);
    this.#pending.set(recorded.id, { t: 'predict', inputs: this.#inputs, at: this.#messages ? this.#messages.length - 1 : -1, reference });
  }

  #record(message: ReplayMessage): void {
    if (!this.#messages) return;
    this.#bytes += JSON.stringify(message).length + 1;
    if (this.#bytes > (this.#o.maxEvidenceBytes ?? 192 * 1024) || this.#messages.length >= MAX_EVIDENCE_MESSAGES) this.#messages = undefined;
    else this.#messages.push(message);
  }

  #sealed(seal: SealMessage): void {
    const n = seal.to - this.#sealedTo;
    // on ws every answer precedes its seal: a seal over more than arrived is not ours to check
    if (n <= 0 || n > this.#block.length) return this.stop(`a seal to ${seal.to} over ${n} answers, ${this.#block.length} received`);
    const entries = this.#block.splice(0, n);
    const checks = this.#checks.filter((c) => c.entry < n);
    this.#checks = this.#checks.filter((c) => c.entry >= n).map((c) => ({ ...c, entry: c.entry - n }));
    this.#sealedTo = seal.to;
    const messages = this.#messages?.slice(); // what evidence may quote, as of this seal
    const previous = this.#previousLink;
    this.#previousLink = Promise.resolve(seal.link);
    this.#work = this.#work.then(() => this.#judge(seal, previous, entries, checks, messages)).catch((err: Error) => this.stop(`judging failed: ${err.message}`));
  }

  async #judge(seal: SealMessage, previous: Promise<string>, pendingEntries: (string | Promise<string>)[], checks: Check[], messages: ReplayMessage[] | undefined): Promise<void> {
    const { t: _t, ...signed } = seal;
    const segment = { previousLink: await previous, entries: await Promise.all(pendingEntries), seal: signed };
    if (this.#stopped) return;
    if (signed.node !== this.#o.node || signed.session !== this.#o.session || !(await verifySegment(segment, this.#o.publicKey))) {
      this.safeEmit('unsigned');
      return this.stop('a seal does not verify over the answers received');
    }
    const tolerances = this.#o.tolerances ?? DEFAULT_TOLERANCES;
    let checked = 0;
    for (const c of checks) {
      const reference = await c.reference;
      const cmp = compareAnswers(c.answer, reference, tolerances);
      if (!cmp.judged) continue;
      checked++;
      if (!cmp.wrong) continue;
      const evidence = messages && c.at >= 0 && seal.inputs <= this.#samplesIn(messages) ? this.#evidence(c, reference, segment, messages) : undefined;
      this.safeEmit('caught', evidence, { angleRad: cmp.angleRad, positionM: cmp.positionM, accused: c.id });
      return this.stop('caught');
    }
    this.safeEmit('passed', checked);
  }

  #samplesIn(messages: readonly ReplayMessage[]): number {
    return (this.#o.resume.poses?.length ?? 0) + messages.reduce((n, m) => n + (m.poses?.length ?? 0), 0);
  }

  /** Through the accused predict and through the last sample the seal covers (discovery re-checks both). */
  #evidence(c: Check, reference: ReplayedPrediction, segment: PredictEvidence['segment'], messages: readonly ReplayMessage[]): PredictEvidence {
    let at = c.at;
    let seen = this.#o.resume.poses?.length ?? 0;
    for (const [i, m] of messages.entries()) {
      seen += m.poses?.length ?? 0;
      if (seen <= segment.seal.inputs) at = Math.max(at, i);
    }
    const resume = this.#o.resume;
    return {
      kind: 'predict',
      node: this.#o.node,
      session: this.#o.session,
      defaultPredictor: this.#o.defaultPredictor,
      ...(resume.poses?.length || resume.predictor ? { resume } : {}),
      messages: messages.slice(0, at + 1).map((m) => ({ ...m })),
      accused: c.id,
      answer: c.answer,
      segment,
      reference: reference.pose,
      reporter: this.#o.reporter,
    };
  }
}
