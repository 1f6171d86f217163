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
 *   node dist/bench/motion-to-photon.js [--frames 25] [--rounds 4] [--size 640] [--quality 80]
 * Writes bench/results/motion-to-photon.json + .svg and PNG frames of the test scene.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import WebSocket from 'ws';
import {
  DEFAULT_CLIENT_MAX_FRAME_BYTES,
  DEFAULT_LIMITS,
  decode,
  encode,
  type Codec,
  type FrameMessage,
  type Message,
  type RenderMessage,
} from '../protocol/index.js';
import { WebGpuRenderEngine } from '../edge-server/render/WebGpuRenderEngine.js';
import { TEST_EYE_HEIGHT } from '../edge-server/render/testScene.js';
import { startNetemProxy, type NetemProxy } from './netem/NetemProxy.js';
import { startRenderEndpoint } from './motion-to-photon/renderEndpoint.js';
import { stackedBarSvg, summarize } from './motion-to-photon/report.js';
import { decodeFrame, findBlob, IS_RED } from '../test/lib/colorBlobs.js';

const HELP = `bench motion-to-photon: pose sent → stereo frame received and decoded, per stage

  --frames N    timed frames per link per round (default 25)
  --rounds N    rounds; links are interleaved within each round (default 4)
  --size N      pixels per eye edge (default 640)
  --quality N   JPEG quality (default 80)
  --warmup N    untimed frames per link per round (default 3)
  --help

Needs the GPU stack (scripts/install-render-deps.sh on machines without a GPU).
Writes bench/results/motion-to-photon.{json,svg} and frame PNGs.`;

const RESULTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/results');
const CLIENT_LIMITS = { ...DEFAULT_LIMITS, maxFrameBytes: DEFAULT_CLIENT_MAX_FRAME_BYTES };
const MAX_BENCH_MS = 110_000;

interface Link {
  name: string;
  rttMs: number;
  proxy: NetemProxy | null;
  url: string;
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

/** A minimal client: one socket, one request in flight, answers matched by id. */
class FrameClient {
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, { resolve: (m: FrameMessage) => void; reject: (e: Error) => void; received?: number }>();
  #nextId = 1;
  lastReceivedAt = 0;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data: Buffer) => {
      this.lastReceivedAt = performance.now();
      const message = decode(data, CLIENT_LIMITS);
      const id = 'id' in message ? (message.id as number | undefined) : undefined;
      const waiter = id === undefined ? undefined : this.#pending.get(id);
      if (!waiter) return;
      this.#pending.delete(id!);
      if (message.t === 'frame') waiter.resolve(message);
      else waiter.reject(new Error(message.t === 'error' ? `${message.code}: ${message.message}` : `unexpected ${message.t}`));
    });
  }

  static async connect(url: string): Promise<FrameClient> {
    const ws = new WebSocket(url, { maxPayload: DEFAULT_CLIENT_MAX_FRAME_BYTES });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.setMaxListeners?.(0);
    return new FrameClient(ws);
  }

  render(request: Omit<RenderMessage, 't' | 'id'>): Promise<FrameMessage> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#ws.send(encode({ t: 'render', id, ...request } as Message));
    });
  }

  close(): void {
    this.#ws.close();
  }
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

async function savePng(name: string, frame: FrameMessage, eyeWidth: number, half: 0 | 1): Promise<string> {
  const file = path.join(RESULTS_DIR, name);
  await sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 4 } })
    .extract({ left: half * eyeWidth, top: 0, width: eyeWidth, height: frame.height })
    .removeAlpha()
    .png({ compressionLevel: 9, palette: true, colours: 64 })
    .toFile(file);
  return file;
}

