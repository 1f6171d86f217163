import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import dgram from 'node:dgram';
import { PassThrough } from 'node:stream';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DelayLine, DEFAULT_LINK } from '../netem/DelayLine.js';
import { startUdpNetemProxy, type UdpNetemProxy } from '../netem/UdpNetemProxy.js';
import { runNetemCommand } from '../netem/cli.js';
import { seededRandom } from '../bench/motion/windows.js';
import { waitFor, withTimeout } from './support/wait.js';

const rules = suite('netem udp: DelayLine datagram rules');

rules('a lost datagram is dropped, not stalled, and never delivered', () => {
  const out: number[] = [];
  const draws = [0.5, 0.01, 0.5];
  let i = 0;
  const line = new DelayLine({
    kind: 'datagram',
    params: () => ({ ...DEFAULT_LINK, lossRate: 0.1 }),
    deliver: (d) => out.push(d[0]!),
    now: () => 0,
    random: () => draws[i++]!,
  });
  assert.equal(line.push(Buffer.from([1])), 0);
  assert.ok(Number.isNaN(line.push(Buffer.from([2]))));
  assert.equal(line.push(Buffer.from([3])), 0);
  assert.equal(out, [1, 3]);
  line.close();
});

rules('jitter may reorder datagrams: they leave in release order', async () => {
  let clock = 0;
  const out: number[] = [];
  const draws = [0.9, 0.0, 0.5];
  let i = 0;
  const line = new DelayLine({
    kind: 'datagram',
    params: () => ({ ...DEFAULT_LINK, delayMs: 10, jitterMs: 20 }),
    deliver: (d) => out.push(d[0]!),
    now: () => clock,
    random: () => draws[i++]!,
  });
  assert.equal([1, 2, 3].map((n) => line.push(Buffer.from([n]))), [28, 10, 20]);
  clock = 30; // every release time has passed when the (real) timer fires
  await waitFor(() => out.length === 3, 'all three delivered');
  assert.equal(out, [2, 3, 1]);
  line.close();
});

rules('a full bottleneck queue drops arrivals (tail drop) and frees up as it drains', () => {
  const line = new DelayLine({
    kind: 'datagram',
    maxQueuedBytes: 2500,
    params: () => ({ ...DEFAULT_LINK, bandwidthBytesPerS: 1000 }),
    deliver: () => {},
    now: () => 0,
  });
  const releases = [1, 2, 3].map(() => line.push(Buffer.alloc(1000)));
  assert.equal(releases.slice(0, 2), [1000, 2000], 'serialised back to back at 1000 B/s');
  assert.ok(Number.isNaN(releases[2]!), 'the third does not fit in 2500 bytes');
  assert.equal(line.queuedBytes, 2000);
  line.close();
});

rules.run();

