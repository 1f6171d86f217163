/**
 * A discovery target: every node discovery shortlists for a position (edges and the cloud tier)
 * is measured, next to what discovery estimated and what the SDK itself would pick — the field
 * version of the selection-quality bench. The pick comes from `openSession` on the same discovery,
 * i.e. the very placement (`chooseNode`) apps run, not a re-implementation of it.
 */
import { DiscoveryLocator, openSession } from '../../client-sdk/node.js';
import { measureNode, type MeasureOptions, type NodeMeasurement } from './measureNode.js';
import type { Selection } from './report.js';

/** The target itself could not be used (discovery down, empty shortlist); `next` says what to check. */
export class MeasureTargetError extends Error {
  override readonly name = 'MeasureTargetError';
  readonly code: string;
  readonly next: string;
  constructor(code: string, message: string, next: string) {
    super(message);
    this.code = code;
    this.next = next;
  }
}

export interface DiscoveryMeasureOptions extends MeasureOptions {
  at: { lat: number; lon: number } | undefined;
  /** The SDK's latency budget for its own pick (`openSession`'s `budgetMs`). */
  budgetMs: number;
}

export async function measureDiscovery(url: string, o: DiscoveryMeasureOptions, onSample?: () => void): Promise<{ nodes: NodeMeasurement[]; selection: Selection }> {
  const locator = new DiscoveryLocator({ url, ...(o.at ? { location: o.at } : {}), timeoutMs: o.connectTimeoutMs });
  let list;
  try {
    list = await locator.shortlist();
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'DISCOVERY_UNREACHABLE';
    throw new MeasureTargetError(code, `discovery at ${url} gave no shortlist: ${(err as Error).message}`, 'check the discovery URL (http(s)://HOST:PORT, no path), that the service runs, and that --at is "lat,lon"');
  }
  const candidates = [...list.edge, ...list.cloud];
  if (candidates.length === 0) {
    throw new MeasureTargetError('NO_NODES', `discovery at ${url} lists no node for ${o.at ? `${o.at.lat},${o.at.lon}` : 'this client’s location'}`, 'check nodes are registered and heartbeating (edge-offload discovery logs), or try another --at');
  }

  // the SDK's own choice first, alone on the network, as an app starting up would make it
  const session = await openSession({ locator, budgetMs: o.budgetMs, standby: false, connectTimeoutMs: o.connectTimeoutMs });
  const chosen = session.nodeId;
  session.close();

  // one node at a time: nodes measured together share this client's CPU and uplink, and each
  // one's figures would carry the others' load
  const nodes: NodeMeasurement[] = [];
  for (const c of candidates) {
    if (o.signal?.aborted) break; // Ctrl-C: report the nodes measured so far
    nodes.push({ ...(await measureNode(c.url, o, onSample)), ...(c.estimatedRttMs === undefined ? {} : { estimatedRttMs: c.estimatedRttMs }) });
  }
  return { nodes, selection: judgeSelection(nodes, chosen) };
}

export function judgeSelection(nodes: readonly NodeMeasurement[], chosen: string | undefined): Selection {
  const answered = nodes.filter((n) => !n.error && Number.isFinite(n.rtt.p50));
  const fastest = answered.reduce<NodeMeasurement | undefined>((best, n) => (!best || n.rtt.p50 < best.rtt.p50 ? n : best), undefined);
  const chosenNode = answered.find((n) => n.node!.id === chosen);
  return {
    ...(chosen ? { chosen } : {}),
    ...(fastest ? { fastestMeasured: fastest.node!.id } : {}),
    fastest: !!fastest && chosen === fastest.node!.id,
    excessMs: chosenNode && fastest ? chosenNode.rtt.p50 - fastest.rtt.p50 : Number.NaN,
  };
}
