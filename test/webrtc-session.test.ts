/**
 * The client SDK's WebRTC data path end to end: a real edge (EdgeServer with a mediasoup worker
 * pool), a real node-datachannel peer inside the SDK, the app calling only `Session`.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, type Session } from '../client-sdk/node.js';
import { EdgeServer, type EdgeServerOptions } from '../edge-server/index.js';
import { WorkerPool } from '../edge-server/webrtc/index.js';
import type { WebRtcOptions } from '../edge-server/webrtc/options.js';
import { CloseCode, ErrorCode, encode, type PoseSample } from '../protocol/index.js';
import { waitFor } from './support/wait.js';
import { countingPeers } from '../bench/lib/countingPeers.js';
import { processAlive } from '../bench/lib/processAlive.js';


function pose(i: number): PoseSample {
  return { device: 'head', time: 1_000_000 + i * 11_111, position: [0, 1.6, i * 0.001], orientation: [0, 0, 0, 1] };
}

interface Ctx {
  edge?: EdgeServer;
  session?: Session;
  pids: number[];
}
const test = suite<Ctx>('webrtc: Session over data channels with a real edge and peer', { pids: [] });

async function start(ctx: Ctx, webrtc: WebRtcOptions | undefined, options: Parameters<typeof connect>[1], edge: EdgeServerOptions = {}): Promise<Session> {
  const pool = webrtc ? await WorkerPool.create({ workers: 1, ...webrtc }) : undefined;
  ctx.pids = pool?.workers.map((w) => w.pid) ?? [];
  ctx.edge = new EdgeServer(pool ? { ...edge, webrtc: pool } : edge);
  const { url } = await ctx.edge.listen();
  ctx.session = await connect(url, { pingIntervalMs: 0, ...options });
  return ctx.session;
}


test.after.each(async (ctx) => {
  ctx.session?.close();
  await ctx.edge?.close({ deadlineMs: 0 });
  const pids = ctx.pids;
  ctx.session = ctx.edge = undefined;
  await waitFor(() => pids.every((pid) => !processAlive(pid)), 'the workers to exit', 10_000);
});

/** One headset frame at 90 Hz: loops of calls are paced like a tracker, not a flood (the edge rate-limits). */
const frame = () => new Promise((resolve) => setTimeout(resolve, 11));

/** Predicts through the Session; every call must be answered by the edge. */
async function predictMany(session: Session, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) {
    session.sendPose(pose(i));
    const prediction = await session.predict(20);
    assert.is(prediction.tier, 'edge');
    assert.equal(prediction.pose.device, 'head');
  }
}

test('predict round trip through Session over the unreliable data channel', async (ctx) => {
  const { peers, received } = countingPeers();
  const session = await start(ctx, {}, { transport: 'webrtc', rtcPeers: peers });
  if (session.transport !== 'webrtc') await session.waitFor('transport', 10_000);
  assert.is(session.transport, 'webrtc');
  const before = received();
  await predictMany(session, 1, 20);
  assert.ok(received() - before >= 20, `answers over the data channel: ${received() - before} of 20`);
});

test('what belongs on the socket is refused on the data channel with a code, and the session carries on', async (ctx) => {
  const { peers, sendRaw } = countingPeers();
  const session = await start(ctx, {}, { transport: 'webrtc', rtcPeers: peers });
  if (session.transport !== 'webrtc') await session.waitFor('transport', 10_000);
  const refused = session.waitFor('error', 5000);
  assert.ok(sendRaw(encode({ t: 'scene', id: 1, name: 'x', format: 'glb', data: new Uint8Array(4) })));
  const [error] = await refused;
  assert.is((error as { code?: string }).code, ErrorCode.BAD_REQUEST);
  await predictMany(session, 1, 3);
  assert.is(session.transport, 'webrtc');
});

test('a data-channel flood is handled a few frames per turn: a ws bystander is answered in the middle of it, and every flooded predict is answered', async (ctx) => {
  const { peers, received, sendRaw } = countingPeers();
  const session = await start(ctx, {}, { transport: 'webrtc', rtcPeers: peers });
  if (session.transport !== 'webrtc') await session.waitFor('transport', 10_000);
  await predictMany(session, 1, 1); // the edge knows this session's pose
  const bystander = await connect(ctx.edge!.url, { pingIntervalMs: 0, transport: 'ws' });
  try {
    bystander.sendPose(pose(1));
    await bystander.predict(20);
    // within the session's budgets: fewer than rateBurst messages, far less than maxQueuedBytes
    const flood = 400;
    const before = received();
    for (let k = 0; k < flood; k++) assert.ok(sendRaw(encode({ t: 'predict', id: 1_000_000 + k, horizonMs: 20 })), 'the poses channel took the frame');
    // the node is handling the flood: the bystander asks now
    await waitFor(() => received() > before, 'the first answer to the flood', 10_000);
    const answer = await bystander.predict(20);
    const floodAnsweredFirst = received() - before;
    assert.is(answer.tier, 'edge');
    // ungated, the node handled each burst the media worker handed over whole, before reading the
    // bystander's socket; gated, a couple of frames per turn, the bystander's in between
    assert.ok(floodAnsweredFirst < flood / 2, `${floodAnsweredFirst} of ${flood} flood answers came before the bystander's`);
    await waitFor(() => received() - before >= flood, `every flooded predict answered (${received() - before} of ${flood})`, 20_000);
  } finally {
    bystander.close();
  }
});

