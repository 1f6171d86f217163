import type { Message } from '../../protocol/index.js';

/**
 * What a live spot checker sees of a NodeConnection (client-sdk/trust/LiveSpotCheck.ts): every
 * message sent, in wire order (requests and streamed poses here; `NodeLink.send` the others), and every answer, seal and error received. Called in the same turn
 * as the send, and before the answer settles its call; it must only record (cheap, never throws, never awaits).
 */
export interface WireTap {
  sent(message: Message): void;
  received(message: Message): void;
}
