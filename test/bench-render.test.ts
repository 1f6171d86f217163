/**
 * `bench render` end to end at a tiny size on whatever GPU stack the machine has (llvmpipe on CI):
 * it must find the test scene in its frames, write its JSON, chart and PNG, and chart two runs
 * side by side. Guards the bench against changes to the render engine's API. No timing asserted.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { findBlob, IS_RED, decodeFrame } from '../bench/lib/colorBlobs.js';

const CLI = path.resolve('dist/bench/cli.js');

function bench(args: string[], timeoutMs = 60_000): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'render', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`bench render ${args.join(' ')} did not finish in ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const test = suite('bench render');
let out = '';
test.before(() => {
  out = mkdtempSync(path.join(tmpdir(), 'bench-render-'));
});
test.after(() => rmSync(out, { recursive: true, force: true }));

test('renders 2×64² frames of the test scene, writes JSON, SVG and a PNG showing the scene', async () => {
  const run = await bench(['--sizes', '64', '--frames', '5', '--warmup', '0', '--name', 'tiny', '--out', out]);
  assert.is(run.code, 0, run.output);
  const result = JSON.parse(readFileSync(path.join(out, 'tiny.json'), 'utf8'));
  assert.is(result.sizes.length, 1);
  const [size] = result.sizes;
  assert.is(size.eye, 64);
  assert.is(size.frameWidth, 128);
  assert.is(size.frames, 5);
  assert.ok(size.renderMs.p50 > 0 && size.encodeMs.p50 > 0, JSON.stringify(size));
  assert.type(result.environment.gpu.backend, 'string');
  assert.ok(existsSync(path.join(out, 'tiny.svg')));
  const png = readFileSync(path.join(out, size.png));
  const image = await decodeFrame(png, 'jpeg', 0, 0); // sharp sniffs the format
  assert.is(image.width, 128);
  assert.ok(findBlob(image, IS_RED, 0, 64).count > 0 && findBlob(image, IS_RED, 64, 128).count > 0, 'red cube in both eyes');
  assert.is((await sharp(png).metadata()).format, 'png');
});

test('--compare charts two earlier runs side by side; a missing run is an error', async () => {
  const run = await bench(['--compare', 'tiny,tiny', '--out', out]);
  assert.is(run.code, 0, run.output);
  const compared = JSON.parse(readFileSync(path.join(out, 'tiny-vs-tiny.json'), 'utf8'));
  assert.is(compared.rows[0].eye, 64);
  assert.ok(existsSync(path.join(out, 'tiny-vs-tiny.svg')));
  const missing = await bench(['--compare', 'tiny,absent', '--out', out]);
  assert.is.not(missing.code, 0);
});

test.run();
