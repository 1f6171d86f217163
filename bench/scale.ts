/**
 * `bench scale`: what liveness costs per node, and the layout for 210,000 nodes at 1 s liveness.
 *
 * A discovery replica runs in its own process (bench/scale/server.ts), pinned alone to core 0;
 * this process, Redis and the cluster's masters share core 1, Redis in SCHED_FIFO (REDIS_FIFO_PRIORITY:
 * it runs whenever it has work, as on a core of its own). This process plays the nodes over
 * real loopback connections:
 *  - node channel: N nodes each hold a /v1/node ws, registered once (signed over the challenge),
 *    each sending a bare pong frame every second; 5 % of them push a load change each second,
 *    measured with the replica writing each push on its own and batched (statusFlushMs);
 *  - baseline, same run: M nodes POST a signed heartbeat every second (today's path).
 * Measured per node-second: the replica's CPU, Redis commands and Redis CPU (INFO commandstats,
 * INFO cpu); memory per connected node (heap + buffers, and RSS, after GC); bytes the replica
 * allocates per node-second of liveness, per load push and per query (V8's sampling heap profiler,
 * garbage included); shortlist p50/p99 inside the replica (its own service call: the timings hold
 * no HTTP client and none of this process's load) while 1 %/s of the nodes reconnect and 5 %/s
 * push load, with the GC pauses in that window, on memory, Redis and a 3-master Redis Cluster,
 * each with V8's default young generation and with the size discovery's launcher sets, side by
 * side. Correctness first: every node must be registered and listed before anything is timed.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '@redis/client';
import { intFlag, parseCommandArgs } from '../bin/commands/args.js';
import { generateKeyPair } from '../discovery/identity.js';
import { moveKernelThreads, pinSelf } from './lib/pin.js';
import { gcLaunchFlags, gcModeOr } from '../protocol/server/gcThreads.js';
import { niceProcess, setSchedClass } from '../protocol/server/background.js';
import { startRedisCluster, type RedisCluster } from './lib/redisCluster.js';
import { redisAvailable, startRedis } from './lib/redisServer.js';
import { barChart } from './lib/chart.js';
import { environment, printEnvironment } from './lib/environment.js';
import { resultsDir, writeResult } from './lib/results.js';
import type { Allocation, QueryWindow, ServerRequest } from './scale/server.js';
import { clusterFanOut, layout, sliceLine, TARGET } from './scale/layout.js';
import { slicePhase } from './scale/slice.js';
import { INTERVAL_MS, Replica, redisWork, clusterBusHealth, pinRedis, type Backend, type NodeChannelMode, type Phase, type RedisInfo } from './scale/replica.js';
import { fleet, openChannel } from './scale/fleet.js';
import { channelPhase, heartbeatPhase, queriesOnly, queryLine } from './scale/phases.js';

/**
 * How Redis gets the load generator's core when it has work. A deployment runs Redis on a core (a
 * machine) of its own: the simulated fleet (8,000 remote nodes) never takes Redis's CPU there. On
 * this 2-core box Redis shares core 1 with the fleet's process; at the same niceness the scheduler
 * shared the core between them, and a command (a 200-member ZADD, a search) was preempted mid-way
 * for a timeslice of the fleet (SLOWLOG showed ZADDs of 14 ms). Nice -20 (REDIS_NICE, scheduler
 * weight 88,761 against the fleet's 1,024) gave Redis the core's time but not its wake-up: since
 * Linux 6.6 (EEVDF) a task woken while another runs waits for the rest of that one's slice
 * whatever their niceness (kernel 6.18 here: Redis waited 3.7 ms for core 1 in the slowest 1 % of
 * queries at -20; `bench scale` round 24). So Redis runs in SCHED_FIFO (REDIS_FIFO_PRIORITY,
 * `--redis-sched fifo`, the default): it runs the moment a command arrives, as on its own core
 * (the wait fell to 0), and the fleet gets what is left. Both need privilege; without it the run
 * falls back to what it can set and says so in its environment.
 */
