/**
 * `render`: paced per session by SessionRender (newest wins), so it is not counted against
 * `maxInflightRequests`: a session never has more than one render running and one waiting.
 */
import { ErrorCode, RequestError } from '../../protocol/index.js';
import type { Handler } from './context.js';

export const render: Handler<'render'> = (message, ctx) => {
  if (!ctx.render) return ctx.answerError(message.id, new RequestError(ErrorCode.UNSUPPORTED, 'this node does not render'));
  ctx.seals?.arrived(message); // its signed entry counts the samples received by now
  ctx.render.offer(message);
};
