/**
 * Every wire limit in one place. Both sides import these defaults; servers and clients take
 * overrides as options, and tests shorten them with env vars rather than sleeping.
 */
export interface WireLimits {
  /** Largest binary frame accepted from a peer, checked before decoding (ws `maxPayload`). */
  maxFrameBytes: number;
  /** Deepest nesting of arrays/maps in one message. */
  maxDepth: number;
  /** Most entries in any one array or map. */
  maxCollectionLength: number;
  /** Longest string in bytes. */
  maxStringBytes: number;
  /** Most elements in one tensor (`infer`). */
  maxTensorElements: number;
  /** Most pose samples in one `pose` message. */
  maxPosesPerMessage: number;
  /** Messages per second a session may send, averaged over `rateBurst` messages. */
  maxMessagesPerSecond: number;
  /** Messages a session may send back to back before the rate cap applies. */
  rateBurst: number;
  /** Longest prediction horizon a `predict` may ask for. */
  maxHorizonMs: number;
}

export const DEFAULT_LIMITS: Readonly<WireLimits> = Object.freeze({
  maxFrameBytes: 1 << 20,
  maxDepth: 8,
  maxCollectionLength: 4096,
  maxStringBytes: 4096,
  maxTensorElements: 1 << 20,
  maxPosesPerMessage: 64,
  maxMessagesPerSecond: 2000,
  rateBurst: 500,
  maxHorizonMs: 500,
});

/** Frames sent by a server (rendered images) are larger than anything a client sends. */
export const DEFAULT_CLIENT_MAX_FRAME_BYTES = 32 << 20;

/**
 * The caps an outgoing message is shape-checked with: what we send is ours, so the check is
 * about shape, and sizes get the largest cap any receiving side accepts (a client's frames go to
 * nodes whose own caps then apply).
 */
export const SEND_LIMITS: Readonly<WireLimits> = Object.freeze({ ...DEFAULT_LIMITS, maxFrameBytes: DEFAULT_CLIENT_MAX_FRAME_BYTES, maxStringBytes: 1 << 20 });

export function resolveLimits(overrides: Partial<WireLimits> = {}): WireLimits {
  const limits = { ...DEFAULT_LIMITS, ...overrides };
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isFinite(value) || value <= 0) throw new TypeError(`limits.${key} must be a positive number`);
  }
  return limits;
}
