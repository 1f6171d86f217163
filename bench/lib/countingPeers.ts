/**
 * node-datachannel peers for the SDK (`rtcPeers`) that count the messages arriving on the
 * `predictions` channel, proof that an answer came over WebRTC, and can send raw bytes on `poses`.
 * `answer` may rewrite the edge's SDP first (the webrtc bench points it at a UDP netem proxy).
 */
import nodeDataChannel from 'node-datachannel';
import { nodeDataChannelPeers, type NodeDataChannelModule, type RtcPeerFactory } from '../../client-sdk/node.js';

export interface CountingPeers {
  peers: RtcPeerFactory;
  received: () => number;
  sendRaw: (bytes: Uint8Array) => boolean;
}

export function countingPeers(rewriteAnswer?: (sdp: string) => Promise<string>): CountingPeers {
  const inner = nodeDataChannelPeers(nodeDataChannel as unknown as NodeDataChannelModule);
  let received = 0;
  let poses: { send(bytes: Uint8Array): boolean } | undefined;
  const peers: RtcPeerFactory = () => {
    const peer = inner();
    return {
      ...peer,
      channel(label, init) {
        const channel = peer.channel(label, init);
        if (label === 'poses') poses = channel;
        return {
          get isOpen() {
            return channel.isOpen;
          },
          get bufferedAmount() {
            return channel.bufferedAmount;
          },
          send: (bytes) => channel.send(bytes),
          onOpen: (cb) => channel.onOpen(cb),
          // node-datachannel keeps one message callback per channel: chain ours with the SDK's
          onMessage: (cb) =>
            channel.onMessage((bytes) => {
              if (label === 'predictions') received++;
              cb(bytes);
            }),
          onClose: (cb) => channel.onClose(cb),
          close: () => channel.close(),
        };
      },
      ...(rewriteAnswer ? { answer: async (sdp: string) => peer.answer(await rewriteAnswer(sdp)) } : {}),
    };
  };
  return { peers, received: () => received, sendRaw: (bytes) => poses?.send(bytes) ?? false };
}
