/**
 * Motion-to-photon on the offloaded render path: a pose leaves the client → the node renders both
 * eyes (640×640 each, side by side) at that pose, encodes JPEG → the frame arrives and is decoded.
 * Three links, interleaved round by round so they share the machine's noise: loopback, an emulated
 * edge (5 ms RTT) and an emulated cloud (60 ms RTT), both through the user-space netem proxy.
 * One request in flight (closed loop): each sample is a full pose→pixels latency.
 *
 * Stages: queue, render, readback, encode (node-side timings from the frame), network (send→receive
 * minus node time: RTT + framing + transfer), decode (client JPEG decode). Target on CPU:
 * p50 ≤ RTT + 35 ms.
 *
 *   npm run bench -- motion-to-photon [--frames 25] [--rounds 4] [--size 640] [--quality 80]
 * Writes bench/results/motion-to-photon.json + .svg and PNG frames of the test scene.
 */
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import sharp from 'sharp';
import { connect, type Frame, type Session } from '../client-sdk/node.js';
import { EdgeServer } from '../edge-server/index.js';
import { WebGpuRenderEngine } from '../edge-server/render/WebGpuRenderEngine.js';
import { TEST_EYE_HEIGHT } from '../edge-server/render/testScene.js';
import { intFlag, parseCommandArgs } from '../bin/commands/args.js';
import { barChart } from './lib/chart.js';
import { environment, printEnvironment } from './lib/environment.js';
import { resultsDir, writeResult } from './lib/results.js';
import { summarize, type Summary } from './lib/stats.js';
import { startNetemProxy, type NetemProxy } from '../netem/NetemProxy.js';
import { decodeFrame, findBlob, IS_RED } from './lib/colorBlobs.js';

const HELP = `Usage: npm run bench -- motion-to-photon [options]

Pose sent → stereo frame (2 eyes side by side, JPEG) rendered on an edge node, received and
decoded, over loopback, an emulated edge (5 ms RTT) and an emulated cloud (60 ms RTT).

Options:
  --frames N    timed frames per link per round        [default: 25]
  --rounds N    rounds; links interleaved in each       [default: 4]
  --size N      pixels per eye edge                     [default: 640]
  --quality N   JPEG quality                            [default: 80]
  --warmup N    untimed frames per link per round       [default: 3]
  -h, --help    show this help

Needs the GPU stack (scripts/install-render-deps.sh on machines without a GPU).
Writes bench/results/motion-to-photon.{json,svg} and frame PNGs of the test scene.`;

const MAX_BENCH_MS = 110_000;

interface Link {
  name: string;
  rttMs: number;
  proxy: NetemProxy | null;
  session: Session;
}

interface Sample {
  totalMs: number;
  queueMs: number;
  renderMs: number;
  readbackMs: number;
  encodeMs: number;
  networkMs: number;
  decodeMs: number;
  bytes: number;
}

function headPose(yawDegrees: number) {
  const half = (yawDegrees * Math.PI) / 360;
  return {
    device: 'head' as const,
    time: Math.round(performance.now() * 1000),
    position: [0, TEST_EYE_HEIGHT, 0] as [number, number, number],
    orientation: [0, Math.sin(half), 0, Math.cos(half)] as [number, number, number, number],
  };
}

/** One eye of a received frame as a small PNG (palette: the test scene has few colours). */
async function savePng(name: string, frame: Frame, eyeWidth: number, half: 0 | 1): Promise<string> {
  const file = path.join(resultsDir(), name);
  await sharp(frame.data)
    .extract({ left: half * eyeWidth, top: 0, width: eyeWidth, height: frame.height })
    .png({ compressionLevel: 9, palette: true, colours: 32, dither: 0 })
    .toFile(file);
  return file;
}

const round2 = (s: Summary) => ({ n: s.n, p50: +s.p50.toFixed(2), p99: +s.p99.toFixed(2), mean: +s.mean.toFixed(2) });