const REDIS_FIFO_PRIORITY = 1;
const REDIS_NICE = -20;
/** The young generation compared with V8's default (discovery's `--young-gen-mib`, off by default). */
const OTHER_YOUNG_GEN_MIB = 64;
const HELP = `Usage: npm run bench -- scale [options]

Options:
  --nodes N           node-channel connections (default 8000; each costs two file descriptors here)
  --baseline-nodes M  nodes sending signed HTTP heartbeats (default 300)
  --seconds S         length of each measuring window (default 5; the default run, three
                      backends with two replicas each, takes ~7 minutes on 2 cores; with
                      --queries-only 15: at 200 queries/s a 5 s window's p99 is its 10th slowest
                      query, which swung 0.9-2.2 ms run to run on an idle 2-core VM)
  --no-redis          memory backend only (no Redis, no cluster)
  --no-cluster        skip the 3-master Redis Cluster
  --young-gen-mib N   semi-space size of each backend's other replica (default ${OTHER_YOUNG_GEN_MIB},
                      what 'edge-offload discovery --young-gen-mib' would set; the first runs
                      with V8's default, discovery's own default)
  --young-first       run that replica before the default one (to tell order from effect)
  --slice-replicas R  replicas of the 210k layout's slice on the cluster (default 2; 0: no slice)
  --slice-nodes N     nodes of the slice, split between its replicas (default: --nodes)
  --quick             1000 nodes, 100 baseline, 3 s windows
  --queries-only      only the query windows (issue #13's tail): per backend one replica with
                      V8's defaults, queries with the nodes idle (the floor), then under churn;
                      no heartbeat baseline, cost windows or young-generation replica. Writes
                      bench/results/scale-tail.json + .svg instead (-after-first with that flag)
  --before DIR        with --queries-only: also run, side by side on the same Redis and fleet,
                      a replica built from another checkout (DIR is that checkout's compiled
                      output, e.g. a worktree of main after 'npx tsc -p .': DIR/bench/scale/server.js)
  --after-first       with --before: run this build's replica first (to tell order from effect)
  --node-channels L   with --queries-only: where each replica's node channels run, a comma list
                      of inline and process (default inline); 'inline,process' runs both side by
                      side on the same Redis and fleet (discovery's --node-channels). A channel
                      process shares the replica's core 0; process@1 puts it on core 1 instead
  --sched-trace       with --queries-only: also trace the kernel's scheduler on the replica's
                      core over each window and say who held it while a query waited (the
                      JSON's coreHolders; bench/scale/schedTrace.ts). Needs root (tracefs); a
                      build that has it traces whatever build runs beside it too
  --replica-gc M      with --queries-only: also run each build's replica with the V8 flags that
                      'edge-offload discovery --gc M' gives a replica limited to one core (auto
                      or single: --single-threaded-gc, which its channel process inherits, its
                      helpers at nice 10, its channel process in SCHED_IDLE and, where the
                      privilege allows, its query thread in SCHED_FIFO), side by side with the
                      others (discovery/gcThreads.ts, discovery/queryThread.ts)
  --name NAME         with --queries-only: write NAME.json + .svg (e.g. scale-split) instead
  --backends L        a comma list of memory, redis, cluster (default all three; --no-redis and
                      --no-cluster drop from it): e.g. 'redis' for Redis's query tail alone
  --redis-sched S     fifo (default) or nice: how every Redis and cluster master gets core 1
                      (see REDIS_FIFO_PRIORITY: the stand-in for Redis's own core)
  --redis-nice N      with --redis-sched nice (or where fifo is refused): their niceness
                      (default ${REDIS_NICE}; 0: as the load generator)
  -h, --help          show this help

Run it on an otherwise idle machine. Writes bench/results/scale.json, scale.svg (liveness costs)
and scale-queries.svg (query latency under churn, both young generations).`;


