/**
 * Two Redis registries ("replicas") on one key prefix of a running Redis, the prefix flushed, and
 * a raw client (to read Redis's own counters, or to leave keys as an older replica would have);
 * everything closed after `body`.
 */
import { createClient } from '@redis/client';
import { RedisRegistry } from '../../discovery/registry/RedisRegistry.js';

export type RawRedis = { sendCommand(args: string[]): Promise<unknown> };

export async function withReplicas(url: string, prefix: string, heartbeatIntervalMs: number, body: (a: RedisRegistry, b: RedisRegistry, raw: RawRedis) => Promise<void>): Promise<void> {
  const opts = { url, heartbeatIntervalMs, prefix };
  const a = await RedisRegistry.connect(opts);
  const b = await RedisRegistry.connect(opts);
  const raw = createClient({ url });
  await raw.connect();
  try {
    await a.flush();
    await body(a, b, raw);
  } finally {
    await raw.quit();
    await a.close();
    await b.close();
  }
}
