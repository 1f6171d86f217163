#!/usr/bin/env node
/**
 * The benches' one entry, run from a clone of the repository (benches are not part of the
 * installed package): `npm run bench -- <name> [options]`. `--out DIR` is taken here for every
 * bench (bench/lib/results.ts); each bench parses the rest and has its own --help.
 */
import { pathToFileURL } from 'node:url';
import { OUT_HELP, takeOutFlag } from './lib/results.js';

interface Bench {
  load: () => Promise<{ main(argv: string[]): Promise<void> }>;
  summary: string;
}

export const BENCHES: Record<string, Bench> = {
  overhead: { load: () => import('./overhead.js'), summary: 'predict round trip through the stack vs a raw ws echo of the same bytes' },
  discovery: { load: () => import('./discovery.js'), summary: 'registry query latency at 210k/1M nodes (memory, Redis), heartbeats, selection quality' },
  'query-parse': { load: () => import('./query-parse.js'), summary: "the replica's own CPU and allocation per Redis query (RESP decode, rows into candidates, ranking), this build vs --before DIR" },
  'nearest-script': { load: () => import('./nearest-script.js'), summary: "Redis's time per NEAREST search script on the same data (SLOWLOG), this build vs --before DIR and option variants, builds rotated per point" },
  'wake-latency': { load: () => import('./wake-latency.js'), summary: 'a woken nice-0 task on core 0 beside a neighbour (busy loop or loopback writes) at nice 0, nice 10, SCHED_IDLE: p99/p99.9 wait' },
  scale: { load: () => import('./scale.js'), summary: 'liveness cost per node (node channel vs signed heartbeats), Redis work, memory, queries under churn, 210k layout' },
  'discovery-placement': { load: () => import('./discovery-placement.js'), summary: '10,000 clients in a metro of 50 nodes: load spread and RTT cost of the placement pick vs always-the-best' },
  'motion-accuracy': { load: () => import('./motion-accuracy.js'), summary: 'angular/position error per predictor on held-out head-motion traces (needs the traces)' },
  'display-error': { load: () => import('./display-error.js'), summary: 'angle felt at display time: none vs prediction vs prediction + reprojection, edge/cloud, seated/walking (needs the traces)' },
  'inference-latency': { load: () => import('./inference-latency.js'), summary: 'head-predictor latency per tfjs backend (tensorflow, wasm, cpu) and execution path' },
  'predict-load': { load: () => import('./predict-load.js'), summary: 'pinned node vs load generator: 10 → 500 sessions × 90 Hz, node handling time (/metrics), CPU per frame, raw ws echo floor, the knee' },
  'worker-scaling': { load: () => import('./worker-scaling.js'), summary: 'edge --workers 1 vs 2: sessions × 90 Hz to the knee per worker count, scaling ratio, cheap load generator (RawWireClient) beside WireClient' },
  'predict-soak': { load: () => import('./predict-soak.js'), summary: 'pinned node, 50 sessions × 90 Hz for 10 minutes: RSS and handling p99 per minute (flat?), raw ws echo floor' },
  failover: { load: () => import('./failover.js'), summary: 'kill -9 / restore / latency spikes: 20 sessions at 90 Hz, edge and cloud behind netem, discovery' },
  'result-signing': { load: () => import('./result-signing.js'), summary: 'node CPU per predict frame with signed results (seal every 128/32/1) vs unsigned' },
  'trust-overhead': { load: () => import('./trust-overhead.js'), summary: 'EntrapNet on (signed results + 2 % traps) vs off: live predict p50/p99, node and client CPU per frame' },
  entrapment: { load: () => import('./entrapment.js'), summary: 'EntrapNet: catch rate vs bad results at trap shares 1/2/5 %, false accusations over 1e5 honest answers' },
  webrtc: { load: () => import('./webrtc.js'), summary: 'pose → prediction over WebRTC data channels vs ws at 0/2/5 % loss, 5 and 60 ms links (needs mediasoup)' },
  'webrtc-video': { load: () => import('./webrtc-video.js'), summary: 'H.264/WebRTC vs JPEG/ws in Chromium: bits/s at equal SSIM, pose → shown frame, 10 Mbit/s cap with/without adaptation (needs mediasoup, ffmpeg)' },
  attacks: { load: () => import('./attacks.js'), summary: "issue #15's hostile-peer attacks on a pinned node: bystander p99 unloaded vs under attack, admission, RSS; discovery and a lying node" },
  fuzz: { load: () => import('./fuzz/campaign.js'), summary: 'mutated frames per entry point (edge ws, discovery HTTP, ws and node channel, WebRTC signalling) with a bystander; crashes, rejections, prototypes, p99, RSS' },
  fairness: { load: () => import('./fairness.js'), summary: "bystander predict p99 while two sessions hog the node with infer batches and renders, fair scheduler vs none" },
  render: { load: () => import('./render.js'), summary: 'stereo frames of the test scene at 256²…2048² per eye: render (GPU → readback) vs JPEG encode, p50/p95, fps; --compare two runs' },
  'motion-to-photon': { load: () => import('./motion-to-photon.js'), summary: 'pose sent → stereo frame rendered, received and decoded: loopback, edge 5 ms, cloud 60 ms' },
};

const COMMON = `Options every benchmark takes:
${OUT_HELP}`;

export const HELP = `Usage: npm run bench -- <name> [options]      (node --expose-gc dist/bench/cli.js <name> …)

Benchmarks:
${Object.entries(BENCHES)
  .map(([name, { summary }]) => `  ${name.padEnd(18)} ${summary}`)
  .join('\n')}

${COMMON}

Run 'npm run bench -- <name> --help' for a benchmark's own options. Training and tuning:
'npm run train:predictor -- --help', 'node dist/bench/tune-kalman.js --help'.`;

export async function runBench(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(HELP);
    return;
  }
  const bench = BENCHES[name];
  if (!bench) throw new Error(`unknown benchmark '${name}'\n\n${HELP}`);
  const own = takeOutFlag(rest);
  await (await bench.load()).main(own);
  if (own.includes('--help') || own.includes('-h')) console.log(`\n${COMMON}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runBench(process.argv.slice(2)).catch((err: unknown) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    // a failed bench may leave servers or child processes behind; do not hang on them
    process.exit(1);
  });
}