/** A UDP sink on loopback that echoes (or just counts) what it receives. */
async function udpServer(echo: boolean) {
  const socket = dgram.createSocket('udp4');
  const received: { at: number; from: number; data: Buffer }[] = [];
  socket.on('message', (data, rinfo) => {
    received.push({ at: performance.now(), from: rinfo.port, data });
    if (echo) socket.send(data, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return { socket, received, port: socket.address().port, close: () => new Promise<void>((r) => socket.close(() => r())) };
}

async function client() {
  const socket = dgram.createSocket('udp4');
  const received: Buffer[] = [];
  socket.on('message', (data) => received.push(data));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return { socket, received, close: () => new Promise<void>((r) => socket.close(() => r())) };
}

const proxy = suite('netem udp: proxy on loopback');
let stop: (() => Promise<void>)[] = [];
proxy.after.each(async () => {
  for (const fn of stop.reverse()) await fn();
  stop = [];
});

async function setup(echo: boolean, options: Omit<Parameters<typeof startUdpNetemProxy>[0], 'target'>) {
  const server = await udpServer(echo);
  const p: UdpNetemProxy = await startUdpNetemProxy({ target: { host: '127.0.0.1', port: server.port }, ...options });
  const c = await client();
  stop.push(server.close, () => p.close(), c.close);
  return { server, proxy: p, client: c };
}

proxy('every datagram is delayed at least the one-way delay each way', async () => {
  const { proxy: p, client: c } = await setup(true, { delayMs: 15 });
  for (let k = 0; k < 10; k++) {
    const t0 = performance.now();
    c.socket.send(Buffer.from(`ping ${k}`), p.port, '127.0.0.1');
    const echo = await waitFor(() => c.received[k], `echo ${k}`);
    // a lower bound only: a busy machine can add delay, never remove it
    assert.ok(performance.now() - t0 >= 2 * 15 - 1, `round trip ${performance.now() - t0} ms < 2 × 15 ms`);
    assert.is(echo.toString(), `ping ${k}`);
  }
  assert.equal(p.stats.datagramsUp, 10);
  assert.equal(p.stats.datagramsDown, 10);
});

proxy('loss drops the fraction the link was given (seeded, so exact)', async () => {
  const N = 1000;
  const rate = 0.2;
  const { server, proxy: p, client: c } = await setup(false, { up: { lossRate: rate }, random: seededRandom(7) });
  // The proxy draws once per datagram, in arrival order: replay the draws to know the exact outcome.
  const replay = seededRandom(7);
  let expectedLost = 0;
  for (let k = 0; k < N; k++) if (replay() < rate) expectedLost++;
  // batches small enough for loopback socket buffers, each fully accounted for before the next
  for (let sent = 0; sent < N; ) {
    for (const end = sent + 50; sent < end; sent++) c.socket.send(Buffer.alloc(100, sent & 0xff), p.port, '127.0.0.1');
    await waitFor(() => p.stats.datagramsUp + p.stats.droppedUp === sent && server.received.length === p.stats.datagramsUp, `batch up to ${sent}`);
  }
  assert.is(server.received.length, N - expectedLost);
  assert.is(p.stats.droppedUp, expectedLost);
  // and the seeded outcome is the rate asked for, within 4 binomial standard deviations
  const sigma = Math.sqrt(N * rate * (1 - rate));
  assert.ok(Math.abs(expectedLost - N * rate) < 4 * sigma, `${expectedLost} lost of ${N}`);
});

proxy('a bandwidth cap spaces datagrams by their serialisation time', async () => {
  const { server, proxy: p, client: c } = await setup(false, { bandwidthBytesPerS: 100_000 });
  const n = 30;
  const t0 = performance.now();
  for (let k = 0; k < n; k++) c.socket.send(Buffer.alloc(1000, k), p.port, '127.0.0.1');
  await waitFor(() => server.received.length === n || undefined, `${n} datagrams`, 10_000);
  // 1000 B at 100 kB/s = 10 ms each, so the last cannot arrive before n × 10 ms after the first
  // was sent (a lower bound only: event-loop lag can delay arrivals, never advance them)
  const last = server.received[n - 1]!.at - t0;
  assert.ok(last >= n * 10 - 1, `last datagram after ${last} ms`);
  assert.equal(server.received.map((r) => r.data[0]), [...Array(n).keys()], 'no jitter: in order');
  assert.is(p.stats.droppedUp, 0);
});

proxy('each client gets its own upstream source, and answers go back to the right client', async () => {
  const { server, proxy: p, client: a } = await setup(true, {});
  const b = await client();
  stop.push(b.close);
  a.socket.send(Buffer.from('a'), p.port, '127.0.0.1');
  b.socket.send(Buffer.from('b'), p.port, '127.0.0.1');
  await waitFor(() => a.received.length === 1 && b.received.length === 1, 'both echoes');
  assert.is(a.received[0]!.toString(), 'a');
  assert.is(b.received[0]!.toString(), 'b');
  assert.is(new Set(server.received.map((r) => r.from)).size, 2);
  assert.is(p.stats.open, 2);
});

proxy('cutLink drops everything both ways until restore', async () => {
  const { server, proxy: p, client: c } = await setup(true, {});
  p.cutLink();
  c.socket.send(Buffer.from('lost'), p.port, '127.0.0.1');
  await waitFor(() => p.stats.droppedUp === 1, 'the drop');
  assert.is(server.received.length, 0);
  p.restore();
  c.socket.send(Buffer.from('back'), p.port, '127.0.0.1');
  await waitFor(() => c.received.length === 1, 'echo after restore');
  assert.is(c.received[0]!.toString(), 'back');
});

proxy('bad options are TypeErrors naming the field; a bad update changes nothing', async () => {
  const { proxy: p } = await setup(false, { delayMs: 5 });
  for (const bad of [{ lossRate: 2 }, { up: { delayMs: -1 } }, { down: { jitterMs: Number.NaN } }]) {
    assert.throws(() => p.update({ delayMs: 50, ...bad }), (err: Error) => err instanceof TypeError);
  }
  assert.is(p.params.up.delayMs, 5);
  p.update({ delayMs: 7, down: { bandwidthBytesPerS: 1000 } });
  assert.equal([p.params.up.delayMs, p.params.down.delayMs, p.params.up.bandwidthBytesPerS, p.params.down.bandwidthBytesPerS], [7, 7, 0, 1000]);
  try {
    await startUdpNetemProxy({ target: { host: '10.0.0.1', port: 9 } });
    assert.unreachable('a non-loopback target must be refused');
  } catch (err) {
    assert.instance(err, TypeError);
  }
});

proxy.run();

const cli = suite('netem udp: cli');

cli('--help documents --udp; UDP-only flags without --udp point at --help', async () => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk) => (text += chunk));
  await runNetemCommand(['--help'], out);
  assert.match(text, '--udp');
  assert.match(text, '--queue BYTES');
  for (const argv of [['--target', '127.0.0.1:9', '--queue', '10k'], ['--udp', '--target', '127.0.0.1:9', '--loss-stall', '5']]) {
    await withTimeout(
      runNetemCommand(argv, out).then(
        () => assert.unreachable(`${argv.join(' ')} should have thrown`),
        (err: Error) => assert.instance(err, TypeError),
      ),
      argv.join(' '),
    );
  }
});

cli('edge-offload netem --udp runs as a process: forwards datagrams both ways and reports them on SIGINT', async () => {
  const echo = await udpServer(true);
  const bin = fileURLToPath(new URL('../bin/edge-offload.js', import.meta.url));
  const child = spawn(process.execPath, [bin, 'netem', '--udp', '--target', `127.0.0.1:${echo.port}`, '--delay', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.stderr.on('data', (chunk) => (out += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const c = await client();
  try {
    const port = Number((await waitFor(() => /listening on 127\.0\.0\.1:(\d+)/.exec(out) ?? undefined, 'the listening line', 10_000))[1]);
    c.socket.send(Buffer.from('through'), port, '127.0.0.1');
    await waitFor(() => c.received.length === 1, 'the echo through the CLI proxy');
    assert.is(c.received[0]!.toString(), 'through');
    child.kill('SIGINT');
    assert.is(await withTimeout(exited, 'the CLI to exit', 10_000), 0);
    assert.match(out, '1 datagrams up (0 dropped), 1 down (0 dropped)');
  } finally {
    child.kill();
    await c.close();
    await echo.close();
  }
});

cli.run();
