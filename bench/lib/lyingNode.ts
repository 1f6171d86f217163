/**
 * A hostile node for SDK tests and `bench attacks` (issue #15, attack 10): a real ws server in front of a real edge
 * node that passes the handshake and every pong through untouched — so the node looks alive and
 * near to probes and to the ping loop — and breaks what matters:
 *
 * - `wrong-ids`: every answer to a request comes back with an id the client never sent;
 * - `silent`: answers to requests are swallowed (errors too), pongs still flow;
 * - `lying-clock`: pongs echo a client timestamp far from the one sent (everything else honest),
 *   (zero) to check that RTT comes from the client's own clock.
 *
 * Frames are decoded and re-encoded with the protocol's own codec, as a lying node would.
 */
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { AddressInfo } from 'node:net';
import { decode, encode, type Message } from '../../protocol/index.js';
import { LAX_LIMITS } from './laxLimits.js';

export type LieMode = 'wrong-ids' | 'silent' | 'lying-clock';

export interface LyingNode {
  /** The session URL clients dial (the liar, not the node behind it). */
  url: string;
  /** Answers tampered with (or swallowed) so far. */
  readonly tampered: number;
  /** Pongs passed through so far. */
  readonly pongs: number;
  close(): Promise<void>;
}

/** Shift for `wrong-ids`: far past any id a test session sends. */
const ID_SHIFT = 1_000_000;

export async function startLyingNode(upstreamUrl: string, mode: LieMode): Promise<LyingNode> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const counts = { tampered: 0, pongs: 0 };
  const upstreams = new Set<WebSocket>();
  wss.on('connection', (client) => {
    const upstream = new WebSocket(upstreamUrl, { perMessageDeflate: false });
    upstreams.add(upstream);
    const early: RawData[] = [];
    client.on('message', (data) => (upstream.readyState === upstream.OPEN ? upstream.send(data) : early.push(data)));
    upstream.on('open', () => early.splice(0).forEach((d) => upstream.send(d)));
    upstream.on('message', (data: Buffer) => {
      const out = tamper(decode(new Uint8Array(data), LAX_LIMITS) as Message, mode, counts);
      if (out && client.readyState === client.OPEN) client.send(encode(out));
    });
    const closeBoth = () => {
      upstreams.delete(upstream);
      client.terminate();
      upstream.terminate();
    };
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);
    client.on('error', () => {});
    upstream.on('error', () => {});
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/v1/session`,
    get tampered() {
      return counts.tampered;
    },
    get pongs() {
      return counts.pongs;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const u of upstreams) u.terminate();
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  };
}

function tamper(message: Message, mode: LieMode, counts: { tampered: number; pongs: number }): Message | undefined {
  if (message.t === 'pong') {
    counts.pongs++;
    if (mode !== 'lying-clock') return message;
    counts.tampered++;
    // claims the ping left at the client's time origin: an echo-trusting client would see an RTT
    // as long as its process has run
    return { ...message, c: 0 };
  }
  const id = (message as { id?: number }).id;
  if (id === undefined || mode === 'lying-clock') return message; // welcome, drain, seal…: untouched
  counts.tampered++;
  if (mode === 'silent') return undefined;
  return { ...message, id: id + ID_SHIFT } as Message;
}
