/**
 * SDP for a client peer connection (RTCPeerConnection, node-datachannel) talking to the edge's
 * mediasoup transport, which speaks no SDP: the client makes the offer, and the answer is built
 * from the `rtcTransport` parameters (as mediasoup-client's RemoteSdp does): one `m=application`
 * section, channels negotiated out of band by stream id. A video track is added later by an offer
 * from the edge's side (`videoOfferSdp`).
 * Browser-safe: no Node imports.
 */
import type { RtcDtlsParameters, RtcMessageOf } from './webrtc.js';
import { VIDEO_CODEC, type RtcVideoParameters } from './webrtcVideo.js';

export type RtcTransportParameters = Omit<RtcMessageOf<'rtcTransport'>, 't' | 'id'>;

/** The DTLS role the client takes: the answer below makes the edge the DTLS server. */
const CLIENT_DTLS_ROLE = 'client';

function attribute(sdp: string, name: string): string | undefined {
  const match = new RegExp(`^a=${name}:(.+?)\\s*$`, 'm').exec(sdp);
  return match?.[1];
}

/** The DTLS parameters to send in `rtcConnect`, read from the client's own local description. */
export function dtlsParametersFromSdp(localSdp: string): RtcDtlsParameters {
  const fingerprint = attribute(localSdp, 'fingerprint');
  if (!fingerprint) throw new TypeError('the local SDP has no a=fingerprint line');
  const [algorithm, value] = fingerprint.split(/\s+/);
  return {
    role: CLIENT_DTLS_ROLE,
    fingerprints: [{ algorithm: algorithm!.toLowerCase() as RtcDtlsParameters['fingerprints'][number]['algorithm'], value: value! }],
  };
}

/** The edge transport's ICE and DTLS lines, the same in every media section (BUNDLE). */
function transportLines(transport: RtcTransportParameters, setup: 'passive' | 'actpass'): string[] {
  const { usernameFragment, password } = transport.iceParameters;
  return [
    `a=ice-ufrag:${usernameFragment}`,
    `a=ice-pwd:${password}`,
    ...transport.iceCandidates.map(
      (c) => `a=candidate:${c.foundation} 1 ${c.protocol} ${c.priority} ${c.ip} ${c.port} typ ${c.type}${c.tcpType ? ` tcptype ${c.tcpType}` : ''}`,
    ),
    'a=end-of-candidates',
    `a=setup:${setup}`,
  ];
}

function sessionLines(transport: RtcTransportParameters, version: number, mids: string[]): string[] {
  const fingerprint = transport.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256') ?? transport.dtlsParameters.fingerprints[0];
  if (!fingerprint) throw new TypeError('the transport offers no DTLS fingerprint');
  return [
    'v=0',
    `o=edge-offload 1 ${version} IN IP4 0.0.0.0`,
    's=-',
    't=0 0',
    'a=ice-lite',
    `a=group:BUNDLE ${mids.join(' ')}`,
    'a=msid-semantic: WMS *',
    `a=fingerprint:${fingerprint.algorithm} ${fingerprint.value}`,
  ];
}

function dataSectionLines(transport: RtcTransportParameters, mid: string, setup: 'passive' | 'actpass'): string[] {
  const sctp = transport.sctpParameters;
  return [
    'm=application 7 UDP/DTLS/SCTP webrtc-datachannel',
    'c=IN IP4 127.0.0.1',
    `a=mid:${mid}`,
    ...transportLines(transport, setup),
    `a=sctp-port:${sctp.port}`,
    `a=max-message-size:${sctp.maxMessageSize}`,
  ];
}

/** The data-channel section's id in the client's offer. */
export function dataMid(offerSdp: string): string {
  return attribute(offerSdp, 'mid') ?? '0';
}

/**
 * The answer to `offerSdp` (which must contain the data-channel section) from the edge transport's
 * parameters: ICE-lite host candidates, the edge's sha-256 fingerprint, DTLS passive (server).
 */
export function answerSdp(offerSdp: string, transport: RtcTransportParameters): string {
  const mid = dataMid(offerSdp);
  return `${[...sessionLines(transport, 1, [mid]), ...dataSectionLines(transport, mid, 'passive')].join('\r\n')}\r\n`;
}

/**
 * The edge's offer that adds its video track to a connected transport (the client answers it,
 * keeping its DTLS role): the data section as it was, then a send-only H.264 section stamped with
 * the consumer's payload type, SSRC and header-extension ids (protocol/webrtcVideo.ts). The edge
 * offers because the consumer, not the client, picked those ids.
 */
export function videoOfferSdp(transport: RtcTransportParameters, dataSectionMid: string, video: RtcVideoParameters, version = 2): string {
  const pt = video.payloadType;
  const lines = [
    ...sessionLines(transport, version, [dataSectionMid, video.mid]),
    ...dataSectionLines(transport, dataSectionMid, 'actpass'),
    `m=video 7 UDP/TLS/RTP/SAVPF ${pt}`,
    'c=IN IP4 127.0.0.1',
    `a=mid:${video.mid}`,
    ...transportLines(transport, 'actpass'),
    'a=sendonly',
    'a=rtcp-mux',
    'a=rtcp-rsize',
    ...video.headerExtensions.map((h) => `a=extmap:${h.id} ${h.uri}`),
    `a=rtpmap:${pt} H264/${VIDEO_CODEC.clockRate}`,
    `a=fmtp:${pt} ${video.fmtp}`,
    ...video.rtcpFeedback.map((f) => `a=rtcp-fb:${pt} ${f.type}${f.parameter ? ` ${f.parameter}` : ''}`),
    'a=msid:edge-offload video',
    `a=ssrc:${video.ssrc} cname:${video.cname}`,
    `a=ssrc:${video.ssrc} msid:edge-offload video`,
  ];
  return `${lines.join('\r\n')}\r\n`;
}
