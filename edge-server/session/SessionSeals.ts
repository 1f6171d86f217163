/**
 * One session's signed results, live: the session's `ResultSigner` (edge-server/trust) plus the
 * idle timer that seals a block nobody closes by answering more, and the send path for `seal`.
 *
 * Order matters and is kept by the callers: every sample goes through `observe` before the
 * history may drop it (SessionMotion does that), and an answer is recorded right after it is
 * sent, in the same turn, so the chain's order is the order the client received the answers.
 */
import { createHash, type KeyObject } from 'node:crypto';
import type { FrameFacts, FrameRequest, PoseSample, ResultSeal, SealMessage, Tensor } from '../../protocol/index.js';
import { ResultSigner, type ResultSignerOptions } from '../trust/ResultSigner.js';

export class SessionSeals {
  readonly #signer: ResultSigner;
  readonly #send: (seal: SealMessage) => void;
  readonly #sealAfterMs: number;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Samples received when each pending infer/render arrived; weak: a dropped request leaves nothing. */
  readonly #arrived = new WeakMap<object, number>();
  /** SHA-256 of each pending infer's input, taken before its bytes left for a worker (`inputLeaving`). */
  readonly #inputDigests = new WeakMap<object, Buffer>();

  constructor(node: string, session: string, key: KeyObject, options: ResultSignerOptions, send: (seal: SealMessage) => void) {
    this.#signer = new ResultSigner(node, session, key, options);
    this.#sealAfterMs = options.sealAfterMs ?? 250;
    this.#send = send;
  }

  /** Samples received so far: an async predictor reads it when it starts (its answer's input). */
  get inputs(): number {
    return this.#signer.inputs;
  }

  observe(sample: PoseSample): void {
    this.#signer.observe(sample);
  }

  /** Records an answer already sent; sends the seal when this closed a block, else arms the idle seal. */
  prediction(requestId: number, answer: { predictor: string; horizonMs: number; pose: PoseSample }, inputs: number): void {
    if (this.#closed) return;
    this.#emit(this.#signer.prediction(requestId, answer, inputs));
  }

  /**
   * An infer or render request arrived: its entry will record the samples received by now, which
   * the client can count (its socket is ordered), not those received by the time it is answered.
   */
  arrived(request: object): void {
    this.#arrived.set(request, this.#signer.inputs);
  }

  /**
   * An infer's input is about to run: its bytes may move to a heavy worker without a copy (and be
   * gone from this thread by the time it is answered), so its digest is taken now.
   */
  inputLeaving(request: { input: Tensor }): void {
    if (this.#closed) return;
    this.#inputDigests.set(request, createHash('sha256').update(request.input.data).digest());
  }

  /** Records an infer result already sent. */
  result(requestId: number, request: { model: string; input: Tensor }, output: Tensor): void {
    if (this.#closed) return;
    this.#emit(this.#signer.result(requestId, request.model, request.input, output, this.#arrived.get(request), this.#inputDigests.get(request)));
  }

  /** Records a frame already sent (its encoded bytes are hashed into the entry). */
  frame(requestId: number, request: FrameRequest, frame: FrameFacts & { data: Uint8Array }): void {
    if (this.#closed) return;
    this.#emit(this.#signer.frame(requestId, request, frame, this.#arrived.get(request)));
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #emit(seal: ResultSeal | undefined): void {
    if (seal) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#send({ t: 'seal', ...seal });
      return;
    }
    // a session that stops asking still gets its last answers sealed, about sealAfterMs later
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const seal = this.#closed ? undefined : this.#signer.flush();
      if (seal) this.#emit(seal);
    }, this.#sealAfterMs);
    this.#timer.unref();
  }
}
