/**
 * SDP for a client peer connection (RTCPeerConnection, node-datachannel) talking to the edge's
 * mediasoup transport, which speaks no SDP: the client makes the offer, and the answer is built
 * from the `rtcTransport` parameters (as mediasoup-client's RemoteSdp does). Data channels only for
 * now: one `m=application` section, channels negotiated out of band by stream id.
 * Browser-safe: no Node imports.
 */
import type { RtcDtlsParameters, RtcMessageOf } from './webrtc.js';

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

/**
 * The answer to `offerSdp` (which must contain the data-channel section) from the edge transport's
 * parameters: ICE-lite host candidates, the edge's sha-256 fingerprint, DTLS passive (server).
 */
export function answerSdp(offerSdp: string, transport: RtcTransportParameters): string {
  const mid = attribute(offerSdp, 'mid') ?? '0';
  const fingerprint = transport.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256') ?? transport.dtlsParameters.fingerprints[0];
  if (!fingerprint) throw new TypeError('the transport offers no DTLS fingerprint');
  const { usernameFragment, password } = transport.iceParameters;
  const sctp = transport.sctpParameters;
  const lines = [
    'v=0',
    'o=edge-offload 1 1 IN IP4 0.0.0.0',
    's=-',
    't=0 0',
    'a=ice-lite',
    `a=group:BUNDLE ${mid}`,
    'a=msid-semantic: WMS *',
    `a=fingerprint:${fingerprint.algorithm} ${fingerprint.value}`,
    'm=application 7 UDP/DTLS/SCTP webrtc-datachannel',
    'c=IN IP4 127.0.0.1',
    `a=mid:${mid}`,
    `a=ice-ufrag:${usernameFragment}`,
    `a=ice-pwd:${password}`,
    ...transport.iceCandidates.map(
      (c) => `a=candidate:${c.foundation} 1 ${c.protocol} ${c.priority} ${c.ip} ${c.port} typ ${c.type}${c.tcpType ? ` tcptype ${c.tcpType}` : ''}`,
    ),
    'a=end-of-candidates',
    'a=setup:passive',
    `a=sctp-port:${sctp.port}`,
    `a=max-message-size:${sctp.maxMessageSize}`,
  ];
  return `${lines.join('\r\n')}\r\n`;
}
