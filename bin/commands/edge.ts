/** `edge-offload edge`: run a node until SIGINT/SIGTERM, then drain its clients and stop. */
import { EdgeServer } from '../../edge-server/index.js';
import { loadInference, type LoadedInference } from '../../edge-server/inference/index.js';
import { defaultHeavyWorkers, HeavyPool } from '../../edge-server/offload/index.js';
import { ClusterWorker, clusterWorkerInfo, runClusterPrimary } from '../../edge-server/cluster/index.js';
import cluster from 'node:cluster';
import { currentGcThreads } from '../../edge-server/gcThreads.js';
import { launcherPid } from '../../protocol/server/relaunch.js';
import { semiSpaceFlags } from '../../protocol/server/youngGeneration.js';
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { resolveBackendChoice } from '../../edge-server/render/backendChoice.js';
import type { GpuOptions } from '../../edge-server/render/gpu.js';
import { NODE_TIERS, type NodeTier } from '../../protocol/index.js';
import { importOptional, OptionalPackageError } from '../../protocol/server/optionalPackages.js';
import { intFlag, parseCommandArgs, stringFlag } from './args.js';
import { configFlagSpecs, configHelp, configureLogging, edgeServerOptions, formatConfigFile, loadConfig } from '../config.js';
import { attachDiscoveryAgent } from '../../discovery/edgeAgent.js';
import { readNodeKey } from '../../discovery/keyFiles.js';
import { parseLatLon } from '../../discovery/locate.js';
import { loadTlsFiles, parseCorsOrigins } from '../../protocol/server/webAccess.js';

const HELP = `Usage: edge-offload edge [options]

Runs a node that serves sessions on ws://HOST:PORT/v1/session (wss:// with --tls-cert),
GET /healthz (up or draining, nothing more), GET /metrics (Prometheus) and, with
--admin-operators-file, operator-signed /admin/health and /admin/drain (\`edge-offload admin\`).

Options:
  --port N          TCP port (0 picks a free one)              [default: 8765]
  --host ADDR       address to listen on                       [default: 127.0.0.1]
  --node-id ID      stable node id                             [default: random]
  --tier edge|cloud what this node is to clients               [default: edge]
  --models DIR      folder of tfjs model folders to serve     [default: the shipped models]
  --no-inference    serve only the model-free predictors (none, constant-velocity), no infer
  --render          offer rendering (three.js on Dawn); needs a GPU or Mesa's
                    llvmpipe (Debian: apt-get install libegl1 libegl-mesa0
                    libgles2 libgl1-mesa-dri) and the optional packages
                    webgpu, three and sharp
  --gpu-backend B   auto|default|opengles|vulkan|d3d12|metal
                    [default: env EDGE_OFFLOAD_GPU_BACKEND, else auto]
  --webrtc          also serve pose/predict over WebRTC data channels (mediasoup;
                    run scripts/install-mediasoup.sh when it is not installed)
    --rtc-workers N   mediasoup worker processes            [default: one per core]
    --rtc-ports A-B   UDP/TCP port range for WebRTC           [default: 40000-49999]
    --rtc-listen-ip ADDR  address the workers bind            [default: 127.0.0.1]
    --rtc-announced-ip ADDR  address put in ICE candidates (NAT, 0.0.0.0) [default: the listen IP]
  --tls-cert FILE   serve https/wss with this PEM certificate (and --tls-key FILE); the
                    node then registers a wss:// URL with discovery
  --tls-key FILE    the certificate's PEM private key
  --cors-origin O,… page origins allowed to read /healthz ('*' any, 'none') [default: *]
  --viewer          serve the viewer page at /viewer/ (?discovery=URL picks the discovery)
  --discovery URL   register with this discovery service and heartbeat to it; needs:
    --node-key FILE   node key from \`edge-offload discovery keygen node\`; session
                      welcomes are signed with it (also without --discovery)
    --node-auth FILE  operator authorisation from \`edge-offload discovery keygen authorize\`
    --location LAT,LON  where this node is (or --public-ip ADDR to be located by geoip)
    --public-url URL  session URL clients should dial          [default: the listen URL]
    --price N         price per minute advertised               [default: 0]
  --gc MODE         V8 garbage collector threads: parallel (V8's own), single (the node
                    is started again with --single-threaded-gc), auto (single when the
                    node may use one core only: taskset, cpuset); see edge-server/gcThreads.ts
                    [default: env EDGE_OFFLOAD_GC, else parallel]
  --young-gen-mib N V8 semi-space size, MiB; 0: V8's own (grows to 16). The node is
                    started again with --max-semi-space-size=N (one re-launch with --gc;
                    none when node already runs with a semi-space flag, NODE_OPTIONS
                    included); the listening line's "pid" is the serving process. 2 keeps
                    sessions' buffers from piling up into major GCs (issue #15's attack
                    4b, infer hogs); see edge-server/gcThreads.ts
                    [default: env EDGE_OFFLOAD_YOUNG_GEN_MIB, else 2]
  --config FILE     JSON file of the limits below (flags and env override it)
  --print-config    print the effective config as a --config file and exit
  -h, --help        show this help

${configHelp()}

Prints JSON lines; the one with {"event":"listening","url":…,"port":…,"nodeId":…,"pid":…} says
it serves, and which process does (pid; launcherPid when it was started again for V8 flags).`;

