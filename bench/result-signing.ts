/**
 * bench result-signing: what signed results cost the node per predict frame.
 *
 * The frame is the node's own CPU work for one predict, in process: decode the predict bytes
 * (with its pose), push the pose into the history, Kalman observe + predict, encode the answer.
 * The signed variants add exactly what the edge adds (edge-server/trust/ResultSigner.ts): one
 * input-hash update per pose, a record per answer, Ed25519 once per `sealEvery` answers. The
 * in-process frame leaves out ws framing and syscalls, so the overhead ratio here is an upper
 * bound of the overhead on the node's whole per-frame CPU; the same run also measures that whole
 * per-frame CPU on a real edge node process (ws, codec, session, Kalman; the node's own
 * process.cpuUsage over sequential predicts from a client), and the overhead is quoted against it.
 * Variants are interleaved round by round.
 */
import { generateKeyPairSync } from 'node:crypto';
import { PoseHistory } from '../protocol/motion/PoseHistory.js';
import { kalmanPredictor } from '../edge-server/inference/index.js';
import { ResultSigner } from '../edge-server/trust/ResultSigner.js';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { WebSocket } from 'ws';
import { decode, encode, DEFAULT_LIMITS, genesisLink, inputDigestOf, predictionEntry, verifySegment, PROTOCOL_VERSION, type PoseSample, type PredictMessage } from '../protocol/index.js';
import { fromRotationVector } from '../protocol/motion/quaternion.js';
import { barChart } from './lib/chart.js';
import { environment, printEnvironment } from './lib/environment.js';
import { writeResult } from './lib/results.js';
import { perMessage } from './signing/perMessage.js';

const FRAMES_PER_ROUND = 4000;
const ROUNDS = 9;

function motion(n: number): PoseSample[] {
  const out: PoseSample[] = [];
  for (let i = 0; i < n; i++) {
    const t = i / 90;
    out.push({ device: 'head', time: Math.round(t * 1e6), position: [0.3 * t + 0.01 * Math.sin(i / 5), 1.6, -0.1 * t], orientation: fromRotationVector([0.05 * Math.sin(t), 1.4 * t, 0.02 * t]) });
  }
  return out;
}

const { privateKey } = generateKeyPairSync('ed25519');

type Variant = { name: string; sealEvery?: number };
const VARIANTS: Variant[] = [{ name: 'unsigned' }, { name: 'signed, seal every 128', sealEvery: 128 }, { name: 'signed, seal every 32', sealEvery: 32 }, { name: 'signed, every answer', sealEvery: 1 }];

/** µs of CPU per frame for one round of `variant`. */
function round(variant: Variant, frames: Uint8Array[], round: number): number {
  const history = new PoseHistory();
  const predictor = kalmanPredictor().create();
  const signer = variant.sealEvery ? new ResultSigner('bench-node', `s${round}`, privateKey, { sealEvery: variant.sealEvery, sealAfterMs: 1e12 }) : undefined;
  let sink = 0;
  const start = process.cpuUsage();
  for (const bytes of frames) {
    const m = decode(bytes, DEFAULT_LIMITS) as PredictMessage;
    for (const s of m.poses!) {
      signer?.observe(s);
      if (history.push(s)) predictor.observe?.(history.latest!);
    }
    const pose = predictor.predict(history.samples, m.horizonMs) as PoseSample;
    const answer = { t: 'prediction' as const, id: m.id, pose, predictor: 'kalman', horizonMs: m.horizonMs, computeMs: 0.01 };
    if (signer) sink += signer.prediction(m.id, answer) ? 1 : 0;
    sink += encode(answer).length;
  }
  const used = process.cpuUsage(start);
  if (sink < 0) console.log(sink);
  return (used.user + used.system) / frames.length;
}

async function correctness(): Promise<void> {
  const samples = motion(20);
  const signer = new ResultSigner('bench-node', 'check', privateKey, { sealEvery: 20 });
  const history = new PoseHistory();
  const predictor = kalmanPredictor().create();
  const records: string[] = [];
  let seal;
  for (const [i, s] of samples.entries()) {
    signer.observe(s);
    if (history.push(s)) predictor.observe?.(history.latest!);
    const answer = { predictor: 'kalman', horizonMs: 30, pose: predictor.predict(history.samples, 30) as PoseSample };
    seal = signer.prediction(i + 1, answer) ?? seal;
    records.push(predictionEntry(i + 1, i + 1, answer));
  }
  const publicKey = (privateKey.export({ format: 'jwk' }) as { x: string }).x;
  const ok = seal && (await verifySegment({ previousLink: await genesisLink('bench-node', 'check'), entries: records, seal }, publicKey)) && (await inputDigestOf('check', samples)) === seal.inputDigest;
  if (!ok) throw new Error('correctness check failed: the signed block does not verify');
}

const NODE_SCRIPT = `
import { EdgeServer } from ${JSON.stringify(new URL('../edge-server/index.js', import.meta.url).href)};
import { kalmanPredictor } from ${JSON.stringify(new URL('../edge-server/inference/index.js', import.meta.url).href)};
import { createInterface } from 'node:readline';
const server = new EdgeServer({ predictors: [kalmanPredictor()], limits: { maxMessagesPerSecond: 1e6, rateBurst: 1e6 } });
const { url } = await server.listen();
console.log(JSON.stringify({ url }));
createInterface({ input: process.stdin }).on('line', (l) => {
  if (l === 'cpu') { const u = process.cpuUsage(); console.log(JSON.stringify({ cpuUs: u.user + u.system })); }
  else server.close().then(() => process.exit(0));
});
`;

