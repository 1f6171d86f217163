import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { startNetemProxy, type NetemProxy } from '../netem/NetemProxy.js';
import { DelayLine, DEFAULT_LINK } from '../netem/DelayLine.js';
import { withTimeout } from './support/wait.js';

/** Waits for `event` on `emitter`, failing loudly after `ms`. */
function once<T = unknown>(emitter: NodeJS.EventEmitter, event: string, ms = 3000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for '${event}'`)), ms);
    emitter.once(event, (value: T) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

async function echoServer(): Promise<{ port: number; close(): Promise<void>; sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
  await once(socket, 'connect');
  return socket;
}

/** Sends one byte, waits for its echo; returns the round trip in ms. */
async function roundTrip(socket: net.Socket): Promise<number> {
  const t0 = performance.now();
  socket.write(Buffer.from([1]));
  await once(socket, 'data');
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const timing = suite('netem: DelayLine timing rules');

timing('jittered chunks never overtake each other', () => {
  let clock = 0;
  const out: number[] = [];
  const draws = [0.9, 0.0, 0.5, 0.1];
  let i = 0;
  const line = new DelayLine({
    params: () => ({ ...DEFAULT_LINK, delayMs: 10, jitterMs: 20 }),
    deliver: (c) => out.push(c[0]!),
    now: () => clock,
    random: () => draws[i++ % draws.length]!,
  });
  const releases = [1, 2, 3, 4].map((n) => line.push(Buffer.from([n])));
  // first chunk drew 18 ms of jitter; the second drew 0 but must still wait behind it
  assert.equal(releases[0], 28);
  assert.equal(releases[1], 28);
  for (let k = 1; k < releases.length; k++) assert.ok(releases[k]! >= releases[k - 1]!);
  line.close();
});

timing('bandwidth serialises chunks back to back', () => {
  const clock = 0;
  const line = new DelayLine({
    params: () => ({ ...DEFAULT_LINK, bandwidthBytesPerS: 1000 }),
    deliver: () => {},
    now: () => clock,
  });
  assert.equal(line.push(Buffer.alloc(100)), 100); // 100 B at 1 kB/s = 100 ms
  assert.equal(line.push(Buffer.alloc(100)), 200);
  line.close();
});

timing('a lost chunk stalls for one retransmission timeout', () => {
  const line = new DelayLine({
    params: () => ({ ...DEFAULT_LINK, delayMs: 5, lossRate: 1, lossStallMs: 200 }),
    deliver: () => {},
    now: () => 0,
    random: () => 0.5,
  });
  assert.equal(line.push(Buffer.alloc(1)), 205);
  line.close();
});

timing('bad parameters are TypeErrors naming the field', async () => {
  try {
    await startNetemProxy({ target: { host: '127.0.0.1', port: 1 }, lossRate: 2 });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, TypeError);
    assert.match((err as Error).message, 'lossRate');
  }
  try {
    await startNetemProxy({ target: { host: '10.0.0.1', port: 80 } });
    assert.unreachable();
  } catch (err) {
    assert.match((err as Error).message, 'loopback');
  }
});

timing.run();

const proxy = suite<{ echo: Awaited<ReturnType<typeof echoServer>>; proxy?: NetemProxy; sockets: net.Socket[] }>('netem: proxy on loopback', {
  echo: undefined as never,
  sockets: [],
});

proxy.before.each(async (ctx) => {
  ctx.echo = await echoServer();
  ctx.sockets = [];
});

proxy.after.each(async (ctx) => {
  for (const s of ctx.sockets) s.destroy();
  await ctx.proxy?.close();
  ctx.proxy = undefined;
  await ctx.echo.close();
});

proxy('measured RTT matches 2 × delayMs within tolerance', async (ctx) => {
  const direct = await connect(ctx.echo.port);
  ctx.sockets.push(direct);
  const base: number[] = [];
  for (let i = 0; i < 5; i++) base.push(await roundTrip(direct));
  ctx.proxy = await startNetemProxy({ target: { host: '127.0.0.1', port: ctx.echo.port }, delayMs: 15 });
  const socket = await connect(ctx.proxy.port);
  ctx.sockets.push(socket);
  const rtts: number[] = [];
  for (let i = 0; i < 10; i++) rtts.push(await roundTrip(socket));
  const rtt = median(rtts);
  // 30 ms configured; loopback itself adds well under a millisecond, a busy 2-core box a few
  assert.ok(rtt >= 29.5, `median RTT ${rtt.toFixed(2)} ms is below the configured 30 ms`);
  assert.ok(rtt < 30 + 12 + median(base), `median RTT ${rtt.toFixed(2)} ms is far above the configured 30 ms`);

  ctx.proxy.update({ delayMs: 40 });
  const slower: number[] = [];
  for (let i = 0; i < 5; i++) slower.push(await roundTrip(socket));
  assert.ok(median(slower) >= 79.5, `after update() median RTT ${median(slower).toFixed(2)} ms < 80 ms`);
});

proxy('jitter delays but never reorders a byte stream', async (ctx) => {
  ctx.proxy = await startNetemProxy({ target: { host: '127.0.0.1', port: ctx.echo.port }, delayMs: 2, jitterMs: 15 });
  const socket = await connect(ctx.proxy.port);
  ctx.sockets.push(socket);
  const total = 2000;
  const received: number[] = [];
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${received.length}/${total} bytes echoed in 5 s`)), 5000);
    socket.on('data', (chunk: Buffer) => {
      for (const b of chunk) received.push(b);
      if (received.length >= total) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  // many small writes with gaps, so they travel as separate chunks with separate jitter draws
  for (let i = 0; i < total; i += 20) {
    socket.write(Buffer.from(Array.from({ length: 20 }, (_, k) => (i + k) % 256)));
    if (i % 200 === 0) await new Promise((r) => setImmediate(r));
  }
  await done;
  for (let i = 0; i < total; i++) assert.is(received[i], i % 256, `byte ${i} out of order`);
});

