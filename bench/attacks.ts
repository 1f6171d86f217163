/**
 * `edge-offload bench attacks`: issue #15's hostile-peer attacks re-run against a real node
 * process with its shipped defaults (pinned to one core; attackers and the bystander, a process
 * of its own, on the other), each measured the same way in the same run: the bystander's predict p99 unloaded, then
 * under the attack; whether a new client (another subnet) is admitted while it runs; the node's
 * RSS before, at its peak and after. Attack 8 runs against a discovery service (accepted
 * registrations, NAT queries served), attack 10 against a lying node (how long the SDK stays, calls
 * rejected). Attacks 3, 4 (render hogs) and 7 run a node with the real renderer (`--render`).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadavg, setPriority } from 'node:os';
import { connect as tcpConnect, type Socket } from 'node:net';
import { WebSocket } from 'ws';
import '../client-sdk/node.js';
import { spawnNode, type NodeProcess } from '../bin/demo/NodeProcess.js';
import { parseCommandArgs, intFlag, stringFlag } from '../bin/commands/args.js';
import { PROTOCOL_VERSION, decode, encode } from '../protocol/index.js';
import { LAX_LIMITS } from './lib/laxLimits.js';
import { BystanderProcess } from './fuzz/bystanderProcess.js';
import { packFrame } from './fuzz/mutate.js';
import { barChart } from './lib/chart.js';
import { pinProcess } from './lib/pin.js';
import { cpuMs } from './load/loadStep.js';
import { environment, printEnvironment } from './lib/environment.js';
import { writeResult } from './lib/results.js';
import { summarize } from './lib/stats.js';
import { parsePrometheusText, sampleValue } from './lib/prometheusText.js';
import { buildGlb } from '../edge-server/render/glb.js';
import { featureCount, DEFAULT_WINDOW_SPEC } from '../edge-server/inference/motionWindow.js';
import { toWireTensor } from '../protocol/index.js';
import sharp from 'sharp';
import { addr, wait, type Outcome } from './attacks/outcome.js';
import { gcRates, gcTotals } from './attacks/nodeGc.js';
import { discoveryAttack } from './attacks/discoveryAttack.js';
import { lyingNodeAttack } from './attacks/lyingNodeAttack.js';
import { NodeProfile } from './attacks/nodeProfile.js';

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;

/** A session from `localAddress` that says hello; resolves with it once welcomed, or rejects. */
function session(url: string, localAddress: string, timeoutMs = 5000): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { localAddress, perMessageDeflate: false });
    const timer = setTimeout(() => (ws.terminate(), reject(new Error('no welcome'))), timeoutMs);
    ws.once('open', () => ws.send(encode({ t: 'hello', v: PROTOCOL_VERSION })));
    ws.once('message', () => (clearTimeout(timer), resolve(ws)));
    ws.once('error', (e) => (clearTimeout(timer), reject(e)));
    ws.once('unexpected-response', (_q, res) => (clearTimeout(timer), ws.terminate(), reject(new Error(`refused ${res.statusCode}`))));
  });
}


interface Attack {
  name: string;
  /** `edge-offload edge` flags the node needs (the real renderer for 3 and 7). */
  nodeArgs?: string[];
  /** Starts the attack against the node; resolves with its stop function and what it saw. */
  start(node: NodeProcess): Promise<{ stop(): void; detail(): Record<string, unknown>; final?(): Promise<Record<string, unknown>> }>;
}

const metric = async (node: NodeProcess, name: string, labels: Record<string, string>) =>
  sampleValue(parsePrometheusText(await (await fetch(`http://127.0.0.1:${node.port}/metrics`)).text()), name, labels) ?? 0;

/** The 23 kB glTF of the issue: 16 textures sharing one 2048² PNG. */
async function textureBomb(): Promise<Uint8Array> {
  const png = new Uint8Array(await sharp({ create: { width: 2048, height: 2048, channels: 3, background: { r: 200, g: 10, b: 10 } } }).png().toBuffer());
  const bin = new Uint8Array(Math.ceil(png.byteLength / 4) * 4);
  bin.set(png);
  return buildGlb({ asset: { version: '2.0' }, images: [{ bufferView: 0, mimeType: 'image/png' }], textures: Array.from({ length: 16 }, () => ({ source: 0 })), bufferViews: [{ buffer: 0, byteLength: png.byteLength }], buffers: [{ byteLength: bin.byteLength }] }, bin);
}

