/**
 * Correctness before timing, for the benches that drive a node with RawWireClient (which only
 * scans answers for their type and id): a few sessions' answers decoded in full.
 */
import { Unpackr } from 'msgpackr';
import type { SimulatedHeadset } from '../../client-sdk/node.js';
import { FrameClock } from './FrameClock.js';
import { scrapeHandling, sleep, type Proc } from './loadStep.js';
import { RttSamples } from './rawStep.js';
import { RawWireClient } from './RawWireClient.js';

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

/**
 * Correctness before timing: `sessions` send 20 frames each at `hz`; every answer must be a
 * `prediction` from `predictor` for an id in flight, and the node's handling histogram (all
 * workers) must have counted every frame.
 */
export async function checkNode(node: Proc, metricsUrl: string, headsets: SimulatedHeadset[], predictor: string, hz: number): Promise<Record<string, unknown>> {
  const frames = 20;
  const bad: string[] = [];
  const samples = new RttSamples();
  samples.from = 0;
  const inspect = (payload: Buffer) => {
    const m = unpackr.unpack(payload) as { t?: string; predictor?: string; pose?: { orientation?: unknown } };
    if (m.t !== 'prediction' || m.predictor !== predictor || !Array.isArray(m.pose?.orientation)) bad.push(JSON.stringify(m).slice(0, 200));
  };
  const clients = await Promise.all(headsets.map((h) => RawWireClient.open(node.url, h, samples, { periodMs: 1000 / hz, predictor, inspect })));
  try {
    const before = await scrapeHandling(metricsUrl);
    let sent = 0;
    const clock = new FrameClock(clients.length, hz, (i, due) => {
      if (clients[i]!.sent < frames) {
        clients[i]!.send(due);
        sent++;
      }
    });
    clock.start();
    const deadline = performance.now() + 30_000;
    while (clients.some((c) => c.sent < frames || c.outstanding > 0)) {
      if (performance.now() > deadline) throw new Error(`the node left ${clients.reduce((s, c) => s + c.outstanding, 0)} of ${sent} check frames unanswered for 30 s`);
      await sleep(20);
    }
    clock.stop();
    const after = await scrapeHandling(metricsUrl);
    const counted = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
    if (bad.length || samples.unexpectedCount) throw new Error(`the node's answers are not predictions from '${predictor}' for the frames sent: ${bad[0] ?? `${samples.unexpectedCount} unmatched`}`);
    if (samples.count !== sent) throw new Error(`${samples.count} of ${sent} check frames matched`);
    if (counted !== sent) throw new Error(`/metrics counted ${counted} predict frames of ${sent} handled: the handling histogram misses some workers`);
    return { sessions: clients.length, frames: sent, matched: samples.count, unexpected: 0, metricsCounted: counted };
  } finally {
    for (const c of clients) c.close();
  }
}
