/**
 * Part of bench result-signing: what signing costs the node per infer result and per frame, next
 * to what the node spends on that message anyway.
 *
 * The message is the node's own CPU work in process, on the real engines: an infer is decode +
 * the tfjs engine (shipped head-predictor model) + encode; a frame is the WebGPU renderer (render,
 * readback, JPEG or WebP) + encode. The signed variant adds exactly what the edge adds
 * (ResultSigner.result / .frame: SHA-256 of the tensors or the encoded bytes, one chain update,
 * Ed25519 once per 128 answers). Both variants are interleaved round by round and CPU comes from
 * process.cpuUsage (every thread: llvmpipe's and tfjs's too). The A/B difference is within the
 * noise of the engines, so the cost is also measured directly (signing alone, many calls, on the
 * messages' real bytes), and that direct cost is what the percentage quotes.
 */
import { generateKeyPairSync } from 'node:crypto';
import { loadInference } from '../../edge-server/inference/index.js';
import { WebGpuRenderEngine } from '../../edge-server/render/WebGpuRenderEngine.js';
import { ResultSigner } from '../../edge-server/trust/ResultSigner.js';
import { decode, encode, DEFAULT_LIMITS, frameEntry, genesisLink, inferEntry, toWireTensor, verifySegment, type InferMessage, type RenderMessage, type Tensor } from '../../protocol/index.js';

const { privateKey } = generateKeyPairSync('ed25519');
const publicKey = (privateKey.export({ format: 'jwk' }) as { x: string }).x;

export interface PerMessageResult {
  message: string;
  /** CPU µs per message, median of rounds. */
  unsignedUs: number;
  signedUs: number;
  /** Signing alone, CPU µs per message (many calls on the message's real bytes). */
  signingUs: number;
  /** signingUs / unsignedUs. */
  overheadPct: number;
  bytes: number;
  rounds: { unsigned: number[]; signed: number[] };
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function cpuPer(n: number, work: (i: number) => Promise<void>): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) await work(i);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

/** Runs `message` unsigned and signed, interleaved, and the signing alone; checks a signed block verifies first. */
async function measure(
  name: string,
  options: { rounds: number; perRound: number; signingCalls: number; bytes: number },
  message: (signer: ResultSigner | undefined, i: number) => Promise<void>,
  signOnly: (signer: ResultSigner, i: number) => void,
): Promise<PerMessageResult> {
  const rounds = { unsigned: [] as number[], signed: [] as number[] };
  await cpuPer(2, (i) => message(undefined, i)); // warm-up
  for (let r = 0; r < options.rounds; r++) {
    rounds.unsigned.push(await cpuPer(options.perRound, (i) => message(undefined, i)));
    const signer = new ResultSigner('bench-node', `${name}-${r}`, privateKey, { sealEvery: 128, sealAfterMs: 1e12 });
    rounds.signed.push(await cpuPer(options.perRound, (i) => message(signer, i)));
  }
  const signer = new ResultSigner('bench-node', `${name}-only`, privateKey, { sealEvery: 128, sealAfterMs: 1e12 });
  const start = process.cpuUsage();
  for (let i = 0; i < options.signingCalls; i++) signOnly(signer, i);
  const used = process.cpuUsage(start);
  const signingUs = (used.user + used.system) / options.signingCalls;
  const unsignedUs = median(rounds.unsigned);
  return { message: name, unsignedUs, signedUs: median(rounds.signed), signingUs, overheadPct: (signingUs / unsignedUs) * 100, bytes: options.bytes, rounds };
}

/** A signed block of one result and one frame must verify from what a client holds, before anything is timed. */
async function correctness(model: string, input: Tensor, output: Tensor, request: RenderMessage, frame: Awaited<ReturnType<WebGpuRenderEngine['render']>>): Promise<void> {
  const signer = new ResultSigner('bench-node', 'check', privateKey, { sealEvery: 2 });
  signer.result(1, model, input, output);
  const seal = signer.frame(2, request, frame);
  const entries = [await inferEntry(1, 0, model, input, output), await frameEntry(2, 0, request, frame)];
  if (!seal || !(await verifySegment({ previousLink: await genesisLink('bench-node', 'check'), entries, seal }, publicKey))) {
    throw new Error('correctness check failed: a signed infer result and frame do not verify');
  }
}

export async function perMessage(options: { inferRounds?: number; frameRounds?: number } = {}): Promise<PerMessageResult[]> {
  const inference = await loadInference({ log: () => {} });
  const renderer = await WebGpuRenderEngine.create();
  try {
    const model = 'head-predictor';
    const width = inference.registry.get(model)!.input.shape.at(-1)!;
    const input = toWireTensor(Float32Array.from({ length: width }, (_, i) => Math.sin(i * 0.37) * 0.1), [width]);
    const inferBytes = encode({ t: 'infer', id: 1, model, input });
    const output = await inference.engine.infer(model, input);
    const camera = { fovY: 90, ipd: 0.064, width: 640, height: 640 };
    const pose = { device: 'head' as const, time: 1, position: [0, 1.6, 0] as [number, number, number], orientation: [0, 0, 0, 1] as [number, number, number, number] };
    const request = (codec: 'jpeg' | 'webp'): RenderMessage => ({ t: 'render', id: 1, pose, eye: 'both', camera, codec });
    const jpeg = await renderer.render('bench', request('jpeg'));
    await correctness(model, input, output, request('jpeg'), jpeg);

    const results: PerMessageResult[] = [];
    results.push(
      await measure(
        'infer (head-predictor)',
        { rounds: options.inferRounds ?? 7, perRound: 400, signingCalls: 20_000, bytes: input.data.length + output.data.length },
        async (signer, i) => {
          const m = decode(inferBytes, DEFAULT_LIMITS) as InferMessage;
          const out = await inference.engine.infer(m.model, m.input);
          encode({ t: 'result', id: i, model: m.model, output: out, computeMs: 0.1 });
          signer?.result(i, m.model, m.input, out);
        },
        (signer, i) => signer.result(i, model, input, output),
      ),
    );
    for (const codec of ['jpeg', 'webp'] as const) {
      const sample = codec === 'jpeg' ? jpeg : await renderer.render('bench', request(codec));
      results.push(
        await measure(
          `frame (${codec}, 2 × 640², test scene)`,
          { rounds: options.frameRounds ?? 3, perRound: 8, signingCalls: 2000, bytes: sample.data.length },
          async (signer, i) => {
            const frame = await renderer.render('bench', request(codec));
            encode({ t: 'frame', id: i, ...frame });
            signer?.frame(i, request(codec), frame);
          },
          (signer, i) => signer.frame(i, request(codec), sample),
        ),
      );
    }
    return results;
  } finally {
    await renderer.close();
    await inference.engine.close();
  }
}
