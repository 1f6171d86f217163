/**
 * One live connection to one node: handshake, requests matched to answers by id (pairing from
 * protocol/replies.ts), ping/pong RTT and clock offset. It does not ping on its own: the one ping
 * loop is `LinkMonitor`, run by whoever owns the connection. It knows nothing of tiers or failover; `Session` builds those on top, so a
 * session can hold several connections (an edge and a warm cloud standby) at once.
 */
import {
  CloseCode,
  DEFAULT_CLIENT_MAX_FRAME_BYTES,
  ErrorCode,
  InvalidStateError,
  Logger,
  PROTOCOL_VERSION,
  ProtocolError,
  RequestError,
  decode,
  encode,
  resolveLimits,
  type DrainMessage,
  type ErrorMessage,
  type HelloMessage,
  type Message,
  answers,
  type ReplyOf,
  type RequestBody,
  type RequestType,
  type PoseSample,
  type WelcomeMessage,
} from '../../protocol/index.js';
import { ConnectError, ConnectErrorCode } from '../errors.js';
import { EnhancedEventEmitter } from '../../protocol/EnhancedEventEmitter.js';
import { RttStats, type RttSummary } from './RttStats.js';
import type { Transport } from '../transport/Transport.js';
import { WebSocketTransport, type WebSocketConstructor } from '../transport/WebSocketTransport.js';

const logger = new Logger('client:connection');

export type NodeConnectionEvents = {
  /** A ping came back, ms. */
  latency: [rttMs: number];
  /** The node asks us to move. */
  drain: [message: DrainMessage];
  /** The node reported an error not tied to a request (fatal ones precede `close`). */
  nodeerror: [error: RequestError | ProtocolError];
  close: [code: number, reason: string];
};

export interface NodeConnectionOptions {
  /** What `hello` carries besides the version (resume state, token, capabilities). */
  hello?: Omit<HelloMessage, 't' | 'v'>;
  /** @default 3000 */
  connectTimeoutMs?: number;
  /** Largest frame accepted from the node. @default 32 MiB */
  maxFrameBytes?: number;
  /** WebSocket implementation (browsers: the global one; Node: ws, set by the Node entry). */
  WebSocket?: WebSocketConstructor;
  /** A ready transport instead of a URL to dial (tests, WebRTC). */
  transport?: Transport;
}