/**
 * Attack 4: two sessions keeping `depth` heavy requests each in flight, back to back (the next
 * sent as each answer comes). What they were answered is counted by type / error code: a hog
 * served nothing would measure nothing.
 */
async function hogs(node: NodeProcess, request: (id: number) => Uint8Array, depth: number, answer: string): Promise<{ stop(): void; detail(): Record<string, unknown> }> {
  const socks = await Promise.all([0, 1].map((i) => session(node.url, addr(i), 30_000)));
  // correctness before load: a hog answered with an error (a node without the model) loads nothing
  const first = await new Promise<{ t: string; code?: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`a hog's first request was not answered within 60 s: the node cannot serve it`)), 60_000);
    socks[0]!.once('message', (d: Buffer) => (clearTimeout(timer), resolve(decode(d, LAX_LIMITS) as { t: string; code?: string })));
    socks[0]!.send(request(0));
  });
  if (first.t !== answer) throw new Error(`a hog's request was answered '${first.t}'${first.code ? ` (${first.code})` : ''}, not '${answer}': the attack would measure nothing`);
  const answers: Record<string, number> = {};
  let id = 0;
  for (const ws of socks) {
    ws.on('message', (d: Buffer) => {
      const m = decode(d, LAX_LIMITS) as { t: string; id?: number; code?: string };
      if (m.id === undefined) return;
      const k = m.t === 'error' ? m.code! : m.t;
      answers[k] = (answers[k] ?? 0) + 1;
      if (ws.readyState === ws.OPEN) ws.send(request(++id));
    });
    for (let k = 0; k < depth; k++) ws.send(request(++id));
  }
  return { stop: () => socks.forEach((ws) => ws.terminate()), detail: () => ({ depth, answers }) };
}

const HEAD = { device: 'head', time: 1000, position: [0, 1.6, 0], orientation: [0, 0, 0, 1] };

