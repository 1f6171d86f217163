/**
 * The video half of `bench webrtc`: rendered frames as H.264 over WebRTC (ffmpeg → mediasoup →
 * Chromium's decoder) vs JPEG over ws, at the same resolution, through the user-space netem links
 * (TCP proxy for ws, UDP proxy for WebRTC: the page's ICE candidates are rewritten to it).
 *
 *  1. Quality: the same 90 rendered frames of a textured scene with the head turning, encoded as
 *     JPEG at several qualities and as H.264 at several bitrates (the edge's encoder arguments);
 *     SSIM against the raw render and bits per second at 30 fps; JPEG's rate at H.264's SSIM.
 *  2. Latency: pose sent → frame shown in Chromium (requestVideoFrameCallback for the video track,
 *     createImageBitmap + the next animation frame for JPEG), frames shown per second, on a 5 ms
 *     link, then under a 10 Mbit/s cap with the encoder's bitrate adaptation on and off.
 *
 *   npm run bench -- webrtc-video [--frames 150]
 * Writes bench/results/webrtc-video.json + webrtc-video.svg. Needs mediasoup, ffmpeg, Chromium.
 */
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { intFlag, parseCommandArgs } from '../bin/commands/args.js';
import { startNetemProxy, type NetemProxy } from '../netem/NetemProxy.js';
import { startUdpNetemProxy, type UdpNetemProxy } from '../netem/UdpNetemProxy.js';
import { connect } from '../client-sdk/node.js';
import { barChart } from './lib/chart.js';
import { CHROMIUM_PATH, launchChromium } from './lib/chromium.js';
import { environment, printEnvironment } from './lib/environment.js';
import { writeResult } from './lib/results.js';
import { detailedTextureJpeg, texturedQuadGlb } from './lib/scenes.js';
import { serveForBrowser } from './lib/staticServer.js';
import { quantile, summarize } from './lib/stats.js';
import { measureQuality } from './lib/videoQuality.js';
import { WebRtcEngineHost } from './lib/webrtcRenderEdge.js';
import { videoPage, type PageRun } from './lib/videoPage.js';

const HELP = `Usage: edge-offload bench webrtc-video [options]

H.264 over WebRTC (ffmpeg → mediasoup → Chromium) vs JPEG over ws at ${'640×360'}: bits per second at
equal SSIM, pose → shown-frame latency and frame rate on a 5 ms link and under a 10 Mbit/s cap
with and without bitrate adaptation (netem, TCP for ws and UDP for WebRTC).

Options:
  --frames N    timed frames per run          [default: 150]
  --warmup N    untimed frames per run        [default: 30]
  -h, --help    show this help

Needs mediasoup (scripts/install-mediasoup.sh), ffmpeg (scripts/install-ffmpeg.sh) and Chromium
(scripts/install-chromium.sh). Writes bench/results/webrtc-video.{json,svg}.`;

const CAMERA = { fovY: 70, ipd: 0.064, width: 640, height: 360 };
const FPS = 30;
const CAP_BYTES_PER_S = 10e6 / 8;
/** Encoder bitrate where adaptation starts, and the only one without it: above the cap on purpose. */
const ENCODER_BITRATE = 16_000_000;

interface Run {
  name: string;
  codec: 'jpeg' | 'h264';
  capped: boolean;
  adapt?: boolean;
}

const RUNS: Run[] = [
  { name: 'jpeg/ws', codec: 'jpeg', capped: false },
  { name: 'h264/webrtc', codec: 'h264', capped: false, adapt: true },
  { name: 'jpeg/ws capped', codec: 'jpeg', capped: true },
  { name: 'h264/webrtc capped, adaptation', codec: 'h264', capped: true, adapt: true },
  { name: 'h264/webrtc capped, no adaptation', codec: 'h264', capped: true, adapt: false },
];

const round2 = (n: number) => +n.toFixed(2);

