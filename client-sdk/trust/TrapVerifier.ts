/**
 * The SDK's officer (EntrapNet): it decides which predicts become traps, builds the trap's input,
 * and, once the node has answered and sealed, checks the answers against a trusted reference and
 * turns a wrong one into evidence discovery can re-check (protocol/evidence.ts).
 *
 * It never sits on the live path: `decide()` is one random draw, and everything else runs on the
 * trap's own requests, asynchronously, after the answers arrived. A live result is never held,
 * reordered or compared.
 *
 * What it proves and what it cannot: the answers it checks are sealed by the node (the seal must
 * verify against the key discovery vouched for, and the records are recomputed here from what was
 * sent and received), so a wrong answer is evidence nobody can forge. A node that signs a chain
 * that does not match what was sent (a false input digest) cannot be reported, but it cannot hide
 * either: the trap's outcome is `unsigned` and the client should stop using it.
 */
import {
  DEFAULT_TOLERANCES,
  compareAnswers,
  frameEntry,
  genesisLink,
  inferEntry,
  inputDigestOf,
  predictionEntry,
  verifySegment,
  type ChainSegment,
  type Device,
  type FrameFacts,
  type FrameRequest,
  type PoseSample,
  type PredictEvidence,
  type ResultSeal,
  type Tensor,
  type Tolerance,
} from '../../protocol/index.js';
import { compareTensors, type Evidence, type InferTolerance } from '../../protocol/inferEvidence.js';
import { DEFAULT_MIN_FRAME_PSNR_DB } from '../../protocol/frameEvidence.js';
import { frameEvidence, inferEvidence } from './trapEvidence.js';
import { cryptoRandom, makeTrapStream, MotionRecorder, type Random, type TrapStreamOptions } from './trapStream.js';

/** A predict the trap sends, exactly as sent (poses coalesced into the predict, as live frames are). */
export interface TrapPredict {
  t: 'predict';
  id: number;
  horizonMs: number;
  device: Device;
  predictor?: string;
  poses: PoseSample[];
}

/** An infer a trap sends: a recent live request's model and tensor, so it is plausible by construction. */
export interface TrapInfer {
  t: 'infer';
  id: number;
  model: string;
  input: Tensor;
}

/** A render a trap sends: a recent live request's view, at a pose of the trap's own stream. */
export interface TrapRender extends FrameRequest {
  t: 'render';
  id: number;
}

/**
 * An infer or render sent right after predict number `after` (1-based). The node signs these like
 * predictions (protocol/resultSigning.ts); the trap checks that its seals cover what came back.
 * There is no trusted reference for their values yet, so they are never `caught`, only `unsigned`.
 */
export interface TrapExtra {
  after: number;
  request: TrapInfer | TrapRender;
}

export interface TrapTask {
  device: Device;
  /** Sent one per frame, in order, on a session of their own. */
  messages: TrapPredict[];
  /** Infers and renders among the predicts, in `after` order. */
  extras?: TrapExtra[];
}

export type TrapAnswer = { id: number; predictor: string; horizonMs: number; pose: PoseSample };

/** What came back for an extra: the result's tensor, or the frame (facts and encoded bytes). */
export type TrapExtraAnswer = { kind: 'result'; output: Tensor } | { kind: 'frame'; frame: FrameFacts & { data: Uint8Array } };

/** An extra's answer and its place in the node's chain (replies received before it). */
export interface TrapExtraReply {
  /** Index into `task.extras`. */
  extra: number;
  at: number;
  answer: TrapExtraAnswer;
}

/** What came back on the trap's session. */
export interface TrapRun {
  node: string;
  /** The node's public key as discovery vouched for it. */
  publicKey: string;
  session: string;
  /** First predictor of the node's welcome. */
  defaultPredictor: string;
  task: TrapTask;
  /** Prediction answers in the order they arrived (the node's chain order). */
  answers: TrapAnswer[];
  /** Answers to `task.extras`, each with its chain position among all replies. */
  extraReplies?: TrapExtraReply[];
  /** Seals in the order they arrived. */
  seals: ResultSeal[];
}

/** A trusted result for an infer trap (a verifier's signed one: `remoteInferReference`); undefined: none. */
export type InferReferenceSource = (model: string, input: Tensor) => Promise<Tensor | undefined>;

/** A trusted judgement of a trap's frame: its PSNR against a reference render, dB (`remoteFrameReference`); undefined: none. */
export type FrameReferenceSource = (id: number, request: FrameRequest, frame: FrameFacts & { data: Uint8Array }) => Promise<number | undefined>;