const ATTACKS: Attack[] = [
  {
    name: '1 silent hello × 1000 from 20 addresses',
    async start(node) {
      const held: WebSocket[] = [];
      const refused: Record<string, number> = {};
      await Promise.all(Array.from({ length: 1000 }, (_, i) => session(node.url, addr(i)).then((ws) => held.push(ws), (e: Error) => (refused[e.message] = (refused[e.message] ?? 0) + 1))));
      return { stop: () => held.forEach((ws) => ws.terminate()), detail: () => ({ held: held.length, refused }) };
    },
  },
  {
    name: '2 non-reading predict flood × 10',
    async start(node) {
      const socks = await Promise.all(Array.from({ length: 10 }, (_, i) => session(node.url, addr(i))));
      const pose = { device: 'head', time: 1000, position: [0, 1.6, 0], orientation: [0, 0, 0, 1] };
      let id = 0;
      for (const ws of socks) {
        ws.send(encode({ t: 'pose', poses: [pose] } as never));
        (ws as unknown as { _socket: Socket })._socket.pause();
      }
      let closed = 0;
      const closeCodes: Record<string, number> = {};
      const closedAfterMs: number[] = [];
      const t0 = performance.now();
      socks.forEach((ws) => ws.once('close', (code) => (closed++, (closeCodes[code] = (closeCodes[code] ?? 0) + 1), closedAfterMs.push(Math.round(performance.now() - t0)))));
      // 500 predicts/s each (a quarter of the node's per-session cap: the generator shares a core
      // with the bystander, and the point is the node's send queue, not the generator's CPU)
      const flood = setInterval(() => socks.forEach((ws) => { for (let k = 0; k < 5 && ws.readyState === ws.OPEN; k++) ws.send(encode({ t: 'predict', id: ++id, horizonMs: 20 })); }), 10);
      // closes before stop() are the node's (stop terminates the rest: 1006 at the window's end)
      let closedByNode = -1;
      return {
        stop: () => ((closedByNode = closed), clearInterval(flood), socks.forEach((ws) => ws.terminate())),
        detail: () => ({ sent: id, closedByNode: closedByNode < 0 ? closed : closedByNode, closeCodes, closedAfterMs }),
      };
    },
  },
  {
    name: '3 texture bomb × 4 sessions × 4 scenes',
    nodeArgs: ['--render'],
    async start(node) {
      const glb = await textureBomb();
      const socks = await Promise.all(Array.from({ length: 4 }, (_, i) => session(node.url, addr(i), 30_000)));
      const answers: Record<string, number> = {};
      for (const ws of socks) ws.on('message', (d: Buffer) => {
        const m = decode(d, LAX_LIMITS) as { t: string; code?: string };
        const k = m.t === 'error' ? m.code! : m.t;
        answers[k] = (answers[k] ?? 0) + 1;
      });
      let id = 0;
      for (const ws of socks) for (let k = 0; k < 4; k++) ws.send(encode({ t: 'scene', id: ++id, name: `evil${k}`, format: 'glb', data: glb }));
      return { stop: () => socks.forEach((ws) => ws.terminate()), detail: () => ({ glbBytes: glb.byteLength, uploads: id, answers }) };
    },
  },
  {
    name: '4 render hogs × 2 (2048² stereo JPEG, 2 in flight each)',
    nodeArgs: ['--render'],
    start: (node) => hogs(node, (id) => encode({ t: 'render', id, pose: HEAD, eye: 'both', camera: { fovY: 90, ipd: 0.064, width: 2048, height: 2048 }, codec: 'jpeg' } as never), 2, 'frame'),
  },
  {
    name: '4b infer hogs × 2 (512-row batches, 4 in flight each)',
    start(node) {
      const width = featureCount(DEFAULT_WINDOW_SPEC);
      const input = toWireTensor(new Float32Array(512 * width).fill(0.1), [512, width]);
      return hogs(node, (id) => encode({ t: 'infer', id, model: 'head-predictor', input }), 4, 'result');
    },
  },
  {
    name: '7 renders for a reader that stopped reading',
    nodeArgs: ['--render'],
    async start(node) {
      const ws = await session(node.url, addr(0), 30_000);
      (ws as unknown as { _socket: Socket })._socket.pause();
      const pose = { device: 'head', time: 1000, position: [0, 1.6, 0], orientation: [0, 0, 0, 1] };
      let id = 0;
      const flood = setInterval(() => { for (let k = 0; k < 2 && ws.readyState === ws.OPEN; k++) ws.send(encode({ t: 'render', id: ++id, pose, eye: 'both', camera: { fovY: 90, ipd: 0.064, width: 512, height: 512 }, codec: 'raw' } as never)); }, 10);
      return {
        stop: () => (clearInterval(flood), ws.terminate()),
        detail: () => ({ asked: id }),
        async final() {
          return { skippedSlowConsumer: await metric(node, 'edge_rejected_total', { code: 'SLOW_CONSUMER' }), rendersHandled: await metric(node, 'edge_request_handling_seconds_count', { kind: 'render' }) };
        },
      };
    },
  },
  {
    name: '5 error flood (unusable poses, 2000/s)',
    async start(node) {
      const ws = await session(node.url, addr(0));
      const bad = packFrame({ t: 'pose', poses: [{ device: 'head', time: 1, position: [0, 0, 0], orientation: [0, 0, 0, 0] }] });
      let sent = 0;
      const flood = setInterval(() => { for (let k = 0; k < 20 && ws.readyState === ws.OPEN; k++, sent++) ws.send(bad); }, 10);
      let closedByNode = false;
      ws.once('close', () => (closedByNode = true));
      const stderrBefore = node.stderrBytes();
      return { stop: () => (clearInterval(flood), ws.terminate()), detail: () => ({ sent, closedByNode, nodeStderrBytes: node.stderrBytes() - stderrBefore }) };
    },
  },
  {
    name: '6 slowloris × 2000 TCP (100 per address)',
    async start(node) {
      const socks: Socket[] = [];
      let failed = 0;
      await Promise.all(Array.from({ length: 2000 }, (_, i) => new Promise<void>((resolve) => {
        const s = tcpConnect({ port: node.port, host: '127.0.0.1', localAddress: addr(i) }, () => (i % 2 && s.write('GET /v1/session HTTP/1.1\r\nHost: x\r\n'), socks.push(s), resolve()));
        // read: an unread socket never sees the node's FIN (it sat in CLOSE-WAIT and the reaping went uncounted)
        s.resume();
        s.on('error', () => (failed++, resolve()));
      })));
      let reaped = 0;
      socks.forEach((s) => s.once('close', () => reaped++));
      const health = await fetch(`http://127.0.0.1:${node.port}/healthz`).then((r) => r.status, () => 0);
      let reapedBeforeStop = 0;
      return {
        stop: () => {
          reapedBeforeStop = reaped;
          socks.forEach((s) => s.destroy());
        },
        detail: () => ({ open: socks.length, refusedAtConnect: failed, reapedByNodeWithinWindow: reapedBeforeStop, healthzStatus: health }),
      };
    },
  },
];

