/**
 * The failover entry point, next to `connect(url)`: give it a locator and a latency budget and it
 * places the session on the best node, moves it when that node fails, and brings it back.
 *
 *   const session = await openSession({ locator: new StaticLocator({ edge, cloud }), budgetMs: 20 });
 *   session.on('tier', (tier, reason) => console.log(tier, reason));
 */
import { Failover, type FailoverOptions } from './Failover.js';

export type OpenSessionOptions = FailoverOptions;

/** Resolves once the session is placed: on an edge, on the cloud, or local when no node answers. */
export async function openSession(options: OpenSessionOptions): Promise<Failover> {
  const failover = new Failover(options);
  await failover.start();
  return failover;
}
