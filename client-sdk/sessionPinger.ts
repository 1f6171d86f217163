/**
 * A Pinger over the real session protocol (hello → welcome, then ping → pong), used by probing
 * until the session's own NodeConnection can be handed in. Takes any WHATWG-style WebSocket
 * constructor: the browser's, Node ≥ 22's global, or `ws` in Node 20.
 */
import { DEFAULT_CLIENT_MAX_FRAME_BYTES, DEFAULT_LIMITS, PROTOCOL_VERSION, decode, encode, type Message } from '../protocol/index.js';
import type { OpenPinger, Pinger } from './probe.js';

interface MinimalWebSocket {
  binaryType: string;
  readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: Uint8Array): void;
  close(): void;
}
// node frames (welcome, pong) are small, but a node may send a frame before we ask: allow the client cap
const CLIENT_LIMITS = { ...DEFAULT_LIMITS, maxFrameBytes: DEFAULT_CLIENT_MAX_FRAME_BYTES };

export type WebSocketConstructor = new (url: string) => MinimalWebSocket;

export function sessionPinger(WebSocketImpl?: WebSocketConstructor): OpenPinger {
  const Impl = WebSocketImpl ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (Impl === undefined) throw new TypeError('no WebSocket implementation: pass one (e.g. `ws` in Node 20)');
  return (candidate, { timeoutMs, signal }) =>
    new Promise<Pinger>((resolve, reject) => {
      const ws = new Impl(candidate.url);
      ws.binaryType = 'arraybuffer';
      let nextId = 1;
      const waiting = new Map<number, (m: Message) => void>();
      let onWelcome: ((m: Message) => void) | undefined;
      const fail = (err: Error) => {
        clearTimeout(timer);
        ws.close();
        reject(err);
      };
      const timer = setTimeout(() => fail(new Error(`connect to ${candidate.url} timed out after ${timeoutMs} ms`)), timeoutMs);
      signal.addEventListener('abort', () => fail(new Error('probe aborted')), { once: true });
      ws.onerror = () => fail(new Error(`cannot connect to ${candidate.url}`));
      ws.onclose = () => {
        for (const settle of waiting.values()) settle({ t: 'bye', reason: 'closed' });
        waiting.clear();
      };
      ws.onopen = () => ws.send(encode({ t: 'hello', v: PROTOCOL_VERSION, client: 'edge-offload-probe' }));
      ws.onmessage = (ev) => {
        let message: Message;
        try {
          message = decode(new Uint8Array(ev.data as ArrayBuffer), CLIENT_LIMITS);
        } catch {
          return; // a node sending garbage simply fails its pings by timeout
        }
        if (message.t === 'welcome') onWelcome?.(message);
        else if (message.t === 'pong') waiting.get(message.id)?.(message);
      };
      onWelcome = () => {
        clearTimeout(timer);
        resolve({
          ping(pingTimeoutMs) {
            return new Promise<number>((res, rej) => {
              const id = nextId++;
              const sent = performance.now();
              const t = setTimeout(() => {
                waiting.delete(id);
                rej(new Error(`ping to ${candidate.url} timed out after ${pingTimeoutMs} ms`));
              }, pingTimeoutMs);
              waiting.set(id, (m) => {
                clearTimeout(t);
                waiting.delete(id);
                if (m.t === 'pong') res(performance.now() - sent);
                else rej(new Error(`${candidate.url} closed during a ping`));
              });
              ws.send(encode({ t: 'ping', id, c: sent }));
            });
          },
          close() {
            ws.close();
          },
        });
      };
    });
}
