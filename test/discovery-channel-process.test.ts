/**
 * The node channels in a channel process of their own (`nodeChannelProcess: 'process'`): the
 * replica hands each `/v1/node` socket to a real forked child, which registers, pongs and
 * refreshes through IPC calls the replica answers with the real registry and admission. The
 * registry's clock is the test's (it lives in the replica), so nothing expires while a slow
 * machine sets up; the child runs on the real clock, and every wait is for an event.
 */
import type { Duplex } from 'node:stream';
import { serialize } from 'node:v8';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { DiscoveryServer } from '../discovery/DiscoveryServer.js';
import { ChannelProcess } from '../discovery/channels/ChannelProcess.js';
import type { ChannelProcessError } from '../discovery/channels/ipc.js';
import { NodeAgent } from '../discovery/NodeAgent.js';
import { signRegistration } from '../discovery/identity.js';
import { MemoryRegistry } from '../discovery/registry/MemoryRegistry.js';
import { DiscoveryRoute, NodeChannelClose } from '../protocol/discovery.js';
import { eventually, makeNode, makeOperator, trustOf, type TestOperator } from './support/discoveryFixtures.js';

const INTERVAL_MS = 100; // of the registry's (test) clock: ttl 300
const TTL_MS = 3 * INTERVAL_MS;

interface Ctx {
  server: DiscoveryServer;
  host: ChannelProcess;
  url: string;
  acme: TestOperator;
  clock: { t: number };
  sockets: WebSocket[];
}

const test = suite<Ctx>('discovery node channels in a channel process', {} as Ctx);
test.before.each(async (ctx) => {
  ctx.acme = makeOperator('acme');
  ctx.clock = { t: Date.now() };
  ctx.sockets = [];
  ctx.server = new DiscoveryServer({
    registry: new MemoryRegistry({ heartbeatIntervalMs: INTERVAL_MS, now: () => ctx.clock.t, sweepIntervalMs: 3600_000 }),
    operators: trustOf(ctx.acme),
    nodeChannelProcess: 'process',
    // rounds by hand; the child's own ttl check (real clock) must not cut anyone off mid-test
    nodeChannel: { tickIntervalMs: 3600_000, minStatusIntervalMs: 0, registerTimeoutMs: 60_000 },
    channelProcess: { restartDelayMs: 50, maxEntries: 4 },
  });
  ctx.url = (await ctx.server.listen()).url;
  assert.ok(ctx.server.nodeChannels instanceof ChannelProcess, 'the channels run in a process');
  ctx.host = ctx.server.nodeChannels as ChannelProcess;
});
test.after.each(async (ctx) => {
  for (const ws of ctx.sockets) ws.terminate();
  await ctx.server.close();
  assert.is(ctx.host.child, undefined, 'the channel process is gone with the server');
});

