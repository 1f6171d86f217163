/**
 * The edge renderer alone, no network: stereo frames (two square eyes side by side) of the built-in
 * test scene at eye sizes 256² … 2048², through the product's WebGpuRenderEngine. Per frame it
 * splits the node's time into render (draw calls issued → GPU done → frame read back to host
 * memory, the engine's renderMs + readbackMs) and encode (JPEG in sharp/libvips, encodeMs), and
 * reports p50/p95 over N frames after a warm-up.
 *
 * Correctness first, per size: one raw frame and one JPEG frame at the identity pose must show the
 * test scene in both eyes (red cube centred, green right of it, blue left, yellow behind the
 * viewer), and the raw frame is saved as `<name>-<size>.png`.
 *
 * Baseline in the same run: the same frames with two requests in flight (what a session's
 * newest-wins pacing allows: the next frame renders while this one encodes) against one at a time.
 *
 * `--compare A,B` renders no frame: it reads two earlier results (e.g. llvmpipe and a real GPU,
 * from different machines) and writes a side-by-side chart of them.
 *
 *   npm run bench -- render [--backend vulkan] [--name render-cpu]
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadavg } from 'node:os';
import sharp from 'sharp';
import { type RenderMessage } from '../protocol/index.js';
import { resolveBackendChoice, TEST_EYE_HEIGHT, WebGpuRenderEngine } from '../edge-server/render/index.js';
import { intFlag, parseCommandArgs, stringFlag } from '../bin/commands/args.js';
import { barChart } from './lib/chart.js';
import { decodeFrame, findBlob, IS_BLUE, IS_GREEN, IS_RED, IS_YELLOW, type DecodedImage } from './lib/colorBlobs.js';
import { environment, printEnvironment } from './lib/environment.js';
import { resultsDir, writeResult } from './lib/results.js';
import { quantile } from './lib/stats.js';

const HELP = `Usage: npm run bench -- render [options]

Stereo frames of the built-in test scene rendered and JPEG-encoded by the edge renderer (no
network), per eye size: render (GPU submit → read back) and encode times, p50/p95, frames/s.

Options:
  --sizes LIST       eye edge sizes in pixels, comma-separated  [default: 256,512,1024,2048]
  --frames N         timed stereo frames per size                [default: 40]
  --warmup N         untimed frames per size first               [default: 3]
  --max-seconds S    stop timing a size after S seconds (≥ 5 frames still run)  [default: 30]
  --backend B        Dawn backend: auto, default, opengles, vulkan, d3d12, metal
                     [default: env EDGE_OFFLOAD_GPU_BACKEND, else auto]
  --quality N        JPEG quality                                [default: 80]
  --name NAME        result file name (NAME.json, NAME.svg, NAME-<size>.png)  [default: render]
  --compare A,B      render nothing: chart two earlier results A.json and B.json from the
                     results folder side by side into A-vs-B.svg (and .json)
  -h, --help         show this help

Needs the GPU stack: a GPU's Vulkan driver, or Mesa's EGL/GLES on machines without one
(scripts/install-render-deps.sh).`;

const FOV_Y = 90;
const IPD = 0.064;
/** Frames far over the wire's 1 MiB cap are fine here: nothing is sent, and raw frames are checked. */
const BENCH_MAX_FRAME_BYTES = 64 << 20;

interface SizeResult {
  eye: number;
  frameWidth: number;
  frameHeight: number;
  frames: number;
  jpegBytesP50: number;
  renderMs: { p50: number; p95: number; mean: number };
  readbackMs: { p50: number; p95: number };
  encodeMs: { p50: number; p95: number; mean: number };
  totalMs: { p50: number; p95: number; mean: number };
  /** 1000 / mean total: one request at a time. */
  framesPerSecond: number;
  /** Two requests in flight: render of the next frame overlaps encoding of this one. */
  pipelinedFramesPerSecond: number;
  png: string;
  check: Record<string, unknown>;
}

const yawQuat = (degrees: number): [number, number, number, number] => {
  const r = (degrees * Math.PI) / 360;
  return [0, Math.sin(r), 0, Math.cos(r)];
};

