/**
 * One app's traffic against a session: a simulated head streaming poses and asking for a
 * prediction every frame (90 Hz), recording where each answer came from. Shared by the failover
 * tests and bench so both measure the same thing.
 */
import type { Session, Tier } from '../../client-sdk/session/Session.js';
import { SimulatedHeadset } from '../../client-sdk/session/SimulatedHeadset.js';

export interface CallRecord {
  /** performance.now() when the call was made and when it settled. */
  sentAt: number;
  doneAt: number;
  tier?: Tier;
  nodeId?: string;
  error?: Error;
}

export interface HeadsetLoad {
  readonly calls: CallRecord[];
  readonly failed: CallRecord[];
  stop(): Promise<void>;
  /** Resolves when `predicate` holds for a settled call, or rejects after `timeoutMs`. */
  waitForCall(predicate: (call: CallRecord) => boolean, timeoutMs: number, what: string): Promise<CallRecord>;
}

export function startHeadsetLoad(session: Session, { hz = 90, seed = 1, horizonMs = 30 } = {}): HeadsetLoad {
  const headset = new SimulatedHeadset(seed);
  const calls: CallRecord[] = [];
  const failed: CallRecord[] = [];
  const pending = new Set<Promise<unknown>>();
  const waiters = new Set<(call: CallRecord) => void>();
  const t0 = performance.now();
  const settle = (call: CallRecord) => {
    calls.push(call);
    if (call.error) failed.push(call);
    for (const waiter of [...waiters]) waiter(call);
  };
  const tick = () => {
    if (session.closed) return;
    const now = performance.now();
    session.sendPose(headset.poseAt(now - t0));
    const call: CallRecord = { sentAt: now, doneAt: Number.NaN };
    const promise = session
      .predict(horizonMs)
      .then((prediction) => {
        call.tier = prediction.tier;
        if (prediction.nodeId) call.nodeId = prediction.nodeId;
      })
      .catch((error: Error) => (call.error = error))
      .finally(() => {
        call.doneAt = performance.now();
        pending.delete(promise);
        settle(call);
      });
    pending.add(promise);
  };
  tick();
  const timer = setInterval(tick, 1000 / hz);
  return {
    calls,
    failed,
    async stop() {
      clearInterval(timer);
      await Promise.allSettled([...pending]);
    },
    waitForCall(predicate, timeoutMs, what) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        const waiter = (call: CallRecord) => {
          if (!predicate(call)) return;
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(call);
        };
        waiters.add(waiter);
      });
    },
  };
}
