/**
 * `TrapChannel` over the SDK's own `NodeConnection`: each trap opens a session on the node the
 * live session uses, says hello with a nonce (the node must prove the key discovery vouched for),
 * sends the trap's predicts with their poses (and its infers and renders), and keeps the node's `seal`s.
 *
 * The trap's request ids are the wire ids (the node's chain records those): each predict's id is
 * set to the connection's next request id just before it is sent.
 */
import type { ResultSeal } from '../../protocol/index.js';
import { NodeConnection } from '../link/NodeConnection.js';
import type { WebSocketConstructor } from '../transport/WebSocketTransport.js';
import type { TrapChannel, TrapSession } from './TrapRunner.js';

export interface NodeTrapChannelOptions {
  /** The key discovery vouched for. */
  publicKey: string;
  /** TCP + WebSocket + hello, ms. */
  connectTimeoutMs: number;
  /** One trap predict's answer, ms. */
  requestTimeoutMs: number;
  WebSocket?: WebSocketConstructor;
}

export function nodeTrapChannel(url: string, options: NodeTrapChannelOptions): TrapChannel {
  return {
    async open(): Promise<TrapSession> {
      const conn = await NodeConnection.open(url, {
        publicKey: options.publicKey,
        connectTimeoutMs: options.connectTimeoutMs,
        transport: 'ws',
        ...(options.WebSocket ? { WebSocket: options.WebSocket } : {}),
      });
      const seals: ResultSeal[] = [];
      const waiters = new Set<() => void>();
      conn.on('seal', ({ t: _t, ...seal }) => {
        seals.push(seal);
        for (const wake of waiters) wake();
      });
      conn.on('close', () => {
        for (const wake of waiters) wake();
      });
      return {
        session: conn.welcome.session,
        defaultPredictor: conn.welcome.predictors[0] ?? '',
        seals,
        async predict(message) {
          message.id = conn.nextRequestId;
          const { t: _t, id: _id, ...body } = message;
          const answer = await conn.request<'predict'>({ t: 'predict', ...body }, options.requestTimeoutMs);
          return { id: answer.id, predictor: answer.predictor, horizonMs: answer.horizonMs, pose: answer.pose };
        },
        async extra(message) {
          message.id = conn.nextRequestId;
          if (message.t === 'infer') {
            const { output } = await conn.request<'infer'>({ t: 'infer', model: message.model, input: message.input }, options.requestTimeoutMs);
            return { kind: 'result', output };
          }
          const { t: _t, id: _id, ...body } = message;
          const { t: _ft, id: _fid, timings: _timings, renderedAt: _at, ...frame } = await conn.request<'render'>({ t: 'render', ...body }, options.requestTimeoutMs);
          return { kind: 'frame', frame };
        },
        sealed(answers, timeoutMs) {
          return new Promise<void>((resolve, reject) => {
            const check = () => {
              if (seals.some((s) => s.to >= answers)) done(resolve);
              else if (conn.closed) done(() => reject(new Error('trap session closed before its seal')));
            };
            const timer = setTimeout(() => done(() => reject(new Error(`no seal within ${timeoutMs} ms`))), timeoutMs);
            const done = (settle: () => void) => {
              clearTimeout(timer);
              waiters.delete(check);
              settle();
            };
            waiters.add(check);
            check();
          });
        },
        close() {
          conn.close(1000, 'trap done');
        },
      };
    },
  };
}
