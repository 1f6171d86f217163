/** `infer`: one tensor through a named model on the node's inference engine. */
import { ErrorCode, RequestError } from '../../protocol/index.js';
import type { Handler } from './context.js';

export const infer: Handler<'infer'> = (message, ctx) => {
  if (!ctx.admit(message.id)) return;
  const engine = ctx.node.inference;
  if (!engine) return ctx.answerError(message.id, new RequestError(ErrorCode.UNSUPPORTED, 'this node runs no inference engine'));
  const started = performance.now();
  ctx.answerLater(
    message.id,
    engine.infer(message.model, message.input).then((output) => ({ t: 'result', id: message.id, model: message.model, output, computeMs: performance.now() - started })),
  );
};