/**
 * The attackers' niceness (this process's main thread, during each attack). They share core 1 with
 * the bystander process: at nice 0 their own work (attack 6: reading 1,800 408s and FINs while the
 * node reaps, 70-120 ms of CPU per 500 ms on core 1, measured) competed with the bystander's and
 * was charged to the node. Niced, the bystander runs first on its core and the ratio measures the
 * node; the attack's rate is not cut (the bystander is light). The node and bystander keep nice 0.
 */
const ATTACKER_NICE = 10;

/** Sets this process's main-thread niceness; false where that is not allowed (raising it back needs privilege). */
function niceSelf(value: number): boolean {
  try {
    setPriority(value);
    return true;
  } catch {
    return false;
  }
}

/** What one run of an attack varies: the node's flags, its build (--compare-root), V8 flags (--node-flags). */
interface Variant {
  label: string;
  args: readonly string[];
  bin?: string;
}

async function runAttack(attack: Attack, baselineS: number, attackS: number, pinned: { value: boolean }, niced: { value: boolean }, variant: Variant, nodeFlags: readonly string[], cpuProfDir?: string): Promise<Outcome> {
  // --cpu-prof: the node writes its profile when it exits, so it is stopped with SIGTERM (drain) instead of SIGKILL
  const prof = cpuProfDir ? new NodeProfile() : undefined;
  const profile = [...nodeFlags, ...(prof?.flags ?? [])];
  const extraArgs = [...(attack.nodeArgs ?? []), ...variant.args];
  const node = await spawnNode({ tier: 'edge', ...(profile.length ? { nodeArgs: profile } : {}), ...(variant.bin ? { bin: variant.bin } : {}), ...(extraArgs.length ? { extraArgs, startTimeoutMs: 60_000 } : {}) });
  // node.pid is the serving process (its listening line's pid; an older build's: its re-launched
  // child, else the one started): pinned, and its RSS and CPU read; a launcher only waits
  pinned.value = pinProcess(node.pid, 0) && pinned.value;
  const launcherRss = node.startedPid !== node.pid ? rssMiB(node.startedPid) : undefined;
  try {
    // its own process on the attackers' core: it shares their CPU, not their event loop
    const bystander = await BystanderProcess.start(node.url, { cpu: 1 });
    pinned.value = bystander.pinned && pinned.value;
    const lagP99Ms = async () => 1000 * (await metric(node, 'edge_nodejs_eventloop_lag_p99_seconds', {}));
    await lagP99Ms(); // resets the lag histogram: the next scrape covers the unloaded window only
    let cpuMark = cpuMs(node.pid) / 1000;
    let timeMark = performance.now();
    const cpuShareSinceMark = () => {
      const [cpu, now] = [cpuMs(node.pid) / 1000, performance.now()];
      const share = (cpu - cpuMark) / ((now - timeMark) / 1000);
      [cpuMark, timeMark] = [cpu, now];
      return share;
    };
    let gcMark = await gcTotals(node);
    await wait(baselineS * 1000);
    const unloaded = await bystander.take();
    const nodeUnloaded = { cpu: cpuShareSinceMark(), lag: await lagP99Ms() };
    const gcUnloaded = gcRates(gcMark, await gcTotals(node), baselineS);
    const before = rssMiB(node.pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(node.pid))), 200);
    niced.value = niceSelf(ATTACKER_NICE) && niced.value;
    const running = await attack.start(node);
    // the attack's set-up (a connection storm) is reported apart from its steady state
    // settled: the predicts the set-up held up are the set-up's, not the attack's first second
    const setup = await bystander.take({ settled: true });
    await lagP99Ms();
    cpuShareSinceMark();
    gcMark = await gcTotals(node);
    const attackStart = performance.now();
    // second by second: a burst (a connection storm's tail, a timeout sweep) and a steady cost
    // look alike in one p99 and need different fixes
    const during = { rttMs: [] as number[], failures: 0 };
    const perSecondP99: number[] = [];
    // the node's own event-loop lag p99 for the same seconds: a stall in the node shows here,
    // a bystander or attacker process starved on its shared core does not
    const perSecondLagP99: number[] = [];
    for (let s = 0; s < attackS; s++) {
      await wait(1000);
      const w = await bystander.take();
      perSecondP99.push(+summarize(w.rttMs).p99.toFixed(2));
      perSecondLagP99.push(+(await lagP99Ms()).toFixed(2));
      during.rttMs.push(...w.rttMs);
      during.failures += w.failures;
    }
    const nodeAttack = { cpu: cpuShareSinceMark(), lag: Math.max(...perSecondLagP99) };
    // the node's GCs in the attack window: ArrayBuffer churn shows as major GCs (attack 4b)
    const gcAttack = gcRates(gcMark, await gcTotals(node), (performance.now() - attackStart) / 1000);
    const admitted = await session(node.url, '127.0.2.2').then((ws) => (ws.terminate(), true), () => false);
    const late = await bystander.take();
    during.rttMs.push(...late.rttMs);
    during.failures += late.failures;
    const final = (await running.final?.().catch((e: Error) => ({ metricsError: e.message }))) ?? {};
    running.stop();
    // back to nice 0 before the next node is spawned (it would inherit the niceness)
    niced.value = niceSelf(0) && niced.value;
    await wait(2000);
    clearInterval(sampler);
    const after = rssMiB(node.pid);
    await bystander.stop();
    const u = summarize(unloaded.rttMs).p99;
    const a = summarize(during.rttMs).p99;
    const nodeView = { cpuShare: { unloaded: nodeUnloaded.cpu, attack: nodeAttack.cpu }, eventLoopLagP99Ms: { unloaded: nodeUnloaded.lag, attack: nodeAttack.lag } };
    return { attack: attack.name, admitted, rssMiB: { before, peak, after, ...(launcherRss !== undefined ? { launcher: launcherRss } : {}) }, ...(node.startedPid !== node.pid ? { pids: { serving: node.pid, launcher: node.startedPid } } : {}), bystander: { unloadedP99: u, attackP99: a, ratio: a / u, failures: during.failures }, node: nodeView, detail: { ...running.detail(), ...final, gcPerSecond: { unloaded: gcUnloaded, attack: gcAttack }, setupP99: summarize(setup.rttMs).p99, setupFailures: setup.failures, perSecondP99, perSecondLagP99 } };
  } finally {
    niceSelf(0);
    await node.kill(cpuProfDir ? 'SIGTERM' : 'SIGKILL');
    prof?.keep(node.pid, path.join(cpuProfDir!, `attack-${attack.name.split(' ')[0]}${variant.bin ? '-compared' : ''}.cpuprofile`));
  }
}

