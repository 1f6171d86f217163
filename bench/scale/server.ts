/**
 * The discovery replica of `bench scale`, in its own process (pinned to its own core by the
 * driver): a DiscoveryServer on loopback over a memory or Redis registry. The driver asks it over
 * IPC for its CPU and memory, and to run shortlist queries while the driver's nodes churn.
 *
 * argv: <backend memory|redis> <redis url or -> <operator name> <operator public key> <heartbeat ms>
 */
import { DiscoveryServer } from '../../discovery/DiscoveryServer.js';
import { MemoryRegistry } from '../../discovery/registry/MemoryRegistry.js';
import { RedisRegistry } from '../../discovery/registry/RedisRegistry.js';
import { TrustedOperators } from '../../discovery/trust.js';
import { clientPoints } from '../discovery/synthetic.js';
import { summarize } from '../lib/stats.js';

export type ServerRequest = { cmd: 'stats' } | { cmd: 'queries'; count: number; perSecond: number } | { cmd: 'close' };
export interface ServerStats {
  cpuMicros: number;
  heapUsed: number;
  rss: number;
  external: number;
  channels: number;
  nodes: { edge: number; cloud: number };
}

const [backend, redisUrl, operator, operatorKey, heartbeatMs] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc;
const registry =
  backend === 'redis'
    ? await RedisRegistry.connect({ url: redisUrl!, heartbeatIntervalMs: Number(heartbeatMs), prefix: 'scale:' })
    : new MemoryRegistry({ heartbeatIntervalMs: Number(heartbeatMs) });
if (registry instanceof RedisRegistry) await registry.flush();
const many = { ratePerSecond: 1e6, burst: 1e6 };
const server = new DiscoveryServer({
  registry,
  operators: new TrustedOperators([{ name: operator!, publicKey: operatorKey! }]),
  rateLimits: { register: many, heartbeat: many, query: many, report: many },
  subnetRateLimits: { register: many, heartbeat: many, query: many, report: many },
  identityRateLimits: { register: many, heartbeat: many, report: many },
});
const { url } = await server.listen();

async function stats(): Promise<ServerStats> {
  // CPU before the collections below: they are the bench's, not the replica's
  const cpu = process.cpuUsage();
  gc?.();
  gc?.();
  const mem = process.memoryUsage();
  return { cpuMicros: cpu.user + cpu.system, heapUsed: mem.heapUsed, rss: mem.rss, external: mem.external + mem.arrayBuffers, channels: server.nodeChannels.size, nodes: await registry.count() };
}

/** Shortlists at a steady rate (what a replica serves while its nodes churn); latency of each, ms. */
async function queries(count: number, perSecond: number) {
  const points = clientPoints(count, 99);
  const samples: number[] = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const due = start + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t = performance.now();
    await server.service.query({ lat: points[i]!.lat, lon: points[i]!.lon, caps: ['infer'] }, undefined);
    samples.push(performance.now() - t);
  }
  return summarize(samples);
}

process.on('message', async (request: ServerRequest) => {
  if (request.cmd === 'stats') process.send!({ stats: await stats() });
  else if (request.cmd === 'queries') process.send!({ queries: await queries(request.count, request.perSecond) });
  else {
    await server.close();
    process.send!({ closed: true }, () => process.exit(0));
  }
});
// never outlive the driver
process.on('disconnect', () => process.exit(1));
process.send!({ url });
