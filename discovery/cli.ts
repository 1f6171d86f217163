/**
 * `edge-offload discovery …`: run a discovery service, or manage keys (`keygen`).
 */
import { parseArgs } from 'node:util';
import { DiscoveryServer } from './DiscoveryServer.js';
import { ChannelProcess } from './channels/ChannelProcess.js';
import type { NodeChannelHost } from './channels/NodeChannelHost.js';
import { runKeygenCommand } from './keygen.js';
import { IpLocator, parseLatLon, preloadGeoip } from './locate.js';
import { MemoryRegistry } from './registry/MemoryRegistry.js';
import { RedisClusterRegistry } from './registry/RedisClusterRegistry.js';
import { RedisRegistry } from './registry/RedisRegistry.js';
import type { Registry } from './registry/Registry.js';
import { TrustedOperators } from './trust.js';
import { loadTicketSecret, TICKET_SECRET_ENV } from './tickets.js';
import { loadTlsFiles, parseCorsOrigins } from '../protocol/server/webAccess.js';
import { effectiveClientLimits } from './clientLimits.js';
import { loadClientLimits, LIMITS_ENV } from './limitsFile.js';
import { ledgerParamsFromFlags, openLedger } from './ledger/openLedger.js';
import type { InferReference } from './inferEvidence.js';
import type { RenderReference } from './frameEvidence.js';
import { readNodeKey } from './keyFiles.js';

/**
 * What bin/ injects: discovery imports no inference code (layering), so the CLI that ships the
 * edge server's tfjs engine passes a loader for it (bin/edge-offload.ts).
 */
export interface DiscoveryCliHooks {
  /** Loads a trusted inference engine (the shipped models); `close` frees it. */
  loadInferReference?: () => Promise<{ infer: InferReference; models: readonly string[]; close: () => Promise<void> }>;
  /** Loads a trusted renderer and decoder (the node's WebGPU renderer and test scene). */
  loadRenderReference?: () => Promise<RenderReference & { close: () => Promise<void> }>;
}
import { DEFAULT_YOUNG_GEN_MIB, semiSpaceFlags, YOUNG_GEN_ENV, youngGenerationMiB } from './youngGeneration.js';
import { BUSY_POLL_AUTO_MS, DEFAULT_DISCOVERY_GC_MODE, discoveryGcMode, HELPER_THREADS_NICE, replicaBusyPollMs, settleReplicaThreads } from './gcThreads.js';
import { QUERY_THREAD_ENV, queryThreadMode, settleQueryThread } from './queryThread.js';
import { currentGcThreads, GC_ENV } from '../protocol/server/gcThreads.js';

/**
 * Where the CLI runs the node channels unless told (DiscoveryServer's own default, for embedding,
 * is 'inline'). 'process': in one run at 8,000 channels under churn (bench/results/scale-split.json)
 * the query p99 was 1.27 ms against 3.0 ms inline (5 scavenges of the query heap instead of 9), for
 * ~40 % more CPU on the channels' side (the IPC hops): an operator's replica serves queries first.
 */
export const DEFAULT_NODE_CHANNELS: 'process' | 'inline' = 'process';
export const NODE_CHANNELS_ENV = 'DISCOVERY_NODE_CHANNELS';