proxy('bandwidth cap stretches a bulk transfer', async (ctx) => {
  ctx.proxy = await startNetemProxy({ target: { host: '127.0.0.1', port: ctx.echo.port }, bandwidthBytesPerS: 1_000_000 });
  const socket = await connect(ctx.proxy.port);
  ctx.sockets.push(socket);
  const size = 150_000;
  let got = 0;
  const t0 = performance.now();
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${got}/${size} bytes in 5 s`)), 5000);
    socket.on('data', (c: Buffer) => {
      got += c.byteLength;
      if (got >= size) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  socket.write(Buffer.alloc(size, 7));
  await done;
  const elapsed = performance.now() - t0;
  // 150 kB each way at 1 MB/s: ≥ 150 ms (up and down pipeline, so not 300)
  assert.ok(elapsed >= 145, `150 kB at 1 MB/s took only ${elapsed.toFixed(1)} ms`);
});

proxy('cut(reset) kills open connections and refuses new ones until restore()', async (ctx) => {
  ctx.proxy = await startNetemProxy({ target: { host: '127.0.0.1', port: ctx.echo.port }, delayMs: 1 });
  const socket = await connect(ctx.proxy.port);
  ctx.sockets.push(socket);
  await roundTrip(socket);
  socket.on('error', () => {});
  const closed = once(socket, 'close');
  ctx.proxy.cut();
  await closed;

  const refused = net.connect({ host: '127.0.0.1', port: ctx.proxy.port });
  refused.on('error', () => {});
  ctx.sockets.push(refused);
  await once(refused, 'close');

  ctx.proxy.restore();
  const again = await connect(ctx.proxy.port);
  ctx.sockets.push(again);
  await withTimeout(roundTrip(again), 'a round trip through the restored link');
});

proxy('cut(blackhole) keeps sockets open but passes nothing', async (ctx) => {
  ctx.proxy = await startNetemProxy({ target: { host: '127.0.0.1', port: ctx.echo.port } });
  const socket = await connect(ctx.proxy.port);
  ctx.sockets.push(socket);
  await roundTrip(socket);
  ctx.proxy.cut('blackhole');
  let leaked = false;
  socket.on('data', () => (leaked = true));
  socket.write(Buffer.from([9]));
  // the absence of an event can only be checked by waiting; 100 ms is 100× the loopback RTT
  await new Promise((r) => setTimeout(r, 100));
  assert.not.ok(leaked, 'data passed a blackholed link');
  assert.not.ok(socket.destroyed);
  assert.is(ctx.proxy.stats.open, 1);
});

proxy('a WebSocket works through the proxy and sees the delay', async (ctx) => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(m)));
  try {
    ctx.proxy = await startNetemProxy({ target: { host: '127.0.0.1', port: (wss.address() as net.AddressInfo).port }, delayMs: 10 });
    const ws = new WebSocket(ctx.proxy.url);
    await once(ws, 'open');
    const t0 = performance.now();
    ws.send('hi');
    const reply = await once<Buffer>(ws, 'message');
    const rtt = performance.now() - t0;
    assert.is(reply.toString(), 'hi');
    assert.ok(rtt >= 19.5, `ws RTT ${rtt.toFixed(1)} ms below the 20 ms configured`);
    ws.terminate();
  } finally {
    for (const client of wss.clients) client.terminate();
    await new Promise((r) => wss.close(r));
  }
});

proxy.run();

const cli = suite('netem: cli');

cli('--help prints usage; a missing --target or an unknown flag throws an error that points at --help', async () => {
  const { runNetemCommand } = await import('../netem/cli.js');
  const { PassThrough } = await import('node:stream');
  const out = new PassThrough();
  let text = '';
  out.on('data', (c) => (text += c));
  await runNetemCommand(['--help'], out);
  assert.match(text, '--target HOST:PORT');
  for (const argv of [[], ['--bogus'], ['--target', '127.0.0.1:1', '--loss', 'lots']]) {
    try {
      await runNetemCommand(argv, out);
      assert.unreachable(`${argv.join(' ')} should have thrown`);
    } catch (err) {
      assert.match((err as Error).message, /--help|expects a number/);
    }
  }
});

cli.run();
