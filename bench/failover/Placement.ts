/**
 * How nodes become known to the sessions in the failover bench: straight into a locator's list
 * (`LocatorPlacement`, restore measured from the moment the node is listed), or through a real
 * discovery service (restore measured from the node's registration).
 */
import { MutableLocator } from '../../client-sdk/placement/MutableLocator.js';
import type { NodeCandidate, NodeLocator } from '../../client-sdk/placement/locator.js';
import type { KeyPair } from '../../discovery/identity.js';

export interface Placement {
  readonly locator: NodeLocator;
  /** What restore times are measured from, for the results. */
  readonly restoreMeasuredFrom: string;
  /** Makes a node findable (registered with `key`, the one it signs welcomes with); resolves at the instant restore is measured from. */
  announce(candidate: NodeCandidate, key?: KeyPair): Promise<void>;
  /** The node was killed: it stops heartbeating, and is forgotten as discovery would forget it. */
  nodeDied(id: string): void;
  close(): Promise<void>;
}

export class LocatorPlacement implements Placement {
  readonly locator: MutableLocator;
  readonly restoreMeasuredFrom = 'the node appearing in the locator (MutableLocator), not a discovery registration';
  readonly #expiryMs: number;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();

  /** `expiryMs`: how long a dead node stays listed, standing in for discovery's 3 missed heartbeats. */
  constructor(expiryMs = 300) {
    this.locator = new MutableLocator();
    this.#expiryMs = expiryMs;
  }

  async announce(candidate: NodeCandidate): Promise<void> {
    this.locator.add(candidate);
  }

  nodeDied(id: string): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.locator.remove(id);
    }, this.#expiryMs);
    this.#timers.add(timer);
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
  }
}
