/**
 * One client's session on an edge node: handshake, validation, pose history, and dispatch of
 * requests to the engines. A session that breaks the protocol is answered with a fatal `error`
 * and closed; nothing it sends can harm another session. Request-level failures (unknown model,
 * no poses yet) are answered with a non-fatal `error` and the session carries on.
 */
import type { WebSocket } from 'ws';
import {
  CloseCode,
  ErrorCode,
  InvalidStateError,
  Logger,
  PROTOCOL_VERSION,
  ProtocolError,
  RequestError,
  decode,
  encode,
  type Capability,
  type Device,
  type DrainMessage,
  type Message,
  type MessageOf,
  type NodeTier,
  type PoseSample,
  type RenderMessage,
  type WireLimits,
} from '../protocol/index.js';
import type { InferenceEngine, Predictor, PredictorFactory, RenderEngine } from './engines.js';
import { PoseHistory } from './PoseHistory.js';
import { TokenBucket } from './TokenBucket.js';

const logger = new Logger('edge:session');

export interface SessionContext {
  nodeId: string;
  tier: NodeTier;
  limits: WireLimits;
  predictors: ReadonlyMap<string, PredictorFactory>;
  defaultPredictor: string;
  inference?: InferenceEngine;
  renderer?: RenderEngine;
  /** Close a session that has not said `hello` within this time. */
  helloTimeoutMs: number;
  /** Most requests (predict/infer/render/scene) of one session in flight at once. */
  maxInflightRequests: number;
  /** Socket bytes queued for a slow reader above which large answers (frames) are dropped. */
  maxBufferedBytes: number;
  /** Counts each error code sent, for `/healthz`. */
  countError(code: ErrorCode): void;
}

type Request = MessageOf<'predict' | 'infer' | 'render' | 'scene'>;

export class Session {
  readonly id: string;
  readonly #ws: WebSocket;
  readonly #ctx: SessionContext;
  readonly #rate: TokenBucket;
  readonly #histories = new Map<Device, PoseHistory>();
  readonly #predictors = new Map<string, Predictor>();
  #state: 'handshake' | 'open' | 'closed' = 'handshake';
  #helloTimer: NodeJS.Timeout | undefined;
  #predictorName: string;
  #scene: string | undefined;
  /** The latest scene upload; renders wait for it so a frame never races its own scene. */
  #sceneLoaded: Promise<unknown> = Promise.resolve();
  #inflight = 0;
  #renderBusy = false;
  #renderPending: RenderMessage | undefined;
  #onClose: () => void;

