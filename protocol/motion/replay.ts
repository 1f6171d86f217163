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
 * The same replay one message at a time, for a verifier that follows a live session as it goes
 * (client-sdk/trust/LiveSpotCheck.ts): `feed` observes the message's poses; for a predict it
 * returns the answer an honest node gives (`answer: false` skips the predictor call and only
 * keeps the state, for predicts nobody will check). Call `close()` when done.
 */
export class ReplaySession {
  readonly #factories: ReadonlyMap<string, PredictorFactory>;
  readonly #histories = new Map<Device, PoseHistory>();
  readonly #predictors = new Map<string, Predictor>();
  #predictorName: string;

  constructor(factories: ReadonlyMap<string, PredictorFactory>, options: { defaultPredictor: string; resume?: ResumeState }) {
    this.#factories = factories;
    this.#predictorName = options.defaultPredictor;
    const resume = options.resume;
    if (resume?.predictor && factories.has(resume.predictor)) this.#predictorName = resume.predictor;
    for (const sample of resume?.poses ?? []) this.#observe(sample);
  }

  /** The predictor a predict without `predictor` uses now. */
  get predictorName(): string {
    return this.#predictorName;
  }

  feed(message: ReplayMessage, answer = true): Promise<ReplayedPrediction> | ReplayedPrediction | undefined {
    for (const sample of message.poses ?? []) this.#observe(sample);
    if (message.t !== 'predict') return undefined;
    const device = message.device ?? 'head';
    if (message.predictor) this.#predictorName = message.predictor;
    const history = this.#histories.get(device);
    if (!history?.latest) throw new ReplayError('NO_POSES', `predict ${message.id} before any pose of '${device}'`);
    // created even when not answering: a lazily created predictor catches up from the history
    // exactly as the node's does, and must exist from the same moment on
    const predictor = this.#predictorFor(device, this.#predictorName);
    if (!answer) return undefined;
    const name = this.#predictorName;
    const done = (pose: PoseSample): ReplayedPrediction => ({ id: message.id, device, predictor: name, horizonMs: message.horizonMs, pose: clone(pose) });
    const pose = predictor.predict(history.samples, message.horizonMs);
    return pose instanceof Promise ? pose.then(done) : done(pose);
  }

  close(): void {
    for (const p of this.#predictors.values()) p.close?.();
    this.#predictors.clear();
  }

  #observe(sample: PoseSample): void {
    let history = this.#histories.get(sample.device);
    if (!history) this.#histories.set(sample.device, (history = new PoseHistory()));
    if (!history.push(sample)) return;
    const normalized = history.latest!;
    for (const [key, predictor] of this.#predictors) if (key.startsWith(`${sample.device}/`)) predictor.observe?.(normalized);
  }

  #predictorFor(device: Device, name: string): Predictor {
    const key = `${device}/${name}`;
    let predictor = this.#predictors.get(key);
    if (!predictor) {
      const factory = this.#factories.get(name);
      if (!factory) throw new ReplayError('UNKNOWN_PREDICTOR', `no predictor '${name}' to recompute with`);
      predictor = factory.create();
      for (const sample of this.#histories.get(device)?.samples ?? []) predictor.observe?.(sample);
      this.#predictors.set(key, predictor);
    }
    return predictor;
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
  const replay = new ReplaySession(factories, options);
  const out: ReplayedPrediction[] = [];
  try {
    for (const message of messages) {
      const answer = replay.feed(message);
      if (answer) out.push(await answer);
    }
  } finally {
    replay.close();
  }
  return out;
}

function clone(s: PoseSample): PoseSample {
  const c: PoseSample = { device: s.device, time: s.time, position: [...s.position], orientation: [...s.orientation] };
  if (s.linearVelocity) c.linearVelocity = [...s.linearVelocity];
  if (s.angularVelocity) c.angularVelocity = [...s.angularVelocity];
  return c;
}
