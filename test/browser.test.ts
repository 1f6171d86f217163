import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EdgeServer } from '../edge-server/index.js';
import { openSdkPage } from '../bench/lib/chromium.js';
import { testTimeout } from './support/wait.js';
import { buildClientBundle } from '../bench/lib/staticServer.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const browser = suite('client sdk in a browser');

browser('the browser entry imports nothing from Node (no node:*, no ws)', () => {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]/g)) {
      assert.ok(specifier!.startsWith('.') || specifier === 'msgpackr', `${path.relative(here, file)} imports '${specifier}'`);
      if (specifier!.startsWith('.')) visit(path.resolve(path.dirname(file), specifier!));
    }
  };
  visit(path.resolve(here, '../client-sdk/index.js'));
  assert.ok(seen.size > 5);
});

browser('the build makes one ESM browser bundle of the SDK with no Node-only module in it', async () => {
  const { file, inputs } = await buildClientBundle();
  assert.is(file, 'dist/browser/edge-offload-client.js');
  assert.ok(inputs.some((input) => input.endsWith('client-sdk/index.ts')));
  assert.ok(inputs.some((input) => input.includes('node_modules/msgpackr/')), 'msgpackr is bundled in, not left as a bare import');
  const code = readFileSync(path.resolve(here, '../..', file), 'utf8');
  // no bare or node: imports left for the page to resolve (the bundle is one self-contained file)
  assert.not.match(code, /\bfrom\s*["'](?!\.)/);
  assert.not.match(code, /\brequire\(/);
  assert.match(code, /export\s*\{/);
});

browser('a page in Chromium connects with the global WebSocket and gets a prediction from an edge node', async () => {
  const edge = new EdgeServer({ nodeId: 'browser-edge' });
  const { url } = await edge.listen();
  const { tab, close } = await openSdkPage(`
  import { connect } from '/edge-offload-client.js';
  try {
    const session = await connect(${JSON.stringify(url)}, { pingIntervalMs: 20 });
    for (let i = 0; i < 5; i++) session.sendPose({ device: 'head', time: i * 11000, position: [0.001 * i, 1.6, 0], orientation: [0, 0, 0, 1] });
    const prediction = await session.predict(50);
    // wait for the first ping's answer (pings every 20 ms); the test's timeout bounds this loop
    while (session.rtt().count < 1) await new Promise((resolve) => setTimeout(resolve, 5));
    window.result = { prediction, rtt: session.rtt() };
    session.close();
  } catch (error) {
    window.result = { error: String(error && error.stack || error) };
  }
`).catch(async (err) => {
    await edge.close({ deadlineMs: 0 });
    throw err;
  });
  try {
    const result = (await tab.waitForFunction(() => (window as { result?: unknown }).result, undefined, { timeout: testTimeout(10_000) })).jsonValue() as Promise<{
      error?: string;
      prediction: { tier: string; nodeId: string; pose: { time: number; position: number[] } };
      rtt: { count: number; p50: number };
    }>;
    const { error, prediction, rtt } = await result;
    assert.is(error, undefined);
    assert.is(prediction.tier, 'edge');
    assert.is(prediction.nodeId, 'browser-edge');
    assert.is(prediction.pose.time, 44_000 + 50_000);
    // 1 mm per 11 ms → +50 ms adds 50/11 mm
    assert.ok(Math.abs(prediction.pose.position[0]! - (0.004 + 0.05 / 11)) < 1e-9, `x ${prediction.pose.position[0]}`);
    assert.ok(rtt.count >= 1 && rtt.p50 > 0);
  } finally {
    await close();
    await edge.close({ deadlineMs: 0 });
  }
});

browser.run();
