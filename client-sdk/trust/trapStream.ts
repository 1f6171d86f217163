/**
 * Trap inputs a node cannot tell from live ones: pose streams cut from this session's own recent
 * motion, moved by a random rigid transform (yaw about the vertical, a horizontal offset), shifted
 * to the present, time-stretched a little and jittered with tracker-sized noise. Every trap is
 * drawn fresh from randomness the node never sees (WebCrypto), so there is no fixed set to learn
 * and no recognisable pattern beyond what live motion has.
 */
import type { Device, PoseSample, Quat, Vec3 } from '../../protocol/index.js';
import { fromRotationVector, multiply, normalize, rotate } from '../../protocol/motion/quaternion.js';

/** Uniform [0, 1) from a cryptographic source: the node must not predict which request is a trap. */
export type Random = () => number;

export const cryptoRandom: Random = () => {
  const buf = new Uint32Array(2);
  globalThis.crypto.getRandomValues(buf);
  // 53 random bits
  return (buf[0]! * 2 ** 21 + (buf[1]! >>> 11)) / 2 ** 53;
};

/** A seeded generator for reproducible benches and tests (mulberry32); never for live traps. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(random: Random): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

export interface MotionRecorderOptions {
  /** [maxSamples=540] live samples kept per device (6 s at 90 Hz): the pool traps are cut from. */
  maxSamples?: number;
}

/** Copies of the session's recent live samples, per device. */
export class MotionRecorder {
  readonly #max: number;
  readonly #samples = new Map<Device, PoseSample[]>();
  constructor(options: MotionRecorderOptions = {}) {
    this.#max = options.maxSamples ?? 540;
  }
  record(sample: PoseSample): void {
    let list = this.#samples.get(sample.device);
    if (!list) this.#samples.set(sample.device, (list = []));
    const last = list[list.length - 1];
    if (last && sample.time <= last.time) return;
    list.push(copyPose(sample));
    if (list.length > this.#max) list.splice(0, list.length - this.#max);
  }
  recent(device: Device): readonly PoseSample[] {
    return this.#samples.get(device) ?? [];
  }
}

export interface TrapStreamOptions {
  /** [minSamples=24] shortest trap stream. */
  minSamples?: number;
  /** [maxSamples=90] longest trap stream (≤ 256 evidence messages). */
  maxSamples?: number;
  /** [positionNoiseM=0.0005] σ of the position jitter (a tracker's own noise). */
  positionNoiseM?: number;
  /** [rotationNoiseRad=0.001] σ of the orientation jitter. */
  rotationNoiseRad?: number;
  /** [maxOffsetM=0.5] largest horizontal offset of the moved stream. */
  maxOffsetM?: number;
  /** [timeStretch=0.1] playback speed drawn from 1 ± this. */
  timeStretch?: number;
}

/**
 * A new stream of `device` poses from `recent` (oldest first, ≥ 2 samples), ending at `nowUs` on
 * the client's clock. Undefined when there is not enough recent motion to draw from.
 */
export function makeTrapStream(recent: readonly PoseSample[], nowUs: number, random: Random, options: TrapStreamOptions = {}): PoseSample[] | undefined {
  const min = options.minSamples ?? 24;
  const max = Math.min(options.maxSamples ?? 90, recent.length);
  if (max < Math.max(2, min)) return undefined;
  const length = min + Math.floor(random() * (max - min + 1));
  const start = Math.floor(random() * (recent.length - length + 1));
  const window = recent.slice(start, start + length);
  const yaw = (random() * 2 - 1) * Math.PI;
  const turn: Quat = fromRotationVector([0, yaw, 0]);
  const maxOffset = options.maxOffsetM ?? 0.5;
  const offset: Vec3 = [(random() * 2 - 1) * maxOffset, 0, (random() * 2 - 1) * maxOffset];
  const stretch = 1 + (random() * 2 - 1) * (options.timeStretch ?? 0.1);
  const posNoise = options.positionNoiseM ?? 0.0005;
  const rotNoise = options.rotationNoiseRad ?? 0.001;
  const pivot = window[0]!.position;
  const t0 = window[0]!.time;
  const span = (window[window.length - 1]!.time - t0) * stretch;
  const out: PoseSample[] = [];
  let lastTime = -Infinity;
  for (const s of window) {
    const rel: Vec3 = [s.position[0] - pivot[0], s.position[1] - pivot[1], s.position[2] - pivot[2]];
    const moved = rotate(turn, rel);
    const jitter = fromRotationVector([gaussian(random) * rotNoise, gaussian(random) * rotNoise, gaussian(random) * rotNoise]);
    // time: integer µs, strictly increasing (the node drops repeats), ending now
    const time = Math.max(lastTime + 1, Math.round(nowUs - span + (s.time - t0) * stretch));
    lastTime = time;
    const sample: PoseSample = {
      device: s.device,
      time,
      position: [pivot[0] + moved[0] + offset[0] + gaussian(random) * posNoise, pivot[1] + moved[1] + gaussian(random) * posNoise, pivot[2] + moved[2] + offset[2] + gaussian(random) * posNoise],
      orientation: normalize(multiply(jitter, multiply(turn, s.orientation))) as Quat,
    };
    if (s.linearVelocity) sample.linearVelocity = scale(rotate(turn, s.linearVelocity), 1 / stretch);
    if (s.angularVelocity) sample.angularVelocity = scale(rotate(turn, s.angularVelocity), 1 / stretch);
    out.push(sample);
  }
  return out;
}

function scale(v: readonly number[], k: number): Vec3 {
  return [v[0]! * k, v[1]! * k, v[2]! * k];
}

export function copyPose(s: PoseSample): PoseSample {
  const c: PoseSample = { device: s.device, time: s.time, position: [...s.position], orientation: [...s.orientation] };
  if (s.linearVelocity) c.linearVelocity = [...s.linearVelocity];
  if (s.angularVelocity) c.angularVelocity = [...s.angularVelocity];
  return c;
}