async function runInBrowser(browser: Browser, run: Run, glb: Uint8Array, frames: number, warmup: number) {
  const host = await WebRtcEngineHost.start(
    { fps: FPS, startBitrate: ENCODER_BITRATE, maxBitrate: ENCODER_BITRATE, adaptBitrate: run.adapt ?? false },
    { enableTcp: false },
  );
  const link = { delayMs: 2.5, ...(run.capped ? { down: { bandwidthBytesPerS: CAP_BYTES_PER_S } } : {}) };
  const tcp: NetemProxy = await startNetemProxy({ target: { host: '127.0.0.1', port: Number(new URL(host.url).port) }, delayMs: 2.5, ...(run.capped ? { bandwidthBytesPerS: CAP_BYTES_PER_S } : {}) });
  const udp: UdpNetemProxy[] = [];
  const site = await serveForBrowser(videoPage());
  const tab = await browser.newPage();
  try {
    // one proxy per edge candidate: the video offer names the same candidate as the first answer
    const byTarget = new Map<string, Promise<UdpNetemProxy>>();
    await tab.exposeFunction('proxyFor', async (ip: string, port: number) => {
      let proxy = byTarget.get(`${ip}:${port}`);
      if (!proxy) {
        proxy = startUdpNetemProxy({ target: { host: ip, port }, ...link });
        byTarget.set(`${ip}:${port}`, proxy);
        udp.push(await proxy);
      }
      return (await proxy).port;
    });
    await tab.goto(site.url);
    await tab.waitForFunction(() => (window as { runVideo?: unknown }).runVideo, undefined, { timeout: 30_000 });
    const url = tcp.url + new URL(host.url).pathname;
    const result = (await tab.evaluate(
      ([url, codec, glb, camera, frames, warmup, fps]) => (window as unknown as { runVideo: (...a: unknown[]) => Promise<PageRun> }).runVideo(url, codec, glb, camera, frames, warmup, fps),
      [url, run.codec, Buffer.from(glb).toString('base64'), CAMERA, frames, warmup, FPS] as const,
    )) as PageRun;
    if (result.error) throw new Error(`${run.name}: the page failed: ${result.error}`);
    const shown = result.records.filter((r) => r.shownAt !== undefined);
    const latencies = shown.map((r) => r.shownAt! - r.sentAt);
    const latency = { ...summarize(latencies), p95: quantile([...latencies].sort((a, b) => a - b), 0.95) };
    const seconds = (result.endedAt - result.startedAt) / 1000;
    const bytes = run.codec === 'h264' ? udp.reduce((n, p) => n + p.stats.bytesDown, 0) : tcp.stats.bytesDown;
    return {
      run: run.name,
      codec: run.codec,
      capped: run.capped,
      adaptation: run.adapt ?? null,
      framesAsked: result.records.length,
      framesShown: shown.length,
      framesPerSecond: round2(shown.length / seconds),
      latencyMs: { p50: round2(latency.p50), p95: round2(latency.p95), p99: round2(latency.p99), max: round2(latency.max) },
      wireMbitPerS: round2((bytes * 8) / (result.wallMs / 1000) / 1e6),
    };
  } finally {
    await tab.close();
    await site.close();
    await host.close();
    await tcp.close();
    await Promise.all(udp.map((p) => p.close()));
  }
}

