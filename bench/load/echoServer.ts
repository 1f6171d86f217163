/**
 * The floor of `bench predict-load`: a raw ws echo server, the same ws library and framing as the
 * node (binary frames, no permessage-deflate) and nothing else: no protocol, no decode, no
 * predictor. Run as a child process (pinned like the node) it prints `{"url":…}` and echoes every
 * frame back until killed.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 2 << 20 });
server.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
server.once('listening', () => console.log(JSON.stringify({ url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/` })));
