/**
 * `bench scale --sched-trace`'s reader of the kernel's scheduler trace (bench/scale/schedTrace.ts)
 * on a real contention: this process spins in short spans on core 0 beside a busy loop pinned
 * there, and the trace must name the loop as what held the core while a span waited, and leave
 * the tracer as it found it. Needs root and tracefs; skipped without.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { pinProcess } from '../bench/lib/pin.js';
import { SchedTrace } from '../bench/scale/schedTrace.js';

const test = suite('bench scale --sched-trace');
const TRACEFS = '/sys/kernel/tracing';
/** This process's cores as taskset lists them ("0,1"): the suite runs every test file in one process, so the pin is undone after. */
const cores = () => /list:\s*(\S+)/.exec(spawnSync('taskset', ['--cpu-list', '--pid', String(process.pid)], { encoding: 'utf8' }).stdout)?.[1];
const setting = (f: string) => readFileSync(`${TRACEFS}/${f}`, 'utf8');

test('a busy loop on the spinning thread\'s core is what held it while a span waited; the tracer is left as found', async () => {
  // comm "eo-trace-hog": process.title sets the thread's name, which the trace records
  const hog = spawn(process.execPath, ['-e', 'process.title = "eo-trace-hog"; for (;;);'], { stdio: 'ignore' });
  const mine = cores();
  try {
    const before = SchedTrace.start(0);
    if (!before) {
      console.log('  (skipped: needs root and tracefs)');
      return;
    }
    before.stop(process.pid, undefined); // only to read the settings it restores
    const settings = ['buffer_size_kb', 'tracing_cpumask', 'trace_clock', 'set_event'].map(setting);
    assert.ok(pinProcess(hog.pid!, 0) && pinProcess(process.pid, 0), 'taskset pins both to core 0');
    const trace = SchedTrace.start(0)!;
    const spans: [number, number][] = [];
    for (let i = 0; i < 20; i++) {
      const from = performance.now();
      while (performance.now() < from + 5);
      spans.push([from, performance.now()]);
      await sleep(2);
    }
    trace.stop(process.pid, undefined);
    const held = trace.holders(spans);
    assert.is(held.queries, 20);
    assert.ok(held.waitedMs > 0, 'spinning beside a busy loop of the same class, the thread waited for its core');
    assert.ok((held.holders['eo-trace-hog'] ?? 0) > 0, `the loop held it: ${JSON.stringify(held.holders)}`);
    const named = Object.values(held.holders).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(named - held.waitedMs) < 0.01, 'every waited ms is someone\'s');
    assert.equal(['buffer_size_kb', 'tracing_cpumask', 'trace_clock', 'set_event'].map(setting), settings, 'the tracer is left as found');
    assert.is(setting('tracing_on').trim(), '0');
  } finally {
    hog.kill('SIGKILL');
    if (mine) assert.ok(pinProcess(process.pid, mine), `this process back on cores ${mine}`);
  }
});

test.run();
