import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { NewestWins } from '../protocol/index.js';

/** A job the test finishes by hand, so the order of events is explicit (no timers). */
function manualJobs() {
  const started: number[] = [];
  const finishers: Array<(ok: boolean) => void> = [];
  const run = (value: number) =>
    new Promise<void>((resolve, reject) => {
      started.push(value);
      finishers.push((ok) => (ok ? resolve() : reject(new Error('job failed'))));
    });
  return { started, finish: async (i: number, ok = true) => { finishers[i]!(ok); await Promise.resolve(); await Promise.resolve(); }, run };
}

const pacing = suite('NewestWins');

pacing('runs at once when idle, keeps only the newest waiting value, and reports the replaced ones', async () => {
  const jobs = manualJobs();
  const superseded: number[] = [];
  const pacer = new NewestWins<number>(jobs.run, (v) => superseded.push(v));
  pacer.offer(1);
  pacer.offer(2);
  pacer.offer(3);
  pacer.offer(4);
  assert.equal(jobs.started, [1]);
  assert.equal(superseded, [2, 3]);
  assert.ok(pacer.busy && pacer.pending);
  await jobs.finish(0);
  assert.equal(jobs.started, [1, 4]);
  assert.not.ok(pacer.pending);
  await jobs.finish(1);
  assert.not.ok(pacer.busy);
});

pacing('a failed job starts the next one too', async () => {
  const jobs = manualJobs();
  const pacer = new NewestWins<number>(jobs.run);
  pacer.offer(1);
  pacer.offer(2);
  await jobs.finish(0, false);
  assert.equal(jobs.started, [1, 2]);
});

pacing('a job that throws synchronously does not wedge the pacer', async () => {
  const ran: number[] = [];
  const pacer = new NewestWins<number>((v) => {
    ran.push(v);
    if (v === 1) throw new Error('sync failure');
    return Promise.resolve();
  });
  pacer.offer(1);
  await Promise.resolve();
  await Promise.resolve();
  pacer.offer(2);
  assert.equal(ran, [1, 2]);
});

pacing('close() hands back the waiting value and starts nothing more', async () => {
  const jobs = manualJobs();
  const pacer = new NewestWins<number>(jobs.run);
  pacer.offer(1);
  pacer.offer(2);
  assert.is(pacer.close(), 2);
  await jobs.finish(0);
  pacer.offer(3);
  assert.equal(jobs.started, [1]);
  assert.ok(pacer.closed);
});

pacing.run();