export const DISCOVERY_HELP = `Usage: edge-offload discovery [options]
       edge-offload discovery keygen <operator|node|authorize> …   (see keygen --help)

Runs the discovery service: nodes register and heartbeat, clients query for a shortlist.
HTTP and WebSocket share one port (POST /v1/register, /v1/heartbeat, /v1/query, /v1/report;
GET /v1/query, /healthz; WS /v1/ws).

Options:
  --port N                 listen port (default 7070; 0 picks a free one)
  --host ADDR              listen address (default 127.0.0.1)
  --redis redis://H:P[/DB] share state with other replicas through Redis (default: in memory)
  --redis-cluster H:P,…    share state through a Redis Cluster instead (seed masters; keys
                           hash-tagged per 10° region; run it with
                           cluster-require-full-coverage no, see discovery/README.md)
  --redis-prefix P         Redis key prefix (default eo:disc:)
  --operators FILE         trusted operator keys {"operators":[{"name","publicKey"}]}
                           (default: env DISCOVERY_OPERATORS; with neither, every node is refused)
  --heartbeat-ms N         node heartbeat interval (default 1000, env DISCOVERY_HEARTBEAT_MS);
                           a node silent for 3 intervals leaves (env DISCOVERY_MISSED_HEARTBEATS)
  --default-location LAT,LON  where clients on private/loopback addresses are placed
                           (default env DISCOVERY_DEFAULT_LOCATION, else 0,0)
  --tls-cert FILE --tls-key FILE  serve https/wss with this PEM certificate and key
  --cors-origin ORIGIN     page origin allowed to call query/report/healthz from a browser;
                           repeat or comma-separate; '*' any, 'none' no cross-origin
                           (default '*': those endpoints are public and take no credentials)
  --ticket-secret-file FILE  the report-ticket HMAC key replicas share (≥ 32 bytes, hex or base64:
                           openssl rand -base64 32); default env EDGE_OFFLOAD_TICKET_SECRET, else a
                           random key per process (fine for one replica; with several, reports
                           reaching another replica than the query are refused TICKET_FORGED)
  --limits FILE            rate limits per address, subnet and proven identity, as JSON
                           {"perAddress":{"query":{"ratePerSecond":100,"burst":500}},…}; name
                           only what you change (default env ${LIMITS_ENV}; the defaults and
                           why: discovery/clientLimits.ts)
  --print-limits           print the effective limits as such a file and exit
  --ledger-key FILE        run the stake ledger (EntrapNet's deposits and slashing): its audit log
                           is signed with this key (make one: discovery keygen node --out FILE;
                           the same on every replica). Default: no ledger, no stake needed
  --stakes FILE            {"operator": amount, …}: top each operator's stake up to this at start
                           (an audited deposit; with replicas give it to one of them)
  --min-stake N            stake an operator needs before its nodes may register (default 1000000)
  --slash-bps N            share of the stake one verified offence forfeits (default 2000 = 20 %)
  --reward-bps N           share of a forfeit paid to the reporting client (default 5000)
                           The audit log: GET /v1/audit, checked by 'edge-offload audit verify'
  --verify-infer           load the shipped tfjs models (needs @tensorflow/tfjs) and judge 'infer'
                           evidence by running the model; without it that evidence is refused
                           UNVERIFIABLE (never an accusation). Off by default: tfjs is heavy
  --verify-render          start the WebGPU renderer (needs a GPU or Mesa llvmpipe) and judge
                           'frame' evidence by PSNR against its own render (below 30 dB: wrong);
                           without it that evidence is refused UNVERIFIABLE. Off by default
  --reference-key FILE     with --verify-infer / --verify-render: sign references for clients'
                           traps (POST /v1/reference/infer, /v1/reference/frame) with this key
                           (discovery keygen node --out FILE); clients configure its public key
                           (remoteInferReference, remoteFrameReference)
  --young-gen-mib N        V8 semi-space size for this replica, MiB (default ${DEFAULT_YOUNG_GEN_MIB}: V8's own; env
                           ${YOUNG_GEN_ENV}; 0 keeps V8's default). Fewer young-generation GC pauses,
                           each longer: measure first (bench scale); costs up to 3 × N MiB. The launcher starts discovery
                           again with --max-semi-space-size=N unless NODE_OPTIONS or node flags set
                           a semi-space size already (discovery/youngGeneration.ts)
  --gc MODE                V8's GC threads: auto (default ${DEFAULT_DISCOVERY_GC_MODE}: single-threaded when this
                           replica may use one core only, taskset or a cpuset; V8's own otherwise),
                           single, or parallel (V8's own); env ${GC_ENV}. V8 sizes its GC helpers by
                           the machine's cores: on a one-core replica they take the query thread's
                           core. The launcher starts discovery again with --single-threaded-gc;
                           run so, the replica's helper threads (V8's background compilation,
                           libuv's pool) run at nice ${HELPER_THREADS_NICE} (discovery/gcThreads.ts)
  --busy-poll-ms MS|auto   over Redis: the query thread polls for a search reply up to MS instead of
                           sleeping until it is woken (a woken thread waits for its core, on a VM
                           most of all); costs the core the wait. auto (default): ${BUSY_POLL_AUTO_MS} ms where the
                           replica runs single-threaded GC (one core), else 0 (protocol/server/busyPoll.ts)
  --query-thread MODE      auto, fifo or other: the query thread's scheduling class (env ${QUERY_THREAD_ENV}).
                           auto (default): SCHED_FIFO on a one-core replica (single-threaded GC) whose
                           node channels run in a channel process, where the privilege allows
                           (CAP_SYS_NICE): nothing else on the core (the channel process, V8's
                           compilers) then takes it mid-query; back to SCHED_OTHER while the
                           channel process starves. fifo: always try; other: never
                           (discovery/queryThread.ts)
  --node-channels MODE     where the node channels (WS /v1/node) run: 'process', a channel process of
                           this replica's own that gets each node's socket (their garbage stays out
                           of the query heap: a lower query p99 under node churn), or 'inline', in
                           this process (default ${DEFAULT_NODE_CHANNELS}, env ${NODE_CHANNELS_ENV}; with
                           --tls-cert always inline: a TLS session cannot change process)
  -h, --help               this text`;


