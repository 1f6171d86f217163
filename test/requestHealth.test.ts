/**
 * RequestHealth, the SDK's judge of a node by its answers (attack 10): what counts, what resets,
 * and that it fires once. Promises stand for requests; the overdue timer is the real one, waited
 * for by event, never by a sleep.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RequestHealth } from '../client-sdk/link/RequestHealth.js';
import { NodeFaultCode } from '../client-sdk/errors.js';
import { ErrorCode, InvalidStateError, ProtocolError, RequestError } from '../protocol/index.js';
import { withTimeout } from './support/wait.js';

const never = <T>() => new Promise<T>(() => {});
const test = suite('client: request health');

test('predictions overdue three in a row make REQUESTS_UNANSWERED; an answer between them resets the count', async () => {
  const health = new RequestHealth({ unansweredAfterMs: 5, maxUnanswered: 3 });
  const faults: string[] = [];
  health.on('fault', (f) => faults.push(f.code));
  void health.track('predict', never());
  void health.track('predict', never());
  const overdue = () => new Promise<void>((resolve) => { const t = setInterval(() => health.counts.unansweredInARow >= 2 && (clearInterval(t), resolve()), 1); });
  await withTimeout(overdue(), 'two predictions overdue');
  await health.track('predict', Promise.resolve('answer'));
  assert.is(health.counts.unansweredInARow, 0);
  const fault = new Promise((resolve) => health.once('fault', resolve));
  for (let i = 0; i < 3; i++) void health.track('predict', never());
  await withTimeout(fault, 'the fault');
  assert.equal(faults, [NodeFaultCode.REQUESTS_UNANSWERED]);
  void health.track('predict', never());
  assert.is(health.faulted, true);
});

test('ids never sent (and answers of the wrong kind) make WRONG_IDS once; "no" answers and closes are not faults', async () => {
  const health = new RequestHealth({ maxWrongIds: 3 });
  const faults: string[] = [];
  health.on('fault', (f) => faults.push(f.code));
  await health.track('infer', Promise.reject(new RequestError(ErrorCode.BUSY, 'busy'))).catch(() => {});
  await health.track('render', Promise.reject(new InvalidStateError('closed'))).catch(() => {});
  assert.equal(health.counts, { unansweredInARow: 0, wrongIds: 0 });
  health.wrongId('prediction for id 99');
  await health.track('predict', Promise.reject(new ProtocolError(ErrorCode.BAD_MESSAGE, 'predict answered with frame'))).catch(() => {});
  assert.equal(faults, []);
  health.wrongId('pong for id 98');
  health.wrongId('again');
  assert.equal(faults, [NodeFaultCode.WRONG_IDS]);
});

test('a request that times out counts as unanswered whatever its kind', async () => {
  const health = new RequestHealth({ maxUnanswered: 2 });
  const faults: string[] = [];
  health.on('fault', (f) => faults.push(f.code));
  for (const kind of ['render', 'infer'] as const) await health.track(kind, Promise.reject(new RequestError(ErrorCode.TIMEOUT, 'no answer'))).catch(() => {});
  assert.equal(faults, [NodeFaultCode.REQUESTS_UNANSWERED]);
});

test.run();
