/**
 * The node channel (`/v1/node`) on real loopback sockets: one signed registration over the
 * connection's challenge, liveness from ws pongs folded into batched registry writes, load pushed
 * only when it moves, and every forged, replayed or cross-connection message refused with its
 * code. Liveness runs on the test's clock (registry and channel share it) and rounds are driven
 * by hand with tick(), so nothing expires while a slow machine is still setting up.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { DiscoveryServer } from '../discovery/DiscoveryServer.js';
import { MemoryRegistry } from '../discovery/registry/MemoryRegistry.js';
import { NodeAgent } from '../discovery/NodeAgent.js';
import { signRegistration } from '../discovery/identity.js';
import { RedisRegistry } from '../discovery/registry/RedisRegistry.js';
import type { Registry } from '../discovery/registry/Registry.js';
import { startRedis, type RedisProcess } from '../bench/lib/redisServer.js';
import { DiscoveryRoute } from '../protocol/discovery.js';
import { eventually, makeNode, makeOperator, trustOf, type TestNode, type TestOperator } from './support/discoveryFixtures.js';

const INTERVAL_MS = 100; // of the test clock; ttl = 300
const TTL_MS = 3 * INTERVAL_MS;

interface Ctx {
  server: DiscoveryServer;
  url: string;
  acme: TestOperator;
  clock: { t: number };
  sockets: WebSocket[];
}

/** A node channel driven by hand: every message it got, in order, and its close code. */
interface RawChannel {
  ws: WebSocket;
  messages: any[];
  challenge: string;
  closed: Promise<number>;
  send(message: unknown): void;
  /** Resolves with the next message that satisfies `match` (fails loudly after 3 s). */
  next(match: (m: any) => boolean): Promise<any>;
}

async function openRaw(ctx: Ctx, options: { autoPong?: boolean } = {}): Promise<RawChannel> {
  const ws = new WebSocket(ctx.url.replace('http', 'ws') + DiscoveryRoute.node, { autoPong: options.autoPong ?? true });
  ctx.sockets.push(ws);
  const messages: any[] = [];
  const log: any[] = [];
  const waiters: { match: (m: any) => boolean; resolve: (m: any) => void }[] = [];
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString());
    messages.push(m);
    log.push(m);
    for (const w of [...waiters]) if (w.match(m)) waiters.splice(waiters.indexOf(w), 1), w.resolve(m);
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  const next = (match: (m: any) => boolean) =>
    new Promise<any>((resolve, reject) => {
      const seen = messages.find(match);
      if (seen) return resolve(messages.splice(messages.indexOf(seen), 1)[0]);
      const timer = setTimeout(() => reject(new Error(`timed out waiting for a node-channel message; got ${JSON.stringify(messages)} after ${JSON.stringify(log)}`)), 3000);
      waiters.push({ match, resolve: (m) => (clearTimeout(timer), messages.splice(messages.indexOf(m), 1), resolve(m)) });
    });
  const challenge = (await next((m) => m.t === 'challenge')).nonce as string;
  return { ws, messages, challenge, closed, next, send: (m) => ws.send(typeof m === 'string' ? m : JSON.stringify(m)) };
}

async function registerRaw(ctx: Ctx, node: TestNode, options: { autoPong?: boolean } = {}): Promise<RawChannel> {
  const ch = await openRaw(ctx, options);
  ch.send({ t: 'register', registration: signRegistration(node.descriptor, node.key.privateKeyPem, node.authorization, Date.now(), ch.challenge) });
  assert.is((await ch.next((m) => m.t === 'registered' || m.t === 'error')).t, 'registered');
  return ch;
}

let redis: RedisProcess | undefined;
let prefixes = 0;
const BACKENDS: Record<string, (now: () => number) => Promise<Registry>> = {
  memory: async (now) => new MemoryRegistry({ heartbeatIntervalMs: INTERVAL_MS, now, sweepIntervalMs: 3600_000 }),
  redis: async (now) => {
    redis ??= await startRedis();
    return RedisRegistry.connect({ url: redis.url, heartbeatIntervalMs: INTERVAL_MS, now, sweepIntervalMs: 3600_000, prefix: `ch${prefixes++}:` });
  },
};

