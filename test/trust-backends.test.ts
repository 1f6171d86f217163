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
import { compareAnswers, type PoseSample } from '../protocol/index.js';
import { fromRotationVector } from '../protocol/motion/quaternion.js';

const test = suite('trust-backends');
const CHILD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'support/learnedReplay.js');

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

test.run();
