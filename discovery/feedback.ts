/**
 * Learning from probe reports: what a client measured beyond the propagation floor is the node's
 * base latency (last mile, load, or a false location). Only reports that passed the ticket gate and
 * the per-client cap (TrustService.report) arrive here. An unanswered probe teaches no latency: it
 * moves the trust desk's probe reputation (discovery/reputation.ts), which recovers toward neutral,
 * and not the registry's, which never would.
 */
import { greatCircleKm, propagationRttMs, type LatLon } from './geo.js';
import type { LearningRates, Registry } from './registry/Registry.js';

export interface FeedbackOptions extends Partial<LearningRates> {
  routeFactor?: number;
  /** Largest base latency a single report may teach, so one absurd report cannot bury a node. Default 1000 ms. */
  maxBaseLatencyMs?: number;
}

export async function learnFromReports(
  registry: Registry,
  client: LatLon,
  reports: ReadonlyArray<{ id: string; rttMs?: number | undefined }>,
  options: FeedbackOptions = {},
): Promise<number> {
  const rates: LearningRates = { latencyAlpha: options.latencyAlpha ?? 0.3, reputationAlpha: options.reputationAlpha ?? 0.2 };
  const cap = options.maxBaseLatencyMs ?? 1000;
  let learned = 0;
  await Promise.all(
    reports.map(async (report) => {
      const node = await registry.get(report.id);
      if (node === undefined) return;
      if (report.rttMs !== undefined) {
        const km = greatCircleKm(client, node);
        // faster than light in fibre on the straight line from where the client says it is: a lie
        // (the "tiny rttMs for my own node" promotion), or a wrong location; either way, nothing to learn
        if (report.rttMs < propagationRttMs(km, 1)) return;
        const floor = propagationRttMs(km, options.routeFactor);
        const base = Math.min(cap, Math.max(0, report.rttMs - floor));
        await registry.learn(report.id, { baseLatencyMs: base, answered: true }, rates);
      }
      learned++;
    }),
  );
  return learned;
}