  constructor(id: string, ws: WebSocket, ctx: SessionContext, onClose: () => void) {
    this.id = id;
    this.#ws = ws;
    this.#ctx = ctx;
    this.#onClose = onClose;
    this.#predictorName = ctx.defaultPredictor;
    this.#rate = new TokenBucket(ctx.limits.maxMessagesPerSecond, ctx.limits.rateBurst);
    this.#helloTimer = setTimeout(
      () => this.#fail(new ProtocolError(ErrorCode.NOT_READY, `no hello within ${ctx.helloTimeoutMs} ms`, CloseCode.HELLO_TIMEOUT)),
      ctx.helloTimeoutMs,
    );
    ws.on('message', (data, isBinary) => this.#onFrame(data as Buffer, isBinary));
    ws.on('close', () => this.#closed());
    // socket errors (resets, oversize frames caught by ws) end up in 'close' too; log only
    ws.on('error', (err) => logger.debug(`session ${id} socket error: ${err.message}`));
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  /** Asks the client to move elsewhere; the server closes the socket after the deadline. */
  drain(reason: string, deadlineMs: number, redirect?: string): void {
    const message: DrainMessage = { t: 'drain', reason, deadlineMs };
    if (redirect) message.redirect = redirect;
    this.#send(message);
  }

  close(code: number = CloseCode.NORMAL, reason = ''): void {
    if (this.#state === 'closed') return;
    this.#ws.close(code, reason);
    // a peer that never answers the close handshake must not hold the session open
    setTimeout(() => this.#ws.terminate(), 1000).unref();
    this.#closed();
  }

  #closed(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearTimeout(this.#helloTimer);
    for (const predictor of this.#predictors.values()) predictor.close?.();
    this.#predictors.clear();
    this.#ctx.renderer?.releaseSession(this.id);
    this.#onClose();
  }

  #onFrame(data: Buffer, isBinary: boolean): void {
    if (this.#state === 'closed') return;
    const receivedAt = performance.now();
    let message: Message;
    try {
      if (!this.#rate.take()) {
        throw new ProtocolError(ErrorCode.RATE_LIMITED, `more than ${this.#ctx.limits.maxMessagesPerSecond} messages/s`, CloseCode.RATE_LIMITED);
      }
      if (!isBinary) throw new ProtocolError(ErrorCode.BAD_FRAME, 'text frames are not part of the protocol; send binary MessagePack');
      message = decode(data, this.#ctx.limits);
      this.#dispatch(message, receivedAt);
    } catch (err) {
      if (err instanceof ProtocolError) this.#fail(err);
      else if (err instanceof RequestError) this.#sendError(undefined, err);
      else this.#internal(err, undefined);
    }
  }

  #dispatch(message: Message, receivedAt: number): void {
    if (this.#state === 'handshake') {
      if (message.t !== 'hello') throw new ProtocolError(ErrorCode.NOT_READY, `'${message.t}' before 'hello'`);
      return this.#hello(message);
    }
    switch (message.t) {
      case 'ping':
        return this.#send({ t: 'pong', id: message.id, c: message.c, r: receivedAt, s: performance.now() });
      case 'pose':
        for (const sample of message.poses) this.#observe(sample);
        return;
      case 'predict':
        if (message.poses) for (const sample of message.poses) this.#observe(sample);
        return this.#request(message);
      case 'infer':
      case 'render':
      case 'scene':
        return this.#request(message);
      case 'bye':
        return this.close(CloseCode.NORMAL, 'bye');
      case 'hello':
        throw new ProtocolError(ErrorCode.NOT_READY, 'second hello on one session');
      default:
        throw new ProtocolError(ErrorCode.BAD_MESSAGE, `'${message.t}' is sent by nodes, not clients`);
    }
  }

  #hello(hello: MessageOf<'hello'>): void {
    if (hello.v !== PROTOCOL_VERSION) {
      throw new ProtocolError(ErrorCode.VERSION_MISMATCH, `protocol v${hello.v} is not supported; this node speaks v${PROTOCOL_VERSION}`, CloseCode.VERSION_MISMATCH);
    }
    clearTimeout(this.#helloTimer);
    const resume = hello.resume;
    // a client resuming from another node may name a predictor this node lacks: serve it with
    // the default (welcome lists what is here) rather than refuse the whole session
    if (resume?.predictor && this.#ctx.predictors.has(resume.predictor)) this.#predictorName = resume.predictor;
    if (resume?.scene) this.#scene = resume.scene;
    for (const sample of resume?.poses ?? []) this.#observe(sample);
    this.#state = 'open';
    const { limits } = this.#ctx;
    this.#send({
      t: 'welcome',
      v: PROTOCOL_VERSION,
      session: this.id,
      node: { id: this.#ctx.nodeId, tier: this.#ctx.tier },
      caps: this.#capabilities(),
      predictors: [...this.#ctx.predictors.keys()],
      models: [...(this.#ctx.inference?.models ?? [])],
      limits: {
        maxFrameBytes: limits.maxFrameBytes,
        maxPosesPerMessage: limits.maxPosesPerMessage,
        maxTensorElements: limits.maxTensorElements,
        maxMessagesPerSecond: limits.maxMessagesPerSecond,
        maxHorizonMs: limits.maxHorizonMs,
      },
      time: performance.now(),
    });
  }

  #capabilities(): Capability[] {
    const caps: Capability[] = ['predict'];
    if (this.#ctx.inference) caps.push('infer');
    if (this.#ctx.renderer) caps.push('render');
    return caps;
  }

  #selectPredictor(name: string): void {
    if (!this.#ctx.predictors.has(name)) {
      throw new RequestError(ErrorCode.BAD_REQUEST, `unknown predictor '${name}'; this node has ${[...this.#ctx.predictors.keys()].join(', ')}`);
    }
    this.#predictorName = name;
  }

  #observe(sample: MessageOf<'pose'>['poses'][number]): void {
    let history = this.#histories.get(sample.device);
    if (!history) this.#histories.set(sample.device, (history = new PoseHistory()));
    if (!history.push(sample)) return;
    const normalized = history.latest!;
    for (const [key, predictor] of this.#predictors) {
      if (key.startsWith(`${sample.device}/`)) predictor.observe?.(normalized);
    }
  }

  #predictorFor(device: Device, name: string): Predictor {
    const key = `${device}/${name}`;
    let predictor = this.#predictors.get(key);
    if (!predictor) {
      const factory = this.#ctx.predictors.get(name);
      if (!factory) throw new RequestError(ErrorCode.BAD_REQUEST, `unknown predictor '${name}'`);
      predictor = factory.create();
      // a stateful filter created mid-stream catches up on the history it missed
      for (const sample of this.#histories.get(device)?.samples ?? []) predictor.observe?.(sample);
      this.#predictors.set(key, predictor);
    }
    return predictor;
  }

  #request(request: Request): void {
    if (request.t !== 'render' && this.#inflight >= this.#ctx.maxInflightRequests) {
      this.#sendError(request.id, new RequestError(ErrorCode.BUSY, `more than ${this.#ctx.maxInflightRequests} requests in flight`));
      return;
    }
    if (request.t === 'render') return this.#enqueueRender(request);
    if (request.t === 'predict') return this.#predict(request);
    this.#inflight++;
    this.#serve(request)
      .then((answer) => this.#send(answer))
      .catch((err) => this.#answerError(request.id, err))
      .finally(() => this.#inflight--);
  }

  /**
   * The per-frame hot path. A predictor that answers synchronously (all but batched tfjs) is
   * answered in the same turn, with no promise chain: at 90 Hz × hundreds of sessions the
   * promises and their garbage were a measurable share of the node's time and GC pauses.
   */
  #predict(request: MessageOf<'predict'>): void {
    const started = performance.now();
    let name: string;
    let pose: ReturnType<Predictor['predict']>;
    try {
      const device = request.device ?? 'head';
      if (request.horizonMs > this.#ctx.limits.maxHorizonMs) {
        throw new RequestError(ErrorCode.BAD_REQUEST, `horizonMs ${request.horizonMs} is over ${this.#ctx.limits.maxHorizonMs}`);
      }
      if (request.predictor) this.#selectPredictor(request.predictor);
      const history = this.#histories.get(device);
      if (!history?.latest) throw new RequestError(ErrorCode.BAD_REQUEST, `no poses yet for device '${device}'; send pose before predict`);
      name = this.#predictorName;
      pose = this.#predictorFor(device, name).predict(history.samples, request.horizonMs);
    } catch (err) {
      return this.#answerError(request.id, err);
    }
    const answer = (p: PoseSample): void => {
      try {
        this.#send({ t: 'prediction', id: request.id, pose: p, predictor: name, horizonMs: request.horizonMs, computeMs: performance.now() - started });
      } catch (err) {
        // the answer failed its own schema (a predictor produced NaN, say): our bug, not the client's
        this.#internal(err, request.id);
      }
    };
    if (!(pose instanceof Promise)) return answer(pose);
    this.#inflight++;
    pose
      .then(answer, (err) => this.#answerError(request.id, err))
      .finally(() => this.#inflight--);
  }

  async #serve(request: Exclude<Request, RenderMessage | MessageOf<'predict'>>): Promise<Message> {
    const started = performance.now();
    switch (request.t) {
      case 'infer': {
        const engine = this.#ctx.inference;
        if (!engine) throw new RequestError(ErrorCode.UNSUPPORTED, 'this node runs no inference engine');
        const output = await engine.infer(request.model, request.input);
        return { t: 'result', id: request.id, model: request.model, output, computeMs: performance.now() - started };
      }
      case 'scene': {
        const renderer = this.#ctx.renderer;
        if (!renderer) throw new RequestError(ErrorCode.UNSUPPORTED, 'this node does not render');
        const loading = renderer.loadScene(this.id, request.name, request.data).then(() => {
          this.#scene = request.name;
        });
        this.#sceneLoaded = loading.catch(() => {}); // a failed upload is answered below; renders go on
        await loading;
        return { t: 'ack', id: request.id };
      }
    }
  }

  /**
   * Frame pacing: at most one render runs per session and one waits; a newer request replaces
   * the waiting one (a stale frame is worse than none), so a slow client never builds a queue.
   */
  #enqueueRender(request: RenderMessage): void {
    if (!this.#ctx.renderer) {
      this.#sendError(request.id, new RequestError(ErrorCode.UNSUPPORTED, 'this node does not render'));
      return;
    }
    if (this.#renderBusy) {
      if (this.#renderPending) {
        this.#sendError(this.#renderPending.id, new RequestError(ErrorCode.SUPERSEDED, 'a newer render request replaced this one'));
      }
      this.#renderPending = request;
      return;
    }
    this.#renderBusy = true;
    void this.#render(request);
  }

  async #render(request: RenderMessage): Promise<void> {
    const renderer = this.#ctx.renderer!;
    try {
      await this.#sceneLoaded;
      const frame = await renderer.render(this.id, this.#scene && !request.scene ? { ...request, scene: this.#scene } : request);
      if (this.#ws.bufferedAmount > this.#ctx.maxBufferedBytes) {
        throw new RequestError(ErrorCode.SLOW_CONSUMER, `frame dropped: ${this.#ws.bufferedAmount} bytes still queued to this client`);
      }
      this.#send({ t: 'frame', id: request.id, ...frame });
    } catch (err) {
      this.#answerError(request.id, err);
    }
    const next = this.#renderPending;
    this.#renderPending = undefined;
    if (next && this.#state === 'open') void this.#render(next);
    else this.#renderBusy = false;
  }

  #answerError(id: number, err: unknown): void {
    if (err instanceof RequestError) this.#sendError(id, err);
    else if (err instanceof ProtocolError) this.#fail(err);
    else if (err instanceof InvalidStateError) return; // engine closed under us: the node is shutting down
    else this.#internal(err, id);
  }

  #internal(err: unknown, id: number | undefined): void {
    logger.error(`session ${this.id}: ${(err as Error)?.stack ?? err}`);
    this.#sendError(id, new RequestError(ErrorCode.INTERNAL, 'internal error on the node; the session continues'));
  }

  #sendError(id: number | undefined, err: RequestError): void {
    this.#ctx.countError(err.code);
    this.#send(id === undefined ? { t: 'error', code: err.code, message: err.message, fatal: false } : { t: 'error', id, code: err.code, message: err.message, fatal: false });
  }

  /** The peer broke the protocol: say why, then close this session only. */
  #fail(err: ProtocolError): void {
    if (this.#state === 'closed') return;
    this.#ctx.countError(err.code);
    logger.debug(`session ${this.id} closed: ${err.code} ${err.message}`);
    this.#send({ t: 'error', code: err.code, message: err.message, fatal: true });
    this.close(err.closeCode, err.code);
  }

  #send(message: Message): void {
    if (this.#state === 'closed' || this.#ws.readyState !== this.#ws.OPEN) return;
    this.#ws.send(encode(message));
  }
}
