/**
 * The training script on small fixture traces in the repo (test/fixtures/head-motion: 500 seated
 * poses of two CROM participants, 600 walking poses of two EyeNavGS participants), never the
 * shared data: it reads the folder given on the command line, keeps the validation participants
 * out of training, saves the training range with the model, and gives the same weights twice.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelRegistry, learnedPredictor, loadTfBackend } from '../edge-server/inference/index.js';
import { PoseHistory } from '../protocol/motion/PoseHistory.js';
import type { Prediction } from '../protocol/motion/predictor.js';
import { constantMotion, DEG } from './support/motionFixtures.js';

const test = suite('inference-training');
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = join(ROOT, 'dist/bench/train-predictor.js');
const FIXTURES = join(ROOT, 'test/fixtures/head-motion');
const work = mkdtempSync(join(tmpdir(), 'train-predictor-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

function train(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCRIPT, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, output }));
  });
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

test('trains from --data, holds validation participants out, saves its training range, and repeats bit for bit', async () => {
  const runs = [join(work, 'a', 'head-predictor'), join(work, 'b', 'head-predictor')];
  for (const out of runs) {
    const r = await train(['--data', FIXTURES, '--out', out, '--epochs', '2', '--hidden', '16', '--eval-stride', '4']);
    assert.is(r.code, 0, r.output);
    assert.match(r.output, /seated train: \d+ cases/);
    assert.match(r.output, /walking train: \d+ cases/);
  }
  assert.is(sha(join(runs[0]!, 'weights.bin')), sha(join(runs[1]!, 'weights.bin')), 'same data and seed, same weights');
  const meta = JSON.parse(readFileSync(join(runs[0]!, 'model.json'), 'utf8')).userDefinedMetadata;
  assert.equal(meta.trainedOn, { seated: ['s04'], walking: ['ru_u101'] });
  assert.ok(meta.validation.seated.includes('s16') && meta.validation.walking.includes('nthu_u017'));
  assert.is(meta.featureBounds.min.length, meta.featureBounds.max.length);

  // the saved model loads from disk and predicts; motion far outside its training range is
  // answered by the filter and marked
  const runtime = await loadTfBackend({ log: () => {} });
  const registry = await ModelRegistry.load(runtime.tf, join(work, 'a'), { log: () => {} });
  const learned = learnedPredictor(registry.get('head-predictor')!);
  const spin = constantMotion([0, 1500 * DEG, 0], [3, 0, 0]);
  const p = learned.create();
  const history = new PoseHistory();
  for (const s of spin.samples(0.5)) {
    history.push(s);
    p.observe?.(history.latest!);
  }
  const out = (await p.predict(history.samples, 50)) as Prediction;
  assert.is(out.fallback, 'out-of-range');
  const truth = spin.at(0.55);
  const deg = (Math.acos(Math.min(1, Math.abs(out.orientation.reduce((s, c, i) => s + c * truth.orientation[i]!, 0)))) * 2) / DEG;
  assert.ok(deg < 1, `the filter's answer on a constant spin is accurate (${deg}°)`);
  registry.dispose();
});

test('without traces it exits 2 and says what to pass', async () => {
  const r = await train(['--data', join(work, 'nothing-here'), '--out', join(work, 'c')]);
  assert.is(r.code, 2);
  assert.match(r.output, /--data DIR/);
});

test.run();