/** Trusted answers for a task: local recomputation, or a signed trap bank entry. */
export type ReferenceSource = (task: TrapTask, defaultPredictor: string) => Promise<TrapAnswer[] | undefined>;

export type TrapOutcome =
  /**
   * Every answer matched; `extras`: infer results and frames whose seals verified; `inferJudged`,
   * `framesJudged`: those also judged by value (an `inferReference`, a `frameReference`).
   */
  | { kind: 'pass'; checked: number; extras: number; inferJudged: number; framesJudged: number }
  /** A sealed answer was wrong: `evidence` goes to discovery (`maxAbsError` for an infer result, `psnrDb` for a frame). */
  | { kind: 'caught'; evidence: Evidence; angleRad: number; positionM: number; maxAbsError?: number; psnrDb?: number }
  /** Wrong, but its block was not sealed yet (or answers are missing): the node stays suspect locally. */
  | { kind: 'unsealed'; checked: number }
  /** The node's seals do not cover what was sent and received (false digests, wrong key). */
  | { kind: 'unsigned' }
  /** No reference for this predictor: nothing judged. */
  | { kind: 'unjudged' };

export interface TrapVerifierOptions {
  /** [share=0.02] fraction of predicts that become traps (EntrapNet's q). */
  share?: number;
  /** Trusted answers; without one every trap is `unjudged`. */
  reference?: ReferenceSource;
  /** Who reports (the client's id at discovery). */
  reporter: string;
  /** [random=cryptoRandom] */
  random?: Random;
  stream?: TrapStreamOptions;
  tolerances?: Readonly<Record<string, Tolerance>>;
  /** Trusted infer results; without one, infer extras are checked for their seals only. */
  inferReference?: InferReferenceSource;
  /** [DEFAULT_INFER_TOLERANCE] element-wise tolerance for infer results. */
  inferTolerance?: InferTolerance;
  /** Trusted judgements of frames; without one, frames are checked for their seals only. */
  frameReference?: FrameReferenceSource;
  /** [DEFAULT_MIN_FRAME_PSNR_DB = 30] a frame below this PSNR against the reference is wrong. */
  minFramePsnrDb?: number;
  recorder?: MotionRecorder;
}

export class TrapVerifier {
  readonly #share: number;
  readonly #random: Random;
  readonly #o: TrapVerifierOptions;
  readonly recorder: MotionRecorder;
  #nextId = 1;
  #liveInfer: { model: string; input: Tensor } | undefined;
  #liveRender: FrameRequest | undefined;

