/**
 * The WebRTC peer connection behind the SDK's WebRTC transport, over either the browser's
 * RTCPeerConnection or node-datachannel in Node (mediasoup-client's HandlerInterface idea): the
 * transport only needs an offer with every candidate in it, an answer, and negotiated data channels.
 */
export interface RtcChannelInit {
  /** SCTP stream id, agreed through signalling (negotiated channel, no DCEP). */
  id: number;
  ordered: boolean;
  maxRetransmits?: number;
}

export interface RtcChannelLike {
  readonly isOpen: boolean;
  readonly bufferedAmount: number;
  /** False when the channel could not take the message (closed). */
  send(bytes: Uint8Array): boolean;
  onOpen(cb: () => void): void;
  onMessage(cb: (bytes: Uint8Array) => void): void;
  onClose(cb: () => void): void;
  close(): void;
}

export interface RtcPeerLike {
  channel(label: string, init: RtcChannelInit): RtcChannelLike;
  /** The local offer once ICE gathering completed (this signalling does not trickle). Call after the first channel. */
  offer(timeoutMs: number): Promise<string>;
  answer(sdp: string): Promise<void>;
  /** ICE or DTLS failed, or the connection dropped for good. */
  onFailed(cb: () => void): void;
  /**
   * Answers the edge's offer that adds its video track (protocol/webrtcSdp.ts videoOfferSdp) and
   * resolves with the track. Absent where the platform decodes no H.264 (Node peers).
   */
  receiveVideo?(offerSdp: string, timeoutMs: number): Promise<MediaStreamTrack>;
  close(): void;
}

export type RtcPeerFactory = () => RtcPeerLike;

function timeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
    }),
  ]);
}

/** The slice of node-datachannel used here (the module is passed in: the SDK does not depend on it). */
export interface NodeDataChannelModule {
  PeerConnection: new (name: string, config: { iceServers: string[] }) => {
    createDataChannel(label: string, init: { negotiated: boolean; id: number; unordered: boolean; maxRetransmits?: number }): {
      isOpen(): boolean;
      bufferedAmount(): number;
      sendMessageBinary(bytes: Uint8Array): boolean;
      onOpen(cb: () => void): void;
      onMessage(cb: (msg: string | ArrayBuffer | Uint8Array) => void): void;
      onClosed(cb: () => void): void;
      close(): void;
    };
    localDescription(): { sdp: string } | null;
    gatheringState(): string;
    setRemoteDescription(sdp: string, type: 'answer'): void;
    onGatheringStateChange(cb: (state: string) => void): void;
    onStateChange(cb: (state: string) => void): void;
    close(): void;
  };
}

export function nodeDataChannelPeers(ndc: NodeDataChannelModule): RtcPeerFactory {
  return () => {
    const pc = new ndc.PeerConnection('edge-offload', { iceServers: [] });
    const gathered = new Promise<void>((resolve) => pc.onGatheringStateChange((s) => s === 'complete' && resolve()));
    const failed: (() => void)[] = [];
    pc.onStateChange((s) => (s === 'failed' || s === 'closed') && failed.splice(0).forEach((cb) => cb()));
    return {
      channel(label, init) {
        const dc = pc.createDataChannel(label, { negotiated: true, id: init.id, unordered: !init.ordered, ...(init.maxRetransmits !== undefined ? { maxRetransmits: init.maxRetransmits } : {}) });
        return {
          get isOpen() { return dc.isOpen(); },
          get bufferedAmount() { return dc.bufferedAmount(); },
          send: (bytes) => dc.isOpen() && dc.sendMessageBinary(bytes),
          onOpen: (cb) => dc.onOpen(cb),
          onMessage: (cb) => dc.onMessage((m) => cb(typeof m === 'string' ? new TextEncoder().encode(m) : m instanceof Uint8Array ? m : new Uint8Array(m))),
          onClose: (cb) => dc.onClosed(cb),
          close: () => dc.close(),
        };
      },
      async offer(ms) {
        await timeout(gathered, ms, 'ICE gathering');
        return pc.localDescription()!.sdp;
      },
      async answer(sdp) {
        pc.setRemoteDescription(sdp, 'answer');
      },
      onFailed: (cb) => void failed.push(cb),
      close: () => pc.close(),
    };
  };
}

/** The slice of the W3C RTCPeerConnection used here. */
interface BrowserPeerConnection {
  createDataChannel(label: string, init: { negotiated: boolean; id: number; ordered: boolean; maxRetransmits?: number }): {
    binaryType: string;
    readonly readyState: string;
    readonly bufferedAmount: number;
    send(bytes: Uint8Array): void;
    onopen: (() => void) | null;
    onmessage: ((e: { data: ArrayBuffer | string }) => void) | null;
    onclose: (() => void) | null;
    close(): void;
  };
  createOffer(): Promise<{ type: string; sdp?: string }>;
  createAnswer(): Promise<{ type: string; sdp?: string }>;
  setLocalDescription(d: { type: string; sdp?: string }): Promise<void>;
  setRemoteDescription(d: { type: 'answer' | 'offer'; sdp: string }): Promise<void>;
  readonly localDescription: { sdp: string } | null;
  readonly iceGatheringState: string;
  readonly connectionState: string;
  addEventListener(type: 'icegatheringstatechange' | 'connectionstatechange', cb: () => void): void;
  addEventListener(type: 'track', cb: (event: { track: MediaStreamTrack; receiver: LowLatencyReceiver }) => void): void;
  close(): void;
}
/** Receiver knobs that trade smoothness for latency (Chromium: both; the standard: jitterBufferTarget). */
interface LowLatencyReceiver {
  jitterBufferTarget?: number | null;
  playoutDelayHint?: number;
}

