/**
 * WebRTC signalling over the existing session socket: the edge creates one WebRtcTransport per
 * session (mediasoup, ICE-lite, DTLS server or client), the client connects it, then opens data
 * channels that carry the same messages as ws (`poses`: pose/predict in, unordered with no
 * retransmits; `predictions`: answers out).
 *
 *   client                                   edge
 *   rtcOpen { id }                      →    rtcTransport { id, iceParameters, iceCandidates, dtlsParameters, sctpParameters }
 *   rtcConnect { id, dtlsParameters }   →    ack { id }
 *   rtcProduceData { id, channel, sctpStreamParameters }  →  ack { id }
 *   rtcConsumeData { id, channel }      →    rtcDataConsumer { id, channel, sctpStreamParameters }
 *                                       ←    rtcLost { reason }   (the transport's worker died: rtcOpen again)
 *
 * Every field a peer sends is bounded and format-checked here, before anything reaches mediasoup:
 * malformed DTLS parameters once crashed mediasoup workers (versatica/mediasoup #537), and one
 * worker serves many sessions.
 */
import { array, boolean, literal, number, object, oneOf, optional, string, uint, fail, type Infer, type Schema } from './schema.js';
import { ErrorCode, ProtocolError } from './errors.js';
import { DEFAULT_LIMITS, type WireLimits } from './limits.js';
import { isPlainObject } from './schema.js';

/** Data channels a session may open, by direction. */
export const RTC_CLIENT_CHANNELS = ['poses'] as const;
export const RTC_EDGE_CHANNELS = ['predictions'] as const;
export type RtcClientChannel = (typeof RTC_CLIENT_CHANNELS)[number];
export type RtcEdgeChannel = (typeof RTC_EDGE_CHANNELS)[number];

/** SCTP streams per direction the edge negotiates (mediasoup's default OS/MIS). */
export const RTC_MAX_SCTP_STREAMS = 1024;
/**
 * In WebRTC one SCTP stream id is one data channel both ways, so the client's channels and the
 * edge's must not share ids: the edge numbers its channels up from 0 (mediasoup assigns them), the
 * client picks ids from this one up.
 */
export const RTC_CLIENT_STREAM_MIN = 512;

export const DTLS_ROLES = ['auto', 'client', 'server'] as const;
/** Digest algorithms of RFC 8122 that mediasoup accepts, with their digest length in bytes. */
export const FINGERPRINT_BYTES = { 'sha-1': 20, 'sha-224': 28, 'sha-256': 32, 'sha-384': 48, 'sha-512': 64 } as const;
export type FingerprintAlgorithm = keyof typeof FINGERPRINT_BYTES;
const FINGERPRINT_ALGORITHMS = Object.keys(FINGERPRINT_BYTES) as FingerprintAlgorithm[];

const HEX_PAIRS = /^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})*$/;

/** `AB:CD:…` upper- or lower-case hex, exactly as many bytes as the algorithm's digest. */
const fingerprintSchema: Schema<{ algorithm: FingerprintAlgorithm; value: string }> = {
  parse(value, path, limits) {
    const parsed = object({ algorithm: oneOf(FINGERPRINT_ALGORITHMS), value: string(64 * 3) }).parse(value, path, limits);
    const bytes = FINGERPRINT_BYTES[parsed.algorithm];
    if (!HEX_PAIRS.test(parsed.value) || parsed.value.length !== bytes * 3 - 1) {
      fail(path === '' ? 'value' : `${path}.value`, `is not a ${parsed.algorithm} fingerprint (${bytes} hex bytes separated by ':')`);
    }
    return parsed;
  },
};

export const dtlsParametersSchema = object({
  role: optional(oneOf(DTLS_ROLES)),
  /** One per digest algorithm or certificate: browsers send one or two, mediasoup offers five. */
  fingerprints: array(fingerprintSchema, () => 8),
});
export type RtcDtlsParameters = Infer<typeof dtlsParametersSchema>;

/**
 * Stream ids below the negotiated stream count (65535 is reserved by RFC 8831); unordered
 * reliability is given by at most one of maxRetransmits or maxPacketLifeTime, as in RTCDataChannel.
 */
