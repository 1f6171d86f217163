/**
 * The predict path's warm-up at node start (edge-server/warmUp.ts): what it runs, that it stays
 * out of what clients and operators see, and that a predictor it cannot warm does not stop the node.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EdgeServer } from '../edge-server/index.js';
import { warmUpPredictPath } from '../edge-server/warmUp.js';
import { kalmanPredictor } from '../protocol/motion/KalmanPredictor.js';
import { baselinePredictors } from '../protocol/motion/baselinePredictors.js';
import { DEFAULT_LIMITS, type PredictionMessage } from '../protocol/index.js';
import type { PredictorFactory } from '../edge-server/engines.js';
import { edgeServerOptions, loadConfig } from '../bin/config.js';
import { parsePrometheusText, sampleValue } from '../bench/lib/prometheusText.js';
import { RawClient } from './support/rawClient.js';
import { pose } from './support/messages.js';

const test = suite('edge: predict-path warm-up');
let server: EdgeServer | undefined;
let client: RawClient | undefined;

test.after.each(async () => {
  client?.close();
  client = undefined;
  await server?.close({ deadlineMs: 0 });
  server = undefined;
});

test('listen() with warmUp runs its frames through every predictor first; the node then answers as before and /metrics counts only real requests', async () => {
  const predictors = [kalmanPredictor(), ...baselinePredictors];
  server = new EdgeServer({ predictors, warmUp: { frames: 300 } });
  const { url } = await server.listen();
  assert.equal(server.warmedUp?.predictors, ['kalman', 'constant-velocity', 'none']);
  assert.is(server.warmedUp?.frames, 300 * predictors.length);
  assert.ok(server.warmedUp!.ms > 0);
  client = await RawClient.open(url);
  await client.hello();
  client.send({ t: 'predict', id: 7, horizonMs: 20, poses: [pose] });
  const answer = (await client.next((m) => m.t === 'prediction')) as PredictionMessage;
  assert.is(answer.id, 7);
  assert.is(answer.predictor, 'kalman');
  const metrics = parsePrometheusText(await (await fetch(url.replace(/^ws/, 'http').replace(/\/v1\/session$/, '/metrics'))).text());
  assert.is(sampleValue(metrics, 'edge_request_handling_seconds_count', { kind: 'predict' }), 1, 'the warm-up is not in the request metrics');
  assert.is(server.sessionCount, 1, 'nor among the sessions');
});

test('without warmUp (the library default) or with 0 frames, listen() warms nothing', async () => {
  for (const options of [{}, { warmUp: { frames: 0 } }, { warmUp: false as const }]) {
    const s = new EdgeServer(options);
    await s.listen();
    assert.is(s.warmedUp, undefined);
    await s.close({ deadlineMs: 0 });
  }
});

test('a predictor that throws or answers later is warmed as far as it goes: errors are counted, the warm-up ends', async () => {
  const throwing: PredictorFactory = { name: 'throws', create: () => ({ predict: () => { throw new Error('no model'); } }) };
  const later: PredictorFactory = { name: 'later', create: () => ({ predict: async (history) => ({ ...history[history.length - 1]! }) }) };
  const report = await warmUpPredictPath(new Map([throwing, later].map((p) => [p.name, p])), DEFAULT_LIMITS, { frames: 40 });
  assert.is(report.frames, 80);
  assert.ok(report.errors > 0 && report.errors <= 50, `the throwing predictor's predicts were counted (${report.errors})`);
});

test('the CLI warms 2000 frames per predictor by default; warmUpFrames 0 (EDGE_OFFLOAD_WARM_UP_FRAMES) turns it off', () => {
  assert.equal(edgeServerOptions(loadConfig({})).warmUp, { frames: 2000 });
  assert.is(edgeServerOptions(loadConfig({ env: { EDGE_OFFLOAD_WARM_UP_FRAMES: '0' } })).warmUp, false);
});

test.run();
