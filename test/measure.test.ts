/**
 * `edge-offload measure` against real nodes on loopback, some behind the network emulator at
 * known RTTs, and the CLI as a real child process (exit codes, --compare, the JSON it writes).
 */
import { suite } from 'uvu';
import { generateKeyPair, type KeyPair } from '../discovery/identity.js';
import * as assert from 'uvu/assert';
import { execFile, spawn } from 'node:child_process';
import { waitFor, withTimeout } from './support/wait.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EdgeServer } from '../edge-server/index.js';
import { openSession, StaticLocator } from '../client-sdk/node.js';
import { startNetemProxy, type NetemProxy } from '../netem/NetemProxy.js';
import { DiscoveryPlacement } from '../bin/demo/DiscoveryPlacement.js';
import { measureNode, type MeasureOptions } from '../bin/measure/measureNode.js';
import { measureDiscovery } from '../bin/measure/discoveryTarget.js';
import { parseAssertion, judge, AssertionSyntaxError } from '../bin/measure/assertions.js';
import { formatReport, type MeasureReport } from '../bin/measure/report.js';
import { environment } from '../bin/report/environment.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/edge-offload.js');

interface Ctx {
  servers: EdgeServer[];
  proxies: NetemProxy[];
  discovery?: DiscoveryPlacement;
  tmp?: string;
}
const measure = suite<Ctx>('measure', { servers: [], proxies: [] });
measure.before.each((ctx) => {
  ctx.servers = [];
  ctx.proxies = [];
  ctx.discovery = undefined;
  ctx.tmp = undefined;
});
measure.after.each(async (ctx) => {
  await ctx.discovery?.close();
  await Promise.all(ctx.proxies.map((p) => p.close()));
  await Promise.all(ctx.servers.map((s) => s.close({ deadlineMs: 0 })));
  if (ctx.tmp) rmSync(ctx.tmp, { recursive: true, force: true });
});

/** A node signing its welcomes with `key` (what discovery vouches for when announced with it). */
async function node(ctx: Ctx, nodeId: string, options: ConstructorParameters<typeof EdgeServer>[0] = {}): Promise<{ url: string; port: number; key: KeyPair }> {
  const key = generateKeyPair();
  const server = new EdgeServer({ nodeId, nodeKey: key.privateKeyPem, ...options });
  ctx.servers.push(server);
  return { ...(await server.listen()), key };
}

/** The node behind an emulated link of `rttMs` round trip (half each way). */
async function behind(ctx: Ctx, port: number, rttMs: number, extra: { lossRate?: number } = {}): Promise<string> {
  const proxy = await startNetemProxy({ target: { host: '127.0.0.1', port }, delayMs: rttMs / 2, ...extra });
  ctx.proxies.push(proxy);
  return `${proxy.url}/v1/session`;
}

const OPTIONS: MeasureOptions = { durationMs: 1500, rateHz: 30, pingHz: 20, renderHz: 5, sessions: 1, horizonMs: 50, size: { width: 64, height: 64 }, timeoutMs: undefined, connectTimeoutMs: 5000 };

/** The acceptance tolerance: ±1 ms + 10 % of the emulated RTT. */
function assertNear(measured: number, emulated: number, what: string): void {
  const tolerance = 1 + 0.1 * emulated;
  assert.ok(Math.abs(measured - emulated) <= tolerance, `${what}: measured ${measured.toFixed(2)} ms, emulated ${emulated} ms (±${tolerance.toFixed(1)})`);
}

measure('ping RTT through the emulator matches the emulated 5 ms and 60 ms; identity and predict reported', async (ctx) => {
  const { port } = await node(ctx, 'edge-a', { tier: 'edge' });
  const [near, far] = await Promise.all([behind(ctx, port, 5), behind(ctx, port, 60)]);
  const [a, b] = await Promise.all([measureNode(near, OPTIONS), measureNode(far, OPTIONS)]);
  for (const m of [a, b]) {
    assert.is(m.error, undefined);
    assert.equal(m.node && { id: m.node.id, tier: m.node.tier, version: m.node.version }, { id: 'edge-a', tier: 'edge', version: 1 });
    assert.ok(m.node!.caps.includes('predict'));
    assert.ok(m.rtt.n >= 5, `only ${m.rtt.n} pings answered`);
    assert.ok(m.predict && m.predict.n >= 5, 'predict round trips measured');
    assert.ok(m.handshake.n >= 2, 'one handshake for the identity session, one per measuring session');
  }
  // the minimum is the path's RTT: scheduling on a busy client only ever adds to a sample (the
  // median runs a few ms over at a load average of 12 on 2 cores)
  assertNear(a.rtt.min, 5, '5 ms link');
  assertNear(b.rtt.min, 60, '60 ms link');
  // a predict is one more round trip over the same link (the emulator's ms timers may release
  // a chunk a fraction of a millisecond early)
  assert.ok(b.predict!.p50 >= 59, `predict p50 ${b.predict!.p50} under the 60 ms link RTT`);
});

