/**
 * bench predict-load's round-trip tail instruments (bench/load): the GC probe preloaded into a real
 * child process, the pause log's overlap test, the run-queue wait sampler on a real pid, and the
 * breakdown of the slowest 1 % of frames.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PauseLog } from '../bench/load/gcProbe.js';
import { killProc, startPinned, threadCpuMs } from '../bench/load/loadStep.js';
import { relaunchedChild } from '../protocol/server/relaunch.js';
import { RttSamples, tailBreakdown } from '../bench/load/rawStep.js';
import { RunWaitSampler } from '../bench/load/RunWaitSampler.js';

const Tail = suite('bench/load round-trip tail');

Tail('the preloaded GC probe reports a child process\' collections, with wall-clock times', async () => {
  const before = Date.now();
  // the child's own observer prints the url after the probe's (registered first, at preload) has
  // written its lines for the same collections: they are parsed before startPinned resolves
  const script = `new PerformanceObserver(() => console.log(JSON.stringify({ url: 'ws://127.0.0.1:1/' }))).observe({ entryTypes: ['gc'] }); globalThis.gc(); setInterval(() => {}, 1000);`;
  const proc = await startPinned('0', ['--expose-gc', '-e', script], {}, { gcProbe: true });
  try {
    assert.ok(proc.pauses.starts.length >= 1, 'a pause was reported');
    const at = proc.pauses.starts[0]!;
    assert.ok(at >= before - 1000 && at <= Date.now(), `pause at ${at} is an epoch time of this run`);
    assert.ok(proc.pauses.ends[0]! >= at);
    assert.ok(['major', 'minor', 'incremental', 'weakcb', 'other'].includes(proc.pauses.kinds[0]!));
  } finally {
    proc.child.kill('SIGKILL');
  }
});

Tail('a node re-launched for its young generation is followed: the pid measured is the one that serves, its pauses the ones reported', async () => {
  const bin = new URL('../bin/edge-offload.js', import.meta.url).pathname;
  const proc = await startPinned('0', [bin, 'edge', '--port', '0', '--no-inference'], { EDGE_OFFLOAD_YOUNG_GEN_MIB: '2', NODE_OPTIONS: '' }, { gcProbe: true });
  try {
    assert.is.not(proc.pid, proc.child.pid, 'the launcher is not the node');
    assert.is(relaunchedChild(proc.child.pid!), proc.pid);
    // the node's main thread did the start-up work, the launcher only waited
    assert.ok(threadCpuMs(proc.pid).main! > threadCpuMs(proc.child.pid).main!);
  } finally {
    killProc(proc, 'SIGKILL');
  }
});

Tail('a pause log finds the pauses an interval overlaps, and the backlog after one', () => {
  const log = new PauseLog();
  log.add(100, 5, 'minor'); // [100, 105)
  log.add(200, 2, 'minor'); // [200, 202)
  assert.ok(log.hits(101, 103));
  assert.ok(log.hits(90, 101));
  assert.ok(!log.hits(106, 110));
  assert.ok(log.hits(106, 110, 2), 'within 2 ms of the end of a pause: its backlog');
  assert.ok(!log.hits(150, 199));
  assert.ok(log.hits(150, 250));
  assert.equal(log.within(0, 150), { count: 1, ms: 5, maxMs: 5 });
  assert.equal(log.within(0, 1000), { count: 2, ms: 7, maxMs: 5 });
});

Tail('the slowest 1 % are put under the pauses they overlapped', () => {
  const samples = new RttSamples();
  samples.reset(0);
  const node = new PauseLog();
  const generator = new PauseLog();
  const origin = performance.timeOrigin;
  // 190 quick frames, 10 ms apart, and 10 slow ones (20 ms): 6 in a node pause, 4 in a generator pause
  for (let i = 0; i < 190; i++) samples.answer(1000 + 10 * i, 1000 + 10 * i + 1 + i / 1000);
  for (let i = 0; i < 10; i++) {
    const sent = 10_000 + 100 * i;
    samples.answer(sent, sent + 20);
    (i < 6 ? node : generator).add(origin + sent + 5, 10, 'minor');
  }
  const t = tailBreakdown(samples, node, generator, { from: 0, to: 12_000 })!;
  assert.is(t.tailFrames, 10);
  assert.is(t.thresholdMs, 20);
  assert.is(t.nodePause, 0.6);
  assert.is(t.generatorPause, 0.4);
  assert.is(t.other, 0);
  assert.is(t.nodePauses.count, 6);
  assert.ok(t.p99WithoutPausesMs < 2, 'the untouched frames are the quick ones');
});

Tail('the run-queue wait sampler reads a live process and refuses a missing one', () => {
  assert.is(RunWaitSampler.open(2 ** 22 + 1), undefined);
  const sampler = RunWaitSampler.open(process.pid)!;
  assert.ok(sampler);
  const from = performance.now();
  sampler.start();
  // a few samples without waiting on time: each start() samples once, and so does every tick
  sampler.stop();
  sampler.start();
  const waited = sampler.waitedMs(from, performance.now());
  sampler.close();
  assert.ok(Number.isFinite(waited) && waited >= 0, `waited ${waited} ms`);
});

Tail.run();
