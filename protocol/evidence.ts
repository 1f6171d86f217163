/**
 * The evidence contract shared by the SDK (which builds it from a failed trap) and discovery
 * (which re-checks it, discovery/evidence.ts), and the tolerance an answer is compared within.
 */
import { poseSampleSchema, resumeSchema, DEVICES, type PoseSample } from './messages.js';
import { array, literal, number, object, oneOf, optional, string, uint, type Infer } from './schema.js';

const b64 = () => string(128);
const requestId = uint(2 ** 32);

/** One sealed block of a node's chain: the entries, the link before them, and the node's seal. */
export const chainSegmentSchema = object({
  previousLink: b64(),
  /** Entries of the accused answer's block (each ~200 characters for a prediction). */
  entries: array(string(1024), () => 1024),
  seal: object({ node: string(128), session: string(128), to: uint(), link: b64(), inputs: uint(), inputDigest: b64(), signature: b64() }),
});

const sessionMessageSchema = object({
    t: oneOf(['pose', 'predict'] as const),
    id: optional(requestId),
    horizonMs: optional(number(0, 10_000)),
    device: optional(oneOf(DEVICES)),
    predictor: optional(string(128)),
    poses: optional(array(poseSampleSchema, (l) => l.maxPosesPerMessage)),
});

/** A trap session's pose/predict messages in the order sent (≤ 256: a trap's length, not a live session's). */
export const sessionMessagesSchema = array(sessionMessageSchema, () => 256);

/**
 * The messages of predict evidence: a trap's, or a live session's since its hello (a spot check,
 * client-sdk/trust/LiveSpotCheck.ts). The count is bounded here, the bytes by discovery's evidence
 * body cap (256 KiB: ~1300 one-pose predicts), which the SDK respects before it records.
 */
export const MAX_EVIDENCE_MESSAGES = 4096;
export const evidenceMessagesSchema = array(sessionMessageSchema, () => MAX_EVIDENCE_MESSAGES);

/** A trap task sent to a trusted verifier for its reference answers (discovery/trapReference.ts). */
export const trapTaskSchema = object({ defaultPredictor: string(128), messages: sessionMessagesSchema });
export type TrapTaskBody = Infer<typeof trapTaskSchema>;

export const predictEvidenceSchema = object({
  kind: literal('predict'),
  node: string(128),
  session: string(128),
  /** The node's default predictor (first in its welcome), used until the session names one. */
  defaultPredictor: string(128),
  resume: optional(resumeSchema),
  /** The session's pose/predict messages in the order sent, through the accused predict and the seal's last input. */
  messages: evidenceMessagesSchema,
  accused: requestId,
  /** The node's answer as received (computeMs dropped: it is not signed). */
  answer: object({ predictor: string(128), horizonMs: number(0), pose: poseSampleSchema }),
  segment: chainSegmentSchema,
  /** What the reporter expected; informational only. */
  reference: optional(poseSampleSchema),
  /** Who reports (credited when the offence is confirmed). */
  reporter: string(128),
});
export type PredictEvidence = Infer<typeof predictEvidenceSchema>;

export interface Tolerance {
  /** Largest angle between orientations, radians. */
  angleRad: number;
  /** Largest distance between positions, metres. */
  positionM: number;
  /** Largest difference of the predicted pose time, µs. */
  timeUs: number;
}

/**
 * Deterministic predictors run the same JavaScript everywhere: only float noise between JS engines
 * (Math.sin/cos/atan2 may differ in the last ulps), so 1e-6 rad / 1 µm: far above that noise and
 * still 4 orders of magnitude below any cheat the entrapment bench tries. `learned` runs tfjs float32 kernels whose sums
 * differ by backend (tensorflow, wasm, cpu): 1e-3 rad (0.06°) and 1 mm are ~100× the spread the
 * backends show and ~50× below what a cheaper model costs (bench/entrapment.ts measures both).
 */
export const DEFAULT_TOLERANCES: Readonly<Record<string, Tolerance>> = {
  none: { angleRad: 1e-6, positionM: 1e-6, timeUs: 1 },
  'constant-velocity': { angleRad: 1e-6, positionM: 1e-6, timeUs: 1 },
  kalman: { angleRad: 1e-6, positionM: 1e-6, timeUs: 1 },
  learned: { angleRad: 1e-3, positionM: 1e-3, timeUs: 1 },
};


export interface Comparison {
  wrong: boolean;
  angleRad: number;
  positionM: number;
}

type Answer = { predictor: string; horizonMs: number; pose: PoseSample };

/**
 * The angle between two orientations, precise near zero: 2·atan2(|v|, |w|) of a⁻¹⊗b. acos of the
 * dot product (quaternion.angleBetween) cannot resolve angles below ~1e-8 rad (acos(1 − 1e-16)),
 * so identical poses measured 3e-8 rad apart and honest answers were accused at a 1e-9 tolerance.
 */
export function rotationAngle(a: readonly number[], b: readonly number[]): number {
  const [ax, ay, az, aw] = a as [number, number, number, number];
  const [bx, by, bz, bw] = b as [number, number, number, number];
  // conj(a) ⊗ b
  const x = aw * bx - ax * bw - ay * bz + az * by;
  const y = aw * by + ax * bz - ay * bw - az * bx;
  const z = aw * bz - ax * by + ay * bx - az * bw;
  const w = aw * bw + ax * bx + ay * by + az * bz;
  return 2 * Math.atan2(Math.hypot(x, y, z), Math.abs(w));
}

/** Compares a node's answer with a trusted one; unknown predictors compare as not wrong (cannot judge). */
export function compareAnswers(answer: Answer, reference: Answer, tolerances: Readonly<Record<string, Tolerance>> = DEFAULT_TOLERANCES): Comparison & { judged: boolean } {
  const angleRad = rotationAngle(answer.pose.orientation, reference.pose.orientation);
  const p = answer.pose.position, r = reference.pose.position;
  const positionM = Math.hypot(p[0] - r[0], p[1] - r[1], p[2] - r[2]);
  const tol = tolerances[reference.predictor];
  if (!tol) return { wrong: false, judged: false, angleRad, positionM };
  const wrong =
    answer.predictor !== reference.predictor ||
    answer.horizonMs !== reference.horizonMs ||
    answer.pose.device !== reference.pose.device ||
    !(angleRad <= tol.angleRad) ||
    !(positionM <= tol.positionM) ||
    !(Math.abs(answer.pose.time - reference.pose.time) <= tol.timeUs);
  return { wrong, judged: true, angleRad, positionM };
}
