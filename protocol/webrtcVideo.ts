/**
 * WebRTC video signalling over the session socket: the edge encodes the session's rendered
 * frames as H.264 (ffmpeg → RTP → a mediasoup PlainTransport producer) and sends them on the
 * session's WebRtcTransport through a consumer. The client asks once, after its data-channel
 * transport is connected (protocol/webrtc.ts):
 *
 *   client                                   edge
 *   rtcConsumeVideo { id }              →    rtcVideo { id, mid, payloadType, ssrc, cname, … }
 *   (the client applies an SDP offer built from rtcVideo: protocol/webrtcSdp.ts videoOfferSdp)
 *   render { id, codec: 'h264', … }     →    frame { id, codec: 'h264', data: <empty>, rtpTimestamp, renderedAt, pose }
 *                                       ←    rtcVideoLost { code, reason }   (encoder died or was refused: use jpeg)
 *
 * The `frame` answer is the pose side channel: it carries the render pose of the video frame whose
 * RTP timestamp is `rtpTimestamp`, so a browser matches it to the decoded frame through
 * `requestVideoFrameCallback` metadata and reprojects as it does a JPEG frame.
 * Every field is bounded here; the client's SDP is built from these values only.
 */
import { array, literal, object, oneOf, optional, string, uint, type Infer, type Schema } from './schema.js';
import { ErrorCode } from './errors.js';

/**
 * The only video codec the edge sends: H.264 Main profile level 3.1 (CABAC: a fifth fewer bits than
 * Baseline at the same quality; every WebRTC H.264 decoder takes it), packetization-mode 1.
 */
export const VIDEO_CODEC = { mimeType: 'video/H264', clockRate: 90000, profileLevelId: '4d001f' } as const;

const requestId = uint(2 ** 32);
const token = () => string(256);

export const rtcVideoSchemas = {
  /** Start the session's video track (rendered frames asked with `codec: 'h264'` go on it). */
  rtcConsumeVideo: object({ t: literal('rtcConsumeVideo'), id: requestId }),
  rtcVideo: object({
    t: literal('rtcVideo'),
    id: requestId,
    /** The media section id the edge's consumer stamps on its packets (sdes:mid). */
    mid: string(32),
    payloadType: uint(127),
    ssrc: uint(2 ** 32 - 1),
    cname: token(),
    /** The codec's fmtp line, `key=value;…`. */
    fmtp: string(512),
    rtcpFeedback: array(object({ type: token(), parameter: optional(token()) }), () => 16),
    headerExtensions: array(object({ uri: string(512), id: uint(255) }), () => 16),
  }),
  /** The video track stopped (encoder died, ffmpeg missing, the transport went): render with jpeg. */
  rtcVideoLost: object({ t: literal('rtcVideoLost'), code: oneOf(Object.values(ErrorCode)), reason: string(256) }),
} satisfies Record<string, Schema<{ t: string }>>;

export type RtcVideoMessageType = keyof typeof rtcVideoSchemas;
export type RtcVideoMessageOf<T extends RtcVideoMessageType> = Infer<(typeof rtcVideoSchemas)[T]>;
export type RtcVideoParameters = Omit<RtcVideoMessageOf<'rtcVideo'>, 't' | 'id'>;
