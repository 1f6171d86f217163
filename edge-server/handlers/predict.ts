/**
 * `predict`: the per-frame hot path. Poses the request carries are observed first, then the
 * session's predictor extrapolates the device's history `horizonMs` ahead.
 *
 * A predictor that answers synchronously (all but batched tfjs) is answered in the same turn,
 * with no promise chain: at 90 Hz × hundreds of sessions the promises and their garbage were a
 * measurable share of the node's time and GC pauses. Only an asynchronous answer is counted
 * against `maxInflightRequests`.
 */
import { ErrorCode, RequestError, type MessageOf, type PredictionMessage } from '../../protocol/index.js';
import type { Prediction } from '../../protocol/motion/predictor.js';
import type { Predictor } from '../engines.js';
import type { Handler, HandlerContext } from './context.js';

export const predict: Handler<'predict'> = (message, ctx) => {
  const { motion } = ctx;
  if (message.poses) for (const sample of message.poses) motion.observe(sample);
  if (!ctx.admit(message.id)) return;
  const started = performance.now();
  // the answer's input is what the session had when it predicted (an async predictor answers later)
  const inputs = ctx.seals?.inputs ?? 0;
  let name: string;
  let pose: ReturnType<Predictor['predict']>;
  try {
    const device = message.device ?? 'head';
    const { maxHorizonMs } = ctx.node.limits;
    if (message.horizonMs > maxHorizonMs) throw new RequestError(ErrorCode.BAD_REQUEST, `horizonMs ${message.horizonMs} is over ${maxHorizonMs}`);
    if (message.predictor) motion.select(message.predictor);
    const history = motion.history(device);
    if (!history?.latest) throw new RequestError(ErrorCode.BAD_REQUEST, `no poses yet for device '${device}'; send pose before predict`);
    name = motion.predictorName;
    pose = motion.predictor(device, name).predict(history.samples, message.horizonMs);
  } catch (err) {
    return ctx.answerError(message.id, err);
  }
  // the synchronous answer (every predictor but batched tfjs) without a closure per frame
  if (!(pose instanceof Promise)) return answer(ctx, message, name, started, inputs, pose);
  ctx.requests.track(pose, (p) => answer(ctx, message, name, started, inputs, p), (err) => ctx.answerError(message.id, err));
};

function answer(ctx: HandlerContext, message: MessageOf<'predict'>, name: string, started: number, inputs: number, p: Prediction): void {
  const reply: PredictionMessage = { t: 'prediction', id: message.id, pose: p, predictor: name, horizonMs: message.horizonMs, computeMs: performance.now() - started };
  // the client and the metrics see when a guard answered instead of the model (reset, stall, out of range)
  if (p.fallback) {
    reply.fallback = p.fallback;
    ctx.node.metrics.motionFallback(p.fallback);
  }
  ctx.answer(message.id, reply);
  // recorded after it is sent, in the same turn: the chain's order is the order answers left
  ctx.seals?.prediction(message.id, { predictor: name, horizonMs: message.horizonMs, pose: p }, inputs);
}
