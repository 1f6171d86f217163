/**
 * Puts a running edge/cloud server on discovery: builds its descriptor from the server (id, tier,
 * session URL, capabilities, capacity), heartbeats its live session count, reports "full" while
 * draining so no new client is sent its way, and shows the registration state in `/healthz`.
 * Typed against the few EdgeServer members it needs, so discovery does not depend on edge-server.
 */
import type { Capability, NodeTier } from '../protocol/index.js';
import { readAuthorization, readNodeKey } from './keyFiles.js';
import { NodeAgent } from './NodeAgent.js';
import { DiscoveryError } from './errors.js';

export interface DiscoverableServer {
  readonly nodeId: string;
  readonly tier: NodeTier;
  /** ws:// session URL, known after listen(). */
  readonly url: string;
  readonly sessionCount: number;
  readonly draining: boolean;
  health(): Record<string, unknown>;
  addHealthSection(name: string, describe: () => unknown): void;
  /** Signs session welcomes with the registered node key (EdgeServer.useNodeKey); clients refuse an unsigned node discovery vouched for. */
  useNodeKey(privateKeyPem: string): void;
}

export interface EdgeDiscoveryOptions {
  /** Discovery base URL (`--discovery`). */
  discoveryUrl: string;
  /** Node key file from `keygen node` (`--node-key`). */
  nodeKeyFile: string;
  /** Authorisation file from `keygen authorize` (`--node-auth`); names the operator. */
  authorizationFile: string;
  /** Where the node is; without it discovery locates `ip` (a public address) with geoip. */
  location?: { lat: number; lon: number };
  ip?: string;
  /** URL clients should dial, when it differs from the listen URL (NAT, proxy). */
  publicUrl?: string;
  /** @default 0 */
  pricePerMinute?: number;
  heartbeatIntervalMs?: number;
}

export function capabilitiesOf(health: Record<string, unknown>): Capability[] {
  const caps: Capability[] = ['predict'];
  if (health.inference !== null && health.inference !== undefined) caps.push('infer');
  if (health.render !== null && health.render !== undefined) caps.push('render');
  return caps;
}

/**
 * Registers and keeps heartbeating. Throws when discovery refuses the node (bad key, untrusted
 * operator…); when discovery is unreachable it resolves anyway and keeps retrying in the background.
 */
export async function attachDiscoveryAgent(server: DiscoverableServer, options: EdgeDiscoveryOptions): Promise<NodeAgent> {
  if (!options.location && !options.ip) throw new TypeError('discovery needs the node location (--location LAT,LON) or its public IP');
  const key = readNodeKey(options.nodeKeyFile);
  const authorization = readAuthorization(options.authorizationFile);
  server.useNodeKey(key.privateKeyPem);
  const health = server.health();
  const capacity = Number(health.maxSessions ?? 1000);
  const agent = new NodeAgent({
    discoveryUrl: options.discoveryUrl,
    descriptor: {
      id: server.nodeId,
      url: options.publicUrl ?? server.url,
      tier: server.tier,
      ...(options.location ? { lat: options.location.lat, lon: options.location.lon } : {}),
      ...(options.ip ? { ip: options.ip } : {}),
      caps: capabilitiesOf(health),
      capacity,
      pricePerMinute: options.pricePerMinute ?? 0,
      operator: authorization.operator,
    },
    privateKeyPem: key.privateKeyPem,
    authorization,
    ...(options.heartbeatIntervalMs ? { heartbeatIntervalMs: options.heartbeatIntervalMs } : {}),
    status: () =>
      server.draining
        ? { load: 1, freeCapacity: 0 }
        : { load: Math.min(1, server.sessionCount / capacity), freeCapacity: Math.max(0, capacity - server.sessionCount) },
  });
  let lastError: string | undefined;
  agent.on('error', (err) => (lastError = err.message));
  agent.on('registered', () => (lastError = undefined));
  server.addHealthSection('discovery', () => ({ url: options.discoveryUrl, registered: agent.registered, closed: agent.closed, lastError: lastError ?? null }));
  try {
    await agent.start();
  } catch (err) {
    // a refusal is a configuration mistake the operator must see; an unreachable discovery is not
    const refused = err instanceof DiscoveryError && err.status < 500;
    if (refused) {
      agent.close();
      throw err;
    }
    lastError = (err as Error).message;
    agent.startInBackground();
  }
  return agent;
}
