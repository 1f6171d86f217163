/**
 * The node-redis client RedisRegistry talks through, configured for discovery: fail fast while
 * Redis is away (callers answer UNAVAILABLE), reconnect with backoff once it was up.
 */
// types only: the package is optional and loads in RedisRegistry.connect() (protocol/server/optionalPackages.ts)
import type { createClient as CreateClient, createCluster as CreateCluster } from '@redis/client';

/**
 * Command options that answer bulk strings as Buffers (node-redis typeMapping, RESP_TYPES.BLOB_STRING
 * is 36; the package itself loads lazily): a search reply's ~40 rows were each a Buffer view and a
 * string decoded from it; the replica now reads their fields from the view.
 */
export const BYTES_REPLY = Object.freeze({ typeMapping: Object.freeze({ 36: Buffer }) });

/** Reconnects with backoff once up; the first connect fails fast so a wrong URL is reported at start. */
export function makeClient(createClient: typeof CreateClient, url: string, commandTimeoutMs: number, everConnected: () => boolean) {
  return createClient({
    url,
    // 0: none. node-redis 6 arms AbortSignal.timeout(5000) per command by default; each signal and
    // its timer outlive the reply by 5 s, so every query's garbage survived young-generation GCs:
    // 4-8 ms scavenges (and the old-generation collections after them) in ~2 % of bench queries
    commandOptions: { timeout: commandTimeoutMs },
    // while reconnecting, fail commands at once (discovery answers UNAVAILABLE) instead of queueing
    // them behind an outage the HTTP client has long given up on
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 3000,
      reconnectStrategy: (retries, cause) => (everConnected() ? Math.min(50 * 2 ** retries, 2000) : cause),
    },
  });
}

/**
 * The cluster client RedisClusterRegistry talks through: node-redis's own (slot map, MOVED/ASK,
 * topology refresh), with every node connection configured as makeClient's: commands fail at once
 * while a node is away (the query answers UNAVAILABLE) and the node is reconnected with backoff.
 */
export function makeClusterClient(createCluster: typeof CreateCluster, nodes: string[], commandTimeoutMs: number) {
  return createCluster({
    rootNodes: nodes.map((node) => ({ url: node.includes('://') ? node : `redis://${node}` })),
    commandOptions: { timeout: commandTimeoutMs },
    defaults: {
      disableOfflineQueue: true,
      socket: { connectTimeout: 3000, reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 2000) },
    },
  });
}
