/**
 * protocol/server/busyPoll.ts: while a reply is due the event loop polls instead of sleeping
 * (Node's own event-loop utilisation says so: a loop asleep in epoll counts as idle, a polling
 * one never is), for at most maxMs a wait, with one poller for any number of waits; values and
 * rejections pass through; 0 leaves the loop asleep.
 */
import { performance } from 'node:perf_hooks';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BUSY_POLL_AUTO_MS, replicaBusyPollMs } from '../discovery/gcThreads.js';
import { RedisRegistry } from '../discovery/registry/RedisRegistry.js';
import { BusyPoll } from '../protocol/server/busyPoll.js';
import { startRedis } from '../bench/lib/redisServer.js';
import { record } from './support/discoveryFixtures.js';
import { waitFor } from './support/wait.js';

const test = suite('busy poll');
const after = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(resolve, ms, value));

/** The loop's utilisation while `body` runs: the share of its time not asleep in epoll. */
async function utilisation(body: () => Promise<unknown>): Promise<number> {
  const start = performance.eventLoopUtilization();
  await body();
  return performance.eventLoopUtilization(start).utilization;
}

test('a wait keeps the loop polling until its reply; with 0 the loop sleeps', async () => {
  const poll = new BusyPoll(60_000);
  const polled = await utilisation(() => poll.wait(after(50, 'x')));
  const slept = await utilisation(() => new BusyPoll(0).wait(after(50, 'x')));
  assert.ok(polled > 0.9, `polling: the loop never slept (utilisation ${polled})`);
  assert.ok(slept < 0.5, `asleep in epoll most of the wait (utilisation ${slept})`);
  await waitFor(() => !poll.polling, 'the poller stops once nothing is due');
});

test('values and rejections pass through; 0 hands back the reply itself', async () => {
  const poll = new BusyPoll(60_000);
  assert.is(await poll.wait(after(1, 42)), 42);
  const refused = await poll.wait(Promise.reject(new Error('NOSCRIPT'))).then(() => undefined, (err: Error) => err.message);
  assert.is(refused, 'NOSCRIPT');
  const reply = after(1, 'same');
  assert.is(new BusyPoll(0).wait(reply), reply);
  assert.throws(() => new BusyPoll(-1), /0 or more/);
});

test('one poller for concurrent waits, until the last is answered', async () => {
  const poll = new BusyPoll(60_000);
  let release!: () => void;
  const slow = new Promise<void>((resolve) => (release = resolve));
  const both = Promise.all([poll.wait(after(1, 'fast')), poll.wait(slow)]);
  await after(5, null);
  assert.ok(poll.polling, 'still polling: one wait is still due');
  release();
  await both;
  await waitFor(() => !poll.polling, 'stops after the last');
});

test('a reply that never comes is polled for maxMs only', async () => {
  const poll = new BusyPoll(20);
  void poll.wait(new Promise(() => {}));
  assert.ok(poll.polling);
  await waitFor(() => !poll.polling, 'the poller gives up after maxMs');
});

test('--busy-poll-ms: auto polls on a single-threaded (one-core) replica only; a number as given; anything else refused', () => {
  assert.is(replicaBusyPollMs(undefined, ['--single-threaded-gc']), BUSY_POLL_AUTO_MS);
  assert.is(replicaBusyPollMs('auto', ['--single-threaded-gc']), BUSY_POLL_AUTO_MS);
  assert.is(replicaBusyPollMs(undefined, []), 0);
  assert.is(replicaBusyPollMs('0', ['--single-threaded-gc']), 0);
  assert.is(replicaBusyPollMs('1.5', []), 1.5);
  for (const bad of ['', 'fast', '-1', '1001']) assert.throws(() => replicaBusyPollMs(bad, []), /--busy-poll-ms must be auto or 0-1000/);
});

test('a Redis replica that polls answers as one that sleeps', async () => {
  const redis = await startRedis();
  const opts = { url: redis.url, heartbeatIntervalMs: 1000, prefix: 'poll:' };
  const polling = await RedisRegistry.connect({ ...opts, busyPollMs: 50 });
  const sleeping = await RedisRegistry.connect(opts);
  try {
    await polling.flush();
    await polling.put(record('p', 35.68, 139.69));
    await sleeping.put(record('q', 35.0, 135.77));
    const ids = async (r: RedisRegistry) => (await r.nearest({ lat: 35.68, lon: 139.7 }, 2, 'edge')).map((n) => n.node.id);
    assert.equal(await ids(polling), ['p', 'q']);
    assert.equal(await ids(sleeping), ['p', 'q']);
  } finally {
    await polling.close();
    await sleeping.close();
    await redis.stop();
  }
});

test.run();
