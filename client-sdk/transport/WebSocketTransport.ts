/**
 * Transport over the WHATWG WebSocket API. Browsers pass their global `WebSocket`; the Node entry
 * (`client-sdk/node.ts`) registers the `ws` package, which implements the same API.
 */
import { CloseCode } from '../../protocol/index.js';
import { ConnectError, ConnectErrorCode } from '../errors.js';
import { Transport } from './Transport.js';

/** The slice of the WHATWG WebSocket API we use. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  onopen: ((event: unknown) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}
/** `options` is passed only to implementations that take it (ws: maxPayload). */
export type WebSocketConstructor = new (url: string, protocols?: string | string[], options?: Record<string, unknown>) => WebSocketLike;

const OPEN = 1;
let defaultWebSocket: WebSocketConstructor | undefined = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;

/** Sets the WebSocket implementation used when `connect` is given none (the Node entry calls it). */
export function setDefaultWebSocket(impl: WebSocketConstructor): void {
  defaultWebSocket = impl;
}

export interface WebSocketTransportOptions {
  WebSocket?: WebSocketConstructor;
  /** Largest frame accepted from the node (ws enforces it while reading). */
  maxFrameBytes: number;
  connectTimeoutMs: number;
}

export class WebSocketTransport extends Transport {
  readonly url: string;
  readonly #socket: WebSocketLike;
  #closed = false;

  static open(url: string, options: WebSocketTransportOptions): Promise<WebSocketTransport> {
    const Impl = options.WebSocket ?? defaultWebSocket;
    if (!Impl) {
      return Promise.reject(new ConnectError(ConnectErrorCode.NO_WEBSOCKET, 'no WebSocket implementation: import edge-offload/client in Node (it uses ws) or pass options.WebSocket', { url }));
    }
    return new Promise((resolve, reject) => {
      const socket = new Impl(url, undefined, { maxPayload: options.maxFrameBytes, perMessageDeflate: false });
      socket.binaryType = 'arraybuffer';
      const timer = setTimeout(() => {
        socket.onopen = socket.onclose = null;
        // ws (Node) emits 'error' when a CONNECTING socket is closed; with no listener that error
        // would take the whole process down (seen: a demo whose node was busy rendering)
        socket.onerror = () => {};
        socket.close();
        reject(new ConnectError(ConnectErrorCode.NODE_UNREACHABLE, `connecting to ${url} timed out after ${options.connectTimeoutMs} ms; is the node running and reachable?`, { url }));
      }, options.connectTimeoutMs);
      socket.onopen = () => {
        clearTimeout(timer);
        resolve(new WebSocketTransport(url, socket));
      };
      socket.onerror = () => {}; // the close event that follows carries the outcome
      socket.onclose = (event) => {
        clearTimeout(timer);
        reject(new ConnectError(ConnectErrorCode.NODE_UNREACHABLE, `could not connect to ${url} (close ${event.code}${event.reason ? `: ${event.reason}` : ''}); is the node running?`, { url }));
      };
    });
  }

  private constructor(url: string, socket: WebSocketLike) {
    super();
    this.url = url;
    this.#socket = socket;
    socket.onmessage = (event) => {
      const data = event.data;
      if (data instanceof ArrayBuffer) this.safeEmit('message', new Uint8Array(data));
      else if (data instanceof Uint8Array) this.safeEmit('message', data);
      // text frames are not part of the protocol: hand them on as bytes so the codec rejects them
      else if (typeof data === 'string') this.safeEmit('message', new TextEncoder().encode(data));
    };
    socket.onerror = () => {};
    socket.onclose = (event) => this.#onClose(event.code, event.reason);
  }

  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(bytes: Uint8Array): void {
    if (this.#closed || this.#socket.readyState !== OPEN) return;
    this.#socket.send(bytes);
  }

  close(code: number = CloseCode.NORMAL, reason = ''): void {
    if (this.#closed) return;
    try {
      this.#socket.close(code, reason);
    } finally {
      this.#onClose(code, reason);
    }
  }

  #onClose(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.safeEmit('close', code, reason);
  }
}
