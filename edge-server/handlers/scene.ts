/** `scene`: a glTF binary upload; renders of this session wait for it and then use it. */
import { ErrorCode, RequestError } from '../../protocol/index.js';
import type { Handler } from './context.js';

export const scene: Handler<'scene'> = (message, ctx) => {
  if (!ctx.admit(message.id)) return;
  if (!ctx.render) return ctx.answerError(message.id, new RequestError(ErrorCode.UNSUPPORTED, 'this node does not render'));
  try {
    // decoded texture memory is reserved from the image headers before a pixel is decoded
    ctx.guard.reserveScene(message.name, message.data);
  } catch (err) {
    return ctx.answerError(message.id, err);
  }
  const started = performance.now();
  const loading = ctx.render.loadScene(message.name, message.data).then(
    () => {
      ctx.node.metrics.stage('scene', performance.now() - started);
      return { t: 'ack' as const, id: message.id };
    },
    (err: unknown) => {
      ctx.guard.releaseScene(message.name);
      throw err;
    },
  );
  ctx.answerLater(message.id, loading);
};
