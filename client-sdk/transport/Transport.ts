/**
 * What the SDK needs from a connection to a node: send bytes, receive bytes, close. The session
 * logic is written against this, so it runs over WebSocket today and WebRTC data channels or an
 * in-memory pair in tests later (mediasoup-client `HandlerInterface`, colyseus `Transport`).
 */
import { EnhancedEventEmitter } from '../../protocol/EnhancedEventEmitter.js';

export type TransportEvents = {
  message: [bytes: Uint8Array];
  close: [code: number, reason: string];
};

export abstract class Transport extends EnhancedEventEmitter<TransportEvents> {
  abstract readonly url: string;
  /** Bytes accepted by `send` and not yet handed to the network. */
  abstract readonly bufferedAmount: number;
  abstract readonly closed: boolean;
  abstract send(bytes: Uint8Array): void;
  abstract close(code?: number, reason?: string): void;
}
