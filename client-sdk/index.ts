/**
 * edge-offload client SDK, browser-safe entry: uses the global WebSocket. Node apps import
 * `edge-offload/client`, which resolves to `node.ts` and brings the `ws` implementation.
 *
 * The public face: sessions (`connect`, `openSession`), locators, the frame stream, reprojection,
 * the typed errors and the protocol's types. The layers underneath (links, connections,
 * transports, probing) are internal.
 */
export { connect, Session, type Prediction, type RenderRequest, type Frame, type NodeInfo, type SessionEvents, type SessionOptions, type Tier } from './session/Session.js';
export type { CallOptions, PredictOptions, NodeFaultEvent } from './session/SessionBackend.js';
export { TierReason } from './session/TierReason.js';
export { openSession, type OpenSessionOptions } from './openSession.js';
export type { Failover, FailoverOptions, FailoverState } from './placement/Failover.js';
export { ConnectError, ConnectErrorCode, NodeFaultCode } from './errors.js';
export { quantile, type RttSummary } from './link/RttStats.js';
export { EnhancedEventEmitter } from '../protocol/EnhancedEventEmitter.js';
export { nodeDataChannelPeers, browserPeers, type DataPathOptions, type TransportChoice, type RtcPeerFactory, type NodeDataChannelModule } from './transport/RtcPeer.js';
export { setDefaultWebSocket, type WebSocketConstructor } from './transport/WebSocketTransport.js';
export { MutableLocator } from './placement/MutableLocator.js';
export { DiscoveryLocator, DiscoveryRequestError, type DiscoveryLocatorOptions } from './placement/DiscoveryLocator.js';
export { StaticLocator, type NodeLocator, type NodeCandidate, type Shortlist, type ProbeReport } from './placement/locator.js';
export { SimulatedHeadset } from './session/SimulatedHeadset.js';
// trusted references for EntrapNet traps (openSession's `trust.reference`, `inferReference`, `frameReference`; discovery/TRUST.md)
export { localReference, remoteReference, remoteInferReference, remoteFrameReference, type ReferenceSource, type InferReferenceSource, type FrameReferenceSource } from './trust/index.js';
export { FrameStream, type FrameStreamOptions, type FrameStreamEvents, type FrameTiming, type RenderFn } from './session/FrameStream.js';
export { VideoFramePoses, type VideoFrameMatch, type VideoFrameMetadataLike, type VideoFrameSource, type VideoFramePosesOptions } from './session/VideoFramePoses.js';
export { showVideoTrack } from './session/showVideoTrack.js';
export * as reproject from './reproject.js';
export * from '../protocol/index.js';
