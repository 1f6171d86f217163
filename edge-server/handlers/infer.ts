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
    // CPU-heavy: runs in this session's fair turn (admission/FairScheduler), not back to back with another's
    ctx.guard
      .heavy('infer', () => engine.infer(message.model, message.input))
      .then((output) => {
        const computeMs = performance.now() - started;
        ctx.node.metrics.stage('infer', computeMs);
        return { t: 'result' as const, id: message.id, model: message.model, output, computeMs };
      }),
  );
};
