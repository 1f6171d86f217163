/**
 * Probing over the real session protocol: each probe is a NodeConnection (hello → welcome, then
 * ping → pong), with its background ping loop off so the probe alone decides when to ping.
 */
import { NodeConnection, type NodeConnectionOptions } from '../link/NodeConnection.js';
import type { OpenPinger } from './probe.js';

export function connectionPinger(options: Pick<NodeConnectionOptions, 'WebSocket' | 'hello' | 'maxFrameBytes'> = {}): OpenPinger {
  return async (candidate, { timeoutMs, signal }) => {
    signal.throwIfAborted();
    const connection = await NodeConnection.open(candidate.url, {
      ...options,
      hello: { client: 'edge-offload-probe', ...options.hello },
      connectTimeoutMs: timeoutMs,
    });
    const onAbort = () => connection.close();
    signal.addEventListener('abort', onAbort, { once: true });
    return {
      ping: (pingTimeoutMs) => connection.ping(pingTimeoutMs),
      close: () => {
        signal.removeEventListener('abort', onAbort);
        connection.close();
      },
    };
  };
}