let nextId = 1;
function request(eye: number, codec: 'jpeg' | 'raw', quality: number, yawDegrees = 0): RenderMessage {
  return {
    t: 'render',
    id: nextId++,
    pose: { device: 'head', time: nextId * 11_111, position: [0, TEST_EYE_HEIGHT, 0], orientation: yawQuat(yawDegrees) },
    eye: 'both',
    camera: { fovY: FOV_Y, ipd: IPD, width: eye, height: eye },
    codec,
    quality,
  };
}

/** Throws unless each eye of a side-by-side frame shows the test scene from the identity pose. */
function checkScene(image: DecodedImage, eye: number, what: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  // The red cube's front face (0.5 m at 2.75 m) is this many pixels across at fovY 90°.
  const side = ((eye / 2) * 0.5) / 2.75;
  for (const [i, name] of ['left', 'right'].entries()) {
    const x0 = i * eye;
    const red = findBlob(image, IS_RED, x0, x0 + eye);
    const green = findBlob(image, IS_GREEN, x0, x0 + eye);
    const blue = findBlob(image, IS_BLUE, x0, x0 + eye);
    const yellow = findBlob(image, IS_YELLOW, x0, x0 + eye);
    // Each eye is ipd/2 off centre, so the cube sits a little off the eye's centre (≈ 1.2 % of the width).
    const problems = [
      Math.abs(red.x - eye / 2) > eye * 0.03 + 1 && `red x ${red.x.toFixed(1)}`,
      Math.abs(red.y - eye / 2) > eye * 0.02 + 1 && `red y ${red.y.toFixed(1)}`,
      !(Math.abs(red.count - side * side) <= side * side * 0.3 + 4) && `red area ${red.count} (expected ≈ ${(side * side).toFixed(0)})`,
      !(green.count > 0 && green.x > red.x) && 'green cube not right of red',
      !(blue.count > 0 && blue.x < red.x) && 'blue cube not left of red',
      yellow.count > 0 && 'yellow cube (behind the viewer) visible',
    ].filter(Boolean);
    if (problems.length) throw new Error(`${what} ${eye}² ${name} eye does not show the test scene: ${problems.join('; ')}`);
    out[name] = { redX: +red.x.toFixed(1), redY: +red.y.toFixed(1), redArea: red.count, greenArea: green.count, blueArea: blue.count };
  }
  return out;
}

const p = (sorted: number[], q: number) => +quantile(sorted, q).toFixed(3);
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const stats = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: p(sorted, 0.5), p95: p(sorted, 0.95), mean: +mean(values).toFixed(3) };
};

