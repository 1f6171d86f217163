/**
 * `edge-offload demo`: the whole system on one machine. A discovery service; a cloud node 60 ms
 * away and an edge node 5 ms away (each a real `edge-offload edge` process behind the user-space
 * network emulator), both registered with signed descriptors; and a simulated headset whose one
 * `Session` streams poses at 90 Hz and asks for its pose 50 ms ahead every frame. Every so often
 * the demo kills the edge with SIGKILL, then starts a new one: the session moves to the cloud
 * and back without a failed call. One line per second shows where the work runs and how fast.
 */
import { openSession, quantile, SimulatedHeadset, type Session, type Tier } from '../../client-sdk/node.js';
import { quaternion } from '../../protocol/index.js';
import { DiscoveryPlacement } from '../demo/DiscoveryPlacement.js';
import { spawnNode, type NodeProcess } from '../demo/NodeProcess.js';
import { startNetemProxy, type NetemProxy } from '../../netem/NetemProxy.js';
import { intFlag, parseCommandArgs, stringFlag } from './args.js';
import { CLIENT } from '../demo/DiscoveryPlacement.js';
import { ViewerServer } from '../demo/ViewerServer.js';
import { mediasoupInstalled } from '../../edge-server/webrtc/workerBin.js';
import { loadTlsFiles, parseCorsOrigins, type TlsOptions } from '../../protocol/server/webAccess.js';

const HELP = `Usage: edge-offload demo [options]

Runs discovery, a cloud node (60 ms RTT) and an edge node (5 ms RTT) as real processes behind
the network emulator, and a simulated headset with one Session (budget 20 ms). Prints one line
per second: which tier answers, RTT, predict round trip p50/p99, predictions/s (failed, local),
and the angular error of the 50 ms prediction against the true head pose.

Every --chaos seconds the edge node is killed (SIGKILL) and a new one started a few seconds
later: watch the session fail over to the cloud and come back.

Options:
  --seconds N    stop after N seconds                     [default: run until Ctrl-C]
  --chaos N      kill the edge every N seconds, 0 = never  [default: 12]
  --rate HZ      pose and predict rate                    [default: 90]
  --horizon MS   prediction horizon                       [default: 50]
  --viewer       nodes render (three.js on Dawn; scripts/install-render-deps.sh) and a web
                 page shows their frames: its URL is printed. Kill/restart buttons included
  --viewer-port N  port of the viewer page                [default: any free port]
  --webrtc W     nodes also speak WebRTC (mediasoup; with ffmpeg, H.264 video: the viewer's
                 ?video=h264): on, off, or auto = on when mediasoup is installed
                 (scripts/install-mediasoup.sh)                  [default: auto]
  --tls-cert FILE --tls-key FILE
                 discovery, nodes and page serve https/wss (a self-signed certificate also
                 needs NODE_EXTRA_CA_CERTS=FILE for the demo's own clients)
  --cors-origin O,…  page origins discovery answers ('*', 'none') [default: *]
  -h, --help     show this help`;

const EDGE_ONE_WAY_MS = 2.5;
const CLOUD_ONE_WAY_MS = 30;

