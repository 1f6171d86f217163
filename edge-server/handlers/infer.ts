/** `infer`: one tensor through a named model on the node's inference engine. */
import { ErrorCode, RequestError, type ResultMessage } from '../../protocol/index.js';
import type { HeavyMeter } from '../admission/index.js';
import type { Handler } from './context.js';

export const infer: Handler<'infer'> = (message, ctx, receivedAt) => {
  if (!ctx.admit(message.id)) return;
  const engine = ctx.node.inference;
  if (!engine) return ctx.answerError(message.id, new RequestError(ErrorCode.UNSUPPORTED, 'this node runs no inference engine'));
  const started = performance.now();
  ctx.seals?.arrived(message);
  let meter: HeavyMeter | undefined;
  ctx.requests.track(
    // CPU-heavy: runs in this session's fair turn and event-loop budget (admission/FairScheduler),
    // not back to back with another's; charged its frame's decode and payload bytes up front
    ctx.guard.heavy(
      'infer',
      (m) => {
        meter = m;
        // its bytes may go to a heavy worker with the request (no copy): the signature's digest first
        ctx.seals?.inputLeaving(message);
        return engine.infer(message.model, message.input);
      },
      { spentMs: started - receivedAt, bytes: message.input.data.byteLength },
    ),
    (output) => {
      const answering = performance.now();
      const computeMs = answering - started;
      ctx.node.metrics.stage('infer', computeMs);
      const reply: ResultMessage = { t: 'result', id: message.id, model: message.model, output, computeMs };
      ctx.answer(message.id, reply);
      // signed like a prediction: recorded after it is sent, in the same turn (the chain's order)
      ctx.seals?.result(message.id, message, output);
      // the answer's encode, send and signature are this session's event-loop time too
      meter?.spent(performance.now() - answering, output.data.byteLength);
    },
    (err) => ctx.answerError(message.id, err),
  );
};
