/** Node entry of the client SDK: registers `ws` as the WebSocket implementation (Node 20 has none). */
import { WebSocket } from 'ws';
import { setDefaultWebSocket, type WebSocketConstructor } from './transport/WebSocketTransport.js';

setDefaultWebSocket(WebSocket as unknown as WebSocketConstructor);

export * from './index.js';