export async function runDemoCommand(argv: string[]): Promise<void> {
  const args = parseCommandArgs(
    argv,
    { seconds: { type: 'string' }, chaos: { type: 'string' }, rate: { type: 'string' }, horizon: { type: 'string' }, viewer: { type: 'boolean' },
      'viewer-port': { type: 'string' }, webrtc: { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'cors-origin': { type: 'string' } },
    HELP,
  );
  if (!args) return;
  const seconds = intFlag(args.values.seconds, 'seconds', 1, 86_400);
  const chaosS = intFlag(args.values.chaos, 'chaos', 0, 3600) ?? 12;
  const rateHz = intFlag(args.values.rate, 'rate', 1, 1000) ?? 90;
  const horizonMs = intFlag(args.values.horizon, 'horizon', 0, 500) ?? 50;
  const viewerPort = intFlag(args.values['viewer-port'], 'viewer-port');
  const webrtc = webrtcChoice(stringFlag(args.values.webrtc) ?? 'auto');
  const web: WebOptions = {
    viewer: args.values.viewer === true,
    webrtc,
    tls: loadTlsFiles(stringFlag(args.values['tls-cert']), stringFlag(args.values['tls-key'])),
    tlsFiles: [stringFlag(args.values['tls-cert']), stringFlag(args.values['tls-key'])],
    ...(typeof args.values['cors-origin'] === 'string' ? { corsOrigins: parseCorsOrigins([args.values['cors-origin']]) } : {}),
  };

  if (web.tls && !process.env.NODE_EXTRA_CA_CERTS) {
    console.warn(`demo: the demo's own clients (node agents, headset) must trust the certificate; for a self-signed one run NODE_EXTRA_CA_CERTS=${web.tlsFiles[0]} edge-offload demo …`);
  }
  console.log(webrtc ? 'nodes speak WebRTC too (mediasoup; H.264 video where ffmpeg is installed)' : 'nodes speak ws only (no mediasoup: scripts/install-mediasoup.sh, then --webrtc on)');
  const cluster = await LocalCluster.start(web);
  console.log(`discovery ${cluster.discoveryUrl}; cloud node ${CLOUD_ONE_WAY_MS * 2} ms away; starting an edge node ${EDGE_ONE_WAY_MS * 2} ms away…`);
  await cluster.startEdge();
  let viewer: ViewerServer | undefined;
  if (web.viewer) {
    // the page's origin is localhost:PORT; discovery is another origin (CORS), named for the certificate
    const pageQuery = new URLSearchParams({ discovery: cluster.discoveryUrl.replace('127.0.0.1', 'localhost'), lat: String(CLIENT.lat), lon: String(CLIENT.lon), control: '/demo' });
    viewer = new ViewerServer({ tls: web.tls, port: viewerPort, pageQuery: pageQuery.toString(), killEdge: () => cluster.killEdge(), startEdge: () => cluster.startEdge() });
    console.log(`viewer: ${await viewer.listen()}`);
  }
  const session = await openSession({ locator: cluster.placement.locator, budgetMs: 20, pingIntervalMs: 50 });
  session.on('tier', (tier, reason) => console.log(`  → session now on ${tier} (${reason})`));
  console.log(`headset at ${rateHz} Hz predicting +${horizonMs} ms, on ${session.tier}; Ctrl-C to stop\n`);

  const headset = new SimulatedHeadset();
  const t0 = performance.now();
  const window = new SecondWindow();
  const frame = setInterval(() => {
    const now = performance.now() - t0;
    const pose = headset.poseAt(now);
    session.sendPose(pose);
    session.predict(horizonMs).then(
      (prediction) => {
        const truth = headset.poseAt(now + horizonMs).orientation;
        window.add(prediction.tier, prediction.roundTripMs, (quaternion.angleBetween(prediction.pose.orientation, truth) * 180) / Math.PI);
      },
      () => window.failed++,
    );
  }, 1000 / rateHz);

  let elapsed = 0;
  const tick = setInterval(() => {
    elapsed++;
    console.log(window.line(elapsed, session));
    window.reset();
    if (chaosS > 0 && elapsed % chaosS === 0) void cluster.killEdge();
    if (chaosS > 0 && elapsed % chaosS === Math.min(5, chaosS - 1)) void cluster.startEdge();
    if (seconds !== undefined && elapsed >= seconds) void stop();
  }, 1000);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(frame);
    clearInterval(tick);
    session.close();
    await viewer?.close();
    await cluster.close();
  };
  process.once('SIGINT', () => void stop());
}

/** What happened in the last second. */
class SecondWindow {
  roundTrips: number[] = [];
  errorsDeg: number[] = [];
  tiers = new Map<Tier, number>();
  failed = 0;

  add(tier: Tier, roundTripMs: number, errorDeg: number): void {
    this.roundTrips.push(roundTripMs);
    this.errorsDeg.push(errorDeg);
    this.tiers.set(tier, (this.tiers.get(tier) ?? 0) + 1);
  }

  line(elapsed: number, session: Session): string {
    const sorted = [...this.roundTrips].sort((a, b) => a - b);
    const mean = this.errorsDeg.reduce((a, b) => a + b, 0) / Math.max(1, this.errorsDeg.length);
    const tiers = [...this.tiers].map(([tier, n]) => `${tier} ${n}`).join(', ') || 'none';
    return (
      `t=${String(elapsed).padStart(3)}s  on ${session.tier.padEnd(5)} | predict p50 ${quantile(sorted, 0.5).toFixed(1).padStart(5)} ms ` +
      `p99 ${quantile(sorted, 0.99).toFixed(1).padStart(5)} ms | ${sorted.length} predictions/s (${tiers}; failed ${this.failed}) | ` +
      `+50 ms error ${mean.toFixed(2)}°`
    );
  }

  reset(): void {
    this.roundTrips = [];
    this.errorsDeg = [];
    this.tiers.clear();
    this.failed = 0;
  }
}

