/**
 * edge-offload client SDK, browser-safe entry: uses the global WebSocket. Node apps import
 * `edge-offload/client`, which resolves to `node.ts` and brings the `ws` implementation.
 */
export { connect, Session, type Prediction, type RenderRequest, type Frame, type SessionEvents, type SessionOptions, type Tier } from './session/Session.js';
export { NodeConnection, type NodeConnectionOptions, type NodeConnectionEvents } from './link/NodeConnection.js';
export { DirectLink } from './session/DirectLink.js';
export type { SessionBackend, CallOptions } from './session/SessionBackend.js';
export { RttStats, quantile, type RttSummary } from './link/RttStats.js';
export { EnhancedEventEmitter } from './events/EnhancedEventEmitter.js';
export { Transport } from './transport/Transport.js';
export { WebSocketTransport, setDefaultWebSocket, type WebSocketConstructor } from './transport/WebSocketTransport.js';
export { openSession, type OpenSessionOptions } from './openSession.js';
export { Failover, TierReason, type FailoverOptions, type FailoverEvents, type FailoverState } from './placement/Failover.js';
export { MutableLocator } from './placement/MutableLocator.js';
export { DiscoveryLocator, DiscoveryRequestError, type DiscoveryLocatorOptions } from './placement/DiscoveryLocator.js';
export { StaticLocator, type NodeLocator, type NodeCandidate, type Shortlist, type ProbeReport } from './placement/locator.js';
export { SimulatedHeadset } from './session/SimulatedHeadset.js';
export { FrameStream, type FrameStreamOptions, type RenderFn } from './session/FrameStream.js';
export * as reproject from './reproject.js';
export * from '../protocol/index.js';