measure('a rendering node: pose → frame and pose → decoded frame measured, at the asked size', async (ctx) => {
  const { WebGpuRenderEngine } = await import('../edge-server/render/WebGpuRenderEngine.js');
  let renderer;
  try {
    renderer = await WebGpuRenderEngine.create({});
  } catch (err) {
    throw new Error(`The GPU stack did not start: ${(err as Error).message}; run scripts/install-render-deps.sh (as root) and npm install`);
  }
  const { url } = await node(ctx, 'render-edge', { renderer }); // the server owns (and closes) the engine
  const m = await measureNode(url, { ...OPTIONS, rateHz: 0, pingHz: 5, durationMs: 2000 });
  assert.is(m.error, undefined);
  assert.ok(m.node!.caps.includes('render'));
  assert.ok(m.render && m.render.n >= 1, `no frame measured: ${JSON.stringify(m.render)}`);
  assert.equal([m.render.width, m.render.height], [64, 64]);
  assert.is(m.render.toDecodedMs.n, m.render.n, 'every frame decoded');
  assert.ok(m.render.toDecodedMs.min >= m.render.min, 'decoded is received plus decode');
  assert.is(m.predict, undefined, '--rate 0: no predict');
});

measure('2 % loss is reported as lost requests; the same node without loss reports none', async (ctx) => {
  const { port } = await node(ctx, 'edge-lossy');
  const [lossy, clean] = await Promise.all([behind(ctx, port, 5, { lossRate: 0.02 }), behind(ctx, port, 5)]);
  // 100 pings/s for 2 s: ~600 chunks each way, so a run with no 2 % loss event has p < 1e-5;
  // a 100 ms timeout counts the emulator's 200 ms retransmission stall as a loss
  const fast = { ...OPTIONS, durationMs: 2000, pingHz: 100, timeoutMs: 100 };
  const [l, c] = await Promise.all([measureNode(lossy, fast), measureNode(clean, { ...fast, timeoutMs: 5000 })]);
  assert.ok(l.rtt.lost > 0 && l.rtt.lossRate > 0, `loss not reported: ${JSON.stringify(l.rtt)}`);
  assert.is(c.rtt.lost, 0);
  assert.is(c.rtt.lossRate, 0);
});

measure("rates stay under half the node's advertised maxMessagesPerSecond: the node never rate-limits us", async (ctx) => {
  const { url } = await node(ctx, 'edge-slow-limit', { limits: { maxMessagesPerSecond: 20 } });
  const m = await measureNode(url, { ...OPTIONS, rateHz: 200, pingHz: 200 });
  assert.is(m.error, undefined);
  assert.ok(m.rates.pingHz + m.rates.predictHz + m.rates.renderHz <= 10 + 1e-9, JSON.stringify(m.rates));
  assert.ok(m.rates.cappedBy?.includes('maxMessagesPerSecond 20'));
  assert.equal(m.requestErrors, {});
  assert.is(m.reconnects, 0);
});