interface Pending {
  type: RequestType;
  resolve: (message: Message) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class NodeConnection extends EnhancedEventEmitter<NodeConnectionEvents> {
  readonly welcome: WelcomeMessage;
  readonly #transport: Transport;
  readonly #pending = new Map<number, Pending>();
  readonly #rtt = new RttStats();
  readonly #limits;
  #nextId = 1;
  #clockOffsetMs = Number.NaN;
  #closed = false;
  /** Tracked poses not sent yet: they ride on this turn's `predict`, or leave alone at its end. */
  #outgoingPoses: PoseSample[] = [];
  #flushQueued = false;

  /** Dials `url`, says `hello`, and resolves once the node's `welcome` arrives. */
  static async open(url: string, options: NodeConnectionOptions = {}): Promise<NodeConnection> {
    const connectTimeoutMs = options.connectTimeoutMs ?? 3000;
    const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_CLIENT_MAX_FRAME_BYTES;
    const started = performance.now();
    const transport = options.transport ?? (await WebSocketTransport.open(url, { WebSocket: options.WebSocket, maxFrameBytes, connectTimeoutMs }));
    const limits = resolveLimits({ maxFrameBytes });
    const welcome = await new Promise<WelcomeMessage>((resolve, reject) => {
      const timer = setTimeout(() => fail(new ConnectError(ConnectErrorCode.HANDSHAKE_TIMEOUT, `no welcome from ${url} within ${connectTimeoutMs} ms; is it an edge-offload node?`, { url })), Math.max(1, connectTimeoutMs - (performance.now() - started)));
      const cleanup = () => {
        clearTimeout(timer);
        transport.off('message', onMessage);
        transport.off('close', onClose);
      };
      const fail = (error: Error) => {
        cleanup();
        transport.close(CloseCode.NORMAL, 'handshake failed');
        reject(error);
      };
      const onMessage = (bytes: Uint8Array) => {
        let message: Message;
        try {
          message = decode(bytes, limits);
        } catch (err) {
          return fail(new ConnectError(ConnectErrorCode.HANDSHAKE_FAILED, `${url} sent an invalid handshake frame: ${(err as Error).message}`, { url, cause: err }));
        }
        if (message.t === 'welcome') {
          cleanup();
          resolve(message);
        } else if (message.t === 'error') {
          fail(new ConnectError(ConnectErrorCode.HANDSHAKE_REJECTED, `${url} refused the session: ${message.message} (${message.code})`, { url, cause: new ProtocolError(message.code, message.message) }));
        } else {
          fail(new ConnectError(ConnectErrorCode.HANDSHAKE_FAILED, `${url} sent '${message.t}' before welcome`, { url }));
        }
      };
      const onClose = (code: number, reason: string) => fail(new ConnectError(ConnectErrorCode.HANDSHAKE_FAILED, `${url} closed during the handshake (${code} ${reason})`, { url }));
      transport.on('message', onMessage);
      transport.on('close', onClose);
      transport.send(encode({ t: 'hello', v: PROTOCOL_VERSION, ...options.hello }));
    });
    return new NodeConnection(transport, welcome, limits);
  }

  private constructor(transport: Transport, welcome: WelcomeMessage, limits: ReturnType<typeof resolveLimits>) {
    super();
    this.#transport = transport;
    this.welcome = welcome;
    this.#limits = limits;
    transport.on('message', (bytes) => this.#onMessage(bytes));
    transport.on('close', (code, reason) => this.#onClose(code, reason));
  }

  get url(): string {
    return this.#transport.url;
  }

  get nodeId(): string {
    return this.welcome.node.id;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes sent but not yet on the network: a growing number means the link is stalling. */
  get bufferedAmount(): number {
    return this.#transport.bufferedAmount;
  }

  /** Node clock minus client clock, ms, from the latest ping (NaN before the first pong). */
  get clockOffsetMs(): number {
    return this.#clockOffsetMs;
  }

  rtt(): RttSummary {
    return this.#rtt.summary();
  }

  /** Sends a message that has no answer (`pose`, `bye`); queued poses go first, order kept. */
  send(message: Message): void {
    if (this.#closed) throw new InvalidStateError('connection closed');
    this.#flushPoses();
    this.#transport.send(encode(message));
  }

  /**
   * Streams one tracked pose. It is held until the end of the current turn: a `predict` asked
   * in the same turn (the usual frame: pose, then "where will it be") carries it, so each frame
   * is one message; otherwise it leaves alone, microseconds later. Order with every other
   * message is kept.
   */
  sendPose(pose: PoseSample): void {
    if (this.#closed) throw new InvalidStateError('connection closed');
    this.#outgoingPoses.push(pose);
    if (this.#outgoingPoses.length >= this.welcome.limits.maxPosesPerMessage) return this.#flushPoses();
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    queueMicrotask(() => {
      this.#flushQueued = false;
      if (!this.#closed) this.#flushPoses();
    });
  }

  #flushPoses(): void {
    if (this.#outgoingPoses.length === 0) return;
    const poses = this.#outgoingPoses;
    this.#outgoingPoses = [];
    this.#transport.send(encode({ t: 'pose', poses }));
  }

  request<T extends RequestType>(body: RequestBody<T>, timeoutMs: number): Promise<ReplyOf<T>> {
    if (this.#closed) return Promise.reject(new InvalidStateError(`connection to ${this.url} is closed`));
    const id = this.#nextId;
    this.#nextId = this.#nextId >= 2 ** 32 ? 1 : this.#nextId + 1;
    const message = { ...body, id } as Message;
    if (message.t === 'predict' && this.#outgoingPoses.length > 0) {
      message.poses = this.#outgoingPoses;
      this.#outgoingPoses = [];
    } else {
      this.#flushPoses();
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new RequestError(ErrorCode.TIMEOUT, `${body.t} got no answer from ${this.url} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { type: body.t as RequestType, resolve: resolve as (m: Message) => void, reject, timer });
      this.#transport.send(encode(message));
    });
  }

  /** One ping round trip, ms. */
  async ping(timeoutMs = 1000): Promise<number> {
    const c = performance.now();
    const pong = await this.request<'ping'>({ t: 'ping', c }, timeoutMs);
    const now = performance.now();
    const rttMs = now - pong.c;
    // NTP-style: the node's clock read halfway through the round trip
    this.#clockOffsetMs = (pong.r - pong.c + (pong.s - now)) / 2;
    this.#rtt.add(rttMs);
    this.safeEmit('latency', rttMs);
    return rttMs;
  }

  close(code: number = CloseCode.NORMAL, reason = 'client closed'): void {
    if (this.#closed) return;
    try {
      this.#flushPoses();
      this.#transport.send(encode({ t: 'bye', reason }));
    } catch {
      // the socket may already be gone; closing below is what matters
    }
    this.#transport.close(code, reason);
    this.#onClose(code, reason);
  }

  #onMessage(bytes: Uint8Array): void {
    let message: Message;
    try {
      message = decode(bytes, this.#limits);
    } catch (err) {
      // a node that sends garbage is broken or hostile: stop talking to it
      logger.warn(`${this.url} sent an invalid frame: ${(err as Error).message}`);
      this.safeEmit('nodeerror', err as ProtocolError);
      this.#transport.close(CloseCode.PROTOCOL, (err as ProtocolError).code ?? 'BAD_FRAME');
      return;
    }
    switch (message.t) {
      case 'pong':
      case 'prediction':
      case 'result':
      case 'frame':
      case 'ack':
        return this.#settle(message.id, message);
      case 'error':
        return this.#onError(message);
      case 'drain':
        this.safeEmit('drain', message);
        return;
      default:
        logger.debug(`ignoring '${message.t}' from ${this.url}`);
    }
  }

  #settle(id: number, message: Message): void {
    const pending = this.#pending.get(id);
    if (!pending) return; // answered after its timeout: nobody waits any more
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    if (answers(pending.type, message.t)) pending.resolve(message);
    else pending.reject(new ProtocolError(ErrorCode.BAD_MESSAGE, `${pending.type} answered with '${message.t}'`));
  }

  #onError(message: ErrorMessage): void {
    const error = message.fatal ? new ProtocolError(message.code, message.message) : new RequestError(message.code, message.message);
    const pending = message.id === undefined ? undefined : this.#pending.get(message.id);
    if (pending) {
      this.#pending.delete(message.id!);
      clearTimeout(pending.timer);
      pending.reject(error);
    } else {
      this.safeEmit('nodeerror', error);
    }
  }

  #onClose(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const [id, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(new InvalidStateError(`connection to ${this.url} closed (${code}) with ${pending.type} ${id} outstanding`));
    }
    this.#pending.clear();
    this.safeEmit('close', code, reason);
  }
}
