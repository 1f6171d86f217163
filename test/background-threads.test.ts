/**
 * protocol/server/background.ts on real processes: the kernel's own record of each thread's class
 * and niceness (/proc) after each call. Linux with util-linux chrt (the project's machines); where
 * chrt is missing the fallback niceness is what must show.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { backgroundProcess, foregroundProcess, mayLeaveIdle } from '../protocol/server/background.js';
import { chrtAvailable, SCHED_IDLE, SCHED_OTHER, threadScheds } from './support/schedPolicy.js';

const BACKGROUND_JS = fileURLToPath(new URL('../protocol/server/background.js', import.meta.url));

/** A node process that says 'up' once its threads run, and idles until killed. */
async function idleNode(code = ''): Promise<{ child: ChildProcess; lines: string[] }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', `${code}; console.log('up'); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const up = new Promise<void>((resolve) =>
    child.stdout!.on('data', (d: Buffer) => {
      lines.push(...d.toString().trim().split('\n'));
      if (lines.includes('up')) resolve();
    }),
  );
  await up;
  return { child, lines };
}

test('backgroundProcess: every thread of the process in SCHED_IDLE; foregroundProcess brings them back at the niceness where mayLeaveIdle says it may', async () => {
  const { child } = await idleNode();
  try {
    const got = backgroundProcess(child.pid!, 10);
    const threads = threadScheds(child.pid!);
    assert.ok(threads.length > 1, 'node runs helper threads');
    if (chrtAvailable()) {
      assert.is(got, 'idle');
      assert.equal(threads.filter((t) => t.policy !== SCHED_IDLE), [], 'every thread in SCHED_IDLE');
      // mayLeaveIdle's reading of the capability is what the kernel answers
      const lifted = foregroundProcess(child.pid!, 10);
      assert.is(lifted, mayLeaveIdle(), 'leaving SCHED_IDLE needs CAP_SYS_NICE');
      if (lifted) assert.equal(threadScheds(child.pid!).filter((t) => t.policy !== SCHED_OTHER || t.nice !== 10), [], 'every thread back in SCHED_OTHER at nice 10');
    } else {
      assert.is(got, 'nice');
      assert.equal(threads.filter((t) => t.nice !== 10), [], 'without chrt: every thread at the fallback niceness');
    }
  } finally {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
});

test('niceHelperThreads: the helpers at the niceness, the main thread untouched', async () => {
  const { child, lines } = await idleNode(`const m = await import(${JSON.stringify(BACKGROUND_JS)}); console.log(String(m.niceHelperThreads(10)))`);
  try {
    const reniced = Number(lines[0]);
    const threads = threadScheds(child.pid!);
    const main = threads.find((t) => t.tid === child.pid)!;
    assert.equal({ policy: main.policy, nice: main.nice }, { policy: SCHED_OTHER, nice: 0 }, 'the main thread as it was');
    assert.ok(reniced > 0, 'node runs helper threads');
    assert.ok(threads.filter((t) => t.tid !== child.pid && t.nice === 10 && t.policy === SCHED_OTHER).length >= reniced, 'the helpers it reported at nice 10, in the normal class');
  } finally {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
});

test.run();