measure('a link reset mid-run is counted as a reconnect and measuring goes on; aborting (Ctrl-C) returns what was measured', async (ctx) => {
  const server = new EdgeServer({ nodeId: 'flaky-edge' });
  ctx.servers.push(server);
  const { port } = await server.listen();
  let opened = 0; // sessions past hello → welcome
  server.on('session', (session) => session.on('open', () => opened++));
  const proxy = await startNetemProxy({ target: { host: '127.0.0.1', port }, delayMs: 1 });
  ctx.proxies.push(proxy);
  const stop = new AbortController();
  const running = measureNode(`${proxy.url}/v1/session`, { ...OPTIONS, durationMs: 600_000, signal: stop.signal });
  // session 1 only reads the welcome; session 2 is the measuring one
  await waitFor(() => opened >= 2, 'the measuring session', 10_000);
  // the client speaks after hello only once it has the welcome: then the session is the client's too
  const upAtOpen = proxy.stats.bytesUp;
  await waitFor(() => proxy.stats.bytesUp > upAtOpen, 'the measuring session to send a request', 10_000);
  proxy.cut('reset');
  proxy.restore();
  await waitFor(() => opened >= 3, 'a reconnected session', 10_000);
  const upAtReopen = proxy.stats.bytesUp;
  await waitFor(() => proxy.stats.bytesUp > upAtReopen, 'the reconnected session to send a request', 10_000);
  stop.abort();
  const m = await withTimeout(running, 'measureNode to return after abort', 10_000);
  assert.ok(m.reconnects >= 1, `reconnects ${m.reconnects}`);
  assert.ok(m.handshake.n >= 3, `identity, first and reconnected session handshakes: ${JSON.stringify(m.handshake)} reconnects ${m.reconnects}`);
});

measure('an unreachable node is refused with its ConnectError code and what to check next', async (ctx) => {
  const { url } = await node(ctx, 'gone');
  await ctx.servers.pop()!.close({ deadlineMs: 0 });
  const m = await measureNode(url, OPTIONS);
  assert.is(m.error?.code, 'NODE_UNREACHABLE');
  assert.ok(m.error!.next.length > 0);
  const report: MeasureReport = { env: environment(), target: url, options: {}, nodes: [m] };
  const [check] = judge([parseAssertion('rtt.p50<1000')], report);
  assert.is(check!.passed, false);
});

measure('Session.ping and Session.nodeInfo (what measure reads) on a failover session too', async (ctx) => {
  const { url } = await node(ctx, 'failover-edge', { tier: 'edge' });
  const session = await openSession({ locator: new StaticLocator({ edge: [{ id: 'failover-edge', url, tier: 'edge' }] }), budgetMs: 1000, standby: false });
  try {
    assert.is(session.nodeInfo?.node.id, 'failover-edge');
    assert.is(session.nodeInfo?.v, 1);
    assert.ok(session.nodeInfo!.limits.maxMessagesPerSecond > 0);
    const rtt = await session.ping(5000);
    assert.ok(Number.isFinite(rtt) && rtt >= 0);
  } finally {
    session.close();
  }
});

measure('assertions parse strictly', () => {
  assert.equal(parseAssertion('predict.p99<20'), { text: 'predict.p99<20', kind: 'metric', metric: 'predict', stat: 'p99', op: '<', value: 20 });
  assert.equal(parseAssertion(' selection = fastest '), { text: 'selection = fastest', kind: 'selection' });
  for (const bad of ['predict.p99<<20', 'predict.p99', 'rtt.p98<3', 'latency.p50<3', 'selection=slowest', 'predict.jitter<1', 'handshake.loss<1', 'rtt.p50<2ms', '']) {
    try {
      parseAssertion(bad);
      assert.unreachable(`'${bad}' parsed`);
    } catch (err) {
      assert.instance(err, AssertionSyntaxError, bad);
      assert.is((err as AssertionSyntaxError).code, 'BAD_ASSERTION');
    }
  }
});