const sctpStreamSchema = object({
  streamId: uint(RTC_MAX_SCTP_STREAMS - 1),
  ordered: optional(boolean()),
  maxRetransmits: optional(uint(65535)),
  maxPacketLifeTime: optional(uint(65535)),
});
export const sctpStreamParametersSchema: Schema<Infer<typeof sctpStreamSchema>> = {
  parse(value, path, limits) {
    const parsed = sctpStreamSchema.parse(value, path, limits);
    if (parsed.maxRetransmits !== undefined && parsed.maxPacketLifeTime !== undefined) {
      fail(path, 'must not set both maxRetransmits and maxPacketLifeTime');
    }
    return parsed;
  },
};
export type RtcSctpStreamParameters = Infer<typeof sctpStreamSchema>;

/** A client-chosen stream: in the client's half of the stream ids. */
export const clientStreamParametersSchema: Schema<RtcSctpStreamParameters> = {
  parse(value, path, limits) {
    const parsed = sctpStreamParametersSchema.parse(value, path, limits);
    if (parsed.streamId < RTC_CLIENT_STREAM_MIN) {
      fail(path === '' ? 'streamId' : `${path}.streamId`, `must be in [${RTC_CLIENT_STREAM_MIN}, ${RTC_MAX_SCTP_STREAMS - 1}] (lower ids are the edge's)`);
    }
    return parsed;
  },
};

const requestId = uint(2 ** 32);
const token = () => string(256);

const iceCandidateSchema = object({
  foundation: token(),
  priority: uint(2 ** 32 - 1),
  ip: string(64),
  protocol: oneOf(['udp', 'tcp']),
  port: uint(65535),
  type: oneOf(['host', 'srflx', 'prflx', 'relay']),
  tcpType: optional(oneOf(['active', 'passive', 'so'])),
});
export type RtcIceCandidate = Infer<typeof iceCandidateSchema>;

export const rtcSchemas = {
  rtcOpen: object({ t: literal('rtcOpen'), id: requestId }),
  rtcTransport: object({
    t: literal('rtcTransport'),
    id: requestId,
    transportId: token(),
    iceParameters: object({ usernameFragment: token(), password: token(), iceLite: optional(boolean()) }),
    iceCandidates: array(iceCandidateSchema, () => 16),
    dtlsParameters: dtlsParametersSchema,
    sctpParameters: object({ port: uint(65535), OS: uint(65535), MIS: uint(65535), maxMessageSize: uint() }),
  }),
  rtcConnect: object({ t: literal('rtcConnect'), id: requestId, dtlsParameters: dtlsParametersSchema }),
  rtcProduceData: object({
    t: literal('rtcProduceData'),
    id: requestId,
    channel: oneOf(RTC_CLIENT_CHANNELS),
    sctpStreamParameters: clientStreamParametersSchema,
  }),
  rtcConsumeData: object({ t: literal('rtcConsumeData'), id: requestId, channel: oneOf(RTC_EDGE_CHANNELS) }),
  rtcDataConsumer: object({
    t: literal('rtcDataConsumer'),
    id: requestId,
    channel: oneOf(RTC_EDGE_CHANNELS),
    sctpStreamParameters: sctpStreamParametersSchema,
  }),
  /** The transport is gone (its worker died, or the edge closed it): open a new one or use ws. */
  rtcLost: object({ t: literal('rtcLost'), code: oneOf(Object.values(ErrorCode)), reason: string(256), retryAfterMs: optional(number(0, 60_000)) }),
} satisfies Record<string, Schema<{ t: string }>>;

export type RtcMessageType = keyof typeof rtcSchemas;
export type RtcMessageOf<T extends RtcMessageType> = Infer<(typeof rtcSchemas)[T]>;
export type RtcMessage = { [T in RtcMessageType]: RtcMessageOf<T> }[RtcMessageType];

/** Checks a decoded signalling value against the schema its `t` names; a clean copy or a ProtocolError. */
export function validateRtc(value: unknown, limits: WireLimits = DEFAULT_LIMITS): RtcMessage {
  if (!isPlainObject(value)) throw new ProtocolError(ErrorCode.BAD_MESSAGE, 'message is not a map');
  const type = value.t;
  if (typeof type !== 'string') throw new ProtocolError(ErrorCode.BAD_MESSAGE, 't is not a string');
  if (!Object.hasOwn(rtcSchemas, type)) throw new ProtocolError(ErrorCode.UNKNOWN_TYPE, `unknown message type '${type.slice(0, 64)}'`);
  return rtcSchemas[type as RtcMessageType].parse(value, type, limits) as RtcMessage;
}
