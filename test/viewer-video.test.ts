/**
 * The viewer page with `?video=h264`: `edge-offload demo --viewer --webrtc on` (nodes rendering on
 * Mesa llvmpipe, mediasoup, ffmpeg), the page in headless Chromium (WebGL2 on SwiftShader). Asserts
 * on what the page shows: frames come as the node's H.264 track (not JPEG), and the picture on the
 * screen is the scene at the pose the head asked for (the red cube where the projection puts it
 * for yaw 0° and for yaw 20°), read from screenshots of the canvas.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Page } from 'playwright-core';
import { focalLengthPx } from '../client-sdk/reproject.js';
import { launchChromium } from '../bench/lib/chromium.js';
import { buildClientBundle } from '../bench/lib/staticServer.js';
import { decodeFrame, findBlob, IS_RED } from '../bench/lib/colorBlobs.js';
import { SCREENSHOT_DIR, startViewerDemo, waitForPage } from './support/viewerDemo.js';

const SIZE = 128;
const FOV = 90;
const yawQuat = (deg: number): [number, number, number, number] => [0, Math.sin((deg * Math.PI) / 360), 0, Math.cos((deg * Math.PI) / 360)];

const test = suite('viewer page: ?video=h264');

/**
 * Turns the head to `yawDeg`, waits for an H.264 frame rendered there to be shown, freezes the
 * stream (the texture keeps that frame, warped to the same yaw: no shift) and returns where the red
 * cube is in the left eye of the canvas's screenshot.
 */
async function redOnScreenAt(tab: Page, yawDeg: number): Promise<{ x: number; y: number; count: number }> {
  await tab.evaluate(`viewer.freeze(false); viewer.setHead(${yawDeg})`);
  const qy = yawQuat(yawDeg)[1];
  await waitForPage(tab, `an H.264 frame rendered at yaw ${yawDeg}° shown`, `(() => { const f = viewer.state.lastFrame; return f && f.codec === 'h264' && Math.abs(f.pose.orientation[1] - ${qy}) < 4e-4; })()`, 60_000);
  await tab.evaluate('viewer.freeze(true); window.__mark = viewer.state.draws');
  // two draws after the freeze: the canvas shows the frozen frame
  await waitForPage(tab, 'two draws', 'viewer.state.draws >= window.__mark + 2', 10_000);
  const png = await tab.locator('#view').screenshot();
  writeFileSync(path.join(SCREENSHOT_DIR, `viewer-h264-${yawDeg}.png`), png);
  const decoded = await decodeFrame(png, 'jpeg', 0, 0);
  return findBlob(decoded, IS_RED, 0, decoded.width / 2);
}

test('the demo viewer with ?video=h264 shows the scene from the node\'s H.264 track, following the head', async () => {
  await buildClientBundle();
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  // --webrtc on, not auto: without mediasoup this test must fail, not quietly test JPEG
  const demo = await startViewerDemo(['--webrtc', 'on', '--chaos', '0', '--rate', '20']);
  const browserPromise = launchChromium({ webgl: true });
  try {
    const page = demo.pageUrl;
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
      await waitForPage(tab, 'three H.264 frames shown from the edge', `viewer.state.codec === 'h264' && viewer.state.videoFrames >= 3 && viewer.state.tier === 'edge'`, 90_000);
      // the HUD is redrawn on the next animation frame: wait for its text, not the state's
      await waitForPage(tab, 'the HUD says H.264', `/^H\\.264/.test(document.getElementById('codec').textContent)`, 30_000);

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
    await demo.stop();
  }
});

test.run();
