/**
 * Why the SDK could not reach or keep a node. Apps and tests switch on `code`, never on text; the
 * message says what to do next.
 */
export const ConnectErrorCode = {
  /** No WebSocket implementation: import `edge-offload/client` in Node or pass `options.WebSocket`. */
  NO_WEBSOCKET: 'NO_WEBSOCKET',
  /** The node's socket did not open (refused, unreachable, wrong URL) or timed out opening. */
  NODE_UNREACHABLE: 'NODE_UNREACHABLE',
  /** The socket opened but no `welcome` came back in time. */
  HANDSHAKE_TIMEOUT: 'HANDSHAKE_TIMEOUT',
  /** The node answered the `hello` with an error (version, token, capacity…); `cause` has its code. */
  HANDSHAKE_REJECTED: 'HANDSHAKE_REJECTED',
  /** The node closed the socket, or sent something other than `welcome`, during the handshake. */
  HANDSHAKE_FAILED: 'HANDSHAKE_FAILED',
  /**
   * The node could not prove it is the node discovery vouched for: its `welcome` is not signed over
   * our hello nonce with the candidate's public key. The session tries the next candidate.
   */
  NODE_IDENTITY: 'NODE_IDENTITY',
  /** A wait for a tier (or any node) ran out: no node within budget answered. */
  NO_NODE: 'NO_NODE',
} as const;
export type ConnectErrorCode = (typeof ConnectErrorCode)[keyof typeof ConnectErrorCode];

/**
 * Why the SDK gave up on a node that still answers its pings (the `nodeFault` event): the session
 * leaves it as if it had died and does not come back to it for `faultCooldownMs`.
 */
export const NodeFaultCode = {
  /** Requests (predictions) went unanswered, several in a row, while pongs kept coming. */
  REQUESTS_UNANSWERED: 'REQUESTS_UNANSWERED',
  /** Answers came back with request ids this connection never sent, or of the wrong kind. */
  WRONG_IDS: 'WRONG_IDS',
} as const;
export type NodeFaultCode = (typeof NodeFaultCode)[keyof typeof NodeFaultCode];

export class ConnectError extends Error {
  override readonly name = 'ConnectError';
  readonly code: ConnectErrorCode;
  /** The node's URL, when one was involved. */
  readonly url: string | undefined;
  constructor(code: ConnectErrorCode, message: string, options: { url?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.url = options.url;
  }
}