export async function runEdgeCommand(argv: string[]): Promise<void> {
  const args = parseCommandArgs(
    argv,
    { ...configFlagSpecs(), 'print-config': { type: 'boolean' },
      port: { type: 'string' }, host: { type: 'string' }, 'node-id': { type: 'string' }, tier: { type: 'string' },
      models: { type: 'string' }, 'no-inference': { type: 'boolean' }, render: { type: 'boolean' }, 'gpu-backend': { type: 'string' },
      discovery: { type: 'string' }, 'node-key': { type: 'string' }, 'node-auth': { type: 'string' }, location: { type: 'string' },
      'public-ip': { type: 'string' }, 'public-url': { type: 'string' }, price: { type: 'string' },
      webrtc: { type: 'boolean' }, 'rtc-workers': { type: 'string' }, 'rtc-ports': { type: 'string' }, 'rtc-listen-ip': { type: 'string' },
      'rtc-announced-ip': { type: 'string' },
      'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'cors-origin': { type: 'string' }, viewer: { type: 'boolean' }, gc: { type: 'string' }, 'young-gen-mib': { type: 'string' } },
    HELP,
  );
  if (!args) return;
  const config = loadConfig({ file: stringFlag(args.values.config), env: process.env, flags: args.values });
  if (args.values['print-config']) {
    process.stdout.write(formatConfigFile(config));
    return;
  }
  configureLogging(config);
  const tier = (stringFlag(args.values.tier) ?? 'edge') as NodeTier;
  if (!NODE_TIERS.includes(tier)) throw new Error(`--tier must be edge or cloud, got '${tier}'`);
  // --workers N: this process becomes the cluster's primary and forks N node processes (the same
  // command line) behind the one port; each of them runs the rest of this function
  if (config.workers > 1 && cluster.isPrimary) {
    const nodeId = stringFlag(args.values['node-id']) ?? randomUUID();
    runClusterPrimary({
      workers: config.workers,
      nodeId,
      onListening: (url, port) => console.log(JSON.stringify({ event: 'listening', url, port, nodeId, tier, workers: config.workers, ...servingProcess() })),
      onStopped: () => console.log(JSON.stringify({ event: 'stopped' })),
      log: (event) => console.log(JSON.stringify(event)),
    });
    return;
  }
  const clusterInfo = clusterWorkerInfo();
  const drainMs = config.drainMs;
  // tfjs backend (tensorflow → wasm → cpu), models and learned/Kalman predictors; the node still
  // serves the baseline predictors when this fails, but not when @tensorflow/tfjs is not installed:
  // that is a setup mistake the operator fixes with one command (or --no-inference)
  // Keep this before the renderer: in one process, a WebGPU (Dawn) device opened before tfjs-node
  // loads made a later tfjs + WebGPU use segfault (seen in filtered test runs, 2026-11-30).
  let inference: LoadedInference | undefined;
  const modelDir = stringFlag(args.values.models);
  if (!args.values['no-inference']) {
    const log = (message: string) => console.log(JSON.stringify({ event: 'inference', message }));
    try {
      inference = await loadInference({ log, ...(modelDir ? { modelDir } : {}) });
    } catch (err) {
      if (err instanceof OptionalPackageError) throw err;
      log(`inference unavailable: ${(err as Error).message}`);
    }
  }
  // render and infer run in worker threads (predict stays on the event loop: it is cheap and the
  // latency every session feels); --heavy-workers 0 keeps them in this thread
  const render = args.values.render === true;
  const gpu = gpuOptions(stringFlag(args.values['gpu-backend']));
  // in a cluster each process gets its share of the cores for heavy work
  const heavyWorkers = config.heavyWorkers ?? (clusterInfo ? Math.max(1, Math.floor(availableParallelism() / clusterInfo.workers) - 1) : defaultHeavyWorkers());
  const pool =
    heavyWorkers > 0 && (inference || render)
      ? await HeavyPool.create({ size: heavyWorkers, ...(inference ? { inference: modelDir ? { modelDir } : {} } : {}), ...(render ? { render: { gpu } } : {}) })
      : undefined;
  if (pool) console.log(JSON.stringify({ event: 'heavy-workers', workers: pool.size, infer: pool.inference !== undefined, render: pool.renderer !== undefined }));
  const serverOptions = edgeServerOptions(config);
  // one heavy job per worker at a time, shared fairly between sessions, unless configured otherwise
  if (pool && config.heavyConcurrency === undefined) serverOptions.guards = { ...serverOptions.guards, heavy: { ...serverOptions.guards?.heavy, concurrency: pool.size } };
  let clusterWorker: ClusterWorker | undefined;
  const server = new EdgeServer({
    ...serverOptions,
    ...(clusterInfo ? { metricsSource: () => clusterWorker!.metrics() } : {}),
    ...(inference ? { inference: pool?.inference ?? inference.engine, predictors: inference.predictors } : {}),
    renderer: render ? (pool?.renderer ?? (await createRenderer(gpu))) : undefined,
    port: intFlag(args.values.port, 'port') ?? 8765,
    host: stringFlag(args.values.host) ?? '127.0.0.1',
    nodeId: clusterInfo?.nodeId ?? stringFlag(args.values['node-id']),
    tier,
    webrtc: args.values.webrtc ? await createWorkerPool(args.values) : undefined,
    tls: loadTlsFiles(stringFlag(args.values['tls-cert']), stringFlag(args.values['tls-key'])),
    ...(typeof args.values['cors-origin'] === 'string' ? { corsOrigins: parseCorsOrigins([args.values['cors-origin']]) } : {}),
    viewer: args.values.viewer === true,
    // the registered key signs each welcome over the client's nonce: clients refuse an unsigned node discovery vouched for
    ...(typeof args.values['node-key'] === 'string' ? { nodeKey: readNodeKey(args.values['node-key']).privateKeyPem } : {}),
  });
  if (clusterInfo) {
    clusterWorker = new ClusterWorker(clusterInfo, server.metricsRegistry);
    clusterWorker.attach(server);
    const worker = clusterWorker;
    server.addHealthSection('cluster', () => ({ worker: worker.index, workers: worker.workers, sessions: worker.sessionCount }));
  }
  // the operator's view of which process serves (the re-launch), beside the listening line's
  if (!clusterInfo) server.addHealthSection('process', () => ({ ...servingProcess(), gc: currentGcThreads(), youngGen: semiSpaceFlags().join(' ') || 'default' }));
  const { port, url } = await server.listen();
  // the signal handlers before the lines that say the node is up: a supervisor (or a test) that
  // stops the node as soon as it reads them must find them (on a busy machine it did not, and the
  // node died by the signal without draining or deregistering)
  let agent: Awaited<ReturnType<typeof attachDiscoveryAgent>> | undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    // once: in a terminal a cluster worker gets Ctrl-C from the terminal and from its primary
    if (stopping) return;
    stopping = true;
    console.log(JSON.stringify({ event: 'draining', signal, sessions: server.sessionCount, deadlineMs: drainMs, ...(clusterInfo ? { worker: clusterInfo.index } : {}) }));
    agent?.close();
    await server.close({ deadlineMs: drainMs, reason: `node stopping (${signal})` });
    if (clusterInfo) process.exit(0); // the IPC channel would keep a worker alive; the primary prints `stopped`
    console.log(JSON.stringify({ event: 'stopped' }));
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  // in a cluster the primary prints the one listening line, once every worker listens
  if (clusterWorker) clusterWorker.listening(url, port);
  else console.log(JSON.stringify({ event: 'listening', url, port, nodeId: server.nodeId, tier, ...servingProcess(), gc: currentGcThreads(), youngGen: semiSpaceFlags().join(' ') || 'default', ...(server.warmedUp ? { warmUp: { frames: server.warmedUp.frames, ms: Math.round(server.warmedUp.ms) } } : {}) }));
  if (args.values.viewer) console.log(JSON.stringify({ event: 'viewer', url: `${url.replace(/^ws/, 'http').replace(/\/v1\/session$/, '')}/viewer/` }));
  // one registration per node: in a cluster worker 1 registers, reporting every worker's sessions
  const discoveryUrl = clusterInfo && clusterInfo.index !== 1 ? undefined : stringFlag(args.values.discovery);
  agent = discoveryUrl
    ? await attachDiscoveryAgent(clusterWorker ? clusterDiscoverable(server, clusterWorker) : server, {
        discoveryUrl,
        nodeKeyFile: requiredFlag(args.values['node-key'], 'node-key'),
        authorizationFile: requiredFlag(args.values['node-auth'], 'node-auth'),
        location: parseLatLon(stringFlag(args.values.location)),
        ip: stringFlag(args.values['public-ip']),
        publicUrl: stringFlag(args.values['public-url']),
        pricePerMinute: priceFlag(args.values.price),
      })
    : undefined;
  // stopped while registering: the registration that just finished goes too
  if (stopping) agent?.close();
  else if (agent) console.log(JSON.stringify({ event: 'discovery', url: discoveryUrl, registered: agent.registered }));
}

/**
 * The process that serves, for whoever watches a pid (RSS, CPU, pinning): this one, and the
 * launcher that started it again with V8 flags, if one did (edge-server/gcThreads.ts).
 */
function servingProcess(): { pid: number; launcherPid?: number } {
  const launcher = launcherPid();
  return { pid: process.pid, ...(launcher !== undefined ? { launcherPid: launcher } : {}) };
}

/** What the discovery agent of a cluster's worker 1 sees: this server, with every worker's sessions. */
function clusterDiscoverable(server: EdgeServer, worker: ClusterWorker): Parameters<typeof attachDiscoveryAgent>[0] {
  return {
    nodeId: server.nodeId,
    tier: server.tier,
    get url() {
      return server.url;
    },
    get sessionCount() {
      return worker.sessionCount;
    },
    get draining() {
      return server.draining;
    },
    health: () => server.health(),
    addHealthSection: (name, describe) => server.addHealthSection(name, describe),
    useNodeKey: (key) => server.useNodeKey(key),
  };
}

/** Without the flag, createGpu reads EDGE_OFFLOAD_GPU_BACKEND itself. */
function gpuOptions(backend: string | undefined): GpuOptions {
  return backend ? { backend: resolveBackendChoice(backend) } : {};
}

/** In this thread (--heavy-workers 0). Loaded only with --render, so a node that does not render never loads three, Dawn or sharp. */
async function createRenderer(gpu: GpuOptions) {
  const { WebGpuRenderEngine } = await importOptional('edge-offload edge --render', () => import('../../edge-server/render/index.js'));
  return WebGpuRenderEngine.create({ gpu });
}

/** Loaded only with --webrtc, so a ws-only node never loads mediasoup. */
async function createWorkerPool(values: Record<string, string | boolean | undefined>) {
  const { WorkerPool } = await import('../../edge-server/webrtc/index.js');
  const ports = stringFlag(values['rtc-ports']);
  const range = ports ? /^(\d+)-(\d+)$/.exec(ports) : undefined;
  if (ports && !range) throw new Error(`--rtc-ports must look like 40000-49999, got '${ports}'`);
  const ip = stringFlag(values['rtc-listen-ip']) ?? '127.0.0.1';
  const announcedIp = stringFlag(values['rtc-announced-ip']);
  const workers = intFlag(values['rtc-workers'], 'rtc-workers', 1, 256);
  const pool = await WorkerPool.create({
    ...(workers !== undefined ? { workers } : {}),
    ...(range ? { rtcMinPort: Number(range[1]), rtcMaxPort: Number(range[2]) } : {}),
    listenIps: [announcedIp ? { ip, announcedIp } : { ip }],
  });
  console.log(JSON.stringify({ event: 'webrtc', workers: pool.workers.map((w) => w.pid) }));
  return pool;
}

function requiredFlag(value: string | boolean | undefined, name: string): string {
  const v = stringFlag(value);
  if (!v) throw new Error(`--discovery needs --${name}; see --help`);
  return v;
}

function priceFlag(value: string | boolean | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isFinite(n) || n < 0) throw new Error(`--price must be a non-negative number, got '${value}'`);
  return n;
}
