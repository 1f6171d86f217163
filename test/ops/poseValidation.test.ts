/**
 * Poses the motion math cannot use (zero or overflowing quaternions, positions at the edge of
 * float64, velocities no body reaches) are refused `BAD_REQUEST` by the protocol's schema, with
 * the request's id, and the session goes on; before, they reached the predictors and came back
 * `INTERNAL` with a stack trace in the node's log (issue #15). Malformed values (NaN, strings)
 * still break the protocol (BAD_MESSAGE, fatal).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EdgeServer } from '../../edge-server/index.js';
import { CloseCode, ErrorCode, POSE_BOUNDS, ProtocolError, RequestError, ValueError, validate, type Message } from '../../protocol/index.js';
import { checkPose } from '../../client-sdk/session/checks.js';
import { generateEdgeMessage } from '../../bench/fuzz/generate.js';
import { packFrame, rng } from '../../bench/fuzz/mutate.js';
import { RawClient } from '../support/rawClient.js';
import { waitFor } from '../support/wait.js';

const pose = (over: Record<string, unknown> = {}) => ({ device: 'head', time: 1000, position: [0, 1.6, 0], orientation: [0, 0, 0, 1], ...over });
const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
};

const test = suite('ops: pose values');

test('the schema refuses unusable values BAD_REQUEST (with the request id) and normalises quaternions', () => {
  for (const bad of [
    { orientation: [0, 0, 0, 0] },
    { orientation: [1e-9, 0, 0, 0] },
    { position: [1e308, 0, 0] },
    { position: [0, -(POSE_BOUNDS.maxPositionM * 1.01), 0] },
    { linearVelocity: [POSE_BOUNDS.maxSpeedMps * 2, 0, 0] },
    { angularVelocity: [0, 0, -1e300] },
  ]) {
    let error: unknown;
    try {
      validate({ t: 'predict', id: 7, horizonMs: 20, poses: [pose(bad)] });
    } catch (err) {
      error = err;
    }
    assert.ok(error instanceof ValueError && error instanceof RequestError, JSON.stringify(bad));
    assert.is((error as ValueError).code, ErrorCode.BAD_REQUEST);
    assert.is((error as ValueError).requestId, 7);
    assert.is((error as ValueError).field.startsWith('predict.poses[0].'), true, (error as ValueError).field);
  }
  // a huge but finite quaternion is a rotation: normalised without overflow
  const m = validate({ t: 'pose', poses: [pose({ orientation: [0, 0, 1e308, 1e308] }), pose({ orientation: [0, 0, 0, 2] })] }) as Extract<Message, { t: 'pose' }>;
  assert.equal(m.poses[0]!.orientation.map((x) => Math.round(x * 1e9) / 1e9), [0, 0, Math.round(Math.SQRT1_2 * 1e9) / 1e9, Math.round(Math.SQRT1_2 * 1e9) / 1e9]);
  assert.equal(m.poses[1]!.orientation, [0, 0, 0, 1]);
  // malformed stays fatal
  assert.is(codeOf(() => validate({ t: 'pose', poses: [pose({ position: [NaN, 0, 0] })] })), ErrorCode.BAD_MESSAGE);
  assert.ok((() => { try { validate({ t: 'pose', poses: [pose({ orientation: 'x' })] }); } catch (e) { return e instanceof ProtocolError; } return false; })());
  // the SDK checks an app's pose with the same rule
  assert.throws(() => checkPose(pose({ orientation: [0, 0, 0, 0] }) as never), (e: unknown) => e instanceof TypeError && /norm/.test(String(e)));
});

let server: EdgeServer | undefined;
test.after.each(async () => {
  await server?.close({ deadlineMs: 0 });
  server = undefined;
});

test('on a live node: zero quaternions and overflowing positions get BAD_REQUEST, never INTERNAL; the session goes on', async () => {
  server = new EdgeServer({ limits: { maxMessagesPerSecond: 1e6, rateBurst: 1e5 } });
  const { url } = await server.listen();
  const c = await RawClient.open(url);
  await c.hello();
  c.sendBytes(packFrame({ t: 'pose', poses: [pose({ orientation: [0, 0, 0, 0] })] }));
  c.sendBytes(packFrame({ t: 'predict', id: 1, horizonMs: 20, poses: [pose({ position: [1e308, 1e308, 1e308] })] }));
  // in bounds, but 2 × 10⁶ m apart 1 µs apart: the extrapolation leaves the bounds
  c.sendBytes(packFrame({ t: 'pose', poses: [pose({ time: 5000, position: [-9e5, 0, 0] }), pose({ time: 5001, position: [9e5, 0, 0] })] }));
  c.sendBytes(packFrame({ t: 'predict', id: 2, horizonMs: 500 }));
  c.sendBytes(packFrame({ t: 'render', id: 3, pose: pose({ orientation: [0, 0, 0, 0] }), camera: { fovY: 90, ipd: 0.064, width: 64, height: 64 } }));
  const noId = await c.next((m) => m.t === 'error' && m.id === undefined);
  const one = await c.next((m) => m.t === 'error' && m.id === 1);
  const two = await c.next((m) => (m.t === 'error' || m.t === 'prediction') && m.id === 2);
  const three = await c.next((m) => m.t === 'error' && m.id === 3);
  for (const m of [noId, one, three]) assert.equal([(m as { code: string }).code, (m as { fatal: boolean }).fatal], [ErrorCode.BAD_REQUEST, false]);
  assert.ok(two.t === 'prediction' || (two as { code: string }).code === ErrorCode.BAD_REQUEST, JSON.stringify(two));
  // still open: a good predict (another device: the head's history holds that 1.8 × 10⁶ m jump) is answered
  c.sendBytes(packFrame({ t: 'predict', id: 4, horizonMs: 20, device: 'left', poses: [pose({ device: 'left', time: 9000 })] }));
  assert.is((await c.next((m) => (m as { id?: number }).id === 4)).t, 'prediction');
  c.close();
});

test('3,000 generated pose/predict/render messages at the edges of the schema: not one INTERNAL', async () => {
  server = new EdgeServer({ limits: { maxMessagesPerSecond: 1e6, rateBurst: 1e5 } });
  const { url } = await server.listen();
  const c = await RawClient.open(url);
  await c.hello();
  const r = rng(15);
  let sent = 0;
  let id = 100;
  while (sent < 3000) {
    const m = generateEdgeMessage(r, ++id) as { t: string };
    if (m.t !== 'pose' && m.t !== 'predict' && m.t !== 'render') continue;
    c.sendBytes(packFrame(m));
    sent++;
  }
  c.sendBytes(packFrame({ t: 'ping', id: 1, c: 0 }));
  await waitFor(() => c.received.some((m) => m.t === 'pong'), 'the node to process every message', 30_000);
  const codes = c.received.filter((m) => m.t === 'error').map((m) => (m as { code: string }).code);
  assert.is(codes.filter((x) => x === ErrorCode.INTERNAL).length, 0, `INTERNAL answers among ${codes.length} errors`);
  assert.ok(codes.includes(ErrorCode.BAD_REQUEST), 'the generator reached the value checks');
  assert.ok(!c.received.some((m) => m.t === 'error' && (m as { fatal?: boolean }).fatal), 'no message closed the session');
  c.close();
});

test.run();

void CloseCode;
