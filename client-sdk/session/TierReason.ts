/** Why the session changed tier: the `tier` event's second argument. */
export const TierReason = {
  /** First placement after discovery. */
  DISCOVERED: 'discovered',
  /** The node's socket closed or its pings stopped. */
  NODE_LOST: 'node-lost',
  /** The node answered pings but not requests (unanswered, or ids never sent): the `nodeFault` event says which. */
  NODE_FAULT: 'node-fault',
  /** The edge's RTT stayed over the budget and the cloud was faster. */
  OVER_BUDGET: 'over-budget',
  /** The node asked its clients to move. */
  DRAIN: 'drain',
  /** Re-discovery found a node within budget (restore). */
  EDGE_FOUND: 'edge-found',
  /** No edge within budget, a cloud node answered. */
  CLOUD_FOUND: 'cloud-found',
  /** No node reachable: local predictions only. */
  NO_NODE: 'no-node',
} as const;
export type TierReason = (typeof TierReason)[keyof typeof TierReason];
