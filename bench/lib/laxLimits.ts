/**
 * Decode limits for harnesses that read what a node sends (benches, the fuzzer's clients, test
 * clients): large enough never to refuse a node's answer, so a refusal is always the node's doing.
 * Never for decoding peer input in product code.
 */
export const LAX_LIMITS = {
  maxFrameBytes: 64 << 20,
  maxDepth: 16,
  maxCollectionLength: 1 << 20,
  maxStringBytes: 1 << 20,
  maxTensorElements: 1 << 24,
  maxPosesPerMessage: 1 << 16,
  maxMessagesPerSecond: 1e9,
  rateBurst: 1e9,
  maxHorizonMs: 1e9,
};