export type BrowserPeerConnectionConstructor = new (config: { iceServers: []; bundlePolicy: 'max-bundle' }) => BrowserPeerConnection;

export function browserPeers(RTCPeerConnection: BrowserPeerConnectionConstructor): RtcPeerFactory {
  return () => {
    const pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: 'max-bundle' });
    const failed: (() => void)[] = [];
    pc.addEventListener('connectionstatechange', () => (pc.connectionState === 'failed' || pc.connectionState === 'closed') && failed.splice(0).forEach((cb) => cb()));
    return {
      channel(label, init) {
        const dc = pc.createDataChannel(label, { negotiated: true, id: init.id, ordered: init.ordered, ...(init.maxRetransmits !== undefined ? { maxRetransmits: init.maxRetransmits } : {}) });
        dc.binaryType = 'arraybuffer';
        return {
          get isOpen() { return dc.readyState === 'open'; },
          get bufferedAmount() { return dc.bufferedAmount; },
          send(bytes) {
            if (dc.readyState !== 'open') return false;
            dc.send(bytes);
            return true;
          },
          onOpen: (cb) => void (dc.onopen = cb),
          onMessage: (cb) => void (dc.onmessage = (e) => cb(typeof e.data === 'string' ? new TextEncoder().encode(e.data) : new Uint8Array(e.data))),
          onClose: (cb) => void (dc.onclose = cb),
          close: () => dc.close(),
        };
      },
      async offer(ms) {
        await pc.setLocalDescription(await pc.createOffer());
        if (pc.iceGatheringState !== 'complete') {
          await timeout(new Promise<void>((resolve) => pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve())), ms, 'ICE gathering');
        }
        return pc.localDescription!.sdp;
      },
      answer: (sdp) => pc.setRemoteDescription({ type: 'answer', sdp }),
      onFailed: (cb) => void failed.push(cb),
      async receiveVideo(offerSdp, ms) {
        const track = new Promise<MediaStreamTrack>((resolve) =>
          pc.addEventListener('track', ({ track, receiver }) => {
            // a frame shown late is worse than a frame shown once: no smoothing buffer
            if ('jitterBufferTarget' in receiver) receiver.jitterBufferTarget = 0;
            if ('playoutDelayHint' in receiver) receiver.playoutDelayHint = 0;
            resolve(track);
          }),
        );
        await pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
        await pc.setLocalDescription(await pc.createAnswer());
        return timeout(track, ms, 'the video track');
      },
      close: () => pc.close(),
    };
  };
}

/** Which path poses and predictions take: `auto` = WebRTC when the platform can, else ws. */
export type TransportChoice = 'auto' | 'ws' | 'webrtc';

export interface DataPathOptions {
  /**
   * `ws`: everything on the WebSocket. `webrtc`: pose/predict over WebRTC data channels (loading
   * node-datachannel in Node when `rtcPeers` is not given). `auto`: WebRTC when the platform has
   * RTCPeerConnection or `rtcPeers` is given. Whatever is asked, a node without the `webrtc`
   * capability, or an ICE/DTLS failure, leaves the session on ws. @default 'auto'
   */
  transport?: TransportChoice;
  /** The WebRTC peer implementation: `nodeDataChannelPeers(await import('node-datachannel'))` in Node. */
  rtcPeers?: RtcPeerFactory;
  /** The whole upgrade (signalling, ICE, DTLS, SCTP), ms; past it the session stays on ws. @default 5000 */
  rtcConnectTimeoutMs?: number;
  /**
   * A predict sent on the unreliable channel that got no answer within this is sent again, ms:
   * twice more on the data channel, then on ws (a lost datagram must not fail the call).
   * @default 1.5 × the median ping RTT, at least 5
   */
  rtcResendAfterMs?: number;
}

let defaultPeerLoader: (() => Promise<RtcPeerFactory>) | undefined;

/** Lets `transport: 'webrtc'` load a peer library itself (the Node entry registers node-datachannel). */
export function setDefaultRtcPeerLoader(loader: () => Promise<RtcPeerFactory>): void {
  defaultPeerLoader = loader;
}

/** The peer factory `options` ask for, or undefined for ws; rejects when `webrtc` was asked and none loads. */
export async function resolveRtcPeers(options: DataPathOptions): Promise<RtcPeerFactory | undefined> {
  const choice = options.transport ?? 'auto';
  if (choice === 'ws') return undefined;
  if (options.rtcPeers) return options.rtcPeers;
  const browser = (globalThis as { RTCPeerConnection?: BrowserPeerConnectionConstructor }).RTCPeerConnection;
  if (browser) return browserPeers(browser);
  if (choice === 'webrtc' && defaultPeerLoader) return defaultPeerLoader();
  if (choice === 'webrtc') throw new TypeError("transport 'webrtc' needs RTCPeerConnection or options.rtcPeers");
  return undefined;
}