const HELP = `Usage: edge-offload bench attacks [options]

Re-runs issue #15's hostile-peer attacks (1 silent hellos, 2 non-reading flood, 4b infer hogs,
5 error flood, 3 texture bomb, 4 render hogs and 7 renders for a non-reader on a node with the
real renderer, 6 slowloris;
8 discovery registrations from many addresses; 10 a node lying about request ids)
against a node process with its defaults, pinned to core 0 (attackers and bystander on core 1,
the attackers at nice ${ATTACKER_NICE} so the bystander's process runs first there):
bystander predict p99 unloaded vs under attack (same run), a new client admitted meanwhile,
node RSS before / peak / after. Writes bench/results/<name>.json and .svg.

Options:
  --baseline-s N   unloaded bystander window per attack   [default: 3]
  --attack-s N     attack window                           [default: 6]
  --only LIST      attack numbers to run, comma-separated (e.g. 3,4,4b)  [default: all]
  --compare-args A  also run each chosen attack against a node with these extra flags
                   (e.g. "--heavy-main-ms-per-second 0": the budget off), alternating
                   which goes first; outcomes say which (variant)     [default: none]
  --compare-root DIR  also run each chosen attack against a node from that checkout's build
                   (DIR/dist: main, say), alternating which goes first; with
                   --compare-args, that node gets those flags    [default: none]
  --node-flags=F   flags for node itself on every attacked node (e.g. --node-flags="--trace-gc")
  --rounds N       run each chosen attack N times, which variant goes first alternating
                   round by round (a p99 on a shared machine needs repeats) [default: 1]
  --name NAME      results file name                       [default: attacks]
  --cpu-prof DIR   write each attacked node's CPU profile (node --cpu-prof) to DIR
  -h, --help       this text`;