/** `edge-offload bench webrtc-video [options]`; resolves when the results are written. */
export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(argv, { frames: { type: 'string' }, warmup: { type: 'string' } }, HELP);
  if (!args) return;
  const frames = intFlag(args.values.frames, 'frames', 10, 100_000) ?? 150;
  const warmup = intFlag(args.values.warmup, 'warmup', 0, 10_000) ?? 30;
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`Chromium not found at ${CHROMIUM_PATH}: run 'bash scripts/install-chromium.sh' as root`);
  const env = environment({ frames, warmup, fps: FPS, camera: CAMERA, capMbitPerS: CAP_BYTES_PER_S * 8e-6, encoderBitrate: ENCODER_BITRATE, encoder: 'libx264 ultrafast zerolatency', network: 'netem/ user-space proxies, 5 ms RTT' });
  printEnvironment(env);
  const glb = await texturedQuadGlb(await detailedTextureJpeg(1024), { halfWidth: 6, halfHeight: 3.5, mimeType: 'image/jpeg' });

  // 1. quality: the raw frames of the same head path, from the node's renderer
  const host = await WebRtcEngineHost.start({}, { enableTcp: false });
  const raw: Uint8Array[] = [];
  try {
    const session = await connect(host.url, { pingIntervalMs: 0, transport: 'ws', requestTimeoutMs: 30_000 });
    await session.uploadScene('bench', glb);
    for (let i = 0; i < 90; i++) {
      const yaw = 20 * Math.sin(i * 0.1);
      const q = [0, Math.sin((yaw * Math.PI) / 360), 0, Math.cos((yaw * Math.PI) / 360)] as [number, number, number, number];
      const frame = await session.render({ pose: { device: 'head', time: i, position: [0, 1.6, 0], orientation: q }, eye: 'left', camera: CAMERA, codec: 'raw', scene: 'bench' });
      raw.push(frame.data);
    }
    session.close();
  } finally {
    await host.close();
  }
  // correctness before measuring: frames are the asked size and not blank
  if (raw.some((f) => f.byteLength !== CAMERA.width * CAMERA.height * 4)) throw new Error('a raw frame has the wrong size');
  if (new Set(raw[0]!.subarray(0, 4000)).size < 20) throw new Error('the textured scene did not render (the first frame is flat)');
  const quality = await measureQuality(raw, CAMERA.width, CAMERA.height, FPS, [50, 70, 80, 90, 95], [1e6, 2e6, 4e6, 8e6]);
  console.log('\nquality (SSIM vs raw render) and bits per second at 30 fps:');
  for (const p of quality.jpeg) console.log(`  jpeg q${p.setting}: SSIM ${p.ssim.toFixed(4)}, ${(p.bitsPerSecond / 1e6).toFixed(2)} Mbit/s`);
  for (const p of quality.equalQuality) {
    const ratio = p.jpegBitsPerSecond ? p.bitsPerSecond / p.jpegBitsPerSecond : undefined;
    console.log(`  h264 ${p.setting / 1e6} Mbit/s: SSIM ${p.ssim.toFixed(4)}, ${(p.bitsPerSecond / 1e6).toFixed(2)} Mbit/s; jpeg at that SSIM ${p.jpegBitsPerSecond ? (p.jpegBitsPerSecond / 1e6).toFixed(2) : 'n/a'} Mbit/s; ratio ${ratio?.toFixed(3) ?? 'n/a'}`);
  }

  // 2. latency and frame rate in Chromium
  const browser = await launchChromium();
  const runs: Awaited<ReturnType<typeof runInBrowser>>[] = [];
  try {
    for (const run of RUNS) {
      const result = await runInBrowser(browser, run, glb, frames, warmup);
      console.log(`${run.name}: ${result.framesShown}/${result.framesAsked} shown, ${result.framesPerSecond} fps, latency p50 ${result.latencyMs.p50} p95 ${result.latencyMs.p95} ms, wire ${result.wireMbitPerS} Mbit/s`);
      runs.push(result);
    }
  } finally {
    await browser.close();
  }

  const byName = (name: string) => runs.find((r) => r.run === name)!;
  const comparable = quality.equalQuality.filter((p) => p.jpegBitsPerSecond !== undefined);
  const bandwidthRatio = comparable.length ? Math.max(...comparable.map((p) => p.bitsPerSecond / p.jpegBitsPerSecond!)) : undefined;
  const adaptedP95 = byName('h264/webrtc capped, adaptation').latencyMs.p95;
  const uncappedP95 = byName('h264/webrtc').latencyMs.p95;
  const acceptance = {
    h264BandwidthAtEqualSsimVsJpeg: bandwidthRatio === undefined ? null : round2(bandwidthRatio),
    bandwidthMet: bandwidthRatio !== undefined && bandwidthRatio <= 0.2,
    cappedAdaptedP95VsUncapped: round2(adaptedP95 / uncappedP95),
    latencyMet: adaptedP95 <= 2 * uncappedP95,
  };
  console.log(`\nacceptance: H.264 bandwidth at equal SSIM ≤ 1/5 of JPEG (worst point ${acceptance.h264BandwidthAtEqualSsimVsJpeg}): ${acceptance.bandwidthMet ? 'met' : 'NOT met'}`);
  console.log(`acceptance: capped p95 with adaptation ≤ 2× uncapped (${acceptance.cappedAdaptedP95VsUncapped}×): ${acceptance.latencyMet ? 'met' : 'NOT met'}`);
  const svg = barChart({
    title: `Pose → shown frame, ${CAMERA.width}×${CAMERA.height} in Chromium: H.264/WebRTC vs JPEG/ws (5 ms link; 10 Mbit/s cap)`,
    yLabel: 'ms',
    categories: runs.map((r) => r.run),
    series: [
      { name: 'p50', values: runs.map((r) => r.latencyMs.p50) },
      { name: 'p95', values: runs.map((r) => r.latencyMs.p95) },
      { name: 'frames/s', values: runs.map((r) => r.framesPerSecond) },
    ],
  });
  const file = writeResult('webrtc-video', { env, quality, runs, acceptance }, svg);
  console.log(`wrote ${file}`);
}
