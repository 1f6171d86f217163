/**
 * edge-offload client SDK, browser-safe entry: uses the global WebSocket. Node apps import
 * `edge-offload/client`, which resolves to `node.ts` and brings the `ws` implementation.
 */
export { connect, Session, type Prediction, type RenderRequest, type Frame, type SessionEvents, type SessionOptions, type Tier } from './Session.js';
export { NodeConnection, type NodeConnectionOptions, type NodeConnectionEvents } from './NodeConnection.js';
export { DirectLink } from './DirectLink.js';
export type { SessionBackend, CallOptions } from './SessionBackend.js';
export { RttStats, quantile, type RttSummary } from './RttStats.js';
export { EnhancedEventEmitter } from '../protocol/EnhancedEventEmitter.js';
export { Transport } from './transport/Transport.js';
export { WebSocketTransport, setDefaultWebSocket, type WebSocketConstructor } from './transport/WebSocketTransport.js';
export { openSession, type OpenSessionOptions } from './openSession.js';
export { Failover, TierReason, type FailoverOptions, type FailoverEvents, type FailoverState } from './Failover.js';
export { MutableLocator } from './MutableLocator.js';
export { DiscoveryLocator, DiscoveryRequestError, type DiscoveryLocatorOptions } from './DiscoveryLocator.js';
export { StaticLocator, type NodeLocator, type NodeCandidate, type Shortlist, type ProbeReport } from './locator.js';
export { SimulatedHeadset } from './SimulatedHeadset.js';
export { FrameStream, type FrameStreamOptions, type RenderFn } from './FrameStream.js';
export * as reproject from './reproject.js';
export * from '../protocol/index.js';
