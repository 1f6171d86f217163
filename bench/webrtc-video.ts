/**
 * The video half of `bench webrtc`: rendered frames as H.264 over WebRTC (ffmpeg → mediasoup →
 * Chromium's decoder) vs JPEG over ws, at the same resolution, through the user-space netem links
 * (TCP proxy for ws, UDP proxy for WebRTC: the page's ICE candidates are rewritten to it).
 *
 *  1. Quality: the same 90 rendered frames with the head turning, of a textured scene and of the
 *     demo's built-in scene, encoded as JPEG at several qualities and as H.264 at several bitrates
 *     and libx264 presets (the edge's encoder arguments, CPU ms per frame); SSIM against the raw
 *     render and bits per second at 30 fps; JPEG's rate at H.264's SSIM, and each preset's rate at
 *     the SSIM of the JPEG the node sends by default (q80): the acceptance point.
 *  2. Latency: pose sent → frame shown in Chromium (requestVideoFrameCallback for the video track,
 *     createImageBitmap + the next animation frame for JPEG), frames shown per second, on a 5 ms
 *     link, then under a 10 Mbit/s cap with the encoder's bitrate adaptation on and off.
 *     Each run splits a frame's time into stages (node render and encode, ws answer, last RTP
 *     packet, decode, handed to the compositor) from the node's timings and the browser's
 *     requestVideoFrameCallback metadata.
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
import { measureQuality, rateAt } from './lib/videoQuality.js';
import { DEFAULT_JPEG_QUALITY } from '../edge-server/render/encode.js';
import { TEST_SCENE_NAME } from '../edge-server/render/testScene.js';
import type { X264Preset } from '../edge-server/webrtc/video/H264Encoder.js';
import type { RtpStamp } from '../edge-server/webrtc/video/RtpRelay.js';
import { WebRtcEngineHost } from './lib/webrtcRenderEdge.js';
import { videoPage, type PageRecord, type PageRun, type ReceiverStats } from './lib/videoPage.js';

const HELP = `Usage: edge-offload bench webrtc-video [options]

H.264 over WebRTC (ffmpeg → mediasoup → Chromium) vs JPEG over ws at ${'640×360'}: bits per second at
equal SSIM, pose → shown-frame latency and frame rate on a 5 ms link and under a 10 Mbit/s cap
with and without bitrate adaptation (netem, TCP for ws and UDP for WebRTC).

Options:
  --frames N    timed frames per run          [default: 150]
  --warmup N    untimed frames per run        [default: 30]
  --latency-only  skip the quality sweep; writes webrtc-video-latency.{json,svg}
  --runs W,…    only the latency runs whose name is or contains one of the words
                (e.g. 'capped'; a comma followed by a space is part of a name, so
                'h264/webrtc,h264/webrtc capped, adaptation' picks those two runs);
                writes webrtc-video-latency.{json,svg}
  -h, --help    show this help

Needs mediasoup (scripts/install-mediasoup.sh), ffmpeg (scripts/install-ffmpeg.sh) and Chromium
(scripts/install-chromium.sh). Writes bench/results/webrtc-video.{json,svg}.`;

const CAMERA = { fovY: 70, ipd: 0.064, width: 640, height: 360 };
const FPS = 30;
const CAP_BYTES_PER_S = 10e6 / 8;
/** Encoder bitrate where adaptation starts, and the only one without it: above the cap on purpose. */
const ENCODER_BITRATE = 16_000_000;

export interface Run {
  name: string;
  codec: 'jpeg' | 'h264';
  capped: boolean;
  adapt?: boolean;
  /** What the RTP timestamps say (video.rtpStamp), default the node's ('taken'). */
  stamp?: RtpStamp;
}

export const RUNS: Run[] = [
  { name: 'jpeg/ws', codec: 'jpeg', capped: false },
  { name: 'h264/webrtc', codec: 'h264', capped: false, adapt: true },
  // the same, stamped when the first packet left the encoder, and 1/fps apart (before RtpRelay)
  { name: 'h264/webrtc, sent stamps', codec: 'h264', capped: false, adapt: true, stamp: 'sent' },
  { name: 'h264/webrtc, 1/fps stamps', codec: 'h264', capped: false, adapt: true, stamp: 'fps' },
  { name: 'jpeg/ws capped', codec: 'jpeg', capped: true },
  { name: 'h264/webrtc capped, adaptation', codec: 'h264', capped: true, adapt: true },
  { name: 'h264/webrtc capped, no adaptation', codec: 'h264', capped: true, adapt: false },
];

const round2 = (n: number) => +n.toFixed(2);
const JPEG_QUALITIES = [50, 60, 70, 80, 90, 95];
const H264_BITRATES = [5e5, 1e6, 2e6, 4e6, 8e6];
/** The node's default first: the acceptance is read on it. */
const PRESETS: X264Preset[] = ['superfast', 'ultrafast', 'veryfast'];

