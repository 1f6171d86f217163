/**
 * The edge renderer on the real GPU stack (Dawn; on CI its OpenGL ES backend on Mesa llvmpipe):
 * real frames of the built-in test scene, decoded and measured. If the GPU stack cannot start the
 * suite fails and says which install script to run; it never skips.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode, RequestError, type PoseSample, type RenderMessage } from '../protocol/index.js';
import { applyHomography, focalLengthPx, timewarpHomography } from '../client-sdk/reproject.js';
import { FrameStream } from '../client-sdk/session/FrameStream.js';
import { connect, type Frame, type Session } from '../client-sdk/node.js';
import { EdgeServer } from '../edge-server/index.js';
import { WebGpuRenderEngine } from '../edge-server/render/WebGpuRenderEngine.js';
import { buildGlb, parseGlb } from '../edge-server/render/glb.js';
import { buildTestSceneGlb, TEST_BACKGROUND, TEST_CUBE_SIZE, TEST_EYE_HEIGHT } from '../edge-server/render/testScene.js';
import { solidPng, texturedQuadGlb } from './support/sceneFixtures.js';
import { RawClient } from './support/rawClient.js';
import { decodeFrame, findBlob, fractionNear, IS_BLUE, IS_GREEN, IS_RED, IS_YELLOW, type DecodedImage } from '../bench/lib/colorBlobs.js';

const SIZE = 256;
const FOV = 90;
const F = focalLengthPx({ fovY: FOV, width: SIZE, height: SIZE });
/** Distance from the eye to the red cube's front face. */
const RED_FACE_Z = 3 - TEST_CUBE_SIZE / 2;

const yaw = (degrees: number): [number, number, number, number] => {
  const r = (degrees * Math.PI) / 360;
  return [0, Math.sin(r), 0, Math.cos(r)];
};
const pose = (orientation: [number, number, number, number] = [0, 0, 0, 1]): PoseSample => ({
  device: 'head',
  time: 1_000_000,
  position: [0, TEST_EYE_HEIGHT, 0],
  orientation,
});
let nextId = 1;
function request(overrides: Partial<RenderMessage> = {}, ipd = 0.064): RenderMessage {
  return {
    t: 'render',
    id: nextId++,
    pose: pose(),
    eye: 'left',
    camera: { fovY: FOV, ipd, width: SIZE, height: SIZE },
    codec: 'jpeg',
    ...overrides,
  };
}
const srgb = (linear: number) => Math.round(255 * (linear <= 0.0031308 ? 12.92 * linear : 1.055 * linear ** (1 / 2.4) - 0.055));

async function renderImage(engine: WebGpuRenderEngine, session: string, req: RenderMessage): Promise<DecodedImage> {
  const frame = await engine.render(session, req);
  const image = await decodeFrame(frame.data, frame.codec, frame.width, frame.height);
  assert.is(image.width, frame.width);
  assert.is(image.height, frame.height);
  return image;
}