export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(argv, { nodes: { type: 'string' }, 'baseline-nodes': { type: 'string' }, seconds: { type: 'string' }, 'no-redis': { type: 'boolean' }, 'no-cluster': { type: 'boolean' }, 'young-gen-mib': { type: 'string' }, 'young-first': { type: 'boolean' }, quick: { type: 'boolean' }, 'slice-replicas': { type: 'string' }, 'slice-nodes': { type: 'string' }, 'queries-only': { type: 'boolean' }, before: { type: 'string' }, 'after-first': { type: 'boolean' }, 'node-channels': { type: 'string' }, name: { type: 'string' }, backends: { type: 'string' }, 'redis-nice': { type: 'string' }, 'redis-sched': { type: 'string' }, 'replica-gc': { type: 'string' }, 'sched-trace': { type: 'boolean' } }, HELP);
  if (!args) return;
  const modes = (typeof args.values['node-channels'] === 'string' ? args.values['node-channels'] : 'inline').split(',').map((m) => m.trim());
  if (modes.length === 0 || modes.some((m) => m !== 'inline' && m !== 'process' && m !== 'process@1')) throw new Error(`--node-channels takes a comma list of inline, process and process@1, not '${args.values['node-channels']}'`);
  if (typeof args.values.name === 'string' && !/^[\w.-]+$/.test(args.values.name)) throw new Error('--name takes a file name (letters, digits, - . _), written where results go (--out)');
  // read by this build's bench/scale/server.ts in the replicas it spawns (an older build ignores it)
  if (args.values['sched-trace']) process.env.SCALE_SCHED_TRACE = '1';
  const replicaGc = typeof args.values['replica-gc'] === 'string' ? gcModeOr(['--gc', args.values['replica-gc']], 'parallel', {}) : undefined;
  // the replica runs alone on core 0: the flags its launcher would pick on a one-core replica
  const variant = replicaGc ? { label: `--gc ${replicaGc}`, flags: gcLaunchFlags(replicaGc, 1, []) } : undefined;
  const quick = args.values.quick === true;
  const nodes = intFlag(args.values.nodes, '--nodes') ?? (quick ? 1000 : 8000);
  const baselineNodes = intFlag(args.values['baseline-nodes'], '--baseline-nodes') ?? (quick ? 100 : 300);
  const seconds = intFlag(args.values.seconds, '--seconds') ?? (quick ? 3 : args.values['queries-only'] ? 15 : 5);
  const youngGenMib = intFlag(args.values['young-gen-mib'], '--young-gen-mib') ?? OTHER_YOUNG_GEN_MIB;
  const youngFlags = [`--max-semi-space-size=${youngGenMib}`];
  const youngFirst = args.values['young-first'] === true;
  const sliceReplicas = intFlag(args.values['slice-replicas'], '--slice-replicas') ?? 2;
  const sliceNodes = intFlag(args.values['slice-nodes'], '--slice-nodes') ?? nodes;
  const redisOk = !args.values['no-redis'] && redisAvailable();
  const asked = typeof args.values.backends === 'string' ? args.values.backends.split(',').map((b) => b.trim()) : ['memory', 'redis', 'cluster'];
  if (asked.length === 0 || asked.some((b) => b !== 'memory' && b !== 'redis' && b !== 'cluster')) throw new Error(`--backends takes a comma list of memory, redis and cluster, not '${args.values.backends}'`);
  const backends = asked.filter((b): b is Backend => b === 'memory' || (b === 'redis' && redisOk) || (b === 'cluster' && redisOk && !args.values['no-cluster']));
  if (backends.length === 0) throw new Error('no backend left to run (is redis-server installed? see --no-redis, --no-cluster)');
  const redisNiceFlag = args.values['redis-nice'];
  const redisNice = typeof redisNiceFlag === 'string' ? Number(redisNiceFlag) : REDIS_NICE;
  if (!Number.isInteger(redisNice) || redisNice < -20 || redisNice > 19) throw new Error('--redis-nice takes an integer from -20 to 19');
  const redisSched = args.values['redis-sched'] ?? 'fifo';
  if (redisSched !== 'fifo' && redisSched !== 'nice') throw new Error(`--redis-sched takes fifo or nice, not '${redisSched}'`);
  /** What every Redis got: SCHED_FIFO, else its niceness, else nothing (no privilege). */
  const redisScheduling = { asked: redisSched === 'fifo' ? `SCHED_FIFO ${REDIS_FIFO_PRIORITY}` : `nice ${redisNice}`, applied: [] as string[] };
  const prioritiseRedis = (pid: number) => {
    const got = redisSched === 'fifo' && setSchedClass(pid, 'fifo', REDIS_FIFO_PRIORITY) ? `SCHED_FIFO ${REDIS_FIFO_PRIORITY}` : niceProcess(pid, redisNice) === 'nice' ? `nice ${redisNice}` : 'as the load generator';
    if (!redisScheduling.applied.includes(got)) redisScheduling.applied.push(got);
  };
  // the load generator, Redis and the cluster: core 1; the replica alone on core 0, the kernel's
  // movable background threads too (moveKernelThreads: the VM's memory monitor took core 0 for
  // milliseconds at a time, and the slowest queries waited for it)
  pinSelf(1, 'bench scale');
  const kernelThreads = moveKernelThreads(1);
  process.once('exit', kernelThreads.restore);
  const env = environment({ nodes, baselineNodes, seconds, backends, youngGeneration: { default: "V8's", other: youngFlags, order: youngFirst ? 'other first' : 'default first' }, pinning: 'replica alone on core 0; node load generator, Redis and the cluster masters on core 1', kernelThreadsMovedToCore1: kernelThreads.moved, redisScheduling, ...(args.values['queries-only'] ? { queriesOnly: { before: args.values.before ?? null, order: args.values['after-first'] ? 'after first' : 'before first', nodeChannels: args.values['node-channels'] ?? 'inline', ...(variant ? { replicaGc: variant } : {}), queriesPerSecond: 200, idleWindow: '300 queries, nodes silent', churn: '1 %/s reconnect, 5 %/s load pushes, pongs from every node each second in 100 slots of 10 ms' } } : {}) });
  printEnvironment(env);
  const operator = { name: 'bench', ...generateKeyPair() };
  const f = fleet(Math.max(nodes, baselineNodes, sliceNodes), operator);
  const redisProcess = backends.includes('redis') ? await startRedis() : undefined;
  const redis = redisProcess ? createClient({ url: redisProcess.url }) : undefined;
  let cluster: RedisCluster | undefined;
  const masters: (RedisInfo & { close(): Promise<unknown> })[] = [];
  const results: Record<string, any> = {};
  let redisPid: number | undefined;
  try {
    if (redis) {
      await redis.connect();
      const pid = await pinRedis(redis);
      prioritiseRedis(pid);
      redisPid = pid;
      // the replica (this build's) samples Redis's main thread around each query (tail split)
      process.env.SCALE_REDIS_PID = String(pid);
    }
    if (backends.includes('cluster')) {
      // a 5 s node timeout, not the tests' 1 s: the masters share the load generator's core, and
      // one starved for a second must not be flagged failing by the others mid-run
      cluster = await startRedisCluster({ nodeTimeoutMs: 5000 });
      for (const port of cluster.ports) {
        const m = createClient({ url: `redis://127.0.0.1:${port}` });
        await m.connect();
        masters.push(m);
        prioritiseRedis(await pinRedis(m));
      }
    }
    if (args.values['queries-only'] === true) {
      if (redisScheduling.applied.some((a) => a !== redisScheduling.asked)) console.log(`Redis asked ${redisScheduling.asked}, got ${redisScheduling.applied.join(', ')} (needs privilege and util-linux chrt): it waits for core 1 behind the load generator more than on a core of its own`);
      await queriesOnly(backends, { redis, redisProcess, cluster, masters, ...(redisPid ? { redisPid } : {}) }, operator, f, nodes, seconds, typeof args.values.before === 'string' ? args.values.before : undefined, args.values['after-first'] === true, env, modes as NodeChannelMode[], typeof args.values.name === 'string' ? args.values.name : undefined, variant);
      return;
    }
    for (const backend of backends) {
      const infos = backend === 'redis' ? [redis!] : backend === 'cluster' ? masters : undefined;
      const store = backend === 'redis' ? redisProcess!.url : backend === 'cluster' ? cluster!.nodes.join(',') : undefined;
      const run = async <T>(flags: string[], phase: (replica: Replica, url: string) => Promise<T>): Promise<T> => {
        const replica = new Replica(backend, store, operator, flags);
        try {
          return await phase(replica, await replica.url);
        } finally {
          await replica.close();
        }
      };
      // the cluster's per-node costs are a single Redis's spread over shards: its baseline adds nothing
      const heartbeat = backend === 'cluster' ? undefined : await run([], (replica, url) => heartbeatPhase(replica, url, f, baselineNodes, seconds, infos));
      // the same churn on a replica with the young generation discovery's launcher sets
      // (discovery/youngGeneration.ts), after the default one or (--young-first) before it
      const youngPhase = () => run(youngFlags, (replica, url) => channelPhase(replica, url, f, nodes, seconds, infos, false));
      const youngBefore = youngFirst ? await youngPhase() : undefined;
      const quiet = backend === 'cluster' ? (replica: Replica, pongAll: () => void) => clusterFanOut((request) => replica.ask(request as ServerRequest), pongAll, INTERVAL_MS) : undefined;
      const channel = await run([], (replica, url) => channelPhase(replica, url, f, nodes, seconds, infos, true, { quiet }));
      const young = youngBefore ?? (await youngPhase());
      const c = channel as unknown as Phase & { memory: { rssBytesPerNode: number }; queriesUnderChurn: QueryWindow; bytesPerQuery: Allocation; allocation: { perNodeSecondOfLiveness: Allocation; bytesPerStatusPush: number }; livenessOnly: Phase; unbatchedPushes: Phase };
      const ratio = heartbeat && {
        discoveryCpu: heartbeat.discoveryMicrosPerNodeSecond / c.discoveryMicrosPerNodeSecond,
        ...(c.redisMicrosPerNodeSecond ? { redisCommands: heartbeat.redisCallsPerNodeSecond! / c.redisCallsPerNodeSecond!, redisCpu: heartbeat.redisCpuMicrosPerNodeSecond! / c.redisCpuMicrosPerNodeSecond!, redisCommandMicros: heartbeat.redisMicrosPerNodeSecond! / c.redisMicrosPerNodeSecond } : {}),
      };
      results[backend] = { ...(heartbeat ? { signedHeartbeat: heartbeat } : {}), nodeChannel: channel, youngGeneration: { v8Flags: youngFlags, queriesUnderChurn: young.queriesUnderChurn, bytesPerQuery: young.bytesPerQuery }, ...(ratio ? { heartbeatOverChannel: ratio } : {}), layout: layout(backend, c, INTERVAL_MS) };
      if (heartbeat && ratio) console.log(`${backend}: discovery CPU per node-second ${heartbeat.discoveryMicrosPerNodeSecond.toFixed(1)} µs (signed heartbeat, ${baselineNodes} nodes) vs ${c.discoveryMicrosPerNodeSecond.toFixed(2)} µs (node channel, ${nodes} nodes): ${ratio.discoveryCpu.toFixed(1)}×`);
      if (heartbeat && c.redisCallsPerNodeSecond !== undefined) {
        console.log(`${backend}: Redis per node-second ${heartbeat.redisCallsPerNodeSecond!.toFixed(2)} → ${c.redisCallsPerNodeSecond.toFixed(4)} commands, ${heartbeat.redisMicrosPerNodeSecond!.toFixed(1)} → ${c.redisMicrosPerNodeSecond!.toFixed(2)} µs in commands, CPU ${heartbeat.redisCpuMicrosPerNodeSecond!.toFixed(1)} → ${c.redisCpuMicrosPerNodeSecond!.toFixed(2)} µs`);
      }
      const ub = c.unbatchedPushes;
      console.log(`${backend}: load pushes one script each (before batching): discovery ${ub.discoveryMicrosPerNodeSecond.toFixed(2)} µs${ub.redisCallsPerNodeSecond === undefined ? '' : `, Redis ${ub.redisCallsPerNodeSecond.toFixed(4)} commands, CPU ${ub.redisCpuMicrosPerNodeSecond!.toFixed(2)} µs`} per node-second; batched: discovery ${c.discoveryMicrosPerNodeSecond.toFixed(2)} µs${c.redisCpuMicrosPerNodeSecond === undefined ? '' : `, Redis CPU ${c.redisCpuMicrosPerNodeSecond.toFixed(2)} µs`}`);
      const lo = c.livenessOnly;
      console.log(`${backend}: liveness alone (no load pushes): discovery ${lo.discoveryMicrosPerNodeSecond.toFixed(2)} µs${lo.redisCallsPerNodeSecond === undefined ? '' : `, Redis ${lo.redisCallsPerNodeSecond.toFixed(4)} commands, CPU ${lo.redisCpuMicrosPerNodeSecond!.toFixed(2)} µs`} per node-second`);
      const al = c.allocation;
      console.log(`${backend}: allocated ${al.perNodeSecondOfLiveness.bytes.toFixed(0)} B per node-second of liveness (top: ${al.perNodeSecondOfLiveness.top.slice(0, 4).map((t) => `${t.fn} ${t.bytes.toFixed(0)} B`).join('; ')}), ${al.bytesPerStatusPush.toFixed(0)} B per load push, ${c.bytesPerQuery.bytes.toFixed(0)} B per query (top: ${c.bytesPerQuery.top.slice(0, 4).map((t) => `${t.fn} ${t.bytes.toFixed(0)} B`).join('; ')})`);
      console.log(`${backend}: ${(c.memory.rssBytesPerNode / 1024).toFixed(1)} KiB RSS per connected node`);
      for (const [what, p] of [['default', channel], ['young generation', young]] as const) {
        const closed = (p as { closedByReplica?: Record<string, number> }).closedByReplica ?? {};
        if (Object.keys(closed).length > 0) console.log(`${backend}: node channels the replica closed while measured (${what} replica; opened again before the end): ${JSON.stringify(closed)}`);
      }
      for (const [what, p] of [['default', channel], ['young generation', young]] as const) {
        const failed = (p as { channelOpenFailures: Record<string, number> }).channelOpenFailures;
        if (Object.keys(failed).length > 0) console.log(`${backend}: node channels that failed to open and were opened again (${what} replica): ${JSON.stringify(failed)}`);
      }
      console.log(`${backend}: queries under churn, V8 default young generation: ${queryLine(c.queriesUnderChurn)}`);
      console.log(`${backend}: queries under churn, ${youngFlags.join(' ')}: ${queryLine(young.queriesUnderChurn)}`);
      console.log(`${backend}: layout for ${TARGET} nodes at 1 s: ${JSON.stringify(results[backend].layout)}`);
      const fan = (channel as { fanOut?: Record<string, { bytesPerQuery: number; p50: number; p99: number }> }).fanOut;
      if (fan) console.log(`${backend}: cross-region fan-out, every region at once vs waves: ${(fan.everyRegionAtOnce!.bytesPerQuery / 1024).toFixed(0)} → ${(fan.waves!.bytesPerQuery / 1024).toFixed(0)} KiB allocated per query, p50 ${fan.everyRegionAtOnce!.p50.toFixed(2)} → ${fan.waves!.p50.toFixed(2)} ms, p99 ${fan.everyRegionAtOnce!.p99.toFixed(2)} → ${fan.waves!.p99.toFixed(2)} ms (nodes quiet)`);
    }
    if (backends.includes('cluster')) {
      // whether a master was flagged failing by the others during the run (a starved master would be)
      results.cluster.clusterBus = await clusterBusHealth(masters);
      console.log(`cluster: cluster bus over the run: ${JSON.stringify(results.cluster.clusterBus)}`);
    }
    if (backends.includes('cluster') && sliceReplicas > 0) {
      // the largest slice of the cluster layout this machine holds: its replicas on one cluster
      const slice = await slicePhase(
        {
          startReplica: async () => {
            const replica = new Replica('cluster', cluster!.nodes.join(','), operator, []);
            const url = await replica.url;
            return { url, stats: () => replica.stats(), ask: (request) => replica.ask(request as ServerRequest), close: () => replica.close() };
          },
          openChannel: (url, i) => openChannel(url, f, i).catch(() => undefined),
          redisCpuSeconds: async () => (await redisWork(masters))!.cpu,
          position: (i) => ({ lat: f.descriptors[i]!.lat ?? 0, lon: f.descriptors[i]!.lon ?? 0 }),
        },
        { replicas: sliceReplicas, nodes: sliceNodes, seconds, intervalMs: INTERVAL_MS, queriesPerSecond: 100 },
      );
      results.cluster.slice = { ...slice, shareOfLayout: slice.nodes / TARGET, layoutReplicas: results.cluster.layout.replicas, layoutShards: results.cluster.layout.redisShards };
      console.log(`cluster: ${sliceLine(slice, results.cluster.layout)}`);
    }
  } finally {
    for (const m of masters) await m.close();
    await cluster?.stop();
    await redis?.close();
    await redisProcess?.stop();
    kernelThreads.restore();
  }
  const withBaseline = backends.filter((b) => results[b].signedHeartbeat);
  const cats = withBaseline.flatMap((b) => [`${b}: discovery CPU`, ...(b === 'redis' ? ['redis: Redis CPU'] : [])]);
  const pick = (phase: 'signedHeartbeat' | 'nodeChannel') =>
    withBaseline.flatMap((b) => {
      const p = results[b][phase] as Phase;
      return [p.discoveryMicrosPerNodeSecond, ...(b === 'redis' ? [p.redisCpuMicrosPerNodeSecond!] : [])];
    });
  const svg = barChart({ title: `Liveness cost per node-second (${nodes} channel nodes, ${baselineNodes} heartbeat nodes)`, yLabel: 'CPU µs per node-second', categories: cats, series: [{ name: 'signed heartbeat', values: pick('signedHeartbeat') }, { name: 'node channel', values: pick('nodeChannel') }] });
  const window = (b: Backend, young: boolean): QueryWindow => (young ? results[b].youngGeneration : results[b].nodeChannel).queriesUnderChurn;
  const querySvg = barChart({
    title: `Shortlist latency under churn, ${nodes} channel nodes (1 %/s reconnect, 5 %/s load pushes)`,
    yLabel: 'ms',
    categories: backends.flatMap((b) => [`${b} p50`, `${b} p99`, `${b} max GC pause`]),
    series: [false, true].map((young) => ({ name: young ? youngFlags.join(' ') : 'V8 default young generation', values: backends.flatMap((b) => [window(b, young).p50, window(b, young).p99, window(b, young).gc.maxMs ?? 0]) })),
  });
  writeResult('scale', { environment: env, ...results }, svg);
  writeFileSync(path.join(resultsDir(), 'scale-queries.svg'), querySvg);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