export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(argv, { 'baseline-s': { type: 'string' }, 'attack-s': { type: 'string' }, only: { type: 'string' }, name: { type: 'string' }, 'compare-args': { type: 'string' }, 'compare-root': { type: 'string' }, 'node-flags': { type: 'string' }, rounds: { type: 'string' }, 'cpu-prof': { type: 'string' } }, HELP);
  if (!args) return;
  const baselineS = intFlag(args.values['baseline-s'], 'baseline-s', 1, 600) ?? 3;
  const attackS = intFlag(args.values['attack-s'], 'attack-s', 1, 600) ?? 6;
  const pinned = { value: pinProcess(process.pid, 1) };
  const niced = { value: true };
  // other tenants of a shared machine run on the pinned cores too: their load is part of every number
  const compareArgs = stringFlag(args.values['compare-args'])?.split(' ').filter(Boolean);
  const compareRoot = stringFlag(args.values['compare-root']);
  const nodeFlags = stringFlag(args.values['node-flags'])?.split(' ').filter(Boolean) ?? [];
  const env = environment({ baselineS, attackS, rounds: intFlag(args.values.rounds, 'rounds', 1, 20) ?? 1, attackerNice: ATTACKER_NICE, compareArgs: compareArgs ?? null, compareRoot: compareRoot ? path.resolve(compareRoot) : null, nodeFlags, loadAverageAtStart: loadavg().map((l) => +l.toFixed(2)) });
  printEnvironment(env);
  const only = stringFlag(args.values.only)?.split(',');
  const chosen = (name: string) => !only || only.includes(name.split(' ')[0]!);
  const outcomes: Outcome[] = [];
  // A/B in one run: the same attack against this node's defaults and against `compareArgs`
  // (or against another checkout's build: --compare-root, with --compare-args as its flags)
  const compared: Variant | undefined = compareRoot
    ? { label: `${path.basename(path.resolve(compareRoot))}${compareArgs?.length ? ` ${compareArgs.join(' ')}` : ''}`, args: compareArgs ?? [], bin: path.join(path.resolve(compareRoot), 'dist', 'bin', 'edge-offload.js') }
    : compareArgs ? { label: compareArgs.join(' '), args: compareArgs } : undefined;
  const variants: Variant[] = [{ label: 'defaults', args: [] }, ...(compared ? [compared] : [])];
  const chosenAttacks = ATTACKS.filter((a) => chosen(a.name));
  const rounds = intFlag(args.values.rounds, 'rounds', 1, 20) ?? 1;
  for (let round = 0; round < rounds; round++) for (const [i, attack] of chosenAttacks.entries()) for (const variant of (i + round) % 2 === 0 ? variants : [...variants].reverse()) {
    const o = { ...(await runAttack(attack, baselineS, attackS, pinned, niced, variant, nodeFlags, stringFlag(args.values['cpu-prof']))), ...(compared ? { variant: variant.label } : {}), ...(rounds > 1 ? { round } : {}) };
    const n = o.node!;
    console.log(`${o.attack}${compared ? ` [${variant.label}]` : ''}: admitted ${o.admitted}; bystander p99 ${o.bystander!.unloadedP99.toFixed(2)} → ${o.bystander!.attackP99.toFixed(2)} ms (×${o.bystander!.ratio.toFixed(2)}, ${o.bystander!.failures} failures); node CPU ${(100 * n.cpuShare.unloaded).toFixed(0)} → ${(100 * n.cpuShare.attack).toFixed(0)} %, event-loop lag p99 ${n.eventLoopLagP99Ms.unloaded.toFixed(1)} → ${n.eventLoopLagP99Ms.attack.toFixed(1)} ms; RSS ${o.rssMiB!.before.toFixed(0)} / ${o.rssMiB!.peak.toFixed(0)} / ${o.rssMiB!.after.toFixed(0)} MiB; ${JSON.stringify(o.detail)}`);
    outcomes.push(o);
  }
  for (const [n, run] of [['8', discoveryAttack], ['10', lyingNodeAttack]] as const) {
    if (!chosen(n)) continue;
    const o = await run();
    console.log(`${o.attack}: ${JSON.stringify(o.detail)}`);
    outcomes.push(o);
  }
  const measured = outcomes.filter((o) => o.bystander);
  const svg = barChart({
    title: 'Bystander predict p99: unloaded vs under each attack (same run)',
    yLabel: 'ms',
    categories: measured.map((o) => `${o.attack.split(' ')[0]!}${o.variant && o.variant !== 'defaults' ? ' (compared)' : ''}`),
    series: [
      { name: 'unloaded', values: measured.map((o) => o.bystander!.unloadedP99) },
      { name: 'under attack', values: measured.map((o) => o.bystander!.attackP99) },
    ],
  });
  writeResult(stringFlag(args.values.name) ?? 'attacks', { environment: { ...env, loadAverageAtEnd: loadavg().map((l) => +l.toFixed(2)) }, pinned: pinned.value, attackersNiced: niced.value, outcomes }, svg);
}