/**
 * Where a frame's time goes, medians over the shown frames (ms): node-side render (queue, render,
 * readback) and encode (JPEG; H.264: pipe write → packets at the router), then page-side asked →
 * answered, answered → received (H.264 only: the last packet vs the ws answer, negative when the
 * video came first), → decoded, → shown.
 */
function stages(shown: PageRecord[]) {
  const p50 = (values: (number | undefined)[]) => {
    const known = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
    return known.length ? round2(quantile(known.sort((a, b) => a - b), 0.5)) : null;
  };
  return {
    nodeRender: p50(shown.map((r) => r.timings && r.timings.queueMs + r.timings.renderMs + r.timings.readbackMs)),
    nodeEncode: p50(shown.map((r) => r.timings?.encodeMs)),
    askedToAnswered: p50(shown.map((r) => r.answeredAt !== undefined ? r.answeredAt - r.sentAt : undefined)),
    answeredToReceived: p50(shown.map((r) => r.receivedAt !== undefined && r.answeredAt !== undefined ? r.receivedAt - r.answeredAt : undefined)),
    receivedToDecoded: p50(shown.map((r) => r.decodedAt !== undefined && r.receivedAt !== undefined ? r.decodedAt - r.receivedAt : undefined)),
    answeredToDecoded: p50(shown.map((r) => r.decodedAt !== undefined && r.answeredAt !== undefined ? r.decodedAt - r.answeredAt : undefined)),
    decodedToShown: p50(shown.map((r) => r.decodedAt !== undefined ? r.shownAt! - r.decodedAt : undefined)),
    shownToCallback: p50(shown.map((r) => r.callbackAt !== undefined ? r.callbackAt - r.shownAt! : undefined)),
  };
}

/**
 * Chromium's own account of its jitter buffer over the timed frames (getStats, end minus after
 * warm-up): mean jitter-buffer delay per emitted frame and its target (ms), frames dropped,
 * keyframes, NACKs and PLIs sent; the whole run's counts too (warm-up included: the first
 * keyframe and the congestion burst).
 */
function receiverSummary(stats: PageRun['receiver']) {
  const a = stats?.afterWarmup;
  const b = stats?.end;
  if (!b) return null;
  const d = (k: keyof ReceiverStats) => (b[k] ?? 0) - (a?.[k] ?? 0);
  const perFrame = (k: keyof ReceiverStats) => (d('jitterBufferEmittedCount') > 0 ? round2((d(k) * 1000) / d('jitterBufferEmittedCount')) : null);
  return {
    timed: {
      jitterBufferDelayMsPerFrame: perFrame('jitterBufferDelay'),
      jitterBufferTargetDelayMsPerFrame: perFrame('jitterBufferTargetDelay'),
      framesDropped: d('framesDropped'),
      keyFramesDecoded: d('keyFramesDecoded'),
      nackCount: d('nackCount'),
      pliCount: d('pliCount'),
    },
    wholeRun: b,
  };
}

/** The raw frames of the head path every run uses (yaw swinging ±20°), rendered by the node. */
async function rawFrames(glb: Uint8Array, scene: string): Promise<Uint8Array[]> {
  const host = await WebRtcEngineHost.start({}, { enableTcp: false });
  const raw: Uint8Array[] = [];
  try {
    const session = await connect(host.url, { pingIntervalMs: 0, transport: 'ws', requestTimeoutMs: 30_000 });
    await session.uploadScene('bench', glb);
    for (let i = 0; i < 90; i++) {
      const yaw = 20 * Math.sin(i * 0.1);
      const q = [0, Math.sin((yaw * Math.PI) / 360), 0, Math.cos((yaw * Math.PI) / 360)] as [number, number, number, number];
      const frame = await session.render({ pose: { device: 'head', time: i, position: [0, 1.6, 0], orientation: q }, eye: 'left', camera: CAMERA, codec: 'raw', scene });
      raw.push(frame.data);
    }
    session.close();
  } finally {
    await host.close();
  }
  // correctness before measuring: frames are the asked size and not blank
  if (raw.some((f) => f.byteLength !== CAMERA.width * CAMERA.height * 4)) throw new Error(`a raw frame of scene ${scene} has the wrong size`);
  // (the demo scene is mostly background: ask for 1 % of the pixels to differ from the corner's)
  const first = raw[0]!;
  let differing = 0;
  for (let i = 0; i < first.length; i += 4) if (Math.abs(first[i]! - first[0]!) + Math.abs(first[i + 1]! - first[1]!) + Math.abs(first[i + 2]! - first[2]!) > 30) differing++;
  if (differing < first.length / 4 / 100) throw new Error(`scene ${scene} did not render (the first frame is flat)`);
  return raw;
}

