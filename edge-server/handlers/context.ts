/**
 * What a request handler sees: the node's shared configuration and engines, the one session's
 * state it may need, and the session's reply paths. Handlers hold no state of their own; what
 * must outlive one message lives in the session's children (SessionMotion, SessionRender,
 * InflightRequests), which the session closes with itself.
 */
import type { KeyObject } from 'node:crypto';
import type { ErrorCode, Message, MessageOf, MessageType, NodeTier, WireLimits } from '../../protocol/index.js';
import type { NodeGuards, SendPriority, SessionGuard } from '../admission/index.js';
import type { InferenceEngine, PredictorFactory, RenderEngine } from '../engines.js';
import type { RtcSignalling } from '../webrtc/RtcSignalling.js';
import type { WorkerPool } from '../webrtc/WorkerPool.js';
import type { EdgeMetricsSink } from '../metrics.js';
import type { InflightRequests } from '../session/InflightRequests.js';
import type { SessionMotion } from '../session/SessionMotion.js';
import type { SessionRender } from '../session/SessionRender.js';
import type { SessionSeals } from '../session/SessionSeals.js';
import type { ResultSignerOptions } from '../trust/ResultSigner.js';

/** What the node gives every session: identity, limits and engines (EdgeServer builds it once). */
export interface NodeContext {
  nodeId: string;
  tier: NodeTier;
  limits: WireLimits;
  predictors: ReadonlyMap<string, PredictorFactory>;
  defaultPredictor: string;
  inference?: InferenceEngine;
  renderer?: RenderEngine;
  /** Close a session that has not said `hello` within this time. */
  helloTimeoutMs: number;
  /** Most requests (async predict, infer, scene) of one session in flight at once. */
  maxInflightRequests: number;
  /** Socket bytes queued for a slow reader above which large answers (frames) are dropped. */
  maxBufferedBytes: number;
  /** A peer that never answers our close frame is cut off after this, so it cannot hold the session. */
  closeHandshakeMs: number;
  /** mediasoup workers serving WebRTC data channels; undefined: the node speaks ws only. */
  rtc?: WorkerPool;
  /** The registered node key: `welcome` signs the hello nonce with it (EdgeServer `nodeKey`/`useNodeKey`). */
  nodeKey?: KeyObject;
  /**
   * Signed results (edge-server/session/SessionSeals.ts): on for every session of a node with a
   * `nodeKey`, `false` turns them off. @default {} (seal every 128 answers or 250 ms)
   */
  resultSigning: ResultSignerOptions | false;
  /** Counts each error code sent, for the admin health and `/metrics`. */
  countError(code: ErrorCode): void;
  /** Admission control and budgets (edge-server/admission). */
  guards: NodeGuards;
  metrics: EdgeMetricsSink;
}

export interface HandlerContext {
  readonly sessionId: string;
  readonly node: NodeContext;
  /** Pose histories and predictor instances of this session. */
  readonly motion: SessionMotion;
  /** This session's scene and frame pacer; undefined on a node without a renderer. */
  readonly render: SessionRender | undefined;
  /** This session's WebRTC signalling and transport; undefined on a node without WebRTC. */
  readonly rtc: RtcSignalling | undefined;
  /** This session's signed results; undefined when the node has no key or signing is off. */
  readonly seals: SessionSeals | undefined;
  /** This session's requests running on the engines. */
  readonly requests: InflightRequests;
  /** This session's admission ticket, send budget, idle timer, memory and CPU share. */
  readonly guard: SessionGuard;
  /** `hello` has been answered; every message but `hello` needs it (the session checks). */
  readonly opened: boolean;
  /** Ends the handshake: only the `hello` handler calls it, after sending `welcome`. */
  open(): void;
  /** Sends a message that answers no request (`pong`, `welcome`); `required` ones are never dropped. */
  send(message: Message, priority?: SendPriority): void;
  /** Answers request `id`; an answer that fails its own schema is our bug, answered `INTERNAL`. */
  answer(id: number, message: Message): void;
  /**
   * Answers request `id` with an error: RequestError as a non-fatal `error`, ProtocolError closes
   * the session, InvalidStateError (the session or an engine closed) is dropped, anything else
   * is logged and answered `INTERNAL`.
   */
  answerError(id: number, err: unknown): void;
  /** `false` after answering `BUSY` when the session already has `maxInflightRequests` running. */
  admit(id: number): boolean;
  /** Answers request `id` with what `work` resolves to, counted in `requests` while it runs. */
  answerLater(id: number, work: Promise<Message>): void;
  /** Closes the session (`bye`). */
  close(code: number, reason: string): void;
}

/**
 * Handles one decoded, schema-checked client message of type K. `receivedAt` is
 * `performance.now()` when its frame arrived (for `pong`). A thrown ProtocolError closes the
 * session; a thrown RequestError is answered as an `error` without an id — handlers of requests
 * with an id answer their own errors through `ctx.answerError`.
 */
export type Handler<K extends MessageType> = (message: MessageOf<K>, ctx: HandlerContext, receivedAt: number) => void;

/** The dispatch table: a message type with no handler is refused as not sent by clients. */
export type HandlerTable = { readonly [K in MessageType]?: Handler<K> };
