import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { testTimeout } from './support/wait.js';
import { mediasoupInstalled } from '../edge-server/webrtc/workerBin.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/edge-offload.js');
const demo = suite('demo (the README main command)');

function runDemo(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise<string>((resolve, reject) =>
    execFile(process.execPath, [BIN, 'demo', '--seconds', '3', '--chaos', '0'], { timeout: testTimeout(60_000), env }, (err, out, errOut) =>
      err ? reject(new Error(`demo failed: ${err.message}\n${out}\n${errOut}`)) : resolve(out),
    ),
  );
}

/** Per-second lines, some served by the edge, none with a failed call. */
function assertServed(stdout: string): void {
  const lines = stdout.split('\n').filter((line) => /^t=\s*\d+s/.test(line));
  assert.ok(lines.length >= 2, `expected per-second lines, got:\n${stdout}`);
  // how fast and how many are timing claims for the benches; on a busy machine the session may
  // start on the cloud and move to the edge, so the edge must serve some second, not every one
  const onEdge = lines.filter((line) => /on edge/.test(line));
  assert.ok(onEdge.length >= 1, `the edge never served a second:\n${stdout}`);
  for (const line of lines.slice(1)) {
    assert.match(line, /failed 0\)/);
    assert.ok(Number(/(\d+) predictions\/s/.exec(line)?.[1]) > 0, `no predictions: ${line}`);
  }
  for (const line of onEdge) {
    // a lower bound holds under any load: the emulated 5 ms link is always in the round trip
    const p50 = Number(/predict p50\s+([\d.]+) ms/.exec(line)?.[1]);
    assert.ok(p50 >= 5, `edge predict p50 ${p50} ms should include the emulated 5 ms link: ${line}`);
  }
}

demo('runs discovery, cloud and edge processes and prints a live line per second served by the edge', async () => {
  const stdout = await runDemo();
  // --webrtc auto: WebRTC too where mediasoup and its worker are installed (scripts/install-mediasoup.sh)
  assert.match(stdout, mediasoupInstalled() ? /nodes speak WebRTC too/ : /nodes speak ws only/);
  assertServed(stdout);
});

demo('without a mediasoup worker (--webrtc auto) the nodes speak ws only and the demo runs the same', async () => {
  const stdout = await runDemo({ ...process.env, MEDIASOUP_WORKER_BIN: '/nonexistent/mediasoup-worker' });
  assert.match(stdout, /nodes speak ws only/);
  assertServed(stdout);
});

demo('--help explains the options; a bad flag says what is accepted', async () => {
  const run = (...args: string[]) =>
    new Promise<{ code: number; out: string }>((resolve) =>
      execFile(process.execPath, [BIN, ...args], (err, out, errOut) => resolve({ code: err ? (err.code as number) : 0, out: out + errOut })),
    );
  const help = await run('demo', '--help');
  assert.is(help.code, 0);
  assert.match(help.out, /--chaos N/);
  const bad = await run('demo', '--speed', '9');
  assert.is(bad.code, 1);
  assert.match(bad.out, /Unknown option '--speed'[\s\S]*Usage: edge-offload demo/);
});

demo.run();