/** A raw /v1/node connection: its messages, in order, and its close code. */
async function open(ctx: Ctx) {
  const ws = new WebSocket(ctx.url.replace('http', 'ws') + DiscoveryRoute.node);
  ctx.sockets.push(ws);
  const messages: any[] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (data) => {
    messages.push(JSON.parse(data.toString()));
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  const next = async (t: string) => {
    await eventually(() => messages.some((m) => m.t === t), `a '${t}' message (got ${JSON.stringify(messages)})`, 5000);
    return messages.splice(messages.findIndex((m) => m.t === t), 1)[0];
  };
  const challenge = (await next('challenge')).nonce as string;
  return { ws, challenge, closed, next, send: (m: unknown) => ws.send(JSON.stringify(m)) };
}

const listed = async (ctx: Ctx) => (await ctx.server.service.query({ lat: 52.52, lon: 13.4 }, undefined)).edge.map((n: { id: string }) => n.id);

test('a node registers through the process, its pongs keep it alive, and a closed socket lets it expire', async (ctx) => {
  const node = makeNode(ctx.acme, 'proc-1');
  const ch = await open(ctx);
  ch.send({ t: 'register', registration: signRegistration(node.descriptor, node.key.privateKeyPem, node.authorization, Date.now(), ch.challenge) });
  assert.is((await ch.next('registered')).id, 'proc-1');
  assert.is(await ctx.host.count(), 1);
  assert.equal(await listed(ctx), ['proc-1']);
  const registered = (await ctx.server.registry.get('proc-1'))!.lastSeen;
  // a pong reaches the child, the child's round refreshes the replica's registry with its time
  await eventually(async () => {
    ch.ws.pong();
    return ((await ctx.host.lastHeard('proc-1')) ?? 0) > registered;
  }, 'the pong is heard in the channel process');
  const heard = (await ctx.host.lastHeard('proc-1'))!;
  await ctx.host.tick();
  assert.is((await ctx.server.registry.get('proc-1'))?.lastSeen, heard, 'the pong time reached the registry');
  // alive past the registration's ttl, by the pong
  ctx.clock.t = registered + TTL_MS + 1;
  assert.equal(await listed(ctx), ['proc-1']);
  ch.ws.close();
  await ch.closed;
  await eventually(async () => (await ctx.host.count()) === 0, 'the channel process saw the close');
  assert.is(await ctx.host.lastHeard('proc-1'), undefined);
  await ctx.host.tick(); // nothing refreshes it any more
  ctx.clock.t = heard + TTL_MS + 1;
  assert.equal(await listed(ctx), [], 'a ttl after its last pong it is gone');
});

test('a bad registration gets its code through the process, and the connection is refused', async (ctx) => {
  const node = makeNode(ctx.acme, 'proc-bad');
  const wrongChallenge = await open(ctx);
  wrongChallenge.send({ t: 'register', registration: signRegistration(node.descriptor, node.key.privateKeyPem, node.authorization, Date.now(), 'not-the-challenge') });
  assert.is((await wrongChallenge.next('error')).code, 'BAD_CHALLENGE');
  assert.is(await wrongChallenge.closed, NodeChannelClose.REFUSED);
  const stranger = makeNode(makeOperator('stranger'), 'proc-stranger');
  const untrusted = await open(ctx);
  untrusted.send({ t: 'register', registration: signRegistration(stranger.descriptor, stranger.key.privateKeyPem, stranger.authorization, Date.now(), untrusted.challenge) });
  assert.is((await untrusted.next('error')).code, 'UNAUTHORISED_OPERATOR');
  assert.is(await untrusted.closed, NodeChannelClose.REFUSED);
  const garbage = await open(ctx);
  garbage.send({ t: 'register', registration: { descriptor: 'no' } });
  assert.is((await garbage.next('error')).code, 'MALFORMED');
  assert.is(await ctx.host.count(), 0);
});

test('a killed channel process: queries keep answering, a new one starts, and the node registers again', async (ctx) => {
  const node = makeNode(ctx.acme, 'proc-agent');
  const agent = new NodeAgent({ discoveryUrl: ctx.url, descriptor: node.descriptor, privateKeyPem: node.key.privateKeyPem, authorization: node.authorization, heartbeatIntervalMs: 60_000, maxBackoffMs: 200 });
  agent.on('error', () => {}); // the reconnects below fail until the new process runs
  try {
    await agent.start();
    assert.is(await ctx.host.count(), 1);
    const exited = new Promise((r) => ctx.host.once('exit', r));
    const restarted = new Promise((r) => ctx.host.once('restarted', r));
    const again = new Promise((r) => agent.once('registered', r));
    ctx.host.child!.kill('SIGKILL');
    await exited;
    assert.equal(await listed(ctx), ['proc-agent'], 'queries answer while no channel process runs');
    await restarted;
    await again;
    assert.is(await ctx.host.count(), 1, 'the node registered with the new channel process');
    assert.equal(await listed(ctx), ['proc-agent']);
  } finally {
    agent.close();
  }
});

test('malformed and oversized messages of the channel process are refused with a code, and the replica goes on', async (ctx) => {
  const child = ctx.host.child!;
  const refused: string[] = [];
  ctx.host.on('rejected', (e: ChannelProcessError) => refused.push(e.code));
  // what a confused child could send, framed on its call pipe: the replica's real reader and
  // handler get each (no stand-in process); the last one arrives split across two reads
  const pipe = child.stdio[4] as Duplex;
  const frame = (m: unknown) => {
    const body = serialize(m);
    const header = Buffer.alloc(4);
    header.writeUInt32LE(body.length, 0);
    return Buffer.concat([header, body]);
  };
  pipe.emit('data', frame('not an object'));
  pipe.emit('data', Buffer.concat([frame({ t: 'reply', id: -1, ok: true }), frame({ t: 'call', id: 7, op: 'refresh', args: { seen: 'nope' } })]));
  pipe.emit('data', frame({ t: 'call', id: 8, op: 'refresh', args: { seen: new Map([['a', 1], ['b', 2], ['c', 3], ['d', 4], ['e', 5]]) } })); // over maxEntries 4
  pipe.emit('data', frame({ t: 'call', id: 9, op: 'touchMany', args: { updates: new Map([['a', { load: 'high' }]]) } }));
  const last = frame({ t: 'size', size: 'many' });
  pipe.emit('data', last.subarray(0, 3));
  pipe.emit('data', last.subarray(3));
  await eventually(() => refused.length === 6, `every bad message refused (got ${JSON.stringify(refused)})`);
  assert.equal(new Set(refused), new Set(['CHANNEL_BAD_MESSAGE']));
  assert.is(ctx.host.rejected, 6);
  // and the same process still routes a node
  const node = makeNode(ctx.acme, 'proc-after');
  const ch = await open(ctx);
  ch.send({ t: 'register', registration: signRegistration(node.descriptor, node.key.privateKeyPem, node.authorization, Date.now(), ch.challenge) });
  assert.is((await ch.next('registered')).id, 'proc-after');
  assert.is(ctx.host.child, child, 'the channel process was not restarted');
});

test('liveness batches cross by slot handle, and bad slot arrays from the channel process are refused with a code', async (ctx) => {
  const node = makeNode(ctx.acme, 'proc-slot');
  const ch = await open(ctx);
  ch.send({ t: 'register', registration: signRegistration(node.descriptor, node.key.privateKeyPem, node.authorization, Date.now(), ch.challenge) });
  assert.is((await ch.next('registered')).id, 'proc-slot');
  assert.ok((ctx.server.registry as MemoryRegistry).slotOf('proc-slot'), 'the memory registry gave the node a slot');
  const registered = (await ctx.server.registry.get('proc-slot'))!.lastSeen;
  await eventually(async () => {
    ch.ws.pong();
    return ((await ctx.host.lastHeard('proc-slot')) ?? 0) > registered;
  }, 'the pong is heard in the channel process');
  const heard = (await ctx.host.lastHeard('proc-slot'))!;
  await ctx.host.tick();
  assert.ok((await ctx.server.registry.get('proc-slot'))!.lastSeen >= heard, 'the batch by handle refreshed it');
  const refused: string[] = [];
  ctx.host.on('rejected', (e: ChannelProcessError) => refused.push(e.code));
  const pipe = ctx.host.child!.stdio[4] as Duplex;
  const frame = (id: number, args: Record<string, unknown>) => {
    const body = serialize({ t: 'call', id, op: 'refreshSlots', args });
    const header = Buffer.alloc(4);
    header.writeUInt32LE(body.length, 0);
    return Buffer.concat([header, body]);
  };
  const ok = { slots: Uint32Array.of(0), gens: Uint32Array.of(0), seen: Float64Array.of(Date.now()) };
  pipe.emit('data', frame(101, { ...ok, slots: [0] })); // not a typed array
  pipe.emit('data', frame(102, { ...ok, gens: Uint32Array.of(0, 1) })); // lengths differ
  pipe.emit('data', frame(103, { ...ok, seen: Float64Array.of(NaN) }));
  pipe.emit('data', frame(104, { slots: new Uint32Array(5), gens: new Uint32Array(5), seen: new Float64Array(5) })); // over maxEntries 4
  pipe.emit('data', frame(105, { ...ok, seen: Uint32Array.of(1) })); // the wrong kind of array
  await eventually(() => refused.length === 5, `every bad batch refused (got ${JSON.stringify(refused)})`);
  assert.equal(new Set(refused), new Set(['CHANNEL_BAD_MESSAGE']));
  // and the node is still listed, its channel open
  assert.equal(await listed(ctx), ['proc-slot']);
  assert.is(ch.ws.readyState, WebSocket.OPEN);
});

test('a reply that never comes fails its call CHANNEL_TIMEOUT; a stopped process fails calls CHANNEL_GONE', async (ctx) => {
  // SIGSTOP: the child is alive but answers nothing
  const server = new DiscoveryServer({ operators: trustOf(ctx.acme), nodeChannelProcess: 'process', channelProcess: { callTimeoutMs: 200, closeTimeoutMs: 200 } });
  await server.listen();
  const host = server.nodeChannels as ChannelProcess;
  try {
    host.child!.kill('SIGSTOP');
    const timedOut = await host.count().then(() => 'answered', (e: ChannelProcessError) => e.code);
    assert.is(timedOut, 'CHANNEL_TIMEOUT');
    host.child!.kill('SIGCONT');
  } finally {
    await server.close();
  }
  assert.is(await host.count().then(() => 'answered', (e: ChannelProcessError) => e.code), 'CHANNEL_GONE');
});

test('upgrades while no channel process is ready are answered 503', async (ctx) => {
  // no restart within the test: the window without a channel process stays open until close
  const server = new DiscoveryServer({ operators: trustOf(ctx.acme), nodeChannelProcess: 'process', channelProcess: { restartDelayMs: 3600_000 } });
  const { url } = await server.listen();
  const host = server.nodeChannels as ChannelProcess;
  try {
    const exited = new Promise((r) => host.once('exit', r));
    host.child!.kill('SIGKILL');
    await exited;
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(url.replace('http', 'ws') + DiscoveryRoute.node);
      ws.on('unexpected-response', (_req, res) => (resolve(res.statusCode ?? 0), ws.terminate()));
      ws.on('open', () => reject(new Error('opened while no channel process ran')));
      ws.on('error', () => {});
    });
    assert.is(status, 503);
    assert.equal((await server.service.query({ lat: 0, lon: 0 }, undefined)).edge, [], 'queries still answer');
  } finally {
    await server.close();
  }
});

test.run();
