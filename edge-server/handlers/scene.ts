/** `scene`: a glTF binary upload; renders of this session wait for it and then use it. */
import { ErrorCode, RequestError } from '../../protocol/index.js';
import type { Handler } from './context.js';

export const scene: Handler<'scene'> = (message, ctx) => {
  if (!ctx.admit(message.id)) return;
  if (!ctx.render) return ctx.answerError(message.id, new RequestError(ErrorCode.UNSUPPORTED, 'this node does not render'));
  ctx.answerLater(message.id, ctx.render.loadScene(message.name, message.data).then(() => ({ t: 'ack', id: message.id })));
};
