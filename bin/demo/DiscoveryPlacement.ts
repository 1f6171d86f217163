/**
 * Nodes become known through a real discovery service: an in-process `DiscoveryServer`, one
 * `NodeAgent` per node (as the node's sidecar would run it) registering a signed descriptor and
 * heartbeating, and the sessions' `DiscoveryLocator` querying it. Restore is measured from the
 * moment the registration is accepted; a killed node's agent stops heartbeating and discovery
 * forgets it after its missed-heartbeat limit, as in production.
 */
import { DiscoveryLocator } from '../../client-sdk/placement/DiscoveryLocator.js';
import type { NodeCandidate } from '../../client-sdk/placement/locator.js';
import { DiscoveryError, DiscoveryErrorCode, DiscoveryServer, NodeAgent, TrustedOperators, authorizeNode, generateKeyPair } from '../../discovery/index.js';
import type { KeyPair } from '../../discovery/identity.js';
import type { NodeAgentOptions } from '../../discovery/NodeAgent.js';
import type { DiscoveryServerOptions } from '../../discovery/DiscoveryServer.js';
import type { TlsOptions } from '../../protocol/server/webAccess.js';

/** The bench's client sits in Berlin; edges are next door, the cloud across the Atlantic. */
export const CLIENT = { lat: 52.52, lon: 13.405 };
const NEAR = { lat: 52.53, lon: 13.41 };
const FAR = { lat: 40.71, lon: -74.0 };
/** How long announce() keeps retrying a registration that timed out (refusals fail at once). */
const ANNOUNCE_RETRY_MS = 60_000;
/** One operator signs every bench node (and holds their stake, when discovery runs a ledger). */
export const OPERATOR = 'bench';

/** Shaped like bench/failover's `Placement`, so the failover bench drives the demo's discovery too. */
export class DiscoveryPlacement {
  readonly locator: DiscoveryLocator;
  readonly restoreMeasuredFrom = "the node's registration with discovery (signed descriptor accepted)";
  readonly #server: DiscoveryServer;
  /** The discovery service's base URL. */
  readonly url: string;
  readonly #operator: { name: string; privateKeyPem: string };
  readonly #agents = new Map<string, NodeAgent>();

  /** `web`: https and CORS for the viewer page (agents in this process then need the certificate trusted: NODE_EXTRA_CA_CERTS). */
  /** `trust`: discovery's trust desk options (a stake ledger, reputation thresholds). */
  static async start(heartbeatIntervalMs = 1000, web: { tls?: TlsOptions; corsOrigins?: readonly string[] } = {}, trust?: DiscoveryServerOptions['trust']): Promise<DiscoveryPlacement> {
    const operator = { name: OPERATOR, ...generateKeyPair() };
    // every session of the bench shares one loopback address: per-IP limits are for the internet
    const lots = { ratePerSecond: 100_000, burst: 100_000 };
    const server = new DiscoveryServer({
      operators: new TrustedOperators([{ name: operator.name, publicKey: operator.publicKey }]),
      heartbeatIntervalMs,
      rateLimits: { query: lots, register: lots, heartbeat: lots, report: lots, evidence: lots, standing: lots, reference: lots },
      subnetRateLimits: { query: lots, register: lots, heartbeat: lots, report: lots, evidence: lots, standing: lots, reference: lots },
      identityRateLimits: { register: lots, heartbeat: lots, report: lots },
      ...web,
      ...(trust ? { trust } : {}),
    });
    const { url } = await server.listen();
    return new DiscoveryPlacement(server, url, operator);
  }

  private constructor(server: DiscoveryServer, url: string, operator: { name: string; privateKeyPem: string }) {
    this.#server = server;
    this.url = url;
    this.#operator = operator;
    this.locator = new DiscoveryLocator({ url, location: CLIENT });
  }

  /**
   * Registers the node with `key`, the one it signs welcomes with (clients refuse it otherwise).
   * `status`: the load its agent reports (default idle), which discovery's placement pick weighs.
   */
  async announce(candidate: NodeCandidate, key: KeyPair = generateKeyPair(), status?: NodeAgentOptions['status']): Promise<void> {
    const agent = new NodeAgent({
      discoveryUrl: this.url,
      descriptor: {
        id: candidate.id,
        url: candidate.url,
        tier: candidate.tier,
        ...(candidate.tier === 'edge' ? NEAR : FAR),
        caps: candidate.caps ?? ['predict'],
        capacity: 1000,
        pricePerMinute: 0,
        operator: OPERATOR,
      },
      privateKeyPem: key.privateKeyPem,
      authorization: authorizeNode(this.#operator, candidate.id, key.publicKey),
      ...(status ? { status, statusIntervalMs: 50 } : {}),
    });
    // resolves when discovery has accepted the registration; a busy machine (a node still
    // loading its renderer, a test suite beside it) can make one attempt time out, which is no
    // reason for the demo's restart button to fail: transient failures are retried for a while
    const deadline = performance.now() + ANNOUNCE_RETRY_MS;
    for (;;) {
      try {
        await agent.start();
        break;
      } catch (err) {
        if ((err as DiscoveryError).code !== DiscoveryErrorCode.UNAVAILABLE || performance.now() > deadline) {
          agent.close();
          throw err;
        }
      }
    }
    this.#agents.set(candidate.id, agent);
  }

  nodeDied(id: string): void {
    this.#agents.get(id)?.close();
    this.#agents.delete(id);
  }

  async close(): Promise<void> {
    for (const agent of this.#agents.values()) agent.close();
    this.#agents.clear();
    await this.#server.close();
  }
}