measure('discovery target: estimate vs measured per node, and the SDK picks the truly fastest node', async (ctx) => {
  ctx.discovery = await DiscoveryPlacement.start();
  const [fast, slow, cloud] = await Promise.all([node(ctx, 'edge-fast', { tier: 'edge' }), node(ctx, 'edge-slow', { tier: 'edge' }), node(ctx, 'cloud', { tier: 'cloud' })]);
  // both edges are the same distance from the client as far as discovery knows; only measuring tells them apart
  const candidates = [
    { id: 'edge-slow', url: await behind(ctx, slow.port, 40), tier: 'edge' as const, key: slow.key },
    { id: 'edge-fast', url: await behind(ctx, fast.port, 4), tier: 'edge' as const, key: fast.key },
    { id: 'cloud', url: await behind(ctx, cloud.port, 60), tier: 'cloud' as const, key: cloud.key },
  ];
  for (const { key, ...c } of candidates) await ctx.discovery.announce(c, key);
  // the SDK's budget: the slow edge is over it, the fast one well inside it even on a busy machine
  const { nodes, selection } = await measureDiscovery(ctx.discovery.url, { ...OPTIONS, durationMs: 1000, at: { lat: 52.52, lon: 13.405 }, budgetMs: 35 });
  assert.equal(nodes.map((n) => n.node?.id).sort(), ['cloud', 'edge-fast', 'edge-slow']);
  for (const n of nodes) assert.ok(n.estimatedRttMs !== undefined, `no estimate for ${n.url}`);
  assert.is(selection.fastestMeasured, 'edge-fast');
  assert.is(selection.chosen, 'edge-fast');
  assert.is(selection.fastest, true);
  const report: MeasureReport = { env: environment(), target: ctx.discovery.url, options: {}, nodes, selection };
  const text = formatReport(report);
  assert.match(text, /Discovery's estimate vs measured/);
  assert.match(text, /the SDK chose the fastest node/);
  assert.is(judge([parseAssertion('selection=fastest')], report)[0]!.passed, selection.fastest);
});

function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'measure', ...args], { timeout: 60_000 }, (error, out, err) => resolve({ code: error ? (error.code as number) : 0, out, err }));
  });
}

measure('CLI child process: --assert exit codes, --out JSON + SVG, --compare, usage errors exit 2, unreachable exits 3', async (ctx) => {
  const { url } = await node(ctx, 'cli-edge');
  ctx.tmp = mkdtempSync(path.join(os.tmpdir(), 'measure-'));
  const a = path.join(ctx.tmp, 'a.json');
  const b = path.join(ctx.tmp, 'b.json');
  const pass = await cli([url, '--duration', '1', '--assert', 'rtt.p50<10000', '--assert=predict.loss<=1', '--out', a]);
  assert.is(pass.code, 0, pass.err + pass.out);
  assert.match(pass.out, /PASS rtt\.p50<10000/);
  const report = JSON.parse(readFileSync(a, 'utf8')) as MeasureReport;
  assert.ok(report.env.node && report.nodes[0]!.node!.id === 'cli-edge');
  assert.match(readFileSync(a.replace(/json$/, 'svg'), 'utf8'), /^<svg/);

  const fail = await cli([url, '--duration', '1', '--json', '--out', b, '--assert', 'rtt.p50<0']);
  assert.is(fail.code, 1, fail.err);
  assert.is((JSON.parse(fail.out) as MeasureReport).assertions![0]!.passed, false);

  const compare = await cli(['--compare', a, b]);
  assert.is(compare.code, 0, compare.err);
  assert.match(compare.out, /cli-edge\s+rtt p50/);
  assert.match(compare.out, /a\.json\s+b\.json\s+b − a/);

  assert.is((await cli([url, '--assert', 'rtt.p50<<1'])).code, 2);
  assert.is((await cli([url, '--rate', 'fast'])).code, 2);
  assert.is((await cli(['localhost:1'])).code, 2);
  await ctx.servers.pop()!.close({ deadlineMs: 0 });
  const gone = await cli([url, '--duration', '1']);
  assert.is(gone.code, 3);
  assert.match(gone.out, /NODE_UNREACHABLE/);
});

measure('CLI child process: Ctrl-C stops a long run and prints what was measured so far', async (ctx) => {
  const server = new EdgeServer({ nodeId: 'ctrl-c-edge' });
  ctx.servers.push(server);
  const { url } = await server.listen();
  let sessions = 0;
  // the second session is the measuring one (the first only reads the welcome and the first ping)
  const measuring = new Promise<void>((resolve) => server.on('session', () => ++sessions === 2 && resolve()));
  const child = spawn(process.execPath, [BIN, 'measure', url, '--duration', '600'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await withTimeout(measuring, 'the measuring session to open', 30_000);
    child.kill('SIGINT');
    assert.is(await withTimeout(exited, 'measure to exit after SIGINT', 30_000), 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  assert.match(out, /ctrl-c-edge\s+edge/);
  assert.match(out, /interrupted: figures cover what was measured until Ctrl-C/);
});

measure.run();
