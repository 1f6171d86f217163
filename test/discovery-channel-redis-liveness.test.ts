/**
 * Over a Redis registry the channel process writes its nodes' liveness and load to Redis on a
 * connection of its own (Registry.ts LivenessStore): the replica's registry is not called for
 * them. Real Redis, a real forked channel process, raw /v1/node sockets; the rounds are driven by
 * hand and every wait is for an event. The heartbeat interval is long (60 s), so on the real clock
 * nothing expires or is cut off while a slow machine runs the test.
 */
import { createClient } from '@redis/client';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { startRedis, type RedisProcess } from '../bench/lib/redisServer.js';
import { ChannelProcess } from '../discovery/channels/ChannelProcess.js';
import { DiscoveryServer } from '../discovery/DiscoveryServer.js';
import { signRegistration } from '../discovery/identity.js';
import { RedisRegistry } from '../discovery/registry/RedisRegistry.js';
import { DiscoveryRoute, NodeChannelClose } from '../protocol/discovery.js';
import { eventually, makeNode, makeOperator, trustOf } from './support/discoveryFixtures.js';

const PREFIX = 'own-liveness:';

test('the channel process writes pongs and load pushes to Redis itself; the replica only registers; a node Redis lost is told to register again', async () => {
  const redis: RedisProcess = await startRedis();
  const reader = createClient({ url: redis.url });
  await reader.connect();
  const registry = await RedisRegistry.connect({ url: redis.url, heartbeatIntervalMs: 60_000, sweepIntervalMs: 3600_000, prefix: PREFIX });
  // the replica's own liveness calls, counted on the real registry
  const replicaCalls = { refresh: 0, touchMany: 0, touch: 0 };
  for (const op of ['refresh', 'touchMany', 'touch'] as const) {
    const real = registry[op].bind(registry) as (...args: unknown[]) => Promise<unknown>;
    (registry as unknown as Record<string, unknown>)[op] = (...args: unknown[]) => (replicaCalls[op]++, real(...args));
  }
  const acme = makeOperator('acme');
  const server = new DiscoveryServer({
    registry,
    operators: trustOf(acme),
    nodeChannelProcess: 'process',
    nodeChannel: { tickIntervalMs: 3600_000, minStatusIntervalMs: 0, registerTimeoutMs: 60_000 },
  });
  const { url } = await server.listen();
  const host = server.nodeChannels as ChannelProcess;
  const ws = new WebSocket(url.replace('http', 'ws') + DiscoveryRoute.node);
  try {
    assert.is(host.livenessWrites, 'own connection', 'the child connected to Redis itself');
    const messages: { t: string; [k: string]: unknown }[] = [];
    ws.on('message', (data) => messages.push(JSON.parse(data.toString())));
    const closed = new Promise<number>((resolve) => ws.on('close', resolve));
    const next = async (t: string) => {
      await eventually(() => messages.some((m) => m.t === t), `a '${t}' message (got ${JSON.stringify(messages)})`, 10_000);
      return messages.splice(messages.findIndex((m) => m.t === t), 1)[0]!;
    };
    const node = makeNode(acme, 'own-1');
    const challenge = (await next('challenge')).nonce as string;
    ws.send(JSON.stringify({ t: 'register', registration: signRegistration(node.descriptor, node.key.privateKeyPem, node.authorization, Date.now(), challenge) }));
    assert.is((await next('registered')).id, 'own-1');
    const seen = async () => Number(await reader.sendCommand([ 'ZSCORE', `${PREFIX}seen`, 'own-1' ]));
    const registered = await seen();

    // a pong, then a round: the child's ZADD moves the node's last seen to the pong's time
    await eventually(async () => {
      ws.pong();
      return ((await host.lastHeard('own-1')) ?? 0) > registered;
    }, 'the pong is heard in the channel process');
    const heard = (await host.lastHeard('own-1'))!;
    await host.tick();
    assert.is(await seen(), heard, "the pong's time is in Redis");

    // a load push: the child's status batch (TOUCH_MANY) writes the node's hash
    ws.send(JSON.stringify({ t: 'status', seq: 1, load: 0.75, freeCapacity: 3 }));
    await eventually(async () => String(await reader.sendCommand(['HGET', `${PREFIX}node:own-1`, 'l'])) === '0.75', 'the pushed load is in Redis', 10_000);
    assert.equal(replicaCalls, { refresh: 0, touchMany: 0, touch: 0 }, 'no liveness or load write went through the replica');

    // Redis lost the node (flushed, swept after an outage): the child's own refresh finds it
    // missing and closes the channel UNKNOWN, so the node registers again
    await registry.remove('own-1');
    await eventually(async () => {
      ws.pong();
      return ((await host.lastHeard('own-1')) ?? 0) > heard;
    }, 'a later pong is heard');
    await host.tick();
    assert.is(await closed, NodeChannelClose.UNKNOWN);
    assert.equal(replicaCalls, { refresh: 0, touchMany: 0, touch: 0 });
  } finally {
    ws.terminate();
    await server.close();
    await registry.close();
    await reader.close();
    await redis.stop();
  }
});

test('on a registry with a clock of its own (tests), or the memory backend, the batches still go through the replica', async () => {
  const redis = await startRedis();
  const clocked = await RedisRegistry.connect({ url: redis.url, heartbeatIntervalMs: 60_000, sweepIntervalMs: 3600_000, prefix: PREFIX, now: () => Date.now() });
  try {
    assert.is(clocked.livenessStore(), undefined);
    const server = new DiscoveryServer({ registry: clocked, operators: trustOf(makeOperator('acme')), nodeChannelProcess: 'process' });
    await server.listen();
    assert.is((server.nodeChannels as ChannelProcess).livenessWrites, 'replica');
    await server.close();
  } finally {
    await clocked.close();
    await redis.stop();
  }
});

test.run();
