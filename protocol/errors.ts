/**
 * Stable error codes shared by server and SDK. Tests and apps switch on `code`, never on text.
 */
export const ErrorCode = {
  /** Not MessagePack, or MessagePack with reserved bytes. */
  BAD_FRAME: 'BAD_FRAME',
  /** MessagePack cut short. */
  TRUNCATED: 'TRUNCATED',
  /** Frame over `maxFrameBytes`, or a collection/string/tensor over its cap. */
  TOO_LARGE: 'TOO_LARGE',
  /** A MessagePack extension (RegExp, Error, Set, records, typed arrays…): never accepted from peers. */
  FORBIDDEN_EXTENSION: 'FORBIDDEN_EXTENSION',
  /** Decoded fine, but does not match the message schema. */
  BAD_MESSAGE: 'BAD_MESSAGE',
  /** `t` names no message type we know. */
  UNKNOWN_TYPE: 'UNKNOWN_TYPE',
  /** Anything other than `hello` before `welcome`, or a second `hello`. */
  NOT_READY: 'NOT_READY',
  /** Protocol major versions differ. */
  VERSION_MISMATCH: 'VERSION_MISMATCH',
  /** The session sends faster than `maxMessagesPerSecond`. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** The node does not offer this capability (no renderer, no inference). */
  UNSUPPORTED: 'UNSUPPORTED',
  /** A well-formed request the handler cannot serve (no poses yet, wrong tensor shape…). */
  BAD_REQUEST: 'BAD_REQUEST',
  /** `infer` names a model the node has not loaded. */
  UNKNOWN_MODEL: 'UNKNOWN_MODEL',
  /** A newer `render` request from the same session replaced this one before it started. */
  SUPERSEDED: 'SUPERSEDED',
  /** The session reads too slowly: its socket buffer is full, so this answer was dropped. */
  SLOW_CONSUMER: 'SLOW_CONSUMER',
  /** Too many requests of this session are in flight at once. */
  BUSY: 'BUSY',
  /** The node is draining or shutting down. */
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  /** A request got no answer in time (client side). */
  TIMEOUT: 'TIMEOUT',
  /** The connection closed with the request outstanding (client side). */
  CLOSED: 'CLOSED',
  /** `hello.token` missing or refused by the node's verifier, or this token/address has its most sessions. */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** The session sent nothing for longer than the node's idle timeout. */
  IDLE_TIMEOUT: 'IDLE_TIMEOUT',
  /** The session's WebRTC transport is gone (its media worker died): open a new one, or stay on ws. */
  TRANSPORT_LOST: 'TRANSPORT_LOST',
  /** The node cannot send video (no ffmpeg, no H.264 encoder, WebRTC not connected): use jpeg frames. */
  VIDEO_UNAVAILABLE: 'VIDEO_UNAVAILABLE',
  /** The session's video encoder process died; the track stopped (rtcConsumeVideo again, or use jpeg). */
  ENCODER_DIED: 'ENCODER_DIED',
  /** A bug on the node; the session survives. */
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** WebSocket close codes we use (4000–4999 is the application range). */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  POLICY: 1008,
  TOO_BIG: 1009,
  PROTOCOL: 4000,
  RATE_LIMITED: 4001,
  VERSION_MISMATCH: 4002,
  DRAINED: 4003,
  HELLO_TIMEOUT: 4004,
  SLOW_CONSUMER: 4005,
  IDLE_TIMEOUT: 4006,
  UNAUTHORIZED: 4007,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** A peer broke the protocol. Fatal for that peer's session, harmless for everyone else. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: ErrorCode;
  readonly closeCode: CloseCode;
  constructor(code: ErrorCode, message: string, closeCode: CloseCode = CloseCode.PROTOCOL) {
    super(message);
    this.code = code;
    this.closeCode = closeCode;
  }
}

/** A request failed but the session is fine (unknown model, wrong shape, no poses yet…). */
export class RequestError extends Error {
  override readonly name = 'RequestError';
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Using an object after `close()`; pending requests are rejected with it too. */
export class InvalidStateError extends Error {
  override readonly name = 'InvalidStateError';
  readonly code = ErrorCode.CLOSED;
}
