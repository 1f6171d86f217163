/**
 * The node channels (`/v1/node`) as the server sees them, wherever they run: in the replica's own
 * process (NodeChannels, `nodeChannelProcess: 'inline'`) or in a channel process of their own
 * (ChannelProcess, `'process'`), so their sockets and garbage live in another heap and the query
 * process's young-generation scavenges carry only queries (discovery/README.md).
 */
import type { NodeRecord, Registry } from '../registry/Registry.js';

export interface NodeChannelHost {
  /** Registered channels (the channel process reports it with each liveness round and on request). */
  readonly size: number;
  /** The exact count of registered channels. */
  count(): Promise<number>;
  /** When node `id` was last heard over its channel here (undefined: no channel here). */
  lastHeard(id: string): number | undefined | Promise<number | undefined>;
  /** One liveness round (runs on a timer; public so tests and benches can drive it). */
  tick(): Promise<void>;
  /** Statuses wait this long to be written in one batch (0: each on its own). */
  statusFlushMs: number;
  close(): void | Promise<void>;
}

/**
 * What the node channels need of the registry: the real one (inline), or the channel process's
 * stand-in that forwards each batch to the replica over IPC.
 */
export interface ChannelRegistry extends Pick<Registry, 'ttlMs' | 'refresh' | 'touchMany'> {
  /** Registry.touch(); the channels only ask whether the node was still there. */
  touch(id: string, status: { load: number; freeCapacity: number }, now?: number): Promise<object | undefined>;
}

/**
 * What they need of admission: the real Admission behind the server's register limiter (inline),
 * or the stand-in that sends the registration and the node's `ip` to the replica, which runs its
 * limiter and Admission there.
 */
export interface ChannelAdmission {
  register(registration: unknown, now: number, challenge: string, ip: string): Promise<Pick<NodeRecord, 'id' | 'capacity' | 'lastSeen'>>;
}