  constructor(options: TrapVerifierOptions) {
    this.#o = options;
    this.#share = options.share ?? 0.02;
    if (!(this.#share >= 0 && this.#share <= 1)) throw new TypeError('share must be in [0, 1]');
    this.#random = options.random ?? cryptoRandom;
    this.recorder = options.recorder ?? new MotionRecorder();
  }

  get share(): number {
    return this.#share;
  }

  /** One draw per live predict: true when a trap should go out alongside it. */
  decide(): boolean {
    return this.#share > 0 && this.#random() < this.#share;
  }

  /** The latest live infer: a trap's infer repeats it (a real tensor of a model the app uses). */
  recordInfer(model: string, input: Tensor): void {
    this.#liveInfer = { model, input };
  }

  /**
   * The latest live render: a trap's render asks for the same view at one of its own poses.
   * Not repeated: `h264` renders (their frames go on the live session's video track only) and
   * renders of a named uploaded scene (the trap's session has not uploaded it).
   */
  recordRender(request: FrameRequest): void {
    if (request.codec !== 'h264' && request.scene === undefined) this.#liveRender = request;
  }

  /**
   * A trap shaped like `live` predicts (same horizon, device, predictor choice), cut from the
   * session's recent motion. Undefined while there is too little motion recorded.
   */
  task(live: { device: Device; horizonMs: number; predictor?: string }, nowUs: number): TrapTask | undefined {
    const poses = makeTrapStream(this.recorder.recent(live.device), nowUs, this.#random, this.#o.stream);
    if (!poses) return undefined;
    const messages = poses.map((pose, i): TrapPredict => {
      const m: TrapPredict = { t: 'predict', id: this.#nextId++ % 2 ** 32, horizonMs: live.horizonMs, device: live.device, poses: [pose] };
      if (live.predictor && i === 0) m.predictor = live.predictor;
      return m;
    });
    const extras: TrapExtra[] = [];
    const at = () => 1 + Math.floor(this.#random() * messages.length);
    // copies: an app that reuses its tensor buffer or camera object would otherwise change what the
    // trap sent before the trap checks it, and an honest node's seal would no longer match
    const infer = this.#liveInfer;
    if (infer) extras.push({ after: at(), request: { t: 'infer', id: 0, model: infer.model, input: { dtype: infer.input.dtype, shape: [...infer.input.shape], data: infer.input.data.slice() } } });
    const render = this.#liveRender;
    if (render) {
      const after = at();
      extras.push({ after, request: { ...render, t: 'render', id: 0, camera: { ...render.camera }, pose: messages[after - 1]!.poses[0]! } });
    }
    extras.sort((a, b) => a.after - b.after);
    return extras.length > 0 ? { device: live.device, messages, extras } : { device: live.device, messages };
  }

  /** Checks a finished trap run. Never throws for what the node sent; rejects only on a bug. */
  async check(run: TrapRun): Promise<TrapOutcome> {
    const reference = await this.#o.reference?.(run.task, run.defaultPredictor);
    if (!reference) return { kind: 'unjudged' };
    const byId = new Map(reference.map((r) => [r.id, r]));
    const tolerances = this.#o.tolerances ?? DEFAULT_TOLERANCES;
    // what we sent, in order, and how many samples the session had after each message
    const samples: PoseSample[] = [];
    const through = new Map<number, number>();
    for (const m of run.task.messages) {
      samples.push(...m.poses);
      through.set(m.id, samples.length);
    }
    // the node's entries recomputed from what we sent and what came back, in the node's order
    const chain = await this.#chain(run, through);
    if (!chain) return { kind: 'unsigned' };
    const { entries, positions } = chain;
    const segments = await this.#segments(run, entries, samples);
    if (!segments) return { kind: 'unsigned' };
    const sealed = segments.at(-1)?.seal.to ?? 0;
    const extraReplies = run.extraReplies ?? [];
    let checked = 0;
    let unsealedWrong = false;
    for (const [i, answer] of run.answers.entries()) {
      const ref = byId.get(answer.id);
      if (!ref) continue;
      const cmp = compareAnswers(answer, ref, tolerances);
      if (!cmp.judged) return { kind: 'unjudged' };
      checked++;
      if (!cmp.wrong) continue;
      const seq = positions[i]! + 1;
      const segment = segments.find((s) => seq > s.seal.to - s.entries.length && seq <= s.seal.to);
      if (!segment) {
        unsealedWrong = true;
        continue;
      }
      return { kind: 'caught', evidence: this.#evidence(run, answer, ref, segment), angleRad: cmp.angleRad, positionM: cmp.positionM };
    }
    let inferJudged = 0, framesJudged = 0;
    const minPsnr = this.#o.minFramePsnrDb ?? DEFAULT_MIN_FRAME_PSNR_DB;
    // references are asked only now, after the node answered: a verifier never sees a trap before the node does
    for (const reply of extraReplies) {
      const request = run.task.extras?.[reply.extra]?.request;
      const seq = reply.at + 1;
      const segment = segments.find((s) => seq > s.seal.to - s.entries.length && seq <= s.seal.to);
      const inputs = inputsBefore(run.task, reply.extra, through);
      if (request?.t === 'infer' && reply.answer.kind === 'result' && this.#o.inferReference) {
        const expected = await this.#o.inferReference(request.model, request.input);
        if (!expected) continue;
        inferJudged++;
        const cmp = compareTensors(reply.answer.output, expected, this.#o.inferTolerance);
        if (!cmp.wrong) continue;
        if (!segment) unsealedWrong = true;
        else return { kind: 'caught', evidence: inferEvidence(run, this.#o.reporter, request, inputs, reply.answer.output, expected, segment), angleRad: 0, positionM: 0, maxAbsError: cmp.maxAbsError };
      } else if (request?.t === 'render' && reply.answer.kind === 'frame' && this.#o.frameReference) {
        const psnrDb = await this.#o.frameReference(request.id, request, reply.answer.frame);
        if (psnrDb === undefined) continue;
        framesJudged++;
        if (psnrDb >= minPsnr) continue;
        if (!segment) unsealedWrong = true;
        else return { kind: 'caught', evidence: frameEvidence(run, this.#o.reporter, request, inputs, reply.answer.frame, psnrDb, segment), angleRad: 0, positionM: 0, psnrDb };
      }
    }
    // a refused extra has no entry and nothing to judge; a missing prediction leaves the trap unsealed
    const incomplete = run.answers.length < run.task.messages.length;
    const extrasUnsealed = extraReplies.some((r) => r.at + 1 > sealed);
    return unsealedWrong || incomplete || extrasUnsealed ? { kind: 'unsealed', checked } : { kind: 'pass', checked, extras: extraReplies.length, inferJudged, framesJudged };
  }

  /**
   * Every reply's entry in chain order (predictions and extras merged by arrival), and each
   * prediction's chain position; undefined when the replies do not fit together.
   */
  async #chain(run: TrapRun, through: ReadonlyMap<number, number>): Promise<{ entries: string[]; positions: number[] } | undefined> {
    const extras = [...(run.extraReplies ?? [])].sort((a, b) => a.at - b.at);
    const entries: string[] = [];
    const positions: number[] = [];
    let next = 0;
    for (let at = 0; next < run.answers.length || entries.length - positions.length < extras.length; at++) {
      const extra = extras[entries.length - positions.length];
      if (extra?.at === at) {
        const sent = run.task.extras?.[extra.extra];
        if (!sent) return undefined;
        entries.push(await extraEntry(sent.request, inputsBefore(run.task, extra.extra, through), extra.answer));
        continue;
      }
      const answer = run.answers[next++];
      const inputs = answer && through.get(answer.id);
      if (!answer || inputs === undefined) return undefined;
      positions.push(at);
      entries.push(predictionEntry(answer.id, inputs, answer));
    }
    return { entries, positions };
  }

  /** The sealed blocks of this run, each verified (link, signature, input digest); undefined when any fails. */
  async #segments(run: TrapRun, entries: readonly string[], samples: readonly PoseSample[]): Promise<ChainSegment[] | undefined> {
    const out: ChainSegment[] = [];
    let previousLink = await genesisLink(run.node, run.session);
    let from = 0;
    for (const seal of run.seals) {
      // a seal over answers that never reached us (a trap predict timed out, the run stopped) is
      // not a lie, just uncheckable: what it covers stays unsealed
      if (seal.to > entries.length) break;
      if (seal.node !== run.node || seal.session !== run.session || seal.to <= from || seal.inputs > samples.length) return undefined;
      const segment = { previousLink, entries: entries.slice(from, seal.to), seal };
      if (!(await verifySegment(segment, run.publicKey))) return undefined;
      if ((await inputDigestOf(run.session, samples.slice(0, seal.inputs))) !== seal.inputDigest) return undefined;
      out.push(segment);
      previousLink = seal.link;
      from = seal.to;
    }
    return out;
  }

  #evidence(run: TrapRun, answer: TrapAnswer, reference: TrapAnswer, segment: ChainSegment): PredictEvidence {
    // through the accused predict and through the last sample the seal covers
    let at = run.task.messages.findIndex((m) => m.id === answer.id);
    let seen = 0;
    for (const [i, m] of run.task.messages.entries()) {
      seen += m.poses.length;
      if (seen <= segment.seal.inputs) at = Math.max(at, i);
    }
    return {
      kind: 'predict',
      node: run.node,
      session: run.session,
      defaultPredictor: run.defaultPredictor,
      messages: run.task.messages.slice(0, at + 1).map((m) => ({ ...m, poses: m.poses })),
      accused: answer.id,
      answer: { predictor: answer.predictor, horizonMs: answer.horizonMs, pose: answer.pose },
      segment,
      reference: reference.pose,
      reporter: this.#o.reporter,
    };
  }
}

/** The node's input count at an extra's reply: every sample sent with the predicts before it. */
function inputsBefore(task: TrapTask, extra: number, through: ReadonlyMap<number, number>): number {
  const sent = task.extras?.[extra];
  const before = sent ? task.messages[sent.after - 1] : undefined;
  return before ? (through.get(before.id) ?? 0) : 0;
}

async function extraEntry(request: TrapInfer | TrapRender, inputs: number, answer: TrapExtraAnswer): Promise<string> {
  if (request.t === 'infer' && answer.kind === 'result') return inferEntry(request.id, inputs, request.model, request.input, answer.output);
  if (request.t === 'render' && answer.kind === 'frame') return frameEntry(request.id, inputs, request, answer.frame);
  throw new TypeError(`a ${request.t} answered with a ${answer.kind}`);
}