/** `npm run bench -- motion-to-photon [options]`; resolves when the results are written. */
export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(
    argv,
    { frames: { type: 'string' }, rounds: { type: 'string' }, size: { type: 'string' }, quality: { type: 'string' }, warmup: { type: 'string' } },
    HELP,
  );
  if (!args) return;
  const frames = intFlag(args.values.frames, 'frames', 1, 10_000) ?? 25;
  const rounds = intFlag(args.values.rounds, 'rounds', 1, 100) ?? 4;
  const size = intFlag(args.values.size, 'size', 16, 2048) ?? 640;
  const quality = intFlag(args.values.quality, 'quality', 1, 100) ?? 80;
  const warmup = intFlag(args.values.warmup, 'warmup', 0, 1000) ?? 3;

  const started = performance.now();
  console.log('motion-to-photon: starting the render engine…');
  const engine = await WebGpuRenderEngine.create().catch((err: Error) => {
    throw new Error(`${err.message}\nRun scripts/install-render-deps.sh, then the bench again.`);
  });
  const gpu = (engine.describe() as { gpu: { backend?: string } }).gpu;
  const env = environment({ gpu, sharp: sharp.versions.sharp, frames, rounds, warmup, eyeSize: size, quality });
  printEnvironment(env);

  // A closed loop of frames is far under the session's rate cap; the server owns (and closes) the engine.
  const server = new EdgeServer({ nodeId: 'bench-render', renderer: engine });
  const { url, port } = await server.listen();
  const sessionPath = new URL(url).pathname;
  const links: Link[] = [];
  const options = { pingIntervalMs: 0, requestTimeoutMs: 10_000 };
  links.push({ name: 'loopback', rttMs: 0, proxy: null, session: await connect(url, options) });
  for (const [name, rttMs] of [['edge 5 ms', 5], ['cloud 60 ms', 60]] as const) {
    const proxy = await startNetemProxy({ target: { host: '127.0.0.1', port }, delayMs: rttMs / 2 });
    links.push({ name, rttMs, proxy, session: await connect(proxy.url + sessionPath, options) });
  }
  const camera = { fovY: 90, ipd: 0.064, width: size, height: size };

  try {
    // Correctness before timing: both eyes see the red cube, the left eye's further right.
    mkdirSync(resultsDir(), { recursive: true });
    const saved: string[] = [];
    for (const yaw of [0, 20]) {
      const frame = await links[0]!.session.render({ pose: headPose(yaw), eye: 'both', camera, codec: 'jpeg', quality: 95 });
      const image = await decodeFrame(frame.data, 'jpeg', frame.width, frame.height);
      const left = findBlob(image, IS_RED, 0, size);
      const right = findBlob(image, IS_RED, size, 2 * size);
      if (!(left.count > 100 && right.count > 100 && left.x > right.x)) {
        throw new Error(`correctness check failed at yaw ${yaw}°: red cube left ${JSON.stringify(left)} right ${JSON.stringify(right)}`);
      }
      const tag = yaw === 0 ? '' : `-yaw${yaw}`;
      saved.push(await savePng(`frame${tag}-left.png`, frame, size, 0), await savePng(`frame${tag}-right.png`, frame, size, 1));
    }
    console.log(`correctness ok; saved ${saved.map((f) => path.basename(f)).join(', ')} in ${path.relative(process.cwd(), resultsDir()) || resultsDir()}`);

    const samples = new Map<string, Sample[]>(links.map((l) => [l.name, []]));
    let yaw = 0;
    outer: for (let round = 0; round < rounds; round++) {
      for (const link of links) {
        for (let n = 0; n < warmup + frames; n++) {
          if (performance.now() - started > MAX_BENCH_MS) {
            console.log(`time budget of ${MAX_BENCH_MS / 1000} s reached; stopping early`);
            break outer;
          }
          yaw = (yaw + 1.5) % 60; // a slow head turn: every frame differs
          const sentAt = performance.now();
          const frame = await link.session.render({ pose: headPose(yaw - 30), eye: 'both', camera, codec: 'jpeg', quality });
          const receivedAt = performance.now();
          await sharp(frame.data).raw().toBuffer();
          const decodedAt = performance.now();
          if (n < warmup) continue;
          const t = frame.timings;
          const nodeMs = t.queueMs + t.renderMs + t.readbackMs + t.encodeMs;
          samples.get(link.name)!.push({
            totalMs: decodedAt - sentAt,
            ...t,
            networkMs: Math.max(0, receivedAt - sentAt - nodeMs),
            decodeMs: decodedAt - receivedAt,
            bytes: frame.data.byteLength,
          });
        }
        const s = samples.get(link.name)!;
        console.log(`round ${round + 1}/${rounds} ${link.name.padEnd(12)} n=${s.length} p50 so far ${summarize(s.map((x) => x.totalMs)).p50.toFixed(1)} ms`);
      }
    }

    const stages = ['queueMs', 'renderMs', 'readbackMs', 'encodeMs', 'networkMs', 'decodeMs'] as const;
    const results = links.map((link) => {
      const s = samples.get(link.name)!;
      const total = round2(summarize(s.map((x) => x.totalMs)));
      const perStage = Object.fromEntries(stages.map((k) => [k, round2(summarize(s.map((x) => x[k])))]));
      const targetMs = link.rttMs + 35;
      return {
        link: link.name,
        rttMs: link.rttMs,
        total,
        stages: perStage,
        node: round2(summarize(s.map((x) => x.queueMs + x.renderMs + x.readbackMs + x.encodeMs))),
        networkPlusDecode: round2(summarize(s.map((x) => x.networkMs + x.decodeMs))),
        meanFrameBytes: Math.round(s.reduce((a, x) => a + x.bytes, 0) / (s.length || 1)),
        targetMs,
        meetsTarget: total.p50 <= targetMs,
      };
    });

    console.log(`\nmotion-to-photon, 2 × ${size}² JPEG q${quality}, ms (p50 / p99):`);
    console.log(['link', 'total', ...stages.map((s) => s.replace('Ms', '')), 'target', 'ok'].map((h) => h.padEnd(13)).join(''));
    for (const r of results) {
      const cell = (p: { p50: number; p99: number }) => `${p.p50.toFixed(1)}/${p.p99.toFixed(1)}`.padEnd(13);
      console.log(r.link.padEnd(13) + cell(r.total) + stages.map((k) => cell(r.stages[k]!)).join('') + `≤${r.targetMs}`.padEnd(13) + (r.meetsTarget ? 'yes' : 'NO'));
    }

    const svg = barChart({
      title: `Motion-to-photon, 2 × ${size}² JPEG q${quality}, Dawn ${String(gpu.backend)}`,
      yLabel: 'ms',
      categories: results.map((r) => r.link),
      series: [
        { name: 'total p50', values: results.map((r) => r.total.p50) },
        { name: 'total p99', values: results.map((r) => r.total.p99) },
        { name: 'target (RTT + 35)', values: results.map((r) => r.targetMs) },
        { name: 'node p50', values: results.map((r) => r.node.p50) },
        { name: 'net+decode p50', values: results.map((r) => r.networkPlusDecode.p50) },
      ],
    });
    writeResult(
      'motion-to-photon',
      {
        bench: 'motion-to-photon',
        env,
        config: { frames, rounds, warmup, eyeSize: size, eyes: 2, codec: 'jpeg', quality, inFlight: 1 },
        note: 'Closed loop, one request in flight, through EdgeServer + client Session; edge/cloud via the netem proxy. Shared 2-core machine: noisy.',
        results,
        frames: saved.map((f) => path.basename(f)),
      },
      svg,
    );
  } finally {
    for (const link of links) link.session.close();
    for (const link of links) await link.proxy?.close();
    await server.close({ deadlineMs: 0 });
  }
}