/** CPU µs a real edge node process spends per predict frame (one pose on the predict, answered before the next). */
async function nodeCpuPerFrame(samples: readonly PoseSample[]): Promise<number> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', NODE_SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async () => JSON.parse((await lines.next()).value as string) as { url?: string; cpuUs?: number };
  try {
    const { url } = await next();
    const ws = new WebSocket(url!, { perMessageDeflate: false });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const answers: ((m: unknown) => void)[] = [];
    ws.on('message', (data: Buffer) => answers.shift()?.(decode(data, DEFAULT_LIMITS)));
    ws.on('close', () => { for (const a of answers.splice(0)) a(new Error('the node closed the session')); });
    // no rate limit in this child; an error answer or a close stops the bench instead of hanging it
    const ask = async (m: Parameters<typeof encode>[0]) => {
      const answer = await new Promise((resolve) => { answers.push(resolve); ws.send(encode(m)); });
      if (answer instanceof Error || (answer as { t: string }).t === 'error') throw new Error(`the node answered ${JSON.stringify(answer)}`);
      return answer;
    };
    await ask({ t: 'hello', v: PROTOCOL_VERSION });
    const send = async (from: number, to: number) => { for (let i = from; i < to; i++) await ask({ t: 'predict', id: i + 1, horizonMs: 30, poses: [samples[i]!] }); };
    await send(0, 500); // warm-up
    child.stdin!.write('cpu\n');
    const before = (await next()).cpuUs!;
    await send(500, samples.length);
    child.stdin!.write('cpu\n');
    const after = (await next()).cpuUs!;
    ws.close();
    return (after - before) / (samples.length - 500);
  } finally {
    child.stdin!.write('stop\n');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

export async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help')) {
    console.log('Usage: edge-offload bench result-signing\n\nCPU per predict frame, unsigned vs signed (seal every 128/32/1 answers), and per infer result and rendered frame\n(real tfjs engine and WebGPU renderer). Writes bench/results/result-signing.json + .svg.');
    return;
  }
  const env = environment({ framesPerRound: FRAMES_PER_ROUND, rounds: ROUNDS, predictor: 'kalman', note: 'in-process frame: decode + history + predict + encode (no ws), variants interleaved; infer and frame messages on the real tfjs engine and WebGPU renderer' });
  printEnvironment(env);
  await correctness();
  const samples = motion(FRAMES_PER_ROUND);
  const frames = samples.map((s, i) => encode({ t: 'predict', id: i + 1, horizonMs: 30, poses: [s] }));
  const perVariant = new Map<string, number[]>(VARIANTS.map((v) => [v.name, []]));
  round(VARIANTS[0]!, frames, -1); // warm-up
  for (let r = 0; r < ROUNDS; r++) for (const v of VARIANTS) perVariant.get(v.name)!.push(round(v, frames, r));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const base = median(perVariant.get('unsigned')!);
  const results = VARIANTS.map((v) => {
    const us = median(perVariant.get(v.name)!);
    return { variant: v.name, sealEvery: v.sealEvery ?? null, usPerFrameMedian: us, overheadUs: us - base, overheadPct: ((us - base) / base) * 100, rounds: perVariant.get(v.name) };
  });
  const nodeFrameUs = await nodeCpuPerFrame(motion(4500));
  for (const r of results) Object.assign(r, { overheadPctOfNodeFrame: (r.overheadUs / nodeFrameUs) * 100 });
  console.log(`real edge node process: ${nodeFrameUs.toFixed(1)} µs CPU per predict frame (kalman, ws, sequential)`);
  for (const r of results) console.log(`${r.variant.padEnd(24)} ${r.usPerFrameMedian.toFixed(2)} µs/frame  +${r.overheadUs.toFixed(2)} µs (${r.overheadPct.toFixed(1)} % of the in-process frame, ${((r.overheadUs / nodeFrameUs) * 100).toFixed(1)} % of the node's frame)`);
  const messages = await perMessage();
  for (const m of messages) {
    console.log(`${m.message.padEnd(34)} ${m.unsignedUs.toFixed(1)} µs unsigned, ${m.signedUs.toFixed(1)} µs signed; signing alone ${m.signingUs.toFixed(2)} µs = ${m.overheadPct.toFixed(2)} % of the message (${m.bytes} bytes hashed)`);
  }
  const svg = barChart({
    title: 'Signing overhead, % of the node CPU per message',
    yLabel: '% of the message (budget 10 %)',
    categories: [...results.filter((r) => r.sealEvery).map((r) => `predict, ${r.variant}`), ...messages.map((m) => m.message)],
    series: [{ name: 'signing overhead %', values: [...results.filter((r) => r.sealEvery).map((r) => r.overheadUs / nodeFrameUs * 100), ...messages.map((m) => m.overheadPct)] }],
  });
  writeResult('result-signing', { bench: 'result-signing', environment: env, nodeCpuUsPerFrame: nodeFrameUs, results, perMessage: messages }, svg);
}