async function benchSize(engine: WebGpuRenderEngine, eye: number, opts: { frames: number; warmup: number; maxMs: number; quality: number; name: string }): Promise<SizeResult> {
  const session = `bench-${eye}`;
  // Correctness: the raw pixels, and the JPEG the client would get, both show the scene.
  const raw = await engine.render(session, request(eye, 'raw', opts.quality));
  const rawImage = await decodeFrame(raw.data, 'raw', raw.width, raw.height);
  const check = checkScene(rawImage, eye, 'raw');
  const jpeg = await engine.render(session, request(eye, 'jpeg', opts.quality));
  checkScene(await decodeFrame(jpeg.data, 'jpeg', jpeg.width, jpeg.height), eye, 'jpeg');
  const png = `${opts.name}-${eye}.png`;
  mkdirSync(resultsDir(), { recursive: true });
  await sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: 4 } }).removeAlpha().png().toFile(path.join(resultsDir(), png));

  // The head sweeps ±10° of yaw so every frame differs; the scene stays in view.
  const yawAt = (i: number) => 10 * Math.sin(i * 0.3);
  for (let i = 0; i < opts.warmup; i++) await engine.render(session, request(eye, 'jpeg', opts.quality, yawAt(i)));
  const render: number[] = [];
  const readback: number[] = [];
  const encode: number[] = [];
  const total: number[] = [];
  const bytes: number[] = [];
  const deadline = performance.now() + opts.maxMs;
  for (let i = 0; i < opts.frames && (i < 5 || performance.now() < deadline); i++) {
    const t0 = performance.now();
    const frame = await engine.render(session, request(eye, 'jpeg', opts.quality, yawAt(i)));
    total.push(performance.now() - t0);
    render.push(frame.timings.renderMs + frame.timings.readbackMs);
    readback.push(frame.timings.readbackMs);
    encode.push(frame.timings.encodeMs);
    bytes.push(frame.data.byteLength);
  }
  // Baseline beside it: the same number of frames, two in flight.
  const n = total.length;
  const t0 = performance.now();
  let issued = 0;
  const worker = async () => {
    while (issued < n) await engine.render(session, request(eye, 'jpeg', opts.quality, yawAt(issued++)));
  };
  await Promise.all([worker(), worker()]);
  const pipelinedFps = (n * 1000) / (performance.now() - t0);

  const totalStats = stats(total);
  const readbackStats = stats(readback);
  return {
    eye,
    frameWidth: jpeg.width,
    frameHeight: jpeg.height,
    frames: n,
    jpegBytesP50: p([...bytes].sort((a, b) => a - b), 0.5),
    renderMs: stats(render),
    readbackMs: { p50: readbackStats.p50, p95: readbackStats.p95 },
    encodeMs: stats(encode),
    totalMs: totalStats,
    framesPerSecond: +(1000 / totalStats.mean).toFixed(2),
    pipelinedFramesPerSecond: +pipelinedFps.toFixed(2),
    png,
    check,
  };
}

interface RenderResult {
  bench: 'render';
  name: string;
  environment: Record<string, unknown> & { gpu?: { adapter?: { device?: string; description?: string }; backend?: string } };
  sizes: SizeResult[];
}

function label(result: RenderResult): string {
  const gpu = result.environment.gpu;
  // Dawn's device name is the short one ('nvidia-h200', 'llvmpipe-llvm-15-0-6-256-bits-').
  const adapter = gpu?.adapter?.device || gpu?.adapter?.description || result.name;
  return `${adapter.replace(/-+$/, '').slice(0, 24)} (${gpu?.backend ?? '?'})`;
}

/** Side-by-side chart of two results (usually two machines: absolute numbers, not a same-run ratio). */
function compare(names: string[]): void {
  if (names.length !== 2) throw new Error('--compare takes two result names, e.g. --compare render-cpu,render-h200');
  const results = names.map((n) => {
    const file = path.join(resultsDir(), `${n}.json`);
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as RenderResult;
    } catch (err) {
      throw new Error(`cannot read ${file} (${(err as Error).message}); run the bench with --name ${n} first`);
    }
  });
  const eyes = results[0]!.sizes.map((s) => s.eye).filter((e) => results[1]!.sizes.some((s) => s.eye === e));
  const at = (r: RenderResult, eye: number) => r.sizes.find((s) => s.eye === eye)!;
  const rows = eyes.map((eye) => ({
    eye,
    ...Object.fromEntries(results.map((r, i) => [names[i]!, { renderP50: at(r, eye).renderMs.p50, encodeP50: at(r, eye).encodeMs.p50, totalP50: at(r, eye).totalMs.p50, fps: at(r, eye).framesPerSecond }])),
  }));
  for (const row of rows) console.log(JSON.stringify(row));
  const name = `${names[0]}-vs-${names[1]}`;
  writeResult(
    name,
    { bench: 'render-compare', note: 'two separate runs, usually on different machines: compare shapes, not a same-run ratio', labels: results.map(label), runs: results.map((r) => ({ name: r.name, environment: r.environment })), rows },
    barChart({
      title: `stereo frame p50, ms: render and JPEG encode, ${results.map(label).join(' vs ')}`,
      yLabel: 'ms per stereo frame (p50)',
      categories: eyes.map((e) => `2×${e}²`),
      series: results.flatMap((r, i) => [
        { name: `${names[i]} render`, values: eyes.map((e) => at(r, e).renderMs.p50) },
        { name: `${names[i]} encode`, values: eyes.map((e) => at(r, e).encodeMs.p50) },
      ]),
    }),
  );
}