export async function runDiscoveryCommand(argv: string[], hooks: DiscoveryCliHooks = {}): Promise<number> {
  if (argv[0] === 'keygen') return runKeygenCommand(argv.slice(1));
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      redis: { type: 'string' },
      'redis-cluster': { type: 'string' },
      'redis-prefix': { type: 'string' },
      operators: { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      'default-location': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'cors-origin': { type: 'string', multiple: true },
      'ticket-secret-file': { type: 'string' },
      limits: { type: 'string' },
      'print-limits': { type: 'boolean' },
      'ledger-key': { type: 'string' },
      stakes: { type: 'string' },
      'min-stake': { type: 'string' },
      'slash-bps': { type: 'string' },
      'reward-bps': { type: 'string' },
      'verify-infer': { type: 'boolean' },
      'verify-render': { type: 'boolean' },
      'reference-key': { type: 'string' },
      'young-gen-mib': { type: 'string' },
      'busy-poll-ms': { type: 'string' },
      'query-thread': { type: 'string' },
      gc: { type: 'string' },
      'node-channels': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(DISCOVERY_HELP);
    return 0;
  }
  youngGenerationMiB(argv); // a bad value stops here, whether or not the launcher re-launched
  discoveryGcMode(argv);
  const limits = loadClientLimits(values.limits);
  if (values['print-limits']) {
    console.log(JSON.stringify(effectiveClientLimits(limits), null, 2));
    return 0;
  }
  const nodeChannels = values['node-channels'] ?? (process.env[NODE_CHANNELS_ENV] || DEFAULT_NODE_CHANNELS);
  if (nodeChannels !== 'process' && nodeChannels !== 'inline') throw new TypeError(`--node-channels must be process or inline (env ${NODE_CHANNELS_ENV}), got '${nodeChannels}'`);
  const port = Number(values.port ?? 7070);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError(`--port must be 0-65535, got '${values.port}'`);
  const heartbeatIntervalMs = values['heartbeat-ms'] === undefined ? undefined : Number(values['heartbeat-ms']);
  if (heartbeatIntervalMs !== undefined && !(heartbeatIntervalMs > 0)) throw new TypeError('--heartbeat-ms must be a positive number');
  const operators = TrustedOperators.load(values.operators);
  if (operators.size === 0) console.warn('discovery: no trusted operators (--operators or DISCOVERY_OPERATORS); every registration will be refused');
  const defaultLocation = parseLatLon(values['default-location']);
  const ticketSecret = loadTicketSecret(values['ticket-secret-file']);
  if (values.redis && !ticketSecret) console.warn(`discovery: replicas (--redis) need one shared ticket secret (--ticket-secret-file or ${TICKET_SECRET_ENV}); this one makes its own`);
  const timing = heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs };
  if (values.redis && values['redis-cluster']) throw new TypeError('give either --redis or --redis-cluster, not both');
  const busyPollMs = replicaBusyPollMs(values['busy-poll-ms']);
  const queryThreadAsked = queryThreadMode(values['query-thread']);
  const layout = { ...timing, ...(values['redis-prefix'] ? { prefix: values['redis-prefix'] } : {}), busyPollMs };
  const clusterNodes = (values['redis-cluster'] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (values['redis-cluster'] !== undefined && clusterNodes.length === 0) throw new TypeError('--redis-cluster needs host:port[,host:port…] of the cluster masters');
  const registry: Registry = values.redis
    ? await RedisRegistry.connect({ url: values.redis, ...layout })
    : clusterNodes.length > 0
      ? await RedisClusterRegistry.connect({ nodes: clusterNodes, ...layout })
      : new MemoryRegistry(timing);
  const ledgerParams = ledgerParamsFromFlags({ minStake: values['min-stake'], slashBps: values['slash-bps'], rewardBps: values['reward-bps'] });
  if (!values['ledger-key'] && (values.stakes || Object.keys(ledgerParams).length > 0)) throw new TypeError('--stakes, --min-stake, --slash-bps and --reward-bps need --ledger-key (the ledger is off without it)');
  if (values['ledger-key'] && clusterNodes.length > 0) throw new TypeError('the stake ledger runs in memory or on one Redis (--redis), not on --redis-cluster');
  const ledger = values['ledger-key']
    ? await openLedger({ keyFile: values['ledger-key'], stakesFile: values.stakes, params: ledgerParams, redisUrl: values.redis, prefix: values['redis-prefix'] })
    : undefined;
  if (values['reference-key'] && !values['verify-infer'] && !values['verify-render']) throw new TypeError('--reference-key signs references computed by --verify-infer or --verify-render: give one of them too');
  if (values['verify-infer'] && !hooks.loadInferReference) throw new TypeError('--verify-infer needs the edge-offload CLI (bin/), which ships the inference engine');
  if (values['verify-render'] && !hooks.loadRenderReference) throw new TypeError('--verify-render needs the edge-offload CLI (bin/), which ships the renderer');
  const referenceKey = values['reference-key'] ? readNodeKey(values['reference-key']) : undefined;
  const engine = values['verify-infer'] ? await hooks.loadInferReference!() : undefined;
  const renderer = values['verify-render'] ? await hooks.loadRenderReference!() : undefined;
  const trust = {
    ...(ticketSecret ? { tickets: { secret: ticketSecret } } : {}),
    ...(ledger ? { ledger } : {}),
    ...(engine ? { infer: engine.infer } : {}),
    ...(renderer ? { render: renderer } : {}),
    ...(referenceKey ? { referenceKey: referenceKey.privateKeyPem } : {}),
  };
  await preloadGeoip();
  const server = new DiscoveryServer({
    port,
    host: values.host ?? '127.0.0.1',
    registry,
    operators,
    locator: new IpLocator(defaultLocation ? { defaultLocation } : {}),
    tls: loadTlsFiles(values['tls-cert'], values['tls-key']),
    ...(values['cors-origin'] ? { corsOrigins: parseCorsOrigins(values['cors-origin']) } : {}),
    trust,
    rateLimits: limits.perAddress,
    subnetRateLimits: limits.perSubnet,
    identityRateLimits: limits.perIdentity,
    nodeChannelProcess: nodeChannels,
  });
  const { url } = await server.listen();
  const reniced = settleReplicaThreads();
  const queryThread = settleQueryThread(queryThreadAsked, server.nodeChannels);
  if (queryThread.wanted && queryThread.schedClass !== 'fifo') console.warn('discovery: the query thread stays SCHED_OTHER: SCHED_FIFO needs CAP_SYS_NICE (root, setcap cap_sys_nice+ep on node, or systemd AmbientCapabilities=CAP_SYS_NICE) and util-linux chrt');
  const staking = ledger ? `, stake ledger (min stake ${ledger.params.minStake})` : '';
  // the signal handlers first, then the lines that say discovery is up: a supervisor (or a test)
  // that stops discovery as soon as it reads them found it still without handlers on a busy
  // machine, and it died by the signal instead of closing (1 run in 5 under two CPU hogs)
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      console.log(`discovery: ${signal}, closing`);
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  if (renderer) console.log(`discovery: judging frames with the WebGPU renderer${referenceKey ? '; signing frame references' : ''}`);
  if (engine) console.log(`discovery: judging infer evidence with models ${engine.models.join(', ')}${referenceKey ? `; signing infer references with key ${referenceKey.publicKey}` : ''}`);
  const youngGen = semiSpaceFlags().join(' ') || "V8's default";
  console.log(`discovery: listening on ${url} (backend ${registry.kind}, ${operators.size} trusted operator(s), node ttl ${registry.ttlMs} ms${staking}, node channels ${channelWords(server.nodeChannels)}, young generation ${youngGen}, GC threads ${currentGcThreads()}${reniced ? `, ${reniced} helper threads at nice ${HELPER_THREADS_NICE}` : ''}${busyPollMs > 0 && registry.kind !== 'memory' ? `, polling for Redis replies up to ${busyPollMs} ms` : ''}, query thread ${queryThread.schedClass === 'fifo' ? 'SCHED_FIFO' : 'SCHED_OTHER'})`);
  await stopped;
  await server.close();
  await ledger?.close();
  await engine?.close();
  await renderer?.close();
  return 0;
}

/** The banner's words for where the node channels run, how they are scheduled, and who writes their liveness. */
function channelWords(host: NodeChannelHost): string {
  if (!(host instanceof ChannelProcess)) return 'inline';
  const how = [host.background === 'idle' ? 'in SCHED_IDLE' : host.background === 'nice' ? 'niced' : '', host.livenessWrites === 'own connection' ? 'writing liveness to Redis itself' : ''].filter(Boolean);
  return `in a channel process${how.length > 0 ? ` (${how.join(', ')})` : ''}`;
}
