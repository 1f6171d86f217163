/** `infer`: one tensor through a named model on the node's inference engine. */
import { ErrorCode, RequestError, type ResultMessage } from '../../protocol/index.js';
import type { Handler } from './context.js';

export const infer: Handler<'infer'> = (message, ctx) => {
  if (!ctx.admit(message.id)) return;
  const engine = ctx.node.inference;
  if (!engine) return ctx.answerError(message.id, new RequestError(ErrorCode.UNSUPPORTED, 'this node runs no inference engine'));
  const started = performance.now();
  ctx.seals?.arrived(message);
  ctx.requests.track(
    // CPU-heavy: runs in this session's fair turn (admission/FairScheduler), not back to back with another's
    ctx.guard.heavy('infer', () => engine.infer(message.model, message.input)),
    (output) => {
      const computeMs = performance.now() - started;
      ctx.node.metrics.stage('infer', computeMs);
      const reply: ResultMessage = { t: 'result', id: message.id, model: message.model, output, computeMs };
      ctx.answer(message.id, reply);
      // signed like a prediction: recorded after it is sent, in the same turn (the chain's order)
      ctx.seals?.result(message.id, message, output);
    },
    (err) => ctx.answerError(message.id, err),
  );
};
