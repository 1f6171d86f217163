/**
 * The query thread in SCHED_FIFO (discovery/queryThread.ts), on real threads: the class the kernel
 * reports, that what the thread starts later is not real-time, and what the class is for: a busy
 * loop on the same core does not take the core from it, where it takes a share from a SCHED_OTHER
 * thread.
 * The valve (back to SCHED_OTHER while the channel process starves) is in
 * discovery-channel-starved.test.ts. Needs CAP_SYS_NICE and util-linux chrt; skipped without.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pinProcess } from '../bench/lib/pin.js';
import { ChannelProcess } from '../discovery/channels/ChannelProcess.js';
import { DiscoveryServer } from '../discovery/DiscoveryServer.js';
import { queryThreadMode, wantsFifo } from '../discovery/queryThread.js';
import { MemoryRegistry } from '../discovery/registry/MemoryRegistry.js';
import { mayLeaveIdle } from '../protocol/server/background.js';
import { SINGLE_THREADED_GC_FLAG } from '../protocol/server/gcThreads.js';
import { makeOperator, trustOf } from './support/discoveryFixtures.js';
import { chrtAvailable, SCHED_FIFO, SCHED_OTHER, threadScheds } from './support/schedPolicy.js';

const privileged = process.platform === 'linux' && chrtAvailable() && mayLeaveIdle();
const queryThreadJs = fileURLToPath(new URL('../discovery/queryThread.js', import.meta.url));

test('--query-thread: auto by default, fifo or other, env EDGE_OFFLOAD_QUERY_THREAD; anything else is a TypeError', () => {
  assert.is(queryThreadMode(undefined, {}), 'auto');
  assert.is(queryThreadMode(undefined, { EDGE_OFFLOAD_QUERY_THREAD: 'other' }), 'other');
  assert.is(queryThreadMode('fifo', { EDGE_OFFLOAD_QUERY_THREAD: 'other' }), 'fifo');
  assert.throws(() => queryThreadMode('rt', {}), /--query-thread must be auto, fifo or other/);
});

test('auto asks for SCHED_FIFO only on a one-core replica whose node channels run in a channel process it may lift (the valve)', async () => {
  const server = new DiscoveryServer({ registry: new MemoryRegistry(), operators: trustOf(makeOperator('acme')), nodeChannelProcess: 'process' });
  const inline = new DiscoveryServer({ registry: new MemoryRegistry(), operators: trustOf(makeOperator('acme')), nodeChannelProcess: 'inline' });
  try {
    assert.ok(server.nodeChannels instanceof ChannelProcess);
    assert.is(wantsFifo('auto', server.nodeChannels, [SINGLE_THREADED_GC_FLAG]), mayLeaveIdle(), 'one core, a channel process: where it may be lifted');
    assert.is(wantsFifo('auto', server.nodeChannels, []), false, "V8's parallel GC: a replica with more cores");
    assert.is(wantsFifo('auto', inline.nodeChannels, [SINGLE_THREADED_GC_FLAG]), false, 'channels inline: no channel process to say it starves');
    assert.is(wantsFifo('fifo', inline.nodeChannels, []), true);
    assert.is(wantsFifo('other', server.nodeChannels, [SINGLE_THREADED_GC_FLAG]), false);
  } finally {
    await server.close();
    await inline.close();
  }
});

/**
 * A node process that takes SCHED_FIFO as the replica does (QueryThread.raise), then on each
 * line it reads: `spin MS` spins its main thread that long and prints how long (ms) it waited
 * for its core meanwhile (/proc/thread-self/schedstat: time runnable but not running); `lower` goes back to
 * SCHED_OTHER; `child` starts a process and prints its pid.
 */
const SUBJECT = `
const { QueryThread } = await import(${JSON.stringify(queryThreadJs)});
const { readFileSync } = await import('node:fs');
const { spawn } = await import('node:child_process');
const thread = new QueryThread(true);
const waited = () => Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[1]) / 1e6;
console.log('raised ' + thread.raise());
for await (const line of (await import('node:readline')).createInterface({ input: process.stdin })) {
  const [what, arg] = line.split(' ');
  if (what === 'spin') {
    const before = waited();
    const end = performance.now() + Number(arg);
    while (performance.now() < end);
    console.log('waited ' + (waited() - before));
  } else if (what === 'lower') {
    thread.lower();
    console.log('class ' + thread.schedClass);
  } else if (what === 'child') {
    console.log('child ' + spawn('sleep', ['30'], { stdio: 'ignore' }).pid);
  }
}
`;

const SPIN_MS = 300;

test('SCHED_FIFO on the main thread only; what it starts later is SCHED_OTHER; a busy loop on its core takes a share of it only once it is back in SCHED_OTHER', async () => {
  if (!privileged) {
    console.log('  (skipped: needs util-linux chrt and CAP_SYS_NICE)');
    return;
  }
  const subject = spawn(process.execPath, ['--input-type=module', '-e', SUBJECT], { stdio: ['pipe', 'pipe', 'inherit'] });
  const hog = spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' });
  const children: number[] = [];
  try {
    const lines = createInterface({ input: subject.stdout! })[Symbol.asyncIterator]();
    const ask = async (line: string) => {
      subject.stdin!.write(line + '\n');
      return String((await lines.next()).value);
    };
    assert.is(String((await lines.next()).value), 'raised true');
    const pid = subject.pid!;
    const scheds = threadScheds(pid);
    assert.equal(scheds.filter((t) => t.tid === pid).map((t) => t.policy), [SCHED_FIFO], 'the main thread in SCHED_FIFO');
    assert.equal(scheds.filter((t) => t.tid !== pid && t.policy !== SCHED_OTHER), [], 'its other threads as they were');
    const child = Number((await ask('child')).split(' ')[1]);
    children.push(child);
    assert.equal(threadScheds(child).map((t) => t.policy), [SCHED_OTHER], 'a process it starts begins in SCHED_OTHER (reset on fork)');
    // the subject and a busy loop on one core: the loop never runs while the real-time thread does
    assert.ok(pinProcess(pid, 0) && pinProcess(hog.pid!, 0), 'taskset pins both to core 0');
    // shares of the spin, not times: a busy machine stretches both alike. The kernel's fair server
    // may still give the loop a few ms a second (it did once in three runs here: one preemption).
    const waitedShare = async () => Number((await ask(`spin ${SPIN_MS}`)).split(' ')[1]) / SPIN_MS;
    const fifo = await waitedShare();
    assert.ok(fifo < 0.2, `a SCHED_FIFO thread keeps its core: it waited ${(fifo * 100).toFixed(1)} % of its spin`);
    assert.is(await ask('lower'), 'class other');
    assert.equal(threadScheds(pid).filter((t) => t.tid === pid).map((t) => t.policy), [SCHED_OTHER]);
    const other = await waitedShare();
    assert.ok(other > 0.2, `back in SCHED_OTHER it shares the core with the loop: it waited ${(other * 100).toFixed(1)} % of its spin`);
  } finally {
    hog.kill('SIGKILL');
    subject.kill('SIGKILL');
    for (const child of children) process.kill(child, 'SIGKILL');
    if (subject.exitCode === null && subject.signalCode === null) await once(subject, 'exit');
  }
});

test.run();
