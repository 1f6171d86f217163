/**
 * The viewer page with `?video=h264`: `edge-offload demo --viewer --webrtc on` (nodes rendering on
 * Mesa llvmpipe, mediasoup, ffmpeg), the page in headless Chromium (WebGL2 on SwiftShader). Asserts
 * on what the page shows: frames come as the node's H.264 track (not JPEG), and the picture on the
 * screen is the scene at the pose the head asked for (the red cube where the projection puts it
 * for yaw 0° and for yaw 20°), read from screenshots of the canvas.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Page } from 'playwright-core';
import { focalLengthPx } from '../client-sdk/reproject.js';
import { launchChromium } from '../bench/lib/chromium.js';
import { buildClientBundle } from '../bench/lib/staticServer.js';
import { decodeFrame, findBlob, IS_RED } from '../bench/lib/colorBlobs.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.resolve(here, '../bin/edge-offload.js');
const SCREENSHOT_DIR = path.resolve(here, '../../dist/test-output');
const SIZE = 128;
const FOV = 90;
const yawQuat = (deg: number): [number, number, number, number] => [0, Math.sin((deg * Math.PI) / 360), 0, Math.cos((deg * Math.PI) / 360)];

const test = suite('viewer page: ?video=h264');

async function waitFor<T>(tab: Page, what: string, fn: string, timeoutMs: number): Promise<T> {
  try {
    return (await (await tab.waitForFunction(fn, undefined, { timeout: timeoutMs, polling: 50 })).jsonValue()) as T;
  } catch (err) {
    const state = await tab.evaluate('JSON.stringify({ tier: viewer.state.tier, codec: viewer.state.codec, frames: viewer.state.frames, videoFrames: viewer.state.videoFrames, error: viewer.error, status: document.getElementById("status").textContent })').catch(() => '?');
    throw new Error(`${what}: not within ${timeoutMs} ms (${(err as Error).message.split('\n')[0]}); page ${state}`);
  }
}

/**
 * Turns the head to `yawDeg`, waits for an H.264 frame rendered there to be shown, freezes the
 * stream (the texture keeps that frame, warped to the same yaw: no shift) and returns where the red
 * cube is in the left eye of the canvas's screenshot.
 */
async function redOnScreenAt(tab: Page, yawDeg: number): Promise<{ x: number; y: number; count: number }> {
  await tab.evaluate(`viewer.freeze(false); viewer.setHead(${yawDeg})`);
  const qy = yawQuat(yawDeg)[1];
  await waitFor(tab, `an H.264 frame rendered at yaw ${yawDeg}° shown`, `(() => { const f = viewer.state.lastFrame; return f && f.codec === 'h264' && Math.abs(f.pose.orientation[1] - ${qy}) < 4e-4; })()`, 60_000);
  await tab.evaluate('viewer.freeze(true); window.__mark = viewer.state.draws');
  // two draws after the freeze: the canvas shows the frozen frame
  await waitFor(tab, 'two draws', 'viewer.state.draws >= window.__mark + 2', 10_000);
  const png = await tab.locator('#view').screenshot();
  writeFileSync(path.join(SCREENSHOT_DIR, `viewer-h264-${yawDeg}.png`), png);
  const decoded = await decodeFrame(png, 'jpeg', 0, 0);
  return findBlob(decoded, IS_RED, 0, decoded.width / 2);
}

test('the demo viewer with ?video=h264 shows the scene from the node\'s H.264 track, following the head', async () => {
  await buildClientBundle();
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  // --webrtc on, not auto: without mediasoup this test must fail, not quietly test JPEG
  const demo = spawn(process.execPath, [BIN, 'demo', '--viewer', '--webrtc', 'on', '--chaos', '0', '--rate', '20'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  demo.stderr.on('data', (chunk) => (output = (output + chunk).slice(-4000)));
  const browserPromise = launchChromium({ webgl: true });
  try {
    const pageUrl = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`demo printed no viewer URL within 90 s: ${output}`)), 90_000);
      readline.createInterface({ input: demo.stdout }).on('line', (line) => {
        output = (output + line + '\n').slice(-4000);
        const match = /^viewer: (\S+)/.exec(line);
        if (match) (clearTimeout(timer), resolve(match[1]!));
      });
      demo.once('exit', (code) => (clearTimeout(timer), reject(new Error(`demo exited (${code}): ${output}`))));
    });
    const page = new URL(pageUrl);
    page.searchParams.set('size', String(SIZE));
    page.searchParams.set('budget', '5000');
    page.searchParams.set('video', 'h264');
    const browser = await browserPromise;
    try {
      const tab = await browser.newPage();
      const consoleErrors: string[] = [];
      tab.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
      tab.on('pageerror', (e) => consoleErrors.push(String(e)));
      await tab.goto(page.href);
      await waitFor(tab, 'three H.264 frames shown from the edge', `viewer.state.codec === 'h264' && viewer.state.videoFrames >= 3 && viewer.state.tier === 'edge'`, 90_000);
      // the HUD is redrawn on the next animation frame: wait for its text, not the state's
      await waitFor(tab, 'the HUD says H.264', `/^H\\.264/.test(document.getElementById('codec').textContent)`, 30_000);

      const straight = await redOnScreenAt(tab, 0);
      const turned = await redOnScreenAt(tab, 20);
      assert.ok(straight.count > 20 && turned.count > 20, `red cube on screen (${straight.count}, ${turned.count} px)`);
      // turning the head left by 20° moves the cube right by the projection's amount: the picture
      // is the node's render at the asked pose, decoded from the track
      const f = focalLengthPx({ fovY: FOV, width: SIZE, height: SIZE });
      const expected = SIZE / 2 + f * Math.tan(Math.atan((straight.x - SIZE / 2) / f) + (20 * Math.PI) / 180);
      assert.ok(Math.abs(turned.x - expected) < 3, `red x at yaw 20°: ${turned.x.toFixed(1)}, expected ${expected.toFixed(1)} (yaw 0°: ${straight.x.toFixed(1)})`);
      // every frame shown since the track opened was a video frame: no JPEG fallback on the way
      const state = (await tab.evaluate('({ codec: viewer.state.codec, lastCodec: viewer.state.lastFrame.codec, status: document.getElementById("status").textContent })')) as { codec: string; lastCodec: string; status: string };
      assert.equal(state, { codec: 'h264', lastCodec: 'h264', status: '' }, `the page says: ${state.status}`);
      assert.equal(consoleErrors, [], 'console errors while streaming');
    } finally {
      await browser.close();
    }
  } finally {
    const exited = new Promise((resolve) => (demo.exitCode !== null || demo.signalCode !== null ? resolve(null) : demo.once('exit', resolve)));
    demo.kill('SIGINT');
    const force = setTimeout(() => demo.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(force);
  }
});

test.run();
