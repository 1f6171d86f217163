/**
 * `bench wake-latency` end to end, small: its real processes pinned to the two cores, each
 * neighbour put in its class by protocol/server/background.ts (what discovery ships), every case
 * measured, JSON and chart written. Its numbers are a bench's (no threshold here).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chrtAvailable } from './support/schedPolicy.js';

const test = suite('bench wake-latency');
const CLI = fileURLToPath(new URL('../bench/cli.js', import.meta.url));

test('every case runs, its neighbour in the class asked for, and the results are written', () => {
  if (os.cpus().length < 2) {
    console.log('  (skipped: the bench pins its sleeper and waker to two cores)');
    return;
  }
  const out = mkdtempSync(path.join(os.tmpdir(), 'wake-latency-'));
  try {
    const run = spawnSync(process.execPath, [CLI, 'wake-latency', '--samples', '100', '--rounds', '1', '--out', out], { encoding: 'utf8', timeout: 300_000 });
    assert.is(run.status, 0, run.stderr);
    const result = JSON.parse(readFileSync(path.join(out, 'wake-latency.json'), 'utf8')) as { cases: { case: string; class: string | null; applied: string[]; samples: number; p50Ms: number; p99Ms: number; p999Ms: number; maxMs: number }[] };
    assert.equal(result.cases.map((c) => c.case), ['no neighbour', 'spin, nice 0', 'spin, nice 10', 'spin, SCHED_IDLE', 'send, nice 0', 'send, nice 10', 'send, SCHED_IDLE']);
    for (const c of result.cases) {
      assert.is(c.samples, 100, c.case);
      assert.ok(c.p50Ms > 0 && c.p50Ms <= c.p99Ms && c.p99Ms <= c.p999Ms && c.p999Ms <= c.maxMs, `${c.case}: ordered quantiles`);
      const expected = c.class === null ? 'none' : c.class === 'nice 0' ? 'nice 0' : c.class === 'nice 10' || !chrtAvailable() ? 'nice' : 'idle';
      assert.equal(c.applied, [expected], c.case);
    }
    assert.match(readFileSync(path.join(out, 'wake-latency.svg'), 'utf8'), /<svg/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test.run();
