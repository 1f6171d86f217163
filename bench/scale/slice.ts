/**
 * `bench scale`'s slice of the 210k layout: what this machine can hold of it, run as the layout
 * says it runs. Several discovery replicas (processes) share one 3-master Redis Cluster, the nodes
 * split between them (node i registers on replica i mod R), each replica writing only its own
 * nodes' liveness and load, and every replica answering queries over all of them (the cluster is
 * the one registry). Correctness first: every node registered, counted by every replica, and a
 * query on one replica lists nodes that registered on another. Then, while every node pongs each
 * second and 5 %/s push load: each replica's CPU per node-second of its own nodes, the masters'
 * CPU per node-second of all nodes, and query latency on every replica at once.
 */
import type { WebSocket } from 'ws';
import type { QueryWindow, ServerStats } from './server.js';

/** What the slice needs of `bench scale` (its replica processes, node channels and Redis counters). */
export interface SliceDeps {
  /** Starts one replica on the cluster; resolves once it listens. */
  startReplica(): Promise<SliceReplica>;
  /** Opens node `i`'s channel to `url`, resolved once registered (undefined: it failed, open it again). */
  openChannel(url: string, i: number): Promise<WebSocket | undefined>;
  /** CPU seconds every master has used so far (INFO cpu, summed). */
  redisCpuSeconds(): Promise<number>;
  /** Where a node is (the fleet's descriptors). */
  position(i: number): { lat: number; lon: number };
}
export interface SliceReplica {
  url: string;
  stats(): Promise<ServerStats>;
  ask<T>(request: object): Promise<T>;
  close(): Promise<void>;
}
export interface SliceOptions {
  replicas: number;
  nodes: number;
  seconds: number;
  intervalMs: number;
  /** Queries per second each replica answers during the query window. */
  queriesPerSecond: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function slicePhase(deps: SliceDeps, o: SliceOptions) {
  // one after the other: each replica flushes the bench's keys when it starts, before any node
  const replicas: SliceReplica[] = [];
  try {
    for (let r = 0; r < o.replicas; r++) replicas.push(await deps.startReplica());
    return await run(deps, o, replicas);
  } finally {
    for (const replica of replicas) await replica.close();
  }
}

async function run(deps: SliceDeps, o: SliceOptions, replicas: SliceReplica[]) {
  const R = replicas.length;
  const sockets: (WebSocket | undefined)[] = new Array(o.nodes);
  const seqs = new Array<number>(o.nodes).fill(0);
  let pushShare = 0;
  let pushes = 0;
  // each node pongs once per interval in its own 10 ms slot (as in the main channel phase)
  const SLOTS = o.intervalMs / 10;
  const started = performance.now();
  let slot = 0;
  const ponger = setInterval(() => {
    const due = Math.floor((performance.now() - started) / 10);
    for (; slot < due; slot++) {
      for (let i = slot % SLOTS; i < o.nodes; i += SLOTS) {
        const ws = sockets[i];
        if (ws === undefined || ws.readyState !== ws.OPEN) continue;
        ws.pong();
        if (Math.random() < pushShare && ++pushes) ws.send(JSON.stringify({ t: 'status', seq: ++seqs[i]!, load: Math.round(Math.random() * 90) / 100, freeCapacity: 4 }));
      }
    }
  }, 10);
  try {
    const open = async (i: number) => {
      sockets[i] = await deps.openChannel(replicas[i % R]!.url, i);
      seqs[i] = 0;
    };
    for (let i = 0; i < o.nodes; i += 200) await Promise.all(Array.from({ length: Math.min(200, o.nodes - i) }, (_, j) => open(i + j)));
    // every node registered, on the replica it chose, and every replica counts all of them; a
    // channel the replica closed meanwhile (4404: register again) opens again, as NodeAgent does
    let all: ServerStats[] = [];
    for (let attempt = 0; ; attempt++) {
      for (let i = 0; i < o.nodes; i++) if (sockets[i]?.readyState !== 1) await open(i);
      await sleep(o.intervalMs);
      all = await Promise.all(replicas.map((r) => r.stats()));
      const channels = all.reduce((n, s) => n + s.channels, 0);
      const closed = sockets.filter((ws) => ws?.readyState !== 1).length;
      if (channels === o.nodes && closed === 0 && all.every((s) => s.nodes.edge + s.nodes.cloud === o.nodes)) break;
      if (attempt === 5) throw new Error(`slice: expected ${o.nodes} nodes on ${R} replicas, they hold ${JSON.stringify(all.map((s) => ({ channels: s.channels, nodes: s.nodes })))} (${closed} channels closed here)`);
    }
    // a query on one replica lists a node that registered on another (the registry is shared)
    let crossChecked = 0;
    for (let i = 0; i < Math.min(o.nodes, 40); i++) {
      const other = replicas[(i + 1) % R]!;
      const { ids } = await other.ask<{ ids: string[] }>({ cmd: 'shortlist', ...deps.position(i) });
      if (!ids.includes(`n${i}`)) throw new Error(`slice: replica ${(i + 1) % R} does not list node n${i} (registered on replica ${i % R}) at its own position: ${ids.join(',')}`);
      crossChecked++;
    }
    await sleep(2 * o.intervalMs);
    pushShare = 0.05;
    await sleep(o.intervalMs);
    // costs: liveness + 5 %/s load pushes, each replica for its own nodes, the masters for all
    const s0 = await Promise.all(replicas.map((r) => r.stats()));
    const c0 = await deps.redisCpuSeconds();
    const p0 = pushes;
    await sleep(o.seconds * 1000);
    const s1 = await Promise.all(replicas.map((r) => r.stats()));
    const c1 = await deps.redisCpuSeconds();
    const nodeSeconds = o.nodes * o.seconds;
    const perReplicaNodes = o.nodes / R;
    const discoveryMicrosPerNodeSecond = s1.map((s, r) => (s.cpuMicros - s0[r]!.cpuMicros) / (perReplicaNodes * o.seconds));
    const redisCpuMicrosPerNodeSecond = ((c1 - c0) * 1e6) / nodeSeconds;
    // queries on every replica at once, the liveness and pushes still running
    const queries = await Promise.all(replicas.map((r) => r.ask<{ queries: QueryWindow }>({ cmd: 'queries', count: o.queriesPerSecond * o.seconds, perSecond: o.queriesPerSecond })));
    return {
      replicas: R,
      nodes: o.nodes,
      nodesPerReplica: perReplicaNodes,
      crossReplicaChecks: crossChecked,
      pushesPerSecond: (pushes - p0) / o.seconds,
      discoveryMicrosPerNodeSecond,
      redisCpuMicrosPerNodeSecond,
      queriesUnderLiveness: queries.map(({ queries: q }) => ({ p50: q.p50, p99: q.p99, max: q.max, gcMaxMs: q.gc.maxMs ?? 0 })),
    };
  } finally {
    clearInterval(ponger);
    for (const ws of sockets) ws?.terminate();
  }
}
