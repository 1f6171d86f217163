/**
 * An honest node is never accused whatever tfjs backend it or the reference runs on: the learned
 * predictor's answers on tensorflow, wasm and cpu stay within the evidence tolerance of each
 * other, while a cheaper model (constant velocity) served as `learned` does not.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { constantVelocity, replayPredictions, type ReplayedPrediction } from '../edge-server/inference/index.js';
import { seededRandom, TrapVerifier, type TrapTask } from '../client-sdk/trust/index.js';
import { compareAnswers, compareTensors, DEFAULT_INFER_TOLERANCE, toWireTensor, type PoseSample } from '../protocol/index.js';
import { fromRotationVector } from '../protocol/motion/quaternion.js';

const test = suite('trust-backends');
const CHILD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'support/learnedReplay.js');
const INFER_CHILD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'support/inferReplay.js');

function live(seed: number): PoseSample[] {
  const r = seededRandom(seed);
  const yawRate = 0.3 + r() * 2, walk = r() * 1;
  return Array.from({ length: 540 }, (_, i) => {
    const t = i / 90;
    return { device: 'head' as const, time: Math.round(t * 1e6), position: [walk * t, 1.6 + 0.02 * Math.sin(t * 9), 0.1 * Math.sin(t)], orientation: fromRotationVector([0.2 * Math.sin(t * 1.3), yawRate * t + 0.3 * Math.sin(t * 3), 0.05 * Math.cos(t * 2)]) };
  });
}

test('learned on tensorflow, wasm and cpu agree within tolerance; constant velocity served as learned does not', async () => {
  const tasks: TrapTask[] = [];
  for (let seed = 1; seed <= 12; seed++) {
    const v = new TrapVerifier({ reporter: 'x', random: seededRandom(seed) });
    for (const s of live(seed)) v.recorder.record(s);
    tasks.push(v.task({ device: 'head', horizonMs: 20 + (seed % 4) * 10 }, 7e6)!);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'backends-'));
  try {
    const file = path.join(dir, 'tasks.json');
    writeFileSync(file, JSON.stringify(tasks));
    const run = async (backend: string) => {
      const { stdout } = await promisify(execFile)(process.execPath, [CHILD, file], { env: { ...process.env, EDGE_TF_BACKEND: backend }, timeout: 120_000, maxBuffer: 64 << 20 });
      return JSON.parse(stdout) as { backend: string; answers: ReplayedPrediction[][] };
    };
    const results = [];
    for (const backend of ['tensorflow', 'wasm', 'cpu']) results.push(await run(backend).catch(() => undefined));
    const present = results.filter((r) => r !== undefined);
    assert.ok(present.length >= 2, 'at least two tfjs backends load here');
    const answers = present.map((r) => r!.answers.flat());
    let worstRad = 0, compared = 0;
    for (let i = 1; i < answers.length; i++) {
      answers[0]!.forEach((a, k) => {
        const c = compareAnswers(answers[i]![k]!, a);
        assert.ok(c.judged && !c.wrong, `${present[i]!.backend} vs ${present[0]!.backend}, answer ${k}: ${c.angleRad} rad, ${c.positionM} m`);
        worstRad = Math.max(worstRad, c.angleRad);
        compared++;
      });
    }
    // the cheaper model under the learned name, on the same inputs
    const cheap = (await Promise.all(tasks.map((t) => replayPredictions(new Map([['learned', { name: 'learned', create: constantVelocity.create }]]), t.messages, { defaultPredictor: 'learned' })))).flat();
    const caught = cheap.filter((c, k) => compareAnswers(c, answers[0]![k]!).wrong).length;
    assert.ok(caught / cheap.length > 0.5, `constant velocity differed beyond tolerance on ${caught}/${cheap.length} answers`);
    console.log(`  backends ${present.map((r) => r!.backend).join('/')}: ${compared} answers compared, worst ${worstRad.toExponential(2)} rad; cheaper model wrong on ${caught}/${cheap.length}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('infer on tensorflow, wasm and cpu, one request or micro-batched, agrees within the infer tolerance; a result moved by 1e-3 does not', async () => {
  // plausible inputs for the shipped model: smooth feature rows and wider random ones
  const r = seededRandom(7);
  const requests = Array.from({ length: 200 }, (_, k) => ({
    model: 'head-predictor',
    shape: [38],
    data: Array.from({ length: 38 }, (_, i) => (k % 2 ? Math.sin(k + i * 0.37) * 0.1 : (r() * 2 - 1) * ((k % 3) + 0.5))),
  }));
  const dir = mkdtempSync(path.join(tmpdir(), 'infer-backends-'));
  try {
    const file = path.join(dir, 'requests.json');
    writeFileSync(file, JSON.stringify(requests));
    const results: { name: string; outputs: number[][] }[] = [];
    for (const backend of ['tensorflow', 'wasm', 'cpu']) {
      const run = await promisify(execFile)(process.execPath, [INFER_CHILD, file], { env: { ...process.env, EDGE_TF_BACKEND: backend }, timeout: 120_000, maxBuffer: 64 << 20 }).catch(() => undefined);
      if (!run) continue;
      const out = JSON.parse(run.stdout) as { backend: string; outputs: number[][]; batched: number[][] };
      results.push({ name: out.backend, outputs: out.outputs }, { name: `${out.backend}-batched`, outputs: out.batched });
    }
    assert.ok(results.length >= 4, 'at least two tfjs backends load here');
    const tensor = (o: number[]) => toWireTensor(Float32Array.from(o), [o.length]);
    let worst = 0, maxAbs = 0, compared = 0;
    for (let i = 0; i < results.length; i++) {
      for (let j = i + 1; j < results.length; j++) {
        results[i]!.outputs.forEach((o, k) => {
          const c = compareTensors(tensor(o), tensor(results[j]!.outputs[k]!));
          assert.not.ok(c.wrong, `${results[i]!.name} vs ${results[j]!.name}, request ${k}: ${c.maxAbsError}`);
          worst = Math.max(worst, c.worstRatio);
          maxAbs = Math.max(maxAbs, c.maxAbsError);
          compared++;
        });
      }
    }
    // a cheat just past float noise: one output moved by 1e-3 (10× the absolute tolerance)
    let caught = 0;
    for (const o of results[0]!.outputs) {
      const moved = o.slice();
      moved[caught % moved.length]! += 1e-3 * (1 + Math.abs(moved[caught % moved.length]!));
      if (compareTensors(tensor(moved), tensor(o)).wrong) caught++;
    }
    assert.is(caught, results[0]!.outputs.length, 'every moved result is outside tolerance');
    console.log(`  infer ${results.map((x) => x.name).join('/')}: ${compared} result pairs, max |Δ| ${maxAbs.toExponential(2)}, worst ${(worst * 100).toFixed(2)} % of tolerance ${JSON.stringify(DEFAULT_INFER_TOLERANCE)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