/** `edge-offload bench motion-to-photon [options]`; resolves when the results are written. */
export async function runMotionToPhotonBench(argv: string[] = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      frames: { type: 'string', default: '25' },
      rounds: { type: 'string', default: '4' },
      size: { type: 'string', default: '640' },
      quality: { type: 'string', default: '80' },
      warmup: { type: 'string', default: '3' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const frames = Number(values.frames);
  const rounds = Number(values.rounds);
  const size = Number(values.size);
  const quality = Number(values.quality);
  const warmup = Number(values.warmup);
  for (const [name, v] of Object.entries({ frames, rounds, size, quality })) {
    if (!Number.isInteger(v) || v < 1) throw new TypeError(`--${name} must be a positive integer`);
  }
  if (!Number.isInteger(warmup) || warmup < 0) throw new TypeError('--warmup must be a non-negative integer');

  const started = performance.now();
  console.log('motion-to-photon: starting the render engine…');
  const engine = await WebGpuRenderEngine.create().catch((err: Error) => {
    throw new Error(`${err.message}\nRun scripts/install-render-deps.sh, then the bench again.`);
  });
  const gpu = (engine.describe() as { gpu: unknown }).gpu;
  const env = {
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    loadavg: os.loadavg().map((v) => +v.toFixed(2)),
    gpu,
    sharp: sharp.versions.sharp,
    date: new Date().toISOString(),
  };
  console.log(`# node ${env.node}  ${env.cpu} ×${env.cores}  load ${env.loadavg.join(' ')}`);
  console.log(`# gpu ${JSON.stringify(gpu)}`);

  const endpoint = await startRenderEndpoint(engine);
  const target = { host: '127.0.0.1', port: endpoint.port };
  const links: Link[] = [{ name: 'loopback', rttMs: 0, proxy: null, url: endpoint.url }];
  for (const [name, rttMs] of [['edge 5 ms', 5], ['cloud 60 ms', 60]] as const) {
    const proxy = await startNetemProxy({ target, delayMs: rttMs / 2 });
    links.push({ name, rttMs, proxy, url: proxy.url });
  }
  const clients = await Promise.all(links.map((l) => FrameClient.connect(l.url)));
  const camera = { fovY: 90, ipd: 0.064, width: size, height: size };

  try {
    // Correctness before timing: both eyes see the red cube near the centre, left eye's further right.
    mkdirSync(RESULTS_DIR, { recursive: true });
    const saved: string[] = [];
    for (const yaw of [0, 20]) {
      const raw = await clients[0]!.render({ pose: headPose(yaw), eye: 'both', camera, codec: 'raw' as Codec });
      const image = await decodeFrame(raw.data, 'raw', raw.width, raw.height);
      const left = findBlob(image, IS_RED, 0, size);
      const right = findBlob(image, IS_RED, size, 2 * size);
      if (!(left.count > 100 && right.count > 100 && left.x > right.x)) {
        throw new Error(`correctness check failed at yaw ${yaw}°: red cube left ${JSON.stringify(left)} right ${JSON.stringify(right)}`);
      }
      const tag = yaw === 0 ? '' : `-yaw${yaw}`;
      saved.push(await savePng(`frame${tag}-left.png`, raw, size, 0), await savePng(`frame${tag}-right.png`, raw, size, 1));
    }
    console.log(`correctness ok; saved ${saved.map((f) => path.relative(process.cwd(), f)).join(', ')}`);

    const samples = new Map<string, Sample[]>(links.map((l) => [l.name, []]));
    let yaw = 0;
    outer: for (let round = 0; round < rounds; round++) {
      for (const [i, link] of links.entries()) {
        const client = clients[i]!;
        for (let n = 0; n < warmup + frames; n++) {
          if (performance.now() - started > MAX_BENCH_MS) {
            console.log(`time budget of ${MAX_BENCH_MS / 1000} s reached; stopping early`);
            break outer;
          }
          yaw = (yaw + 1.5) % 60; // a slow head turn: every frame differs
          const sentAt = performance.now();
          const frame = await client.render({ pose: headPose(yaw - 30), eye: 'both', camera, codec: 'jpeg', quality });
          const receivedAt = client.lastReceivedAt;
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
        console.log(`round ${round + 1}/${rounds} ${link.name.padEnd(12)} n=${s.length} p50 so far ${summarize(s.map((x) => x.totalMs)).p50} ms`);
      }
    }

    const stages = ['queueMs', 'renderMs', 'readbackMs', 'encodeMs', 'networkMs', 'decodeMs'] as const;
    const results = links.map((link) => {
      const s = samples.get(link.name)!;
      const total = summarize(s.map((x) => x.totalMs));
      const perStage = Object.fromEntries(stages.map((k) => [k, summarize(s.map((x) => x[k]))]));
      const targetMs = link.rttMs + 35;
      return {
        link: link.name,
        rttMs: link.rttMs,
        total,
        stages: perStage,
        networkPlusDecode: summarize(s.map((x) => x.networkMs + x.decodeMs)),
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

    const svg = stackedBarSvg({
      title: `Motion-to-photon, 2 × ${size}² JPEG, ${String((gpu as { backend?: string }).backend)} (p50 per stage)`,
      categories: results.map((r) => r.link),
      stages: stages.map((s) => s.replace('Ms', '')),
      values: results.map((r) => stages.map((k) => r.stages[k]!.p50)),
      totals: results.map((r) => r.total.p50),
      targets: results.map((r) => r.targetMs),
    });
    const json = {
      bench: 'motion-to-photon',
      env,
      config: { frames, rounds, warmup, eyeSize: size, eyes: 2, codec: 'jpeg', quality, inFlight: 1 },
      note: 'Closed loop, one request in flight. Timings on a shared 2-core machine are noisy.',
      results,
      frames: saved.map((f) => path.basename(f)),
    };
    writeFileSync(path.join(RESULTS_DIR, 'motion-to-photon.json'), JSON.stringify(json, null, 2) + '\n');
    writeFileSync(path.join(RESULTS_DIR, 'motion-to-photon.svg'), svg);
    console.log('wrote bench/results/motion-to-photon.json and .svg');
  } finally {
    for (const c of clients) c.close();
    for (const l of links) await l.proxy?.close();
    await endpoint.close();
    await engine.close();
  }
}

// Run directly: node dist/bench/motion-to-photon.js [options]
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runMotionToPhotonBench().then(
    () => process.exit(0),
    (err: Error) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}
