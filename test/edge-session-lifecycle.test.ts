/**
 * The edge session as a domain object: its events, its children closing with it, and the
 * EdgeServer's bookkeeping that follows those events. Real server, real sockets (RawClient).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EdgeServer, constantVelocity, type PredictorFactory, type Session } from '../edge-server/index.js';
import { CloseCode, ErrorCode, type PoseSample } from '../protocol/index.js';
import { pose } from './support/messages.js';
import { RawClient } from './support/rawClient.js';
import { waitFor, withTimeout } from './support/wait.js';

/** A predictor whose answers the test releases by hand, recording its instances' lifecycle. */
function heldPredictor() {
  const held: ((p: PoseSample) => void)[] = [];
  const log = { created: 0, closed: 0 };
  const factory: PredictorFactory = {
    name: 'held',
    create: () => {
      log.created++;
      return {
        predict: (history) => new Promise<PoseSample>((resolve) => held.push(() => resolve({ ...history[history.length - 1]! }))),
        close: () => void log.closed++,
      };
    },
  };
  return { factory, held, log };
}

interface Context {
  server: EdgeServer;
  url: string;
  clients: RawClient[];
}

const test = suite<Context>('edge session lifecycle');

test.before.each((ctx) => {
  ctx.clients = [];
});

test.after.each(async (ctx) => {
  for (const client of ctx.clients) client.close();
  await ctx.server.close({ deadlineMs: 0 });
});

async function start(ctx: Context, server: EdgeServer): Promise<void> {
  ctx.server = server;
  ctx.url = (await server.listen()).url;
}

/** Opens a raw client and returns it with the server-side Session the server announced for it. */
async function open(ctx: Context): Promise<{ client: RawClient; session: Session }> {
  const announced = ctx.server.waitFor('session', 3000);
  const client = await RawClient.open(ctx.url);
  ctx.clients.push(client);
  const [session] = await announced;
  return { client, session };
}

test("a session emits open after welcome, close once with its code, and the server has forgotten it by then", async (ctx) => {
  await start(ctx, new EdgeServer());
  const { client, session } = await open(ctx);
  const opened = session.waitFor('open', 3000);
  await client.hello();
  await opened;
  assert.is(ctx.server.sessionCount, 1);
  const closes: [number, string, number][] = [];
  session.on('close', (code, reason) => closes.push([code, reason, ctx.server.sessionCount]));
  client.send({ t: 'bye' });
  await withTimeout(client.closed, 'socket closed after bye');
  assert.equal(closes, [[CloseCode.NORMAL, 'bye', 0]]);
  assert.ok(session.closed);
  session.close(CloseCode.DRAINED, 'again');
  assert.is(closes.length, 1, 'close is emitted once');
});

test('a peer that drops its socket closes the session (no polling: the count follows the event)', async (ctx) => {
  await start(ctx, new EdgeServer());
  const { client, session } = await open(ctx);
  await client.hello();
  const closed = session.waitFor('close', 3000);
  client.close(); // terminate: no close frame
  const [code] = await closed;
  assert.is(code, 1006);
  assert.is(ctx.server.sessionCount, 0);
});

test('a throwing close listener is isolated: the server still forgets the session', async (ctx) => {
  await start(ctx, new EdgeServer());
  const { client, session } = await open(ctx);
  await client.hello();
  const reported = withTimeout(
    new Promise<[string, Error]>((resolve) => session.on('listenererror', (event, error) => resolve([event, error as Error]))),
    'listenererror',
  );
  session.on('close', () => {
    throw new Error('listener bug');
  });
  client.send({ t: 'bye' });
  const [event, error] = await reported;
  assert.is(event, 'close');
  assert.is(error.message, 'listener bug');
  assert.is(ctx.server.sessionCount, 0);
});

test('in-flight requests are bounded by maxInflightRequests and answered as they finish', async (ctx) => {
  const { factory, held } = heldPredictor();
  await start(ctx, new EdgeServer({ predictors: [constantVelocity, factory], maxInflightRequests: 1 }));
  const { client } = await open(ctx);
  await client.hello();
  client.send({ t: 'pose', poses: [pose] });
  client.send({ t: 'predict', id: 1, horizonMs: 10, predictor: 'held' });
  client.send({ t: 'predict', id: 2, horizonMs: 10 });
  const busy = await client.next((m) => m.t === 'error' && m.id === 2);
  assert.is(busy.t === 'error' && busy.code, ErrorCode.BUSY);
  await waitFor(() => held.length === 1, 'the first predict reached the predictor');
  held.shift()!(pose);
  const first = await client.next((m) => m.t === 'prediction' && m.id === 1);
  assert.is(first.t === 'prediction' && first.predictor, 'held');
  client.send({ t: 'predict', id: 3, horizonMs: 10 });
  await waitFor(() => held.length === 1, 'the third predict reached the predictor');
  held.shift()!(pose);
  await client.next((m) => m.t === 'prediction' && m.id === 3);
});

test('close() closes the children at once: predictors freed, in-flight answers dropped, nothing sent late', async (ctx) => {
  const { factory, held, log } = heldPredictor();
  await start(ctx, new EdgeServer({ predictors: [factory] }));
  const { client, session } = await open(ctx);
  await client.hello();
  client.send({ t: 'predict', id: 1, horizonMs: 10, poses: [pose] });
  await waitFor(() => held.length === 1, 'the predict reached the predictor');
  session.close(CloseCode.NORMAL, 'test');
  assert.ok(session.closed);
  assert.equal(log, { created: 1, closed: 1 });
  held.shift()!(pose); // the engine answers after the session is gone
  const { code } = await withTimeout(client.closed, 'socket closed');
  assert.is(code, CloseCode.NORMAL);
  assert.not.ok(client.received.some((m) => m.t === 'prediction' || m.t === 'error'), JSON.stringify(client.received));
  assert.equal((ctx.server.health().errors as Record<string, number>), {});
});

test('server.close() closes every session with DRAINED and waits for their sockets', async (ctx) => {
  await start(ctx, new EdgeServer());
  const a = await open(ctx);
  const b = await open(ctx);
  await Promise.all([a.client.hello(), b.client.hello()]);
  const codes: number[] = [];
  let socketsGone = 0;
  for (const { session } of [a, b]) {
    session.on('close', (code) => codes.push(code));
    void session.socketClosed.then(() => socketsGone++);
  }
  await ctx.server.close({ deadlineMs: 0 });
  assert.equal(codes, [CloseCode.DRAINED, CloseCode.DRAINED]);
  assert.is(ctx.server.sessionCount, 0);
  assert.is(socketsGone, 2, 'close() resolved before the sessions\' sockets closed');
  const seen = await Promise.all([a.client.closed, b.client.closed]);
  assert.equal(seen.map((c) => c.code), [CloseCode.DRAINED, CloseCode.DRAINED]);
});

test.run();
