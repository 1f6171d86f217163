/**
 * Render and infer in the node's heavy worker threads (edge-server/offload): the same answers and
 * the same error codes as in-process engines, scenes kept per session in the worker that holds
 * them, and the fair scheduler running one job per session and kind across the pool. Real worker
 * threads, the real tfjs backend and the real GPU stack (llvmpipe without a GPU).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode, fromWireTensor, toWireTensor, type PoseSample, type Tensor } from '../protocol/index.js';
import { connect, type Session } from '../client-sdk/node.js';
import { EdgeServer } from '../edge-server/index.js';
import { FairScheduler } from '../edge-server/admission/index.js';
import { loadInference, type LoadedInference } from '../edge-server/inference/index.js';
import { DEFAULT_WINDOW_SPEC, featureCount } from '../edge-server/inference/motionWindow.js';
import { HeavyPool } from '../edge-server/offload/index.js';
import { buildGlb, parseGlb } from '../edge-server/render/glb.js';
import { buildTestSceneGlb, TEST_EYE_HEIGHT } from '../edge-server/render/testScene.js';
import { decodeFrame, findBlob, IS_RED } from '../bench/lib/colorBlobs.js';
import { codeOf } from './support/codeOf.js';

const SIZE = 128;
const WIDTH = featureCount(DEFAULT_WINDOW_SPEC);
const pose: PoseSample = { device: 'head', time: 1_000_000, position: [0, TEST_EYE_HEIGHT, 0], orientation: [0, 0, 0, 1] };
const camera = { fovY: 90, ipd: 0, width: SIZE, height: SIZE };

const context: { pool?: HeavyPool; local?: LoadedInference; server?: EdgeServer; url?: string; sessions: Session[] } = { sessions: [] };

async function client(): Promise<Session> {
  const session = await connect(context.url!, { pingIntervalMs: 0, requestTimeoutMs: 20_000 });
  context.sessions.push(session);
  return session;
}


function sample(rows: number): Tensor {
  const data = new Float32Array(rows * WIDTH);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 0.2;
  return toWireTensor(data, [rows, WIDTH]);
}

const test = suite('heavy workers');

test.before(async () => {
  // two workers even on a small machine: placement and the per-session scene affinity are exercised
  context.pool = await HeavyPool.create({ size: 2, inference: {}, render: { scenes: { maxSceneBytes: 64 << 10, maxNodes: 64, maxVertices: 10_000 } } });
  context.local = await loadInference({ log: () => {} });
  context.server = new EdgeServer({
    nodeId: 'heavy-workers-test',
    inference: context.pool.inference!,
    renderer: context.pool.renderer!,
    predictors: context.local.predictors,
    guards: { heavy: { concurrency: context.pool.size } },
  });
  context.url = (await context.server.listen()).url;
});

test.after(async () => {
  for (const session of context.sessions) session.close();
  await context.server?.close({ deadlineMs: 1000 }); // closes the pool with its engines
  await context.local?.engine.close();
});

test('infer in a worker answers exactly what the in-process engine answers, and bad requests keep their codes', async () => {
  const session = await client();
  const input = sample(16);
  const [remote, local] = await Promise.all([session.infer('head-predictor', input), context.local!.engine.infer('head-predictor', input)]);
  assert.equal(remote.shape, local.shape);
  assert.equal([...fromWireTensor(remote)], [...fromWireTensor(local)]);
  assert.is(await codeOf(session.infer('no-such-model', input)), ErrorCode.UNKNOWN_MODEL);
  assert.is(await codeOf(session.infer('head-predictor', toWireTensor(new Float32Array(3), [3]))), ErrorCode.BAD_REQUEST);
  // the session and the pool carry on
  assert.equal((await session.infer('head-predictor', input)).shape, local.shape);
});

test('render in a worker: a JPEG frame of the test scene with the red cube straight ahead, TOO_LARGE refused in the worker', async () => {
  const session = await client();
  const frame = await session.render({ pose, eye: 'left', camera });
  const image = await decodeFrame(frame.data, 'jpeg', SIZE, SIZE);
  const red = findBlob(image, IS_RED);
  assert.ok(Math.abs(red.x - SIZE / 2) <= 1, `red cube at x ${red.x}`);
  assert.is(await codeOf(session.render({ pose, eye: 'left', camera: { ...camera, width: 4096 } })), ErrorCode.TOO_LARGE);
  assert.is((await session.render({ pose, eye: 'both', camera })).width, 2 * SIZE);
});

test("sharp's libvips threads, which no heavy worker starts, run at the workers' lower priority after a job (Linux)", async () => {
  if (process.platform !== 'linux') return;
  const session = await client();
  // a JPEG frame: sharp encodes it on libvips' threads; the worker renices them before answering
  await session.render({ pose, eye: 'both', camera });
  const vips = readdirSync('/proc/self/task')
    .map((tid) => ({ tid, name: readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim(), nice: getPriority(Number(tid)) }))
    .filter((t) => t.name === 'libvips worker');
  assert.ok(vips.length > 0, 'no libvips threads in this process: did the JPEG encode run?');
  assert.equal(vips.filter((t) => t.nice !== 10), [], 'every libvips thread at the pool niceness (default 10)');
});

test('an uploaded scene lives in its session only, in the render worker; a malformed upload is BAD_REQUEST', async () => {
  const [owner, stranger] = await Promise.all([client(), client()]);
  const { json, bin } = parseGlb(buildTestSceneGlb());
  (json.nodes as { name: string; translation?: number[] }[]).find((n) => n.name === 'red-cube')!.translation = [1, TEST_EYE_HEIGHT, -3];
  await owner.uploadScene('moved', buildGlb(json, bin!));
  // every later render of the owner goes to the worker that holds its scene
  for (let i = 0; i < 3; i++) {
    const moved = await owner.render({ pose, eye: 'left', camera });
    assert.ok(findBlob(await decodeFrame(moved.data, 'jpeg', SIZE, SIZE), IS_RED).x > SIZE / 2 + 5, 'the uploaded scene is drawn');
  }
  assert.is(await codeOf(stranger.render({ pose, eye: 'left', camera, scene: 'moved' })), ErrorCode.BAD_REQUEST);
  assert.is(await codeOf(stranger.uploadScene('evil', buildTestSceneGlb().slice(0, 100))), ErrorCode.BAD_REQUEST);
  assert.is((await stranger.render({ pose, eye: 'left', camera })).width, SIZE);
});

test('fair scheduler across a pool: one job per session and kind runs at a time, another session uses the free worker', async () => {
  const scheduler = new FairScheduler({ concurrency: 2, maxQueuedPerSession: 8 });
  const running = new Set<string>();
  const seen: string[] = [];
  const gates: (() => void)[] = [];
  const job = (name: string) => () => {
    running.add(name);
    seen.push([...running].sort().join('+'));
    return new Promise<void>((resolve) => gates.push(() => (running.delete(name), resolve())));
  };
  const hog = [1, 2, 3].map((i) => scheduler.schedule('hog', job(`hog-infer${i}`), { kind: 'infer' }));
  const hogRender = scheduler.schedule('hog', job('hog-render'), { kind: 'render' });
  const other = scheduler.schedule('other', job('other-infer'), { kind: 'infer' });
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  await turn();
  // two workers: the hog's first infer and its render (another kind) hold them; the other session's
  // infer waits for a free worker, never behind the hog's second infer
  assert.equal([...running].sort(), ['hog-infer1', 'hog-render']);
  gates.shift()!(); // hog-infer1 done
  await turn();
  await turn();
  assert.ok(running.has('other-infer'), `the other session ran next: ${[...running]}`);
  assert.not.ok(running.has('hog-infer2'));
  while (gates.length > 0) {
    gates.shift()!();
    await turn();
    await turn();
  }
  await Promise.all([...hog, hogRender, other]);
  for (const state of seen) assert.ok((state.match(/hog-infer/g) ?? []).length <= 1, `two infers of one session at once: ${state}`);
  scheduler.close();
});

test.run();
