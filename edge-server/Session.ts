/**
 * One client's session on an edge node, a domain object in mediasoup's manner: it owns its
 * socket and its children (motion state, render pacer, in-flight requests), emits `close` once
 * when it ends for any reason, and `close()` closes the children with it.
 *
 * A frame goes: rate cap → binary check → `decode` (size, structure, schema) → handshake gate →
 * `handlers[message.t]` (handlers/index.ts). A session that breaks the protocol is answered with
 * a fatal `error` and closed; nothing it sends can harm another session. Request-level failures
 * (unknown model, no poses yet) are answered with a non-fatal `error` and the session carries on.
 *
 * With WebRTC (a node given a worker pool), the session also owns an RtcSignalling child: frames
 * arriving on the client's `poses` data channel take the same path from the rate cap on, and
 * what they ask for is answered on the edge's `predictions` channel (ws when it cannot take it).
 * Only the hot path (`pose`, `predict`, `ping`) is served there; the rest stays on the socket.
 *
 * Events: `open` after `welcome` went out; `close` (code, reason) once, whoever ended it;
 * `@close` once, for the owning EdgeServer only (mediasoup's parent/child bookkeeping).
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import {
  CloseCode,
  EnhancedEventEmitter,
  ErrorCode,
  InvalidStateError,
  Logger,
  ProtocolError,
  RequestError,
  ValueError,
  decode,
  encode,
  type DrainMessage,
  type Message,
  type MessageType,
} from '../protocol/index.js';
import { FrameGate, type AdmissionTicket, type SendPriority, type SessionGuard } from './admission/index.js';
import { handlers, type Handler, type HandlerContext, type NodeContext } from './handlers/index.js';
import type { RequestKind } from './metrics.js';
import { frameSink } from './session/FrameSink.js';
import { handOverFrame } from './offload/messages.js';
import { InflightRequests } from './session/InflightRequests.js';
import { SessionMotion } from './session/SessionMotion.js';
import { SessionRender } from './session/SessionRender.js';
import { SessionSeals } from './session/SessionSeals.js';
import { TokenBucket } from './TokenBucket.js';
import { RtcSignalling } from './webrtc/RtcSignalling.js';

const logger = new Logger('edge:session');

/** What a client may send on its unreliable data channel: the per-frame hot path only. */
const DATA_CHANNEL_TYPES: ReadonlySet<MessageType> = new Set(['pose', 'predict', 'ping']);

export type SessionEvents = {
  /** `welcome` was sent; requests are served from now on. */
  open: [];
  /** The session ended: its close code and reason (the peer's, when the peer closed). Once. */
  close: [code: number, reason: string];
  /** Same moment as `close`, for the EdgeServer's bookkeeping; not for applications. */
  '@close': [];
};

export class Session extends EnhancedEventEmitter<SessionEvents> {
  readonly id: string;
  readonly #ws: WebSocket;
  readonly #node: NodeContext;
  readonly #rate: TokenBucket;
  readonly #motion: SessionMotion;
  readonly #seals: SessionSeals | undefined;
  readonly #render: SessionRender | undefined;
  readonly #requests: InflightRequests;
  readonly #rtc: RtcSignalling | undefined;
  readonly #ctx: HandlerContext;
  /** The same context, answering on the WebRTC data channel: for frames that came that way. */
  readonly #rtcCtx: HandlerContext;
  readonly #socketGone: Promise<void>;
  readonly #guard: SessionGuard;
  /** At most `framesPerRead` of this session's frames per socket read; the rest wait their turn. */
  readonly #gate: FrameGate;
  /** Arrival time of each request still unanswered after its handler returned, for the node's own handling time (`/metrics`). */
  readonly #received = new Map<number, { kind: RequestKind; at: number }>();
  /**
   * The request being dispatched right now: most (every synchronous predict) are answered before
   * their handler returns, and then need no entry in `#received` (a Map insert and delete per frame).
   */
  #dispatching: { id: number; kind: RequestKind; at: number; answered: boolean } = { id: -1, kind: 'predict', at: 0, answered: true };
  #state: 'handshake' | 'open' | 'closed' = 'handshake';
  #helloTimer: NodeJS.Timeout | undefined;

