import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode, InvalidStateError, RequestError } from '../protocol/index.js';
import { RenderQueue } from '../edge-server/render/RenderQueue.js';

/** A job that finishes when the test says so, recording when it started. */
function gate(name: string, started: string[]) {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return {
    job: async () => {
      started.push(name);
      await opened;
      return name;
    },
    open: () => open(),
  };
}

const settle = (p: Promise<{ result: string }>) =>
  p.then(
    (v) => v.result,
    (err: RequestError | InvalidStateError) => `${err.name}:${err.code}`,
  );

const test = suite('renderQueue');

test('one job at a time; a session gets one turn per round, so one that asks often cannot starve the others', async () => {
  const queue = new RenderQueue<string>();
  const started: string[] = [];
  const [a1, a2, b1, a3, c1] = ['a1', 'a2', 'b1', 'a3', 'c1'].map((n) => gate(n, started));
  const results = [
    settle(queue.schedule('a', a1!.job)),
    settle(queue.schedule('a', a2!.job)),
    settle(queue.schedule('b', b1!.job)),
    settle(queue.schedule('a', a3!.job)),
    settle(queue.schedule('c', c1!.job)),
  ];
  assert.equal(started, ['a1']);
  assert.is(queue.waiting, 3, 'a, b and c wait; a with two jobs');
  for (const g of [a1, a2, b1, a3, c1]) g!.open();
  // nothing is replaced here (sessions pace themselves with NewestWins): every job runs
  assert.equal(await Promise.all(results), ['a1', 'a2', 'b1', 'a3', 'c1']);
  // a's second waiting job goes behind c, who arrived after it but had not had a turn
  assert.equal(started, ['a1', 'a2', 'b1', 'c1', 'a3']);
  assert.equal(queue.stats(), { waiting: 0, served: 5, dropped: 0 });
});

test('a session over maxJobsPerSession gets BUSY; its earlier jobs still run', async () => {
  const queue = new RenderQueue<string>({ maxJobsPerSession: 1 });
  const started: string[] = [];
  const [a1, a2, a3] = ['a1', 'a2', 'a3'].map((n) => gate(n, started));
  const p1 = settle(queue.schedule('a', a1!.job));
  const p2 = settle(queue.schedule('a', a2!.job));
  assert.is(await settle(queue.schedule('a', a3!.job)), `RequestError:${ErrorCode.BUSY}`);
  a1!.open();
  a2!.open();
  assert.equal(await Promise.all([p1, p2]), ['a1', 'a2']);
  assert.equal(started, ['a1', 'a2']);
  assert.equal(queue.stats(), { waiting: 0, served: 2, dropped: 1 });
});

test('a full queue turns the newcomer away at once with BUSY', async () => {
  const queue = new RenderQueue<string>({ maxWaitingSessions: 1 });
  const started: string[] = [];
  const [x, y, z] = ['x', 'y', 'z'].map((n) => gate(n, started));
  const px = settle(queue.schedule('x', x!.job));
  const py = settle(queue.schedule('y', y!.job));
  assert.is(await settle(queue.schedule('z', z!.job)), `RequestError:${ErrorCode.BUSY}`);
  x!.open();
  y!.open();
  assert.equal(await Promise.all([px, py]), ['x', 'y']);
});

test('a failing job rejects its caller only; cancel() and close() reject what waits', async () => {
  const queue = new RenderQueue<string>();
  const started: string[] = [];
  const failing = settle(queue.schedule('a', async () => { throw new RequestError(ErrorCode.BAD_REQUEST, 'no'); }));
  const g = gate('b', started);
  const waiting = settle(queue.schedule('b', g.job));
  const cancelled = settle(queue.schedule('c', async () => 'c'));
  queue.cancel('c');
  assert.is(await failing, `RequestError:${ErrorCode.BAD_REQUEST}`);
  assert.is(await cancelled, `InvalidStateError:${ErrorCode.CLOSED}`);
  const late = settle(queue.schedule('d', async () => 'd'));
  const closing = queue.close();
  assert.is(await late, `InvalidStateError:${ErrorCode.CLOSED}`);
  g.open();
  await closing;
  assert.is(await waiting, 'b');
});

test.run();
