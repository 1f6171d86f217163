/**
 * The trust tests' stage: a cheating `edge-offload edge` process (the cheat loaded with
 * `node --import`, announced as an edge, so the SDK picks it first) and an honest one (a cloud
 * node, where sessions end up once the cheater is caught), both announced to discovery.
 */
import type { DiscoveryPlacement } from '../../bin/demo/DiscoveryPlacement.js';
import { spawnNode, type NodeProcess } from '../../bin/demo/NodeProcess.js';
import type { NodeCandidate } from '../../client-sdk/placement/locator.js';

export interface CheaterAndHonestOptions {
  /** The `--import` module that makes the node cheat (test/support/cheating*.ts). */
  cheatModule: string;
  /** Node ids are `${prefix}cheater` and `${prefix}honest`. Default ''. */
  prefix?: string;
  /** `edge-offload edge` arguments of both nodes. */
  args: readonly string[];
  /** More arguments for the cheater only (e.g. `--heavy-workers 0`, so the cheat's thread does the work). */
  cheaterArgs?: readonly string[];
  /** Environment of the cheater (the cheat's settings). */
  cheaterEnv?: Readonly<Record<string, string>>;
  /** Capabilities both announce. Default: discovery's default. */
  caps?: NodeCandidate['caps'];
}

/**
 * Starts and announces both. Each process is pushed into `nodes` as soon as it runs, so the
 * caller's `finally` kills whatever started even if a later step throws.
 */
export async function cheaterAndHonest(discovery: DiscoveryPlacement, nodes: NodeProcess[], o: CheaterAndHonestOptions): Promise<{ cheater: NodeProcess; honest: NodeProcess }> {
  const prefix = o.prefix ?? '';
  const cheater = await spawnNode({ nodeId: `${prefix}cheater`, tier: 'edge', extraArgs: [...(o.cheaterArgs ?? []), ...o.args], nodeArgs: ['--import', o.cheatModule], ...(o.cheaterEnv ? { env: o.cheaterEnv } : {}) });
  nodes.push(cheater);
  const honest = await spawnNode({ nodeId: `${prefix}honest`, tier: 'cloud', extraArgs: o.args });
  nodes.push(honest);
  const caps = o.caps ? { caps: o.caps } : {};
  await discovery.announce({ id: cheater.nodeId, url: cheater.url, tier: 'edge', ...caps }, cheater.nodeKey);
  await discovery.announce({ id: honest.nodeId, url: honest.url, tier: 'cloud', ...caps }, honest.nodeKey);
  return { cheater, honest };
}