test('a data-channel flood past the gate\'s queue bound closes its session RATE_LIMITED; the node serves on', async (ctx) => {
  const pool = await WorkerPool.create({ workers: 1 });
  ctx.pids = pool.workers.map((w) => w.pid);
  // a queue bound of a few frames: the flood below cannot fit, whatever the machine's speed
  ctx.edge = new EdgeServer({ webrtc: pool, guards: { frames: { maxQueuedBytes: 256 } } });
  const closes: number[] = [];
  ctx.edge.on('session', (s) => s.once('close', (code) => closes.push(code)));
  const { url } = await ctx.edge.listen();
  const { peers, sendRaw } = countingPeers();
  const session = (ctx.session = await connect(url, { pingIntervalMs: 0, transport: 'webrtc', rtcPeers: peers }));
  if (session.transport !== 'webrtc') await session.waitFor('transport', 10_000);
  for (let k = 0; k < 200; k++) sendRaw(encode({ t: 'predict', id: 1_000_000 + k, horizonMs: 20 }));
  await waitFor(() => closes.length > 0, 'the flooding session closed', 10_000);
  assert.equal(closes, [CloseCode.RATE_LIMITED]);
  const other = await connect(url, { pingIntervalMs: 0, transport: 'ws' });
  try {
    await predictMany(other, 1, 3);
  } finally {
    other.close();
  }
});

test('worker killed mid-session: every call is still answered, and a new transport comes up', async (ctx) => {
  const { peers, received } = countingPeers();
  // a lost predict is re-sent on ws after 20 ms whatever the RTT: the test does not wait on the deadline
  const session = await start(ctx, { respawnDelayMs: 10 }, { transport: 'webrtc', rtcPeers: peers, rtcResendAfterMs: 20, requestTimeoutMs: 5000 });
  if (session.transport !== 'webrtc') await session.waitFor('transport', 10_000);
  await predictMany(session, 1, 5);
  const back = new Promise<void>((resolve) => {
    let left = false;
    session.on('transport', (kind) => {
      if (kind === 'ws') left = true;
      else if (left) resolve();
    });
  });
  process.kill(ctx.pids[0]!, 'SIGKILL');
  // calls keep flowing while the edge reports rtcLost, starts a worker and the SDK reconnects
  let i = 100;
  let done = false;
  void back.then(() => (done = true));
  const deadline = performance.now() + 20_000;
  while (!done) {
    assert.ok(performance.now() < deadline, 'no new WebRTC transport within 20 s of the worker death');
    await predictMany(session, i++, 1);
    await frame();
  }
  assert.is(session.transport, 'webrtc');
  const before = received();
  await predictMany(session, 1000, 10);
  assert.ok(received() - before >= 10, 'answers over the new data channel');
});

test('ICE failure: the session stays on ws and no app call fails', async (ctx) => {
  const { peers, received } = countingPeers();
  // the edge announces an address nobody can reach (TEST-NET-1): signalling works, ICE never does
  const session = await start(ctx, { listenIps: [{ ip: '127.0.0.1', announcedIp: '192.0.2.1' }], enableTcp: false }, { transport: 'webrtc', rtcPeers: peers, rtcConnectTimeoutMs: 1500 });
  let gaveUp: string | undefined;
  session.on('transport', (kind, why) => kind === 'ws' && (gaveUp = why));
  let i = 0;
  while (!gaveUp) {
    await predictMany(session, i++, 1);
    await frame();
  }
  assert.ok(i > 0, 'calls ran during the failed upgrade');
  assert.is(session.transport, 'ws');
  await predictMany(session, i, 10);
  assert.is(received(), 0);
});

test('a node without WebRTC, or transport ws, or auto in Node without a peer library: ws, no upgrade', async (ctx) => {
  const session = await start(ctx, undefined, { transport: 'webrtc', rtcPeers: countingPeers().peers });
  await predictMany(session, 1, 3);
  assert.is(session.transport, 'ws');
  session.close();
  await ctx.edge!.close({ deadlineMs: 0 });
  for (const transport of ['ws', 'auto'] as const) {
    const s = await start(ctx, {}, { transport });
    await predictMany(s, 1, 3);
    assert.is(s.transport, 'ws');
    assert.equal(ctx.edge!.health().webrtc, { workers: [{ pid: ctx.pids[0]!, transports: 0 }] }, `${transport}: no transport opened`);
    s.close();
    await ctx.edge!.close({ deadlineMs: 0 });
    await waitFor(() => ctx.pids.every((pid) => !processAlive(pid)), 'the workers to exit', 10_000);
  }
});

test.run();