function near(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual.toFixed(2)} is not within ${tolerance} of ${expected.toFixed(2)}`);
}

async function rejectsWith(promise: Promise<unknown>, code: string, what: string): Promise<void> {
  try {
    await promise;
  } catch (err) {
    assert.instance(err, RequestError, `${what}: ${String(err)}`);
    assert.is((err as RequestError).code, code, `${what}: ${(err as Error).message}`);
    return;
  }
  assert.unreachable(`${what}: should have been rejected with ${code}`);
}

const context: { engine?: WebGpuRenderEngine; server?: EdgeServer; url?: string; port?: number; startError?: Error; sessions: Session[] } = {
  sessions: [],
};
/** uvu does not fail a suite whose `before` hook throws, so the error is kept and every test rethrows it. */
const engineOf = () => {
  if (!context.engine) throw context.startError ?? new Error('render engine did not start');
  return context.engine;
};
/** A client session on the suite's edge server (closed after the suite). */
async function client(): Promise<Session> {
  engineOf();
  const session = await connect(context.url!, { pingIntervalMs: 0, requestTimeoutMs: 10_000 });
  context.sessions.push(session);
  return session;
}

const test = suite('render');

test.before(async () => {
  try {
    context.engine = await WebGpuRenderEngine.create({ scenes: { maxSceneBytes: 64 << 10, maxNodes: 64, maxVertices: 10_000 } });
  } catch (err) {
    context.startError = new Error(
      `The GPU stack did not start: ${(err as Error).message}\n` +
        'Run scripts/install-render-deps.sh (as root) and `npm install`, then run this suite again.',
    );
    return;
  }
  // The edge server owns the engine from here: closing it closes the engine.
  context.server = new EdgeServer({ nodeId: 'render-test', renderer: context.engine });
  const { url, port } = await context.server.listen();
  Object.assign(context, { url, port });
});

test.after(async () => {
  for (const session of context.sessions) session.close();
  if (context.server) await context.server.close({ deadlineMs: 1000 });
  else await context.engine?.close();
});

test('the GPU stack starts (Dawn; OpenGL ES on llvmpipe without a GPU) and describes itself', () => {
  const described = engineOf().describe() as { gpu: { backend: string; adapter: { description: string } } };
  assert.type(described.gpu.backend, 'string');
  assert.ok(described.gpu.adapter, 'adapter info');
});

test('the test scene shows the red cube straight ahead, at the image centre, on the background', async () => {
  const image = await renderImage(engineOf(), 's1', request({}, 0));
  const red = findBlob(image, IS_RED);
  const side = (F * TEST_CUBE_SIZE) / RED_FACE_Z; // front face, in pixels
  near(red.x, SIZE / 2, 1, 'red x');
  near(red.y, SIZE / 2, 1, 'red y');
  near(red.count, side * side, side * side * 0.2, 'red area');
  const green = findBlob(image, IS_GREEN);
  const blue = findBlob(image, IS_BLUE);
  assert.ok(green.count > 0 && green.x > red.x, 'green cube is right of red');
  assert.ok(blue.count > 0 && blue.x < red.x, 'blue cube is left of red');
  assert.is(findBlob(image, IS_YELLOW).count, 0, 'the yellow cube is behind the viewer');
  const background = fractionNear(image, TEST_BACKGROUND.map(srgb));
  assert.ok(background > 0.4 && background < 0.95, `background covers ${background} of the image`);
});

test('the left eye sees the red cube further right than the right eye, by the expected disparity', async () => {
  const ipd = 0.2;
  const engine = engineOf();
  const left = findBlob(await renderImage(engine, 's1', request({ eye: 'left' }, ipd)), IS_RED);
  const right = findBlob(await renderImage(engine, 's1', request({ eye: 'right' }, ipd)), IS_RED);
  const shift = (F * (ipd / 2)) / RED_FACE_Z;
  near(left.x, SIZE / 2 + shift, 1.5, 'left eye red x');
  near(right.x, SIZE / 2 - shift, 1.5, 'right eye red x');
  near(left.y, right.y, 0.5, 'no vertical disparity');
});

test("eye 'both' is side by side, left | right, matching the single-eye renders", async () => {
  const ipd = 0.2;
  const frame = await engineOf().render('s1', request({ eye: 'both', codec: 'raw' }, ipd));
  assert.is(frame.width, 2 * SIZE);
  assert.is(frame.height, SIZE);
  assert.is(frame.data.byteLength, 2 * SIZE * SIZE * 4);
  const image = await decodeFrame(frame.data, 'raw', frame.width, frame.height);
  const left = findBlob(image, IS_RED, 0, SIZE);
  const right = findBlob(image, IS_RED, SIZE, 2 * SIZE);
  const shift = (F * (ipd / 2)) / RED_FACE_Z;
  near(left.x, SIZE / 2 + shift, 1.5, 'left half red x');
  near(right.x, SIZE / 2 - shift, 1.5, 'right half red x');
});

test('raw frames are RGBA, sRGB-encoded: the red cube is 255, 0, 0', async () => {
  const frame = await engineOf().render('s1', request({ codec: 'raw' }, 0));
  const o = ((SIZE / 2) * SIZE + SIZE / 2) * 4;
  assert.equal([...frame.data.subarray(o, o + 4)], [255, 0, 0, 255]);
});

test('yawing the head left by θ moves the red cube right by f·tan(θ), as the timewarp homography predicts', async () => {
  const engine = engineOf();
  const straight = findBlob(await renderImage(engine, 's1', request({}, 0)), IS_RED);
  const theta = 10;
  const turned = findBlob(await renderImage(engine, 's1', request({ pose: pose(yaw(theta)) }, 0)), IS_RED);
  near(turned.x - straight.x, F * Math.tan((theta * Math.PI) / 180), 2, 'red x shift');
  near(turned.y, straight.y, 1, 'red y');
  const predicted = applyHomography(timewarpHomography(yaw(0), yaw(theta), { fovY: FOV, width: SIZE, height: SIZE }), straight.x, straight.y)!;
  near(turned.x, predicted[0], 2, 'homography x');
  near(turned.y, predicted[1], 1, 'homography y');
});

test('turning around shows the yellow cube and not the red one', async () => {
  const image = await renderImage(engineOf(), 's1', request({ pose: pose(yaw(180)), codec: 'webp' }, 0));
  assert.is(findBlob(image, IS_RED).count, 0);
  near(findBlob(image, IS_YELLOW).x, SIZE / 2, 1.5, 'yellow x');
});

test('the frame carries the rendered pose (normalised) and timings', async () => {
  const frame = await engineOf().render('s1', request({ pose: { ...pose(), orientation: [0, 0, 0, 2] } }));
  assert.equal(frame.pose.orientation, [0, 0, 0, 1]);
  assert.equal(frame.pose.position, [0, TEST_EYE_HEIGHT, 0]);
  for (const key of ['queueMs', 'renderMs', 'readbackMs', 'encodeMs'] as const) {
    assert.ok(Number.isFinite(frame.timings[key]) && frame.timings[key] >= 0, key);
  }
  assert.ok(frame.timings.renderMs > 0);
});

test('FrameStream on session.render keeps one request in flight and renders the newest pose reported meanwhile', async () => {
  const session = await client();
  const frames: Frame[] = [];
  const sessionFrames: Frame[] = [];
  session.on('frame', (frame) => sessionFrames.push(frame));
  let requests = 0;
  const done = new Promise<void>((resolve, reject) => {
    const stream = new FrameStream(
      (request) => {
        requests++;
        return session.render(request);
      },
      {
        camera: { fovY: FOV, ipd: 0, width: SIZE, height: SIZE },
        eye: 'left',
      },
    );
    stream.on('frame', (frame) => {
      frames.push(frame);
      if (frames.length === 2) resolve();
    });
    stream.on('error', reject);
    for (let degrees = 0; degrees <= 10; degrees++) stream.update(pose(yaw(degrees))); // 11 poses at once
  });
  await done;
  assert.is(requests, 2, 'the first pose, then only the newest');
  assert.is(sessionFrames.length, 2, 'the session emits every rendered frame as a frame event');
  assert.equal(frames[0]!.pose.orientation, [0, 0, 0, 1]);
  near(frames[1]!.pose.orientation[1], yaw(10)[1], 1e-9, 'second frame rendered at the last pose');
});

test('over the wire: session.render returns a JPEG frame of the test scene; the node health names the GPU backend', async () => {
  const session = await client();
  const frame = await session.render({ pose: pose(), eye: 'both', camera: { fovY: FOV, ipd: 0.064, width: SIZE, height: SIZE } });
  assert.is(frame.codec, 'jpeg');
  const image = await decodeFrame(frame.data, 'jpeg', frame.width, frame.height);
  assert.is(image.width, 2 * SIZE);
  assert.ok(findBlob(image, IS_RED, 0, SIZE).x > findBlob(image, IS_RED, SIZE, 2 * SIZE).x, 'left eye sees the cube further right');
  assert.ok(frame.roundTripMs >= frame.timings.renderMs);
  const health = context.server!.health() as { render: { gpu: { backend: string } } };
  assert.type(health.render.gpu.backend, 'string');
});

test('over the wire: a malformed upload gets BAD_REQUEST, the uploader carries on, and another session keeps getting frames', async () => {
  const [attacker, bystander] = await Promise.all([client(), client()]);
  const camera = { fovY: FOV, ipd: 0, width: SIZE, height: SIZE };
  const bad = buildTestSceneGlb().slice(0, 100);
  const [upload, frame] = await Promise.allSettled([attacker.uploadScene('evil', bad), bystander.render({ pose: pose(), eye: 'left', camera })]);
  assert.is(upload.status, 'rejected');
  assert.is(((upload as PromiseRejectedResult).reason as RequestError).code, ErrorCode.BAD_REQUEST);
  assert.is(frame.status, 'fulfilled');
  const image = await decodeFrame((frame as PromiseFulfilledResult<Frame>).value.data, 'jpeg', SIZE, SIZE);
  near(findBlob(image, IS_RED).x, SIZE / 2, 1, 'bystander red x');
  // The uploader's session is still open and renders; an uploaded scene becomes its default.
  const { json, bin } = parseGlb(buildTestSceneGlb());
  (json.nodes as { name: string; translation?: number[] }[]).find((n) => n.name === 'red-cube')!.translation = [1, TEST_EYE_HEIGHT, -3];
  await attacker.uploadScene('moved', buildGlb(json, bin!));
  const moved = await attacker.render({ pose: pose(), eye: 'left', camera });
  assert.ok(findBlob(await decodeFrame(moved.data, 'jpeg', SIZE, SIZE), IS_RED).x > SIZE / 2 + (F * 0.75) / 3, 'the uploaded scene is drawn (red cube 1 m right)');
});

test('over the wire: a raw frame over the frame limit is refused with TOO_LARGE and the session continues', async () => {
  const session = await client();
  const camera = { fovY: FOV, ipd: 0.064, width: 640, height: 640 };
  try {
    await session.render({ pose: pose(), eye: 'both', camera, codec: 'raw' });
    assert.unreachable('should be refused');
  } catch (err) {
    assert.is((err as RequestError).code, ErrorCode.TOO_LARGE);
  }
  const frame = await session.render({ pose: pose(), eye: 'both', camera, codec: 'jpeg' });
  assert.is(frame.width, 1280);
});

test('an uploaded scene renders in its session only', async () => {
  const engine = engineOf();
  const { json, bin } = parseGlb(buildTestSceneGlb());
  const nodes = json.nodes as { name: string; translation?: number[] }[];
  nodes.find((n) => n.name === 'red-cube')!.translation = [1, TEST_EYE_HEIGHT, -3]; // 1 m to the right
  await engine.loadScene('owner', 'moved', buildGlb(json, bin ?? new Uint8Array()));
  const moved = findBlob(await renderImage(engine, 'owner', request({ scene: 'moved' }, 0)), IS_RED);
  assert.ok(moved.x > SIZE / 2 + (F * 0.75) / 3, `red cube moved right (x = ${moved.x})`);
  await rejectsWith(engine.render('stranger', request({ scene: 'moved' })), ErrorCode.BAD_REQUEST, 'another session');
  engine.releaseSession('owner');
  await rejectsWith(engine.render('owner', request({ scene: 'moved' })), ErrorCode.BAD_REQUEST, 'after release');
});

test('an uploaded scene with an embedded PNG texture renders the texture; an oversized image is TOO_LARGE', async () => {
  const engine = engineOf();
  await engine.loadScene('painter', 'quad', await texturedQuadGlb(await solidPng(8, 8, [255, 0, 255])));
  const image = await renderImage(engine, 'painter', request({ scene: 'quad', codec: 'raw' }, 0));
  const magenta = findBlob(image, (r, g, b) => r > 200 && g < 60 && b > 200);
  const side = (F * 2) / 3;
  near(magenta.count, side * side, side * side * 0.1, 'textured quad area');
  near(magenta.x, SIZE / 2, 1, 'quad x');
  await rejectsWith(
    engine.loadScene('painter', 'big', await texturedQuadGlb(await solidPng(4096, 1, [0, 0, 0]))),
    ErrorCode.TOO_LARGE,
    'texture wider than maxTextureSize',
  );
  engine.releaseSession('painter');
});

test('malformed and oversized uploads are rejected with codes, and other sessions keep rendering', async () => {
  const engine = engineOf();
  const good = buildTestSceneGlb();
  const { json, bin } = parseGlb(good);
  const withJson = (patch: (doc: Record<string, unknown>) => void) => {
    const copy = structuredClone(json) as Record<string, unknown>;
    patch(copy);
    return buildGlb(copy, bin ?? new Uint8Array());
  };
  const badMagic = good.slice();
  badMagic[0] = 0x78;
  const badLength = good.slice();
  new DataView(badLength.buffer).setUint32(12, 1 << 30, true); // JSON chunk claims 1 GiB
  const badJson = buildGlb({ asset: { version: '2.0' } }, new Uint8Array());
  badJson.set(new TextEncoder().encode('{"as{{'), 20); // same length, no longer JSON
  const cases: [string, Uint8Array, string][] = [
    ['bad magic', badMagic, ErrorCode.BAD_REQUEST],
    ['truncated', good.subarray(0, good.byteLength - 10), ErrorCode.BAD_REQUEST],
    ['chunk runs past the end', badLength, ErrorCode.BAD_REQUEST],
    ['JSON that does not parse', badJson, ErrorCode.BAD_REQUEST],
    ['external buffer uri', withJson((d) => ((d['buffers'] as { uri?: string }[])[0]!.uri = 'file:///etc/passwd')), ErrorCode.BAD_REQUEST],
    ['accessor past the buffer', withJson((d) => ((d['bufferViews'] as { byteLength: number }[])[0]!.byteLength = 1 << 20)), ErrorCode.BAD_REQUEST],
    ['too many nodes', withJson((d) => (d['nodes'] = Array.from({ length: 65 }, () => ({})))), ErrorCode.TOO_LARGE],
    ['an accessor that would allocate 10 M elements', withJson((d) => ((d['accessors'] as { count: number }[])[1]!.count = 10_000_000)), ErrorCode.TOO_LARGE],
    ['too many vertices', withJson((d) => ((d['accessors'] as { count: number }[])[0]!.count = 20_000)), ErrorCode.TOO_LARGE],
    ['over the byte limit', new Uint8Array(65 << 10), ErrorCode.TOO_LARGE],
  ];
  for (const [what, glb, code] of cases) {
    const other = engine.render('bystander', request({}, 0));
    await rejectsWith(engine.loadScene('attacker', 'evil', glb), code, what);
    const red = findBlob(await decodeFrame((await other).data, 'jpeg', SIZE, SIZE), IS_RED);
    near(red.x, SIZE / 2, 1, `bystander frame during '${what}'`);
  }
  // The attacker's own session keeps working too.
  near(findBlob(await renderImage(engine, 'attacker', request({}, 0)), IS_RED).x, SIZE / 2, 1, 'attacker test scene');
});

test('newest request wins per session: a waiting render is answered SUPERSEDED when the same session asks again', async () => {
  engineOf();
  const raw = await RawClient.open(context.url!);
  try {
    await raw.hello();
    // r1 starts at once and cannot finish within this turn (GPU, readback, encode), so r2 waits
    // and r3 replaces it: the session's NewestWins pacer answers r2, the engine never sees it
    const [r1, r2, r3] = [request(), request(), request()];
    for (const r of [r1, r2, r3]) raw.send(r);
    const answerTo = (id: number) => raw.next((m) => (m.t === 'frame' || m.t === 'error') && m.id === id, 10_000);
    const [a1, a2, a3] = await Promise.all([answerTo(r1.id), answerTo(r2.id), answerTo(r3.id)]);
    assert.is(a1.t, 'frame');
    assert.is(a2.t === 'error' && a2.code, ErrorCode.SUPERSEDED);
    assert.is(a3.t, 'frame');
    // the superseded answer goes out as soon as r3 arrives, before either frame
    const order = raw.received.filter((m) => 'id' in m && [r1.id, r2.id, r3.id].includes(m.id as number)).map((m) => (m as { id: number }).id);
    assert.equal(order, [r2.id, r1.id, r3.id]);
  } finally {
    raw.close();
  }
});

test('requests beyond the per-eye size limit are rejected with TOO_LARGE', async () => {
  await rejectsWith(
    engineOf().render('s1', request({ camera: { fovY: 90, ipd: 0.06, width: 4096, height: 4096 } })),
    ErrorCode.TOO_LARGE,
    'huge camera',
  );
});

test.run();
