import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { withTimeout } from '../support/wait.js';
import { Logger, RequestError, ErrorCode, type LogLevel } from '../../protocol/index.js';

/** A sink that keeps lines, and a clock the test moves: no sleeps, no wall clock. */
function capture() {
  const lines: { level: LogLevel; line: string; args: unknown[] }[] = [];
  let t = 0;
  Logger.configure({ reset: true, sink: (level, line, args) => lines.push({ level, line, args }), now: () => t, reportIntervalMs: 1e9 });
  return { lines, advance: (ms: number) => (t += ms) };
}

const test = suite('ops: logger');
test.after.each(() => Logger.configure({ reset: true }));

test('json mode writes one parseable object per line with level, time, scope, msg and fields', () => {
  const { lines } = capture();
  Logger.configure({ format: 'json' });
  const log = new Logger('edge:test');
  log.warn('slow consumer', { session: 's1', bufferedBytes: 123 });
  log.error('boom', new RequestError(ErrorCode.INTERNAL, 'inner'));
  assert.is(lines.length, 2);
  const first = JSON.parse(lines[0]!.line);
  assert.is(first.level, 'warn');
  assert.is(first.scope, 'edge-offload:edge:test');
  assert.is(first.msg, 'slow consumer');
  assert.is(first.session, 's1');
  assert.is(first.bufferedBytes, 123);
  assert.ok(!Number.isNaN(Date.parse(first.time)));
  const second = JSON.parse(lines[1]!.line);
  assert.is(second.err.code, ErrorCode.INTERNAL);
  assert.is(second.err.name, 'RequestError');
  assert.type(second.err.stack, 'string');
});

test('json mode fills printf-style placeholders and keeps the remaining args as fields', () => {
  const { lines } = capture();
  Logger.configure({ format: 'json' });
  new Logger('d').warn('ws error from %s: %s (%d%%)', '10.0.0.1', 'reset', 42, { extra: true });
  const line = JSON.parse(lines[0]!.line);
  assert.is(line.msg, 'ws error from 10.0.0.1: reset (42%)');
  assert.is(line.extra, true);
});

test('text mode keeps the namespaced format and passes extra args through', () => {
  const { lines } = capture();
  new Logger('x').warn('hello', 42);
  new Logger('x').info('backend tensorflow');
  assert.is(lines[0]!.line, 'edge-offload:x WARN hello');
  assert.equal(lines[0]!.args, [42]);
  assert.is(lines[1]!.line, 'edge-offload:x backend tensorflow');
  assert.is(lines[1]!.level, 'info');
});

test('one key past its burst is suppressed, and one "suppressed N" line reports the count', () => {
  const { lines } = capture();
  Logger.configure({ burst: 20, ratePerSecond: 5, format: 'json' });
  const log = new Logger('edge:session');
  // the same error from one session, with a different request id each time: one key
  for (let i = 0; i < 18_810; i++) log.error(`session 3f1c2d4e-aaaa-bbbb-cccc-0123456789ab: request ${i} failed\n    at stack`);
  assert.is(lines.length, 20);
  Logger.flushSuppressed();
  assert.is(lines.length, 21);
  const report = JSON.parse(lines[20]!.line);
  assert.is(report.level, 'warn');
  assert.is(report.suppressed, 18_790);
});

test('the bucket refills with time, and different keys do not share a bucket', () => {
  const { lines, advance } = capture();
  Logger.configure({ burst: 2, ratePerSecond: 1 });
  const log = new Logger('k');
  for (let i = 0; i < 5; i++) log.error('alpha failed');
  for (let i = 0; i < 5; i++) log.error('beta failed');
  assert.is(lines.length, 4);
  advance(1000);
  log.error('alpha failed');
  log.error('alpha failed');
  assert.is(lines.length, 5);
});

test('the report timer fires on its own and distinct keys beyond maxKeys do not grow memory', async () => {
  const lines: string[] = [];
  let reported!: () => void;
  const done = new Promise<void>((resolve) => (reported = resolve));
  Logger.configure({ reset: true, burst: 1, reportIntervalMs: 1, maxKeys: 50, sink: (_l, line) => (lines.push(line), /suppressed/.test(line) && reported()) });
  const log = new Logger('t');
  log.error('same');
  log.error('same');
  await withTimeout(done, 'the suppressed report'); // the report timer is unref'd; this one keeps the loop alive
  assert.ok(lines.some((l) => /suppressed 1 error lines like: same/.test(l)));
  for (let i = 0; i < 500; i++) log.warn(`distinct key ${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}`);
  assert.is(lines.filter((l) => l.includes('distinct key')).length, 500);
  assert.ok(Logger.trackedKeys <= 50, `tracked ${Logger.trackedKeys} keys`);
});

test.run();
