/**
 * The failover entry point, next to `connect(url)`: give it a locator and a latency budget and it
 * places the session on the best node, moves it when that node fails, and brings it back. The
 * app gets the same `Session` either way.
 *
 *   const session = await openSession({ locator: new StaticLocator({ edge, cloud }), budgetMs: 20 });
 *   session.on('tier', (tier, reason) => console.log(tier, reason));
 */
import { Failover, type FailoverOptions } from './placement/Failover.js';
import { Session } from './session/Session.js';

export interface OpenSessionOptions extends FailoverOptions {
  /** Overall deadline of one call across every node it is tried on, ms. @default 10000 */
  requestTimeoutMs?: number;
}

/** Resolves once the session is placed: on an edge, on the cloud, or local when no node answers. */
export async function openSession(options: OpenSessionOptions): Promise<Session> {
  const { requestTimeoutMs, ...failoverOptions } = options;
  const failover = new Failover({ ...failoverOptions, ...(requestTimeoutMs === undefined ? {} : { deadlineMs: requestTimeoutMs }) });
  await failover.start();
  return new Session(failover, { ...(requestTimeoutMs === undefined ? {} : { requestTimeoutMs }), ...(options.predictor ? { predictor: options.predictor } : {}) });
}