/** Discovery, one cloud node and a replaceable edge node, each node behind its own emulated link. */
class LocalCluster {
  readonly placement: DiscoveryPlacement;
  readonly #cloud: { node: NodeProcess; link: NetemProxy };
  #edge: { node: NodeProcess; link: NetemProxy } | undefined;
  #edgeCount = 0;
  #busy = Promise.resolve();

  readonly #web: WebOptions;

  static async start(web: WebOptions): Promise<LocalCluster> {
    const placement = await DiscoveryPlacement.start(1000, { ...(web.tls ? { tls: web.tls } : {}), ...(web.corsOrigins ? { corsOrigins: web.corsOrigins } : {}) });
    const cloud = await linked(await spawnNode({ tier: 'cloud', nodeId: 'cloud-1', extraArgs: nodeArgs(web) }), CLOUD_ONE_WAY_MS);
    await placement.announce({ id: 'cloud-1', url: sessionUrl(cloud, web), tier: 'cloud', caps: nodeCaps(web) }, cloud.node.nodeKey);
    return new LocalCluster(placement, cloud, web);
  }

  private constructor(placement: DiscoveryPlacement, cloud: { node: NodeProcess; link: NetemProxy }, web: WebOptions) {
    this.placement = placement;
    this.#cloud = cloud;
    this.#web = web;
  }

  get discoveryUrl(): string {
    return this.placement.url;
  }

  /** Starts a new edge node and registers it (no-op while one runs). */
  startEdge(): Promise<void> {
    return this.#serialize(async () => {
      if (this.#edge) return;
      const id = `edge-${++this.#edgeCount}`;
      this.#edge = await linked(await spawnNode({ tier: 'edge', nodeId: id, extraArgs: nodeArgs(this.#web) }), EDGE_ONE_WAY_MS);
      await this.placement.announce({ id, url: sessionUrl(this.#edge, this.#web), tier: 'edge', caps: nodeCaps(this.#web) }, this.#edge.node.nodeKey);
      console.log(`  ✚ ${id} registered with discovery`);
    });
  }

  /** SIGKILL: no drain, no goodbye; its heartbeats stop and discovery forgets it. */
  killEdge(): Promise<void> {
    return this.#serialize(async () => {
      const edge = this.#edge;
      if (!edge) return;
      this.#edge = undefined;
      await edge.node.kill('SIGKILL');
      this.placement.nodeDied(edge.node.nodeId);
      await edge.link.close();
      console.log(`  ✖ ${edge.node.nodeId} killed (SIGKILL)`);
    });
  }

  async close(): Promise<void> {
    await this.killEdge();
    await this.#cloud.node.kill('SIGKILL');
    await this.#cloud.link.close();
    await this.placement.close();
  }

  #serialize(work: () => Promise<void>): Promise<void> {
    this.#busy = this.#busy.then(work, work);
    return this.#busy;
  }
}

interface WebOptions {
  viewer: boolean;
  /** Nodes run with --webrtc (one media worker each: the demo's nodes share a few cores). */
  webrtc: boolean;
  tls: TlsOptions | undefined;
  tlsFiles: [string | undefined, string | undefined];
  corsOrigins?: readonly string[];
}

/** Nodes render for the viewer, and speak wss with the demo's certificate. */
function nodeArgs(web: WebOptions): string[] {
  const [cert, key] = web.tlsFiles;
  return [
    ...(web.viewer ? ['--render', '--no-inference'] : []),
    ...(web.webrtc ? ['--webrtc', '--rtc-workers', '1'] : []),
    ...(cert && key ? ['--tls-cert', cert, '--tls-key', key] : []),
  ];
}

/** `--webrtc on|off|auto`: auto is on when mediasoup and its worker are installed, so a plain install still runs the demo. */
function webrtcChoice(value: string): boolean {
  if (value === 'on') return true;
  if (value === 'off') return false;
  if (value === 'auto') return mediasoupInstalled();
  throw new Error(`--webrtc must be on, off or auto, got '${value}'`);
}

function nodeCaps(web: WebOptions): ('predict' | 'render')[] {
  return web.viewer ? ['predict', 'render'] : ['predict'];
}

/** The emulated link's address, with the node's scheme (TLS passes through the TCP proxy). */
function sessionUrl(linkedNode: { node: NodeProcess; link: NetemProxy }, web: WebOptions): string {
  return (web.tls ? linkedNode.link.url.replace(/^ws:/, 'wss:') : linkedNode.link.url) + '/v1/session';
}

async function linked(node: NodeProcess, oneWayMs: number): Promise<{ node: NodeProcess; link: NetemProxy }> {
  const link = await startNetemProxy({ target: { host: '127.0.0.1', port: node.port }, delayMs: oneWayMs, jitterMs: oneWayMs / 10 });
  return { node, link };
}
