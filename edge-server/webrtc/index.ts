/**
 * The edge's WebRTC side (mediasoup): load it with `WorkerPool.create()`, which rejects with
 * MediasoupUnavailableError on an install without mediasoup (the edge then serves ws only).
 */
export { WorkerPool, type WorkerPoolEvents, type WorkerInfo } from './WorkerPool.js';
export { RtcTransport, type RtcTransportEvents, type RtcTransportInfo } from './RtcTransport.js';
export { resolveWebRtcOptions, ROUTER_MEDIA_CODECS, type WebRtcOptions, type ListenIp } from './options.js';
export { loadMediasoup, mediasoupInstalled, resolveWorkerBin, cachedWorkerPath, MediasoupUnavailableError, MEDIASOUP_VERSION } from './workerBin.js';
