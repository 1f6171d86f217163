/**
 * Node entry of the client SDK: registers `ws` as the WebSocket implementation (Node 20 has none),
 * and node-datachannel, loaded only when a session asks for `transport: 'webrtc'` without giving
 * `rtcPeers` (it is an optional dependency: without it the session stays on ws).
 */
import { WebSocket } from 'ws';
import { nodeDataChannelPeers, setDefaultRtcPeerLoader, type NodeDataChannelModule } from './transport/RtcPeer.js';
import { setDefaultWebSocket, type WebSocketConstructor } from './transport/WebSocketTransport.js';

setDefaultWebSocket(WebSocket as unknown as WebSocketConstructor);
setDefaultRtcPeerLoader(async () => {
  const name = 'node-datachannel'; // a variable: bundlers must not pull it into a browser build
  const ndc = (await import(name)) as { default?: NodeDataChannelModule } & NodeDataChannelModule;
  return nodeDataChannelPeers(ndc.default ?? ndc);
});

export * from './index.js';
