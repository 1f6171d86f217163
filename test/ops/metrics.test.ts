import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EdgeMetrics } from '../../edge-server/metrics.js';
import { DiscoveryMetrics } from '../../discovery/metrics.js';
import { parsePrometheusText, sampleValue } from '../../bench/lib/prometheusText.js';
import { EdgeServer } from '../../edge-server/index.js';
import { kalmanPredictor } from '../../edge-server/inference/index.js';
import type { PoseSample } from '../../protocol/index.js';
import { RawClient } from '../support/rawClient.js';

async function serve(handler: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => Promise<void>): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics` };
}

const test = suite('ops: metrics');

test('edge /metrics is scraped over HTTP and parses as Prometheus text with the counts recorded', async () => {
  const metrics = await EdgeMetrics.create();
  assert.ok(metrics.enabled, 'prom-client is installed in the dev tree');
  metrics.sessionOpened();
  metrics.sessionOpened();
  metrics.sessionClosed();
  for (let i = 0; i < 10; i++) metrics.request('predict', 0.08 + i * 0.01);
  metrics.request('render', 12);
  metrics.rejected('BAD_FRAME');
  metrics.rejected('BAD_FRAME');
  metrics.rejected('RATE_LIMITED');
  metrics.tierSwitch('cloud', 'node-lost');
  metrics.stage('encode', 3);
  metrics.admissionRefused('ADDRESS_FULL');
  metrics.sendDropped(1024);
  metrics.slowConsumer();
  const { server, url } = await serve((req, res) => metrics.serve(req, res));
  const res = await fetch(url);
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0.0.4/);
  const families = parsePrometheusText(await res.text());
  assert.is(families.get('edge_sessions')?.type, 'gauge');
  assert.is(sampleValue(families, 'edge_sessions'), 1);
  assert.is(sampleValue(families, 'edge_sessions_opened_total'), 2);
  assert.is(sampleValue(families, 'edge_requests_total', { kind: 'predict' }), 10);
  assert.is(families.get('edge_request_handling_seconds')?.type, 'histogram');
  assert.is(sampleValue(families, 'edge_request_handling_seconds_count', { kind: 'predict' }), 10);
  // 0.08..0.17 ms: all ten are at or under the 0.25 ms bucket, none under 50 µs
  assert.is(sampleValue(families, 'edge_request_handling_seconds_bucket', { kind: 'predict', le: '0.00025' }), 10);
  assert.is(sampleValue(families, 'edge_request_handling_seconds_bucket', { kind: 'predict', le: '0.00005' }), 0);
  assert.is(sampleValue(families, 'edge_request_handling_seconds_bucket', { kind: 'render', le: '+Inf' }), 1);
  assert.is(sampleValue(families, 'edge_rejected_total', { code: 'BAD_FRAME' }), 2);
  assert.is(sampleValue(families, 'edge_tier_switches_total', { tier: 'cloud', reason: 'node-lost' }), 1);
  assert.is(sampleValue(families, 'edge_stage_seconds_count', { stage: 'encode' }), 1);
  assert.is(sampleValue(families, 'edge_admission_refused_total', { reason: 'ADDRESS_FULL' }), 1);
  assert.is(sampleValue(families, 'edge_send_dropped_bytes_total'), 1024);
  assert.is(sampleValue(families, 'edge_slow_consumer_total'), 1);
  // event-loop lag, GC and RSS come from prom-client's process metrics
  assert.ok(families.has('edge_nodejs_eventloop_lag_p99_seconds'));
  assert.is(families.get('edge_nodejs_gc_duration_seconds')?.type, 'histogram');
  assert.ok((sampleValue(families, 'edge_process_resident_memory_bytes') ?? 0) > 0);
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test("a node's /metrics counts the predictions its motion guard answered, by reason (a tracker re-localising)", async () => {
  const server = new EdgeServer({ predictors: [kalmanPredictor()] }); // guarded, as the learned one is
  const { url } = await server.listen();
  const client = await RawClient.open(url);
  try {
    await client.hello();
    const at = (i: number, x: number): PoseSample => ({ device: 'head', time: 1e6 + i * 11_111, position: [x, 1.6, 0], orientation: [0, 0, 0, 1] });
    // 90 Hz standing still, then a 2 m jump between two samples: no head moves like that
    const poses = Array.from({ length: 20 }, (_, i) => at(i, 0));
    client.send({ t: 'pose', poses: [...poses, at(20, 2)] });
    client.send({ t: 'predict', id: 1, horizonMs: 30 });
    const answer = (await client.next((m) => m.t === 'prediction' || m.t === 'error')) as { t: string; fallback?: string };
    assert.is(answer.t, 'prediction', JSON.stringify(answer));
    assert.is(answer.fallback, 'reset', JSON.stringify(answer));
    const families = parsePrometheusText(await (await fetch(url.replace('ws://', 'http://').replace('/v1/session', '/metrics'))).text());
    assert.is(sampleValue(families, 'edge_motion_fallbacks_total', { reason: 'reset' }), 1);
  } finally {
    client.close();
    await server.close({ deadlineMs: 0 });
  }
});

test('discovery /metrics: requests by op and transport, rejections, and node counts read at scrape time', async () => {
  let nodes = { edge: 3, cloud: 1 };
  const metrics = await DiscoveryMetrics.create(() => nodes);
  metrics.request('query', 'http', 200, 0.4);
  metrics.request('query', 'ws', 200, 0.2);
  metrics.request('register', 'http', 429, 0.1);
  metrics.rejected('RATE_LIMITED');
  metrics.reports(5);
  const { server, url } = await serve((req, res) => metrics.serve(req, res));
  let families = parsePrometheusText(await (await fetch(url)).text());
  assert.is(sampleValue(families, 'discovery_requests_total', { op: 'query', transport: 'ws', status: '200' }), 1);
  assert.is(sampleValue(families, 'discovery_requests_total', { op: 'register', status: '429' }), 1);
  assert.is(sampleValue(families, 'discovery_request_seconds_count', { op: 'query', transport: 'http' }), 1);
  assert.is(sampleValue(families, 'discovery_rejected_total', { code: 'RATE_LIMITED' }), 1);
  assert.is(sampleValue(families, 'discovery_reports_total'), 5);
  assert.is(sampleValue(families, 'discovery_nodes', { tier: 'edge' }), 3);
  nodes = { edge: 4, cloud: 1 };
  families = parsePrometheusText(await (await fetch(url)).text());
  assert.is(sampleValue(families, 'discovery_nodes', { tier: 'edge' }), 4);
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('the parser rejects malformed exposition text', () => {
  assert.throws(() => parsePrometheusText('edge_x{kind="a} 1\n'));
  assert.throws(() => parsePrometheusText('edge_x 1 2 3\n'));
  assert.throws(() => parsePrometheusText('# TYPE edge_x wrongtype\n'));
  assert.is(sampleValue(parsePrometheusText('a{b="x\\"y"} 2\n'), 'a', { b: 'x"y' }), 2);
});

test.run();
