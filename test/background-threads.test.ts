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
import { backgroundProcess, foregroundProcess } from '../protocol/server/background.js';
import { chrtAvailable, SCHED_IDLE, SCHED_OTHER, threadScheds } from './support/schedPolicy.js';

const BACKGROUND_JS = fileURLToPath(new URL('../protocol/server/background.js', import.meta.url));
const isRoot = process.getuid?.() === 0;

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

test('backgroundProcess: every thread of the process in SCHED_IDLE; foregroundProcess (root) brings them back at the niceness', async () => {
  const { child } = await idleNode();
  try {
    const got = backgroundProcess(child.pid!, 10);
    const threads = threadScheds(child.pid!);
    assert.ok(threads.length > 1, 'node runs helper threads');
    if (chrtAvailable()) {
      assert.is(got, 'idle');
      assert.equal(threads.filter((t) => t.policy !== SCHED_IDLE), [], 'every thread in SCHED_IDLE');
      assert.is(foregroundProcess(child.pid!, 10), isRoot, 'leaving SCHED_IDLE needs CAP_SYS_NICE');
      if (isRoot) assert.equal(threadScheds(child.pid!).filter((t) => t.policy !== SCHED_OTHER || t.nice !== 10), [], 'every thread back in SCHED_OTHER at nice 10');
    } else {
      assert.is(got, 'nice');
      assert.equal(threads.filter((t) => t.nice !== 10), [], 'without chrt: every thread at the fallback niceness');
    }
  } finally {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
});

test('backgroundHelperThreads: the helpers in SCHED_IDLE, the main thread untouched', async () => {
  const { child, lines } = await idleNode(`const m = await import(${JSON.stringify(BACKGROUND_JS)}); console.log(JSON.stringify(m.backgroundHelperThreads(10)))`);
  try {
    const result = JSON.parse(lines[0]!) as { threads: number; got: string };
    const threads = threadScheds(child.pid!);
    const main = threads.find((t) => t.tid === child.pid)!;
    const helpers = threads.filter((t) => t.tid !== child.pid);
    assert.is(main.policy, SCHED_OTHER, 'the main thread stays in the normal class');
    assert.is(main.nice, 0, 'at its niceness');
    assert.ok(result.threads > 0 && result.threads <= helpers.length, `the helpers it set: ${JSON.stringify(result)}`);
    if (chrtAvailable()) {
      assert.is(result.got, 'idle');
      assert.ok(helpers.filter((t) => t.policy === SCHED_IDLE).length >= result.threads, 'the helpers it reported are in SCHED_IDLE');
    } else assert.is(result.got, 'nice');
  } finally {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
});

test.run();
