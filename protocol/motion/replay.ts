/**
 * Replays one session's pose/predict messages through fresh predictors exactly as an edge
 * session feeds them (same PoseHistory window, same lazy creation with catch-up, same observe
 * order), so anyone holding the messages can recompute what an honest node answered. Discovery
 * uses it to re-check evidence; a trap verifier uses it as its local reference for predictors
 * cheap enough to run on the client.
 *
 * The semantics must stay those of edge-server/Session.ts (#observe, #predictorFor, #predict):
 * a change there without the same change here makes honest nodes look wrong. The replay tests
 * run a real EdgeServer session side by side to pin this.
 */
import type { Device, PoseSample, PredictMessage, PoseMessage, ResumeState } from '../index.js';
import type { Predictor, PredictorFactory } from './predictor.js';
import { PoseHistory } from './PoseHistory.js';

export type ReplayMessage = Pick<PoseMessage, 't' | 'poses'> | Pick<PredictMessage, 't' | 'id' | 'horizonMs' | 'device' | 'predictor' | 'poses'>;

export interface ReplayedPrediction {
  id: number;
  device: Device;
  predictor: string;
  horizonMs: number;
  pose: PoseSample;
}

export class ReplayError extends Error {
  override readonly name = 'ReplayError';
  /** `UNKNOWN_PREDICTOR`: the verifier lacks that predictor; `NO_POSES`: a predict before any pose. */
  readonly code: 'UNKNOWN_PREDICTOR' | 'NO_POSES';
  constructor(code: ReplayError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * Answers every predict in `messages`, in order. `defaultPredictor` is the node's default when the
 * session never named one (the node's welcome lists its predictors, default first).
 */
export async function replayPredictions(
  factories: ReadonlyMap<string, PredictorFactory>,
  messages: readonly ReplayMessage[],
  options: { defaultPredictor: string; resume?: ResumeState },
): Promise<ReplayedPrediction[]> {
  const histories = new Map<Device, PoseHistory>();
  const predictors = new Map<string, Predictor>();
  let predictorName = options.defaultPredictor;
  const observe = (sample: PoseSample): void => {
    let history = histories.get(sample.device);
    if (!history) histories.set(sample.device, (history = new PoseHistory()));
    if (!history.push(sample)) return;
    const normalized = history.latest!;
    for (const [key, predictor] of predictors) if (key.startsWith(`${sample.device}/`)) predictor.observe?.(normalized);
  };
  const predictorFor = (device: Device, name: string): Predictor => {
    const key = `${device}/${name}`;
    let predictor = predictors.get(key);
    if (!predictor) {
      const factory = factories.get(name);
      if (!factory) throw new ReplayError('UNKNOWN_PREDICTOR', `no predictor '${name}' to recompute with`);
      predictor = factory.create();
      for (const sample of histories.get(device)?.samples ?? []) predictor.observe?.(sample);
      predictors.set(key, predictor);
    }
    return predictor;
  };
  const resume = options.resume;
  if (resume?.predictor && factories.has(resume.predictor)) predictorName = resume.predictor;
  for (const sample of resume?.poses ?? []) observe(sample);
  const out: ReplayedPrediction[] = [];
  try {
    for (const message of messages) {
      for (const sample of message.poses ?? []) observe(sample);
      if (message.t !== 'predict') continue;
      const device = message.device ?? 'head';
      if (message.predictor) predictorName = message.predictor;
      const history = histories.get(device);
      if (!history?.latest) throw new ReplayError('NO_POSES', `predict ${message.id} before any pose of '${device}'`);
      const pose = await predictorFor(device, predictorName).predict(history.samples, message.horizonMs);
      out.push({ id: message.id, device, predictor: predictorName, horizonMs: message.horizonMs, pose: clone(pose) });
    }
  } finally {
    for (const p of predictors.values()) p.close?.();
  }
  return out;
}

function clone(s: PoseSample): PoseSample {
  const c: PoseSample = { device: s.device, time: s.time, position: [...s.position], orientation: [...s.orientation] };
  if (s.linearVelocity) c.linearVelocity = [...s.linearVelocity];
  if (s.angularVelocity) c.angularVelocity = [...s.angularVelocity];
  return c;
}
