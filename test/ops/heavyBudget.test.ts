/**
 * The event-loop budget of heavy requests (edge-server/admission/FairScheduler.ts, issue #15
 * attack 4b): a session over its budget has its next heavy job deferred, nothing dropped, while
 * other sessions' work runs; what a job reports through its meter and its payload bytes are
 * charged. The end-to-end part runs a real node with the real tfjs engine on loopback: a hog's
 * queued 512-row infer batches are answered one per budget period, a bystander's predicts between
 * them (by count and order, never by time).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, type Session } from '../../client-sdk/node.js';
import { EdgeServer } from '../../edge-server/index.js';
import { FairScheduler } from '../../edge-server/admission/index.js';
import { loadInference, type LoadedInference } from '../../edge-server/inference/index.js';
import { DEFAULT_WINDOW_SPEC, featureCount } from '../../edge-server/inference/motionWindow.js';
import { ErrorCode, fromWireTensor, toWireTensor } from '../../protocol/index.js';
import { pose } from '../support/messages.js';
import { codeOf } from '../support/codeOf.js';

const test = suite('heavy budget');


const turn = () => new Promise((resolve) => setImmediate(resolve));

test('a session over its event-loop budget waits, nothing dropped; another session runs meanwhile; over the queue is BUSY', async () => {
  let clock = 0;
  // 100 ms a second, nothing banked: a 10 ms job puts its session 10 ms in debt, 100 ms of clock to repay
  const scheduler = new FairScheduler({ now: () => clock, mainMsPerSecond: 100, burstMs: 0, maxQueuedPerSession: 3 });
  const order: string[] = [];
  const job = (name: string, ms: number) => () => {
    order.push(name);
    clock += ms; // synchronous: event-loop time the scheduler measures
    return name;
  };
  const hog = [0, 1, 2].map((i) => scheduler.schedule('hog', job(`hog${i}`, 10)));
  await hog[0];
  const bystander = [0, 1, 2].map((i) => scheduler.schedule('bystander', job(`b${i}`, 0)));
  await Promise.all(bystander);
  for (let i = 0; i < 5; i++) await turn();
  // the hog's second job waits for its budget, the bystander's all ran
  assert.equal(order, ['hog0', 'b0', 'b1', 'b2']);
  assert.is(scheduler.stats().sessions['hog']!.deferred, 1);
  assert.is(scheduler.stats().sessions['hog']!.waiting, 2);
  // a full queue is still refused with the coded BUSY, the deferred jobs stay
  const hog3 = scheduler.schedule('hog', job('hog3', 10));
  assert.is(await codeOf(scheduler.schedule('hog', job('hog4', 10))), ErrorCode.BUSY);
  // the debt is repaid on the scheduler's clock; its timer then runs the next job
  clock += 100;
  assert.is(await hog[1], 'hog1');
  // each next job waits again: the pump sees the debt before the clock moves
  for (let i = 0; i < 5; i++) await turn();
  clock += 100;
  assert.is(await hog[2], 'hog2');
  for (let i = 0; i < 5; i++) await turn();
  clock += 100;
  assert.is(await hog3, 'hog3');
  assert.equal(order, ['hog0', 'b0', 'b1', 'b2', 'hog1', 'hog2', 'hog3']);
  assert.is(scheduler.stats().sessions['hog']!.mainMs, 40);
  assert.is(scheduler.stats().sessions['hog']!.deferred, 3);
  scheduler.close();
});

test("the meter's time and bytes, and the bytes and decode time given at scheduling, are charged to the session", async () => {
  let clock = 0;
  const scheduler = new FairScheduler({ now: () => clock, byteCostNs: 10 });
  await scheduler.schedule(
    's',
    (meter) => {
      clock += 2; // synchronous start
      return Promise.resolve().then(() => meter.spent(1.5, 100_000)); // answer: 1.5 ms + 1 ms of bytes
    },
    { spentMs: 0.5, bytes: 50_000 }, // decode 0.5 ms + 0.5 ms of bytes
  );
  assert.is(scheduler.stats().sessions['s']!.mainMs, 5.5);
  // no budget by default in the scheduler itself: nothing is deferred
  assert.is(scheduler.stats().deferred, 0);
  scheduler.close();
  assert.throws(() => new FairScheduler({ mainMsPerSecond: 0 }), TypeError);
  assert.throws(() => new FairScheduler({ byteCostNs: -1 }), TypeError);
});

const context: { local?: LoadedInference; server?: EdgeServer; url?: string; sessions: Session[] } = { sessions: [] };

test.before(async () => {
  context.local = await loadInference({ log: () => {} });
});

test.after(async () => {
  for (const s of context.sessions) s.close();
  await context.server?.close({ deadlineMs: 0 });
  await context.local?.engine.close();
});

test("real node: a hog's queued infer batches are deferred by its budget, a bystander's predicts are answered between them, every batch answered exactly", async () => {
  // 1 ms of event loop a second: each 512-row batch (78 kB in, 12 kB out at 10 ns a byte: ≥ 0.9 ms)
  // puts the hog in debt for most of a second, so each next batch waits for its budget
  context.server = new EdgeServer({
    nodeId: 'heavy-budget-test',
    inference: context.local!.engine,
    predictors: context.local!.predictors,
    guards: { heavy: { mainMsPerSecond: 1, burstMs: 0 } },
  });
  context.url = (await context.server.listen()).url;
  const [hog, bystander] = await Promise.all([0, 1].map(() => connect(context.url!, { pingIntervalMs: 0, requestTimeoutMs: 60_000 })));
  context.sessions.push(hog!, bystander!);
  bystander!.sendPose(pose);
  const width = featureCount(DEFAULT_WINDOW_SPEC);
  const data = new Float32Array(512 * width);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 0.2;
  const input = toWireTensor(data, [512, width]);
  const expected = fromWireTensor(await context.local!.engine.infer('head-predictor', input));
  const events: string[] = [];
  let hogDone = false;
  const batches = Promise.all(
    [0, 1, 2].map(async () => {
      const output = await hog!.infer('head-predictor', input);
      events.push('H');
      return output;
    }),
  ).finally(() => (hogDone = true));
  // the bystander asks for a prediction once a headset frame (11 ms) after the last answer, until
  // the hog is done (the pace is the load, not a synchronisation: the order of answers is asserted)
  let predicted = 0;
  const frame = () => new Promise((resolve) => setTimeout(resolve, 11));
  while (!hogDone) {
    await Promise.race([bystander!.predict(20).then(() => (events.push('P'), predicted++)), batches]);
    await frame();
  }
  const outputs = await batches;
  for (const output of outputs) assert.equal(fromWireTensor(output), expected);
  // three batches, each answered; the second and third waited for the hog's budget
  assert.is(events.filter((e) => e === 'H').length, 3);
  const first = events.indexOf('H');
  const between = events.slice(first + 1, events.lastIndexOf('H')).filter((e) => e === 'P').length;
  assert.ok(between >= 2, `predicts answered between the hog's first and last batch: ${events.join('')}`);
  assert.ok(predicted > 0);
  assert.ok((context.server.health()['heavy'] as { deferred: number }).deferred >= 2);
});

test.run();
