/**
 * Warms the predict path before a node takes its first session: synthetic head poses run through
 * the real codec and every offered predictor, as a session's frames would, until V8 has optimised
 * that code.
 *
 * Why (issue #15, attack 2): a cold node's first second of heavy predict traffic cost about ten
 * times its steady per-frame CPU: V8 interpreting, then compiling and optimising the decoder,
 * schemas, Kalman filter, learned model and encoder (its compiler threads share a pinned core with
 * the event loop). Any client that asked much in that second (ten flooding sessions, or honest
 * readers) pushed every other session's answers back by that much. Paid once here, before the
 * node listens or registers, no client waits for it.
 *
 * How: `frames` pose+predict frames per predictor, in rounds of `FRAMES_PER_TURN` with an
 * event-loop turn between them, so the optimised code V8's background compiler finishes meanwhile
 * is installed and the later rounds run it (a single synchronous loop would end before most of it
 * arrived). Each round is a fresh session's motion state (the first frames of a session take the
 * predictors' short-history paths) fed a smooth, deterministic head motion, sent as the SDK does
 * (`predict` carrying its pose) and as a separate `pose` then `predict`.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { decode, encode, quaternion, type Message, type PoseSample, type PredictionMessage, type WireLimits } from '../protocol/index.js';
import type { Prediction } from '../protocol/motion/predictor.js';
import type { PredictorFactory } from './engines.js';
import { SessionMotion } from './session/SessionMotion.js';

export interface WarmUpOptions {
  /**
   * Pose+predict frames run per offered predictor before the node listens; 0 skips the warm-up.
   * @default DEFAULT_WARM_UP_FRAMES (2000: ~0.5-0.7 s of start-up for the CLI's four predictors on one loaded core, edge-server/README.md)
   */
  frames?: number;
}

/** [DEFAULT_WARM_UP_FRAMES=2000] see WarmUpOptions.frames. */
export const DEFAULT_WARM_UP_FRAMES = 2000;

/** Frames per event-loop turn: short enough that V8's finished optimisations are installed between rounds. */
const FRAMES_PER_TURN = 100;

/** The synthetic head's frame rate (a headset's), so the predictors see the timing they were trained on. */
const FRAME_US = Math.round(1e6 / 90);

export interface WarmUpReport {
  frames: number;
  ms: number;
  predictors: string[];
}

/**
 * Runs the warm-up over `predictors` with the node's wire `limits`. A predictor that throws or
 * answers asynchronously is still warmed where it can be: its errors are counted, not thrown (the
 * node serves it anyway; the warm-up only changes how soon its code is fast).
 */
export async function warmUpPredictPath(predictors: ReadonlyMap<string, PredictorFactory>, limits: WireLimits, options: WarmUpOptions = {}): Promise<WarmUpReport & { errors: number }> {
  const frames = options.frames ?? DEFAULT_WARM_UP_FRAMES;
  const started = performance.now();
  let done = 0;
  let errors = 0;
  let id = 0;
  for (let round = 0; done < frames * predictors.size; round++) {
    for (const name of predictors.keys()) {
      const motion = new SessionMotion(predictors, name);
      const t0 = round * 10_000_000;
      for (let k = 0; k < FRAMES_PER_TURN && k < frames - round * FRAMES_PER_TURN; k++) {
        const pose = syntheticPose(round, t0 + k * FRAME_US);
        // the SDK's frame (the pose rides on the predict) and, every fourth, a pose then a bare predict
        const inbound: Message[] = k % 4 === 3 ? [{ t: 'pose', poses: [pose] }, { t: 'predict', id: ++id, horizonMs: 50 }] : [{ t: 'predict', id: ++id, horizonMs: 20 + (k % 5) * 10, device: 'head', predictor: name, poses: [pose] }];
        for (const message of inbound) {
          try {
            // a Buffer of its own, as ws hands a session its frames (V8 specialises on what it sees)
            const answer = handle(decode(Buffer.from(encode(message)), limits), motion, name);
            if (answer) encode(answer instanceof Promise ? await answer : answer);
          } catch {
            errors++;
          }
        }
        done++;
      }
      motion.close();
    }
    await nextTurn();
  }
  return { frames: done, ms: performance.now() - started, predictors: [...predictors.keys()], errors };
}

/** What the pose and predict handlers do with a decoded frame, less the socket. */
function handle(message: Message, motion: SessionMotion, name: string): PredictionMessage | Promise<PredictionMessage> | undefined {
  if (message.t !== 'pose' && message.t !== 'predict') return undefined;
  if (message.poses) for (const sample of message.poses) motion.observe(sample);
  if (message.t === 'pose') return undefined;
  const history = motion.history(message.device ?? 'head');
  if (!history?.latest) return undefined;
  const { id, horizonMs } = message;
  const reply = (pose: Prediction): PredictionMessage => ({ t: 'prediction', id, pose, predictor: name, horizonMs, computeMs: 0.01, ...(pose.fallback ? { fallback: pose.fallback } : {}) });
  const pose = motion.predictor('head', name).predict(history.samples, horizonMs);
  return pose instanceof Promise ? pose.then(reply) : reply(pose);
}

/** A seated user looking around: yaw and pitch sinusoids, a little sway; `seed` varies the phase. */
function syntheticPose(seed: number, timeUs: number): PoseSample {
  const t = timeUs / 1e6;
  const p = seed * 0.7;
  const yaw = 0.6 * Math.sin(2 * Math.PI * 0.35 * t + p) + 0.12 * Math.sin(2 * Math.PI * 1.1 * t);
  const pitch = 0.25 * Math.sin(2 * Math.PI * 0.23 * t + p);
  return {
    device: 'head',
    time: timeUs,
    position: [0.02 * Math.sin(2 * Math.PI * 0.2 * t + p), 1.6 + 0.01 * Math.sin(2 * Math.PI * 0.4 * t), 0.02 * Math.cos(2 * Math.PI * 0.15 * t)],
    orientation: quaternion.multiply(quaternion.fromRotationVector([0, yaw, 0]), quaternion.fromRotationVector([pitch, 0, 0])),
  };
}