  /** `socket` is the upgraded TCP (or TLS) socket under `ws`: its reads pace the FrameGate. */
  constructor(id: string, ws: WebSocket, node: NodeContext, ticket: AdmissionTicket, socket: Duplex) {
    super();
    this.id = id;
    this.#ws = ws;
    this.#node = node;
    this.#guard = node.guards.forSession(id, frameSink(ws), ticket, {
      onIdle: (silentMs) => this.#fail(new ProtocolError(ErrorCode.IDLE_TIMEOUT, `nothing received for ${Math.round(silentMs)} ms`, CloseCode.IDLE_TIMEOUT)),
      // the socket is full: an `error` would only queue behind it; the close code says why
      onSlowConsumer: () => {
        node.countError(ErrorCode.SLOW_CONSUMER);
        this.close(CloseCode.SLOW_CONSUMER, ErrorCode.SLOW_CONSUMER);
      },
    });
    const guard = this.#guard;
    this.#rate = new TokenBucket(node.limits.maxMessagesPerSecond, node.limits.rateBurst);
    // results are signed on a node with its registered key: a wrong answer becomes evidence (TRUST.md)
    this.#seals =
      node.nodeKey && node.resultSigning !== false
        ? new SessionSeals(node.nodeId, id, node.nodeKey, node.resultSigning, (seal) => this.#send(seal, 'required'))
        : undefined;
    this.#motion = new SessionMotion(node.predictors, node.defaultPredictor, this.#seals);
    this.#requests = new InflightRequests(node.maxInflightRequests);
    this.#render = node.renderer
      ? new SessionRender(id, node.renderer, node.maxBufferedBytes, {
          answer: (rid, message) => this.#answer(rid, message),
          answerError: (rid, err) => this.#answerError(rid, err),
          get bufferedAmount() {
            return ws.bufferedAmount;
          },
          canTake: (bytes) => guard.canTake(bytes),
          heavy: (kind, job) => guard.heavy(kind, job),
          timings: (renderMs, encodeMs) => {
            node.metrics.stage('render', renderMs);
            node.metrics.stage('encode', encodeMs);
          },
          video: () => this.#rtc?.video,
          sealFrame: (rid, request, frame) => this.#seals?.frame(rid, request, frame),
        })
      : undefined;
    // input queued past the FrameGate's bound, on the socket or a data channel
    const flooded = (bytes: number) => this.#fail(new ProtocolError(ErrorCode.RATE_LIMITED, `${bytes} bytes of frames waiting to be handled; send no faster than answers come`, CloseCode.RATE_LIMITED));
    this.#rtc = node.rtc
      ? new RtcSignalling(
          node.rtc,
          {
            sessionId: id,
            notify: (message) => this.#send(message),
            receive: (data) => this.#onFrame(data, true, this.#rtcCtx),
            flooded,
          },
          { frames: node.guards.frames },
        )
      : undefined;
    this.#ctx = this.#handlerContext();
    const viaRtc = (message: Message) => this.#sendRtc(message);
    this.#rtcCtx = Object.create(this.#ctx, {
      send: { value: viaRtc },
      answer: { value: (rid: number, message: Message) => this.#answer(rid, message, viaRtc) },
    }) as HandlerContext;
    this.#helloTimer = setTimeout(
      () => this.#fail(new ProtocolError(ErrorCode.NOT_READY, `no hello within ${node.helloTimeoutMs} ms`, CloseCode.HELLO_TIMEOUT)),
      node.helloTimeoutMs,
    );
    this.#socketGone = new Promise((resolve) => ws.once('close', () => resolve()));
    this.#gate = new FrameGate(
      socket,
      ws,
      (data, isBinary) => this.#onFrame(data, isBinary, this.#ctx),
      flooded,
      node.guards.frames,
    );
    ws.on('message', (data, isBinary) => this.#gate.receive(data as Buffer, isBinary));
    ws.on('close', (code, reason) => this.#closed(code, reason.toString()));
    // socket errors (resets, oversize frames caught by ws) end up in 'close' too; log only
    ws.on('error', (err) => logger.debug(`session ${id} socket error: ${err.message}`));
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  /** Resolves once the socket is gone: the close handshake finished or the peer was cut off. */
  get socketClosed(): Promise<void> {
    return this.#socketGone;
  }

  /** Asks the client to move elsewhere; the server closes the socket after the deadline. */
  drain(reason: string, deadlineMs: number, redirect?: string): void {
    const message: DrainMessage = { t: 'drain', reason, deadlineMs };
    if (redirect) message.redirect = redirect;
    this.#send(message, 'required');
  }

  /** Closes the socket with `code`, closes the children, emits `close`. Idempotent. */
  close(code: number = CloseCode.NORMAL, reason = ''): void {
    if (this.#state === 'closed') return;
    this.#ws.close(code, reason);
    setTimeout(() => this.#ws.terminate(), this.#node.closeHandshakeMs).unref();
    this.#closed(code, reason);
  }

  #closed(code: number, reason: string): void {
    if (this.#state === 'closed') return;
    const wasOpen = this.#state === 'open';
    this.#state = 'closed';
    clearTimeout(this.#helloTimer);
    this.#guard.close();
    this.#gate.close();
    this.#received.clear();
    if (wasOpen) this.#node.metrics.sessionClosed();
    this.#requests.close();
    this.#render?.close();
    this.#rtc?.close();
    this.#motion.close();
    this.#seals?.close();
    this.#node.renderer?.releaseSession(this.id);
    this.safeEmit('@close');
    this.safeEmit('close', code, reason);
  }

  /** The one object every handler gets: built once, so dispatch allocates nothing per message. */
  #handlerContext(): HandlerContext {
    const session = this;
    return {
      sessionId: this.id,
      node: this.#node,
      motion: this.#motion,
      seals: this.#seals,
      render: this.#render,
      rtc: this.#rtc,
      requests: this.#requests,
      guard: this.#guard,
      get opened() {
        return session.#state === 'open';
      },
      open: () => {
        clearTimeout(this.#helloTimer);
        this.#state = 'open';
        this.#node.metrics.sessionOpened();
        this.safeEmit('open');
      },
      send: (message, priority) => this.#send(message, priority),
      answer: (id, message) => this.#answer(id, message),
      answerError: (id, err) => this.#answerError(id, err),
      admit: (id) => {
        if (!this.#requests.full) return true;
        this.#sendError(id, new RequestError(ErrorCode.BUSY, `more than ${this.#requests.max} requests in flight`));
        return false;
      },
      answerLater: (id, work) =>
        this.#requests.track(
          work,
          (message) => this.#answer(id, message),
          (err) => this.#answerError(id, err),
        ),
      close: (code, reason) => this.close(code, reason),
    };
  }

  #onFrame(data: Buffer, isBinary: boolean, ctx: HandlerContext): void {
    if (this.#state === 'closed') return;
    const receivedAt = performance.now();
    this.#guard.touch();
    try {
      if (!this.#rate.take()) {
        throw new ProtocolError(ErrorCode.RATE_LIMITED, `more than ${this.#node.limits.maxMessagesPerSecond} messages/s`, CloseCode.RATE_LIMITED);
      }
      if (!isBinary) throw new ProtocolError(ErrorCode.BAD_FRAME, 'text frames are not part of the protocol; send binary MessagePack');
      const message = decode(data, this.#node.limits);
      // ws is done with this frame: its tensor may go to a heavy worker without a copy (offload/messages.ts)
      if (message.t === 'infer' && ctx === this.#ctx) handOverFrame(data);
      if (this.#state === 'handshake' && message.t !== 'hello') throw new ProtocolError(ErrorCode.NOT_READY, `'${message.t}' before 'hello'`);
      const handler = handlers[message.t] as Handler<MessageType> | undefined;
      if (!handler) throw new ProtocolError(ErrorCode.BAD_MESSAGE, `'${message.t}' is sent by nodes, not clients`);
      if (ctx === this.#rtcCtx && !DATA_CHANNEL_TYPES.has(message.t)) {
        throw new RequestError(ErrorCode.BAD_REQUEST, `'${message.t}' goes on the session socket, not the data channel`);
      }
      // a client not reading its answers: none computed while its backlog waits (SendBudget.wantsAnswer, attack 2)
      if (message.t === 'predict' && ctx === this.#ctx && !this.#guard.wantsAnswer()) return;
      const request = message.t === 'predict' || message.t === 'infer' || message.t === 'render' || message.t === 'scene';
      const current = this.#dispatching;
      if (request) {
        current.id = message.id;
        current.kind = message.t;
        current.at = receivedAt;
        current.answered = false;
      }
      try {
        handler(message, ctx, receivedAt);
      } finally {
        if (request && !current.answered) {
          // answered later: remembered until then, bounded (a client that never reads its answers
          // cannot grow this past a few thousand)
          if (this.#received.size >= 4096) this.#received.clear();
          this.#received.set(current.id, { kind: current.kind, at: current.at });
        }
        current.answered = true;
      }
    } catch (err) {
      if (err instanceof ProtocolError) this.#fail(err);
      // a value the protocol cannot use (protocol/messages.ts POSE_BOUNDS): refuse that request only
      else if (err instanceof RequestError) this.#sendError(err instanceof ValueError ? err.requestId : undefined, err);
      else this.#internal(err, undefined);
    }
  }

  /** Request `id` got its answer: the node's own handling time, frame read → answer sent. */
  #handled(id: number): void {
    const current = this.#dispatching;
    if (!current.answered && current.id === id) {
      current.answered = true;
      this.#node.metrics.request(current.kind, performance.now() - current.at);
      return;
    }
    const received = this.#received.get(id);
    if (!received) return;
    this.#received.delete(id);
    this.#node.metrics.request(received.kind, performance.now() - received.at);
  }

  /** `send`: another path (the WebRTC channel); default the socket (no default closure: this runs per answer). */
  #answer(id: number, message: Message, send?: (message: Message) => void): void {
    try {
      if (send) send(message);
      else this.#send(message);
      this.#handled(id);
    } catch (err) {
      // an answer out of the protocol's bounds, extrapolated from poses the client sent (a position
      // 1000 km away moving fast): the request's fault, refused like its poses would have been
      if (err instanceof ValueError) this.#sendError(id, err);
      // the answer failed its own schema otherwise (a predictor produced NaN, say): our bug
      else this.#internal(err, id);
    }
  }

  #answerError(id: number, err: unknown): void {
    if (err instanceof RequestError) this.#sendError(id, err);
    else if (err instanceof ProtocolError) this.#fail(err);
    else if (err instanceof InvalidStateError) return; // this session or an engine closed: nobody to answer
    else this.#internal(err, id);
  }

  #internal(err: unknown, id: number | undefined): void {
    logger.error(`session ${this.id}: ${(err as Error)?.stack ?? err}`);
    this.#sendError(id, new RequestError(ErrorCode.INTERNAL, 'internal error on the node; the session continues'));
  }

  #sendError(id: number | undefined, err: RequestError): void {
    this.#node.countError(err.code);
    this.#send(id === undefined ? { t: 'error', code: err.code, message: err.message, fatal: false } : { t: 'error', id, code: err.code, message: err.message, fatal: false });
    if (id !== undefined) this.#handled(id);
  }

  /** The peer broke the protocol: say why, then close this session only. */
  #fail(err: ProtocolError): void {
    if (this.#state === 'closed') return;
    this.#node.countError(err.code);
    logger.debug(`session ${this.id} closed: ${err.code} ${err.message}`);
    this.#send({ t: 'error', code: err.code, message: err.message, fatal: true }, 'required');
    this.close(err.closeCode, err.code);
  }

  /** On the `predictions` channel; on the socket when the channel is gone, full or the message too big. */
  #sendRtc(message: Message): void {
    if (this.#state === 'closed') return;
    if (!this.#rtc?.send('predictions', encode(message))) this.#send(message);
  }

  /**
   * Every byte to the client goes through the session's send budget: `droppable` answers (the
   * default: predictions, pongs, frames, non-fatal errors) are dropped while the client is
   * behind, `required` ones (welcome, drain, fatal errors) close it past the hard cap.
   */
  #send(message: Message, priority: SendPriority = 'droppable'): void {
    if (this.#state === 'closed' || this.#ws.readyState !== this.#ws.OPEN) return;
    this.#guard.send(encode(message), priority);
    if (message.t === 'pong') this.#node.metrics.request('ping', performance.now() - message.r);
  }
}
