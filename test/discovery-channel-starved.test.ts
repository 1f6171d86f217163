/**
 * A channel process in SCHED_IDLE (ChannelProcess `idle`, the default on a one-core replica that
 * may lift it back: CAP_SYS_NICE) has no floor: anything else on its core runs first. Here a real
 * busy loop shares one core with it; the child says it could not run for a liveness interval, and
 * the replica moves it back to the normal class; once the loop is gone it goes idle again
 * (idleRetryMs). A real-time query thread (discovery/queryThread.ts) follows it: SCHED_OTHER while
 * the child starves, SCHED_FIFO again once it is idle (after its idle retry, or started again after
 * a crash). Waits are for events only.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pinProcess } from '../bench/lib/pin.js';
import { DiscoveryServer } from '../discovery/DiscoveryServer.js';
import { ChannelProcess } from '../discovery/channels/ChannelProcess.js';
import { QueryThread } from '../discovery/queryThread.js';
import { mayLeaveIdle } from '../protocol/server/background.js';
import { MemoryRegistry } from '../discovery/registry/MemoryRegistry.js';
import { makeOperator, trustOf } from './support/discoveryFixtures.js';
import { chrtAvailable, SCHED_FIFO, SCHED_IDLE, SCHED_OTHER, threadScheds } from './support/schedPolicy.js';

const INTERVAL_MS = 100;

test('a channel process goes to SCHED_IDLE once ready (where the replica may lift it); starved for a liveness interval it says so, is moved back to nice 10, and goes idle again later', async () => {
  const server = new DiscoveryServer({
    registry: new MemoryRegistry({ heartbeatIntervalMs: INTERVAL_MS, sweepIntervalMs: 3600_000 }),
    operators: trustOf(makeOperator('acme')),
    nodeChannelProcess: 'process',
    nodeChannel: { tickIntervalMs: 3600_000 },
    channelProcess: { idle: true, sizeReportMs: 20, idleRetryMs: 300 },
  });
  await server.listen();
  const host = server.nodeChannels as ChannelProcess;
  const hog = spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' });
  let stopFollowing: (() => void) | undefined;
  try {
    const pid = host.child!.pid!;
    if (!chrtAvailable() || !mayLeaveIdle()) {
      assert.is(host.background, 'nice', 'without chrt, or without the privilege to lift it back: niceness');
      return;
    }
    assert.is(host.background, 'idle');
    assert.equal(threadScheds(pid).filter((t) => t.policy !== SCHED_IDLE), [], 'every thread of the child in SCHED_IDLE');
    // the valve of a real-time query thread (discovery/queryThread.ts), this test's own main thread:
    // it leaves SCHED_FIFO while the child starves, and takes it again once the child is idle
    const queryThread = new QueryThread(true);
    const following = queryThread.follow(host);
    stopFollowing = () => {
      following();
      queryThread.lower();
    };
    assert.ok(queryThread.raise(), 'the query thread in SCHED_FIFO');
    // the child and a busy loop on one core: in the idle class the child runs only when the loop does not
    const starved = once(host, 'starved');
    assert.ok(pinProcess(hog.pid!, 0) && pinProcess(pid, 0), 'taskset pins both to core 0');
    const [ms] = (await starved) as [number];
    assert.ok(ms >= INTERVAL_MS, `it could not run for a liveness interval (${ms} ms)`);
    assert.ok(host.starved.reports >= 1 && host.starved.maxMs >= ms);
    assert.is(host.background, 'nice', 'moved back to the normal class');
    assert.is(queryThread.schedClass, 'other', 'the query thread left SCHED_FIFO for it');
    assert.is(queryThread.yielded, 1);
    assert.equal(threadScheds(process.pid).filter((t) => t.tid === process.pid).map((t) => t.policy), [SCHED_OTHER]);
    assert.equal(threadScheds(pid).filter((t) => t.policy !== SCHED_OTHER || t.nice !== 10), [], 'every thread of the child in SCHED_OTHER at nice 10');
    // the core calms down: the retry puts it back (had the loop still run, it would starve and be
    // lifted again, its next retry twice as late: the event still comes once the loop is gone)
    const idleAgain = once(host, 'idle');
    hog.kill('SIGKILL');
    await idleAgain;
    assert.is(host.background, 'idle');
    assert.equal(threadScheds(pid).filter((t) => t.policy !== SCHED_IDLE), [], 'every thread of the child in SCHED_IDLE again');
    assert.is(queryThread.schedClass, 'fifo', 'and the query thread in SCHED_FIFO again');
    assert.equal(threadScheds(process.pid).filter((t) => t.tid === process.pid).map((t) => t.policy), [SCHED_FIFO]);
    // a channel process that dies is started again; idle once ready, it brings SCHED_FIFO back too
    queryThread.lower();
    const ready = once(host, 'ready');
    process.kill(pid, 'SIGKILL');
    await ready;
    assert.is.not(host.child!.pid, pid, 'a new channel process');
    assert.is(host.background, 'idle');
    assert.is(queryThread.schedClass, 'fifo', 'the query thread in SCHED_FIFO again once the new one is idle');
  } finally {
    stopFollowing?.();
    hog.kill('SIGKILL');
    await server.close();
  }
});

test.run();
