/**
 * A bare WebSocket endpoint serving `render` → `frame` with a RenderEngine, for the bench until it
 * runs on the real EdgeServer session. Same codec and limits as a session, same socket-side
 * backpressure (FrameBackpressure); no hello/auth, no other message types.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import {
  DEFAULT_CLIENT_MAX_FRAME_BYTES,
  DEFAULT_LIMITS,
  decode,
  encode,
  ErrorCode,
  RequestError,
  type Message,
} from '../../protocol/index.js';
import type { RenderEngine } from '../../edge-server/engines.js';
import { FrameBackpressure } from '../../edge-server/render/frameBackpressure.js';

export interface RenderEndpoint {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Frames are bigger than anything a client sends; the outgoing check uses the client's cap. */
const OUTGOING_LIMITS = { ...DEFAULT_LIMITS, maxFrameBytes: DEFAULT_CLIENT_MAX_FRAME_BYTES };

export async function startRenderEndpoint(engine: RenderEngine): Promise<RenderEndpoint> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: DEFAULT_LIMITS.maxFrameBytes });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const backpressure = new FrameBackpressure();
  let sessions = 0;
  const send = (ws: WebSocket, message: Message) => ws.send(encode(message, OUTGOING_LIMITS));
  wss.on('connection', (ws) => {
    const sessionId = `bench-${++sessions}`;
    ws.on('message', async (data: Buffer) => {
      let message: Message;
      try {
        message = decode(data);
      } catch (err) {
        ws.close(1008, (err as Error).message.slice(0, 100));
        return;
      }
      if (message.t !== 'render') return;
      try {
        const frame = await engine.render(sessionId, message);
        if (ws.readyState !== ws.OPEN) return;
        if (!backpressure.admit(ws)) send(ws, backpressure.droppedError(message.id, ws));
        else send(ws, { t: 'frame', id: message.id, ...frame });
      } catch (err) {
        const code = err instanceof RequestError ? err.code : ErrorCode.INTERNAL;
        if (ws.readyState === ws.OPEN) send(ws, { t: 'error', id: message.id, code, message: String((err as Error).message).slice(0, 1000), fatal: false });
      }
    });
    ws.on('close', () => engine.releaseSession(sessionId));
  });
  const port = (wss.address() as { port: number }).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}