// The suite runs with the channels inline and in a channel process (nodeChannelProcess). The tests
// that drive the channels' own clock (pong times, the ttl cut-off, a stalled replica) run inline
// only: a clock function cannot cross into the channel process, which runs on the real clock
// (test/discovery-channel-process.test.ts covers liveness and expiry through the process).
for (const mode of ['inline', 'process'] as const)
for (const [backend, makeRegistry] of Object.entries(BACKENDS)) {
  const test = suite<Ctx>(`discovery node channel: ${backend}, ${mode}`, {} as Ctx);
  const clockTest = mode === 'inline' ? test : test.skip;
  test.before.each(async (ctx) => {
    ctx.acme = makeOperator('acme');
    ctx.clock = { t: Date.now() };
    ctx.sockets = [];
    const now = () => ctx.clock.t;
    ctx.server = new DiscoveryServer({
      registry: await makeRegistry(now),
      operators: trustOf(ctx.acme),
      nodeChannel: { now, tickIntervalMs: 3600_000, minStatusIntervalMs: 0, refreshBatch: 1 },
      nodeChannelProcess: mode,
    });
    ctx.url = (await ctx.server.listen()).url;
  });
  test.after.each(async (ctx) => {
    for (const ws of ctx.sockets) ws.terminate();
    await ctx.server.close();
  });

  clockTest("one signed registration, then the node's pongs keep it alive through batched refreshes; silent for the ttl, it is cut off and gone", async (ctx) => {
    const { server, clock } = ctx;
    const t0 = clock.t;
    const talker = await registerRaw(ctx, makeNode(ctx.acme, 'talker'));
    const silent = await registerRaw(ctx, makeNode(ctx.acme, 'mute', { lat: 52.6 }), { autoPong: false });
    assert.is(server.nodeChannels.size, 2);
    for (const step of [1, 2, 3, 4]) {
      clock.t = t0 + step * INTERVAL_MS;
      const pinged = server.nodeChannels.lastHeard('talker')!;
      await server.nodeChannels.tick(); // refreshes what was heard since the last round
      talker.ws.pong(); // a node's liveness: a bare pong frame each interval
      await eventually(() => server.nodeChannels.lastHeard('talker')! > pinged, 'the talker is heard');
    }
    await server.nodeChannels.tick();
    assert.is((await server.registry.get('talker'))?.lastSeen, t0 + 4 * INTERVAL_MS, 'the pong times reached the registry');
    assert.is(await server.registry.get('mute'), undefined, 'the mute node expired a ttl after its registration');
    assert.is(await silent.closed, 1006, 'and its connection was cut off');
    assert.equal((await server.registry.nearest({ lat: 52.52, lon: 13.4 }, 5, 'edge')).map((n) => n.node.id), ['talker']);
    assert.ok(clock.t - t0 <= TTL_MS + 2 * INTERVAL_MS);
  });

  clockTest("a liveness round's batches are written together, and a round due while it ran runs when it ends", async (ctx) => {
    const { server, clock } = ctx;
    const chans = [];
    for (const [i, id] of ['b0', 'b1', 'b2'].entries()) chans.push(await registerRaw(ctx, makeNode(ctx.acme, id, { lat: 50 + i })));
    const registry = server.registry;
    const refresh = registry.refresh.bind(registry);
    let calls = 0;
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    // a slow store: no refresh answers until the gate opens
    registry.refresh = async (seen) => {
      calls++;
      await gate;
      return refresh(seen);
    };
    const hear = async (ch: RawChannel, id: string) => {
      const before = server.nodeChannels.lastHeard(id)!;
      ch.ws.pong();
      await eventually(() => server.nodeChannels.lastHeard(id)! > before, `${id} is heard`);
    };
    clock.t += INTERVAL_MS;
    for (const [i, ch] of chans.entries()) await hear(ch, `b${i}`);
    const round = server.nodeChannels.tick();
    // refreshBatch 1: three batches, all sent before the first is answered
    await eventually(() => calls === 3, 'every batch of the round is in flight at once');
    void server.nodeChannels.tick(); // due meanwhile: it must not be lost
    clock.t += INTERVAL_MS;
    await hear(chans[0]!, 'b0');
    open();
    await round;
    // > 3, not === 4: the first round pinged every channel, and their pong replies are news too
    await eventually(() => calls > 3, 'the round that was due ran once the slow one ended, writing what it heard since');
    await eventually(async () => (await registry.get('b0'))?.lastSeen === clock.t, 'b0 refreshed to its latest pong');
  });

  clockTest('a replica that stalled past the ttl does not cut off its nodes; their next pongs bring them back', async (ctx) => {
    const { server, clock } = ctx;
    const ch = await registerRaw(ctx, makeNode(ctx.acme, 'patient'));
    clock.t += 10 * TTL_MS; // the replica's loop was stuck: no round ran, no pong was read
    await server.nodeChannels.tick();
    assert.is(server.nodeChannels.size, 1, 'one late round is not three missed ones');
    assert.is(await server.registry.get('patient'), undefined, 'meanwhile its registry entry expired');
    const heard = server.nodeChannels.lastHeard('patient')!;
    // a moment later: the pong must stamp a newer time than anything heard so far (the ws client
    // also answers the replica's own pings on its own, possibly before `heard` was read)
    clock.t += 1;
    ch.ws.pong();
    await eventually(() => server.nodeChannels.lastHeard('patient')! > heard, 'the pong is read');
    await server.nodeChannels.tick();
    assert.is((await server.registry.get('patient'))?.lastSeen, clock.t, 'refreshed back to life (it was not swept)');
  });

  clockTest('a node that disconnects leaves a ttl after its last pong', async (ctx) => {
    const { server, clock } = ctx;
    const t0 = clock.t;
    const ch = await registerRaw(ctx, makeNode(ctx.acme, 'leaver'));
    ch.ws.close();
    await ch.closed;
    await eventually(() => server.nodeChannels.size === 0, 'the server saw the close');
    clock.t = t0 + TTL_MS - 1;
    await server.nodeChannels.tick();
    assert.ok(await server.registry.get('leaver'), 'still listed within its ttl');
    clock.t = t0 + TTL_MS;
    assert.is(await server.registry.get('leaver'), undefined);
  });

  test('forged, replayed and cross-connection messages are refused with their codes; the connections live on', async (ctx) => {
    const a = makeNode(ctx.acme, 'node-a');
    const b = makeNode(ctx.acme, 'node-b', { lat: 50 });
    // a status before registering
    const anon = await openRaw(ctx);
    anon.send({ t: 'status', seq: 1, load: 0.5, freeCapacity: 1 });
    assert.is((await anon.next((m) => m.t === 'error')).code, 'NOT_AUTHENTICATED');
    anon.send('{not json');
    assert.is((await anon.next((m) => m.t === 'error')).code, 'BAD_JSON');
    anon.send({ t: 'status', seq: 1, load: 7, freeCapacity: 1 });
    assert.is((await anon.next((m) => m.t === 'error')).code, 'MALFORMED');
    // a registration signed over some other nonce (captured elsewhere): refused, connection closed
    const wrongNonce = await openRaw(ctx);
    wrongNonce.send({ t: 'register', registration: a.registration() });
    assert.is((await wrongNonce.next((m) => m.t === 'error')).code, 'BAD_CHALLENGE');
    assert.is(await wrongNonce.closed, 4401);
    // a genuine registration replayed on another connection
    const chA = await openRaw(ctx);
    const signed = signRegistration(a.descriptor, a.key.privateKeyPem, a.authorization, Date.now(), chA.challenge);
    chA.send({ t: 'register', registration: signed });
    await chA.next((m) => m.t === 'registered');
    const thief = await openRaw(ctx);
    thief.send({ t: 'register', registration: signed });
    assert.is((await thief.next((m) => m.t === 'error')).code, 'BAD_CHALLENGE');
    // a descriptor changed after signing
    const tamper = await openRaw(ctx);
    const forged = signRegistration(a.descriptor, a.key.privateKeyPem, a.authorization, Date.now(), tamper.challenge);
    tamper.send({ t: 'register', registration: { ...forged, descriptor: { ...forged.descriptor, pricePerMinute: 0 } } });
    assert.is((await tamper.next((m) => m.t === 'error')).code, 'BAD_SIGNATURE');
    // updates: bound to their connection, sequence must rise
    chA.send({ t: 'status', seq: 1, load: 0.5, freeCapacity: 1000 });
    assert.equal(await chA.next((m) => m.t === 'ack' || m.t === 'error'), { t: 'ack', seq: 1 });
    const stored = await ctx.server.registry.get('node-a');
    assert.equal([stored?.load, stored?.freeCapacity], [0.5, 10], 'free capacity capped at the registered capacity');
    chA.send({ t: 'status', seq: 1, load: 0.9, freeCapacity: 1 });
    assert.is((await chA.next((m) => m.t === 'error')).code, 'STALE_SEQUENCE');
    chA.send({ t: 'status', seq: 2, load: 0.9, freeCapacity: 1, id: 'node-b' });
    assert.is((await chA.next((m) => m.t === 'error')).code, 'WRONG_CONNECTION');
    const chB = await registerRaw(ctx, b);
    chB.send({ t: 'status', seq: 5, load: 0.1, freeCapacity: 1, id: 'node-a' });
    assert.is((await chB.next((m) => m.t === 'error')).code, 'WRONG_CONNECTION');
    assert.is((await ctx.server.registry.get('node-a'))?.load, 0.5, 'nothing refused reached the registry');
    chA.send({ t: 'status', seq: 3, load: 0.2, freeCapacity: 4 });
    assert.equal(await chA.next((m) => m.t === 'ack' || m.t === 'error'), { t: 'ack', seq: 3 }, 'the refused messages did not break the channel');
    assert.is(await ctx.server.nodeChannels.count(), 2);
  });

  test('statuses of several nodes are written in one registry batch, each acked once written', async (ctx) => {
    // a flush timer that never fires here: only the batch size (3) can write, so acks prove batching
    const registry = await makeRegistry(() => ctx.clock.t);
    const batches: number[] = [];
    const touchMany = registry.touchMany.bind(registry);
    registry.touchMany = (updates) => (batches.push(updates.size), touchMany(updates));
    const server = new DiscoveryServer({
      registry,
      operators: trustOf(ctx.acme),
      nodeChannel: { now: () => ctx.clock.t, tickIntervalMs: 3600_000, minStatusIntervalMs: 0, statusFlushMs: 3600_000, statusBatch: 3 },
      nodeChannelProcess: mode,
    });
    const own = { ...ctx, server, url: (await server.listen()).url };
    try {
      const channels = [];
      for (const [i, lat] of [52.5, 52.6, 52.7].entries()) channels.push(await registerRaw(own, makeNode(ctx.acme, `batch-${i}`, { lat })));
      channels.forEach((ch, i) => ch.send({ t: 'status', seq: 1, load: 0.25 * (i + 1), freeCapacity: i + 1 }));
      for (const ch of channels) assert.equal(await ch.next((m) => m.t === 'ack' || m.t === 'error'), { t: 'ack', seq: 1 });
      assert.equal(batches, [3], 'one write for the three statuses');
      const stored = await Promise.all([0, 1, 2].map((i) => registry.get(`batch-${i}`)));
      assert.equal(stored.map((n) => [n?.load, n?.freeCapacity]), [[0.25, 1], [0.5, 2], [0.75, 3]]);
    } finally {
      await server.close();
    }
  });

  test('a flood of messages on one channel closes it (4429); other channels keep their service', async (ctx) => {
    const steady = await registerRaw(ctx, makeNode(ctx.acme, 'steady'));
    const flood = await openRaw(ctx);
    for (let i = 0; i < 200; i++) flood.send('{garbage');
    assert.is(await flood.closed, 4429);
    assert.ok(flood.messages.some((m) => m.code === 'RATE_LIMITED'));
    steady.send({ t: 'status', seq: 1, load: 0.3, freeCapacity: 2 });
    assert.equal(await steady.next((m) => m.t === 'ack' || m.t === 'error'), { t: 'ack', seq: 1 });
  });

  test('NodeAgent over the channel: pushes load only past the threshold, and re-registers when discovery forgets it', async (ctx) => {
    const node = makeNode(ctx.acme, 'agent-1');
    const current = { load: 0, freeCapacity: 10 };
    let looks = 0;
    const agent = new NodeAgent({
      discoveryUrl: ctx.url,
      descriptor: node.descriptor,
      privateKeyPem: node.key.privateKeyPem,
      authorization: node.authorization,
      status: () => (looks++, { ...current }),
      statusIntervalMs: 20,
      loadThreshold: 0.1,
      // this test pings by hand: the agent must not give up on a discovery that has not pinged lately
      heartbeatIntervalMs: 60_000,
    });
    const pushed: number[] = [];
    agent.on('heartbeat', (s) => pushed.push(s.load));
    try {
      await agent.start();
      assert.is(agent.transport, 'channel');
      current.load = 0.05; // under the threshold: looked at, never pushed
      const before = looks;
      await eventually(() => looks >= before + 3, 'the agent looked at its load a few times');
      current.load = 0.5;
      await eventually(() => pushed.length === 1, 'the change past the threshold is pushed');
      assert.equal(pushed, [0.5]);
      assert.is((await ctx.server.registry.get('agent-1'))?.load, 0.5);
      await ctx.server.registry.remove('agent-1'); // as if discovery lost its store
      const again = new Promise((r) => agent.once('registered', r));
      ctx.clock.t += INTERVAL_MS;
      const heard = (await ctx.server.nodeChannels.lastHeard('agent-1'))!;
      await eventually(async () => (await ctx.server.nodeChannels.lastHeard('agent-1'))! > heard, 'the agent pongs on its own');
      await ctx.server.nodeChannels.tick(); // the batched refresh finds it missing and closes the channel
      await again;
      await eventually(async () => (await ctx.server.registry.get('agent-1'))?.load === 0.5, 'registered again and pushed its load');
    } finally {
      agent.close();
    }
  });

  test("NodeAgent registers with its current load: the registry holds it before any status push", async (ctx) => {
    const node = makeNode(ctx.acme, 'agent-busy');
    const agent = new NodeAgent({
      discoveryUrl: ctx.url,
      descriptor: node.descriptor,
      privateKeyPem: node.key.privateKeyPem,
      authorization: node.authorization,
      status: () => ({ load: 0.8, freeCapacity: 2 }),
      statusIntervalMs: 3600_000, // no push in this test: only the registration can carry the load
      heartbeatIntervalMs: 60_000,
    });
    const pushed: unknown[] = [];
    agent.on('heartbeat', (s) => pushed.push(s));
    try {
      await agent.start();
      const stored = await ctx.server.registry.get('agent-busy');
      assert.equal([stored?.load, stored?.freeCapacity], [0.8, 2]);
      assert.equal(pushed, [], 'no status push was needed');
      // a raw channel registration whose status was changed after signing is refused
      const raw = await openRaw(ctx);
      const signed = signRegistration(node.descriptor, node.key.privateKeyPem, node.authorization, Date.now(), raw.challenge, { load: 0.8, freeCapacity: 2 });
      raw.send({ t: 'register', registration: { ...signed, status: { load: 0.1, freeCapacity: 2 } } });
      assert.is((await raw.next((m) => m.t === 'error')).code, 'BAD_SIGNATURE');
      assert.is((await ctx.server.registry.get('agent-busy'))?.load, 0.8, 'the refused registration changed nothing');
    } finally {
      agent.close();
    }
  });

  if (backend === 'redis' && mode === 'process') test.after(async () => await redis?.stop());
  test.run();
}
