/**
 * `edge-offload edge --workers N`: one node on several processes behind one port (node:cluster).
 * A real CLI child process: sessions spread over the workers and are served, `/metrics` counts the
 * whole node (not the worker the scrape happened to reach), and SIGTERM drains every worker and
 * stops the node with one `stopped`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, SimulatedHeadset, type Session } from '../client-sdk/node.js';
import { parsePrometheusText, sampleValue } from '../bench/lib/prometheusText.js';
import { waitFor, withTimeout } from './support/wait.js';

const CLI = fileURLToPath(new URL('../bin/edge-offload.js', import.meta.url));
const test = suite('edge cluster');

interface Node {
  child: ChildProcess;
  url: string;
  lines: string[];
  exited: Promise<number | null>;
}

async function startCluster(workers: number): Promise<Node> {
  const child = spawn(process.execPath, [CLI, 'edge', '--port', '0', '--no-inference', '--workers', String(workers)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await withTimeout(
    new Promise<string>((resolve, reject) => {
      void exited.then((code) => reject(new Error(`the node exited with ${code}: ${lines.join(' | ')}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        lines.push(line);
        const event = JSON.parse(line) as { event: string; url?: string };
        if (event.event === 'listening') resolve(event.url!);
      });
    }),
    'the cluster to listen',
    30_000,
  );
  return { child, url, lines, exited };
}

async function scrape(url: string): Promise<ReturnType<typeof parsePrometheusText>> {
  const res = await fetch(url.replace('ws://', 'http://').replace('/v1/session', '/metrics'));
  assert.is(res.status, 200);
  return parsePrometheusText(await res.text());
}

test('two workers behind one port: one listening line, sessions served, /metrics counts the whole node, SIGTERM stops every worker', async () => {
  const node = await startCluster(2);
  const sessions: Session[] = [];
  try {
    assert.is(node.lines.filter((l) => l.includes('"listening"')).length, 1, node.lines.join('\n'));
    // the primary hands connections out round robin: four sessions land two on each worker
    for (let i = 0; i < 4; i++) sessions.push(await connect(node.url, { pingIntervalMs: 0 }));
    const headset = new SimulatedHeadset(3);
    for (const session of sessions) {
      for (let t = 0; t < 100; t += 11) session.sendPose(headset.poseAt(t));
      for (let k = 0; k < 5; k++) assert.ok((await session.predict(20)).pose);
    }
    // whichever worker answers the scrape, it reports all four sessions and all twenty predicts
    for (let scrapeNo = 0; scrapeNo < 4; scrapeNo++) {
      const families = await waitFor(async () => {
        const f = await scrape(node.url);
        return sampleValue(f, 'edge_sessions') === 4 ? f : undefined;
      }, 'the aggregated session gauge to reach 4');
      assert.is(sampleValue(families, 'edge_requests_total', { kind: 'predict' }), 20);
      // the node's own handling-time histogram (what bench predict-load and worker-scaling read)
      // sums the workers' buckets too: every predict counted once, in every bucket up to +Inf
      assert.is(sampleValue(families, 'edge_request_handling_seconds_count', { kind: 'predict' }), 20);
      assert.is(sampleValue(families, 'edge_request_handling_seconds_bucket', { kind: 'predict', le: '+Inf' }), 20);
    }
  } finally {
    for (const session of sessions) session.close();
    node.child.kill('SIGTERM');
  }
  assert.is(await withTimeout(node.exited, 'the cluster to stop', 20_000), 0);
  assert.is(node.lines.filter((l) => l.includes('"draining"') && l.includes('"worker"')).length, 2, node.lines.join('\n'));
  assert.is(node.lines.filter((l) => l.includes('"stopped"')).length, 1, node.lines.join('\n'));
});

test.run();