export async function runInBrowser(browser: Browser, run: Run, glb: Uint8Array, frames: number, warmup: number) {
  const host = await WebRtcEngineHost.start(
    { fps: FPS, startBitrate: ENCODER_BITRATE, maxBitrate: ENCODER_BITRATE, adaptBitrate: run.adapt ?? false, ...(run.stamp ? { rtpStamp: run.stamp } : {}) },
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
      rtpStamp: run.codec === 'h264' ? (run.stamp ?? 'taken') : null,
      framesAsked: result.records.length,
      framesShown: shown.length,
      framesPerSecond: round2(shown.length / seconds),
      latencyMs: { p50: round2(latency.p50), p95: round2(latency.p95), p99: round2(latency.p99), max: round2(latency.max) },
      stagesP50Ms: stages(shown),
      wireMbitPerS: round2((bytes * 8) / (result.wallMs / 1000) / 1e6),
      receiver: receiverSummary(result.receiver),
      // pose → shown of each timed frame in order (ms; null: never shown): where in the run the tail is
      latencySeriesMs: result.records.map((r) => (r.shownAt === undefined ? null : Math.round(r.shownAt - r.sentAt))),
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
  const args = parseCommandArgs(argv, { frames: { type: 'string' }, warmup: { type: 'string' }, 'latency-only': { type: 'boolean' }, runs: { type: 'string' } }, HELP);
  if (!args) return;
  const frames = intFlag(args.values.frames, 'frames', 10, 100_000) ?? 150;
  const warmup = intFlag(args.values.warmup, 'warmup', 0, 10_000) ?? 30;
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`Chromium not found at ${CHROMIUM_PATH}: run 'bash scripts/install-chromium.sh' as root`);
  const env = environment({ frames, warmup, fps: FPS, camera: CAMERA, capMbitPerS: CAP_BYTES_PER_S * 8e-6, encoderBitrate: ENCODER_BITRATE, encoder: 'libx264 superfast zerolatency, Main', network: 'netem/ user-space proxies, 5 ms RTT' });
  printEnvironment(env);
  const glb = await texturedQuadGlb(await detailedTextureJpeg(1024), { halfWidth: 6, halfHeight: 3.5, mimeType: 'image/jpeg' });

  // 1. quality: the raw frames of the same head path, from the node's renderer, for the textured
  // scene the latency runs use and for the demo's built-in scene (grid and cubes, mostly flat)
  const latencyOnly = args.values['latency-only'] === true;
  // run names hold ', ': only a comma without a space after it separates words
  const only = typeof args.values.runs === 'string' ? args.values.runs.split(/,(?! )/) : undefined;
  // a word that is a run's whole name picks that run alone, not every run whose name contains it
  const picks = (name: string) => !only || only.some((word) => word === name || (!RUNS.some((r) => r.name === word) && name.includes(word)));
  const quality: Record<string, Awaited<ReturnType<typeof measureQuality>> & { atProductJpeg: Record<string, unknown> }> = {};
  for (const scene of latencyOnly ? [] : ['bench', TEST_SCENE_NAME]) {
    const raw = await rawFrames(glb, scene);
    const measured = await measureQuality(raw, CAMERA.width, CAMERA.height, FPS, JPEG_QUALITIES, H264_BITRATES, PRESETS);
    // what the user sees: JPEG at the node's default quality, and H.264 at the same SSIM
    const jpeg = measured.jpeg.find((p) => p.setting === DEFAULT_JPEG_QUALITY)!;
    const atProductJpeg: Record<string, unknown> = { jpegQuality: jpeg.setting, ssim: jpeg.ssim, jpegBitsPerSecond: Math.round(jpeg.bitsPerSecond) };
    console.log(`\nscene ${scene}: quality (SSIM vs raw render) and bits per second at ${FPS} fps:`);
    for (const p of measured.jpeg) console.log(`  jpeg q${p.setting}: SSIM ${p.ssim.toFixed(4)}, ${(p.bitsPerSecond / 1e6).toFixed(2)} Mbit/s`);
    for (const preset of PRESETS) {
      const curve = measured.equalQuality.filter((p) => p.preset === preset);
      for (const p of curve) {
        const ratio = p.jpegBitsPerSecond ? (p.bitsPerSecond / p.jpegBitsPerSecond).toFixed(3) : 'n/a';
        console.log(`  h264 ${preset} ${p.setting / 1e6} Mbit/s: SSIM ${p.ssim.toFixed(4)}, ${(p.bitsPerSecond / 1e6).toFixed(2)} Mbit/s, ${p.cpuMsPerFrame.toFixed(2)} CPU ms/frame; jpeg at that SSIM ${p.jpegBitsPerSecond ? (p.jpegBitsPerSecond / 1e6).toFixed(2) : 'n/a'} Mbit/s; ratio ${ratio}`);
      }
      const h264Rate = rateAt(curve, jpeg.ssim);
      const cpuMsPerFrame = round2(curve.reduce((n, p) => n + p.cpuMsPerFrame, 0) / curve.length);
      atProductJpeg[preset] = { h264BitsPerSecond: h264Rate === undefined ? null : Math.round(h264Rate), ratio: h264Rate === undefined ? null : +(h264Rate / jpeg.bitsPerSecond).toFixed(3), cpuMsPerFrame };
      console.log(`  ${preset} at JPEG q${jpeg.setting}'s SSIM ${jpeg.ssim.toFixed(4)}: ${h264Rate === undefined ? 'outside the sweep' : `${(h264Rate / 1e6).toFixed(2)} Mbit/s = ${(h264Rate / jpeg.bitsPerSecond).toFixed(3)}× JPEG`}, ${cpuMsPerFrame} CPU ms/frame`);
    }
    quality[scene] = { ...measured, atProductJpeg };
  }

  // 2. latency and frame rate in Chromium
  const browser = await launchChromium();
  const runs: Awaited<ReturnType<typeof runInBrowser>>[] = [];
  try {
    for (const run of RUNS.filter((r) => picks(r.name))) {
      const result = await runInBrowser(browser, run, glb, frames, warmup);
      console.log(`${run.name}: ${result.framesShown}/${result.framesAsked} shown, ${result.framesPerSecond} fps, latency p50 ${result.latencyMs.p50} p95 ${result.latencyMs.p95} ms, wire ${result.wireMbitPerS} Mbit/s; stage p50s ${JSON.stringify(result.stagesP50Ms)}${result.receiver ? `; receiver ${JSON.stringify(result.receiver.timed)}` : ''}`);
      runs.push(result);
    }
  } finally {
    await browser.close();
  }

  const byName = (name: string) => runs.find((r) => r.run === name);
  // the acceptance point: JPEG at the node's default quality on the textured scene vs the node's preset
  const product = quality.bench?.atProductJpeg[PRESETS[0]!] as { ratio: number | null } | undefined;
  const bandwidthRatio = product?.ratio ?? undefined;
  const worst = quality.bench ? Math.max(...quality.bench.equalQuality.filter((p) => p.preset === PRESETS[0] && p.jpegBitsPerSecond).map((p) => p.bitsPerSecond / p.jpegBitsPerSecond!)) : NaN;
  const adaptedP95 = byName('h264/webrtc capped, adaptation')?.latencyMs.p95 ?? NaN;
  const uncappedP95 = byName('h264/webrtc')?.latencyMs.p95 ?? NaN;
  const stampsP50 = (name: string) => ({ poseToShown: byName(name)?.latencyMs.p50 ?? null, decodedToShown: byName(name)?.stagesP50Ms.decodedToShown ?? null });
  const acceptance = {
    // same run: the node's stamps against 1/fps ones (before RtpRelay) and send-time ones
    stampsPoseToShownP50: { taken: stampsP50('h264/webrtc'), sent: stampsP50('h264/webrtc, sent stamps'), fps: stampsP50('h264/webrtc, 1/fps stamps'), jpeg: byName('jpeg/ws')?.latencyMs.p50 ?? null },
    h264BandwidthAtEqualSsimVsJpeg: bandwidthRatio === undefined ? null : bandwidthRatio,
    at: `JPEG q${DEFAULT_JPEG_QUALITY}'s SSIM, textured scene, libx264 ${PRESETS[0]}`,
    worstOverSweep: round2(worst),
    bandwidthMet: bandwidthRatio !== undefined && bandwidthRatio <= 0.2,
    cappedAdaptedP95VsUncapped: round2(adaptedP95 / uncappedP95),
    latencyMet: adaptedP95 <= 2 * uncappedP95,
  };
  console.log(`\nRTP stamps, pose → shown p50 (decoded → shown): ${JSON.stringify(acceptance.stampsPoseToShownP50)}`);
  console.log(`acceptance: H.264 bandwidth at equal SSIM ≤ 1/5 of JPEG (${acceptance.at}: ${acceptance.h264BandwidthAtEqualSsimVsJpeg}; worst point of the sweep ${acceptance.worstOverSweep}): ${acceptance.bandwidthMet ? 'met' : 'NOT met'}`);
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
  const file = writeResult(latencyOnly || only ? 'webrtc-video-latency' : 'webrtc-video', { env, quality, runs, acceptance }, svg);
  console.log(`wrote ${file}`);
}