export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(
    argv,
    { sizes: { type: 'string' }, frames: { type: 'string' }, warmup: { type: 'string' }, 'max-seconds': { type: 'string' }, backend: { type: 'string' }, quality: { type: 'string' }, name: { type: 'string' }, compare: { type: 'string' } },
    HELP,
  );
  if (!args) return;
  const compareNames = stringFlag(args.values.compare);
  if (compareNames !== undefined) return compare(compareNames.split(','));
  const sizes = (stringFlag(args.values.sizes) ?? '256,512,1024,2048').split(',').map((s) => intFlag(s.trim(), 'sizes', 16, 2048)!);
  const frames = intFlag(args.values.frames, 'frames', 5, 100_000) ?? 40;
  const warmup = intFlag(args.values.warmup, 'warmup', 0, 1000) ?? 3;
  const maxMs = (intFlag(args.values['max-seconds'], 'max-seconds', 1, 3600) ?? 30) * 1000;
  const quality = intFlag(args.values.quality, 'quality', 1, 100) ?? 80;
  const name = stringFlag(args.values.name) ?? 'render';
  if (!/^[\w.-]+$/.test(name)) throw new Error(`--name must be letters, digits, '.', '_' or '-' (got '${name}')`);
  const backend = resolveBackendChoice(stringFlag(args.values.backend) ?? process.env['EDGE_OFFLOAD_GPU_BACKEND']);

  let engine: WebGpuRenderEngine;
  try {
    engine = await WebGpuRenderEngine.create({ gpu: { backend }, maxFrameBytes: BENCH_MAX_FRAME_BYTES, maxJobsPerSession: 2 });
  } catch (err) {
    throw new Error(`${(err as Error).message}\nOn a GPU machine try --backend vulkan; without one run scripts/install-render-deps.sh and use --backend opengles.`);
  }
  const gpu = (engine.describe() as { gpu: Record<string, unknown> }).gpu;
  const env = environment({ gpu, sizes, frames, warmup, quality, fovY: FOV_Y, scene: 'built-in test scene', loadAverage1m: loadavg()[0] });
  printEnvironment(env);

  const results: SizeResult[] = [];
  try {
    for (const eye of sizes) {
      const r = await benchSize(engine, eye, { frames, warmup, maxMs, quality, name });
      results.push(r);
      console.log(
        `2×${String(eye).padStart(4)}²: render p50 ${r.renderMs.p50.toFixed(2)} p95 ${r.renderMs.p95.toFixed(2)} ms (readback p50 ${r.readbackMs.p50.toFixed(2)})  ` +
          `encode p50 ${r.encodeMs.p50.toFixed(2)} p95 ${r.encodeMs.p95.toFixed(2)} ms  total p50 ${r.totalMs.p50.toFixed(2)} ms  ` +
          `${r.framesPerSecond} fps (2 in flight: ${r.pipelinedFramesPerSecond} fps)  n=${r.frames}  jpeg ${(r.jpegBytesP50 / 1024).toFixed(0)} KiB`,
      );
    }
  } finally {
    await engine.close();
  }
  const data: RenderResult = { bench: 'render', name, environment: { ...env, loadAverage1mAfter: loadavg()[0] }, sizes: results };
  const categories = results.map((r) => `2×${r.eye}²`);
  writeResult(
    name,
    data,
    barChart({
      title: `stereo frame of the test scene, ${label(data)}: render vs JPEG encode (ms)`,
      yLabel: 'ms per stereo frame',
      categories,
      series: [
        { name: 'render p50', values: results.map((r) => r.renderMs.p50) },
        { name: 'render p95', values: results.map((r) => r.renderMs.p95) },
        { name: 'encode p50', values: results.map((r) => r.encodeMs.p50) },
        { name: 'encode p95', values: results.map((r) => r.encodeMs.p95) },
      ],
    }),
  );
}
