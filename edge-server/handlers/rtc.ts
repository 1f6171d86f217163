/**
 * `rtcOpen`, `rtcConnect`, `rtcProduceData`, `rtcConsumeData`: WebRTC signalling
 * (protocol/webrtc.ts), served by the session's RtcSignalling child and answered like any request
 * (replies.ts pairs each with its answer). A node without a worker pool (no mediasoup, or WebRTC
 * not turned on) answers UNSUPPORTED and the client stays on ws.
 */
import { ErrorCode, RequestError } from '../../protocol/index.js';
import type { Handler } from './context.js';

type RtcRequestType = 'rtcOpen' | 'rtcConnect' | 'rtcProduceData' | 'rtcConsumeData' | 'rtcConsumeVideo';

function serve<K extends RtcRequestType>(): Handler<K> {
  return (message, ctx) => {
    if (!ctx.admit(message.id)) return;
    if (!ctx.rtc) return ctx.answerError(message.id, new RequestError(ErrorCode.UNSUPPORTED, 'this node does not speak WebRTC; stay on ws'));
    ctx.answerLater(message.id, ctx.rtc.handle(message));
  };
}

export const rtcOpen = serve<'rtcOpen'>();
export const rtcConnect = serve<'rtcConnect'>();
export const rtcProduceData = serve<'rtcProduceData'>();
export const rtcConsumeData = serve<'rtcConsumeData'>();
export const rtcConsumeVideo = serve<'rtcConsumeVideo'>();
