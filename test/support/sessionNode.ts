/**
 * A node that speaks just enough of the session protocol for probing (hello → welcome, ping →
 * pong) with a configurable extra delay per pong, so a test can give nodes different real RTTs
 * on loopback. Real ws server, real protocol codec.
 */
import { WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import { DEFAULT_LIMITS, PROTOCOL_VERSION, decode, encode } from '../../protocol/index.js';
import { signWelcome } from '../../edge-server/trust/welcomeProof.js';

export interface SessionNode {
  url: string;
  /** Extra ms before each pong; change it any time. */
  delayMs: number;
  close(): Promise<void>;
}

/** `privateKeyPem`: sign `welcome.proof` over the hello nonce (protocol/nodeIdentity.ts), as a registered node does. */
export async function startSessionNode(id: string, delayMs = 0, options: { privateKeyPem?: string } = {}): Promise<SessionNode> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const node: SessionNode = {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`,
    delayMs,
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  };
  wss.on('connection', (ws) => {
    ws.on('message', (data: Buffer) => {
      const m = decode(new Uint8Array(data), DEFAULT_LIMITS);
      if (m.t === 'hello') {
        ws.send(
          encode({
            t: 'welcome',
            v: PROTOCOL_VERSION,
            session: 's-' + id,
            node: { id, tier: 'edge' },
            caps: ['predict'],
            predictors: [],
            models: [],
            limits: { maxFrameBytes: 1 << 20, maxPosesPerMessage: 64, maxTensorElements: 1 << 20, maxMessagesPerSecond: 2000, maxHorizonMs: 500 },
            time: performance.now(),
            ...(m.nonce && options.privateKeyPem ? { proof: signWelcome(options.privateKeyPem, { nonce: m.nonce, node: id, session: 's-' + id, tier: 'edge' }) } : {}),
          }),
        );
      } else if (m.t === 'ping') {
        const r = performance.now();
        setTimeout(() => {
          if (ws.readyState === ws.OPEN) ws.send(encode({ t: 'pong', id: m.id, c: m.c, r, s: performance.now() }));
        }, node.delayMs);
      }
    });
  });
  return node;
}
