/**
 * A synthetic head for demos and benches when no headset is attached. Motion model: yaw swept by
 * two sinusoids (0.35 Hz ±40°, 1.1 Hz ±8°) plus a quick 30° look-around every ~3 s (a smoothstep
 * over 250 ms, like a saccadic head turn), pitch at 0.23 Hz ±15°, and a 2 cm postural sway.
 * Deterministic for a given seed, so benches can be repeated.
 */
import { quaternion, type PoseSample, type Quat } from '../../protocol/index.js';

export class SimulatedHeadset {
  readonly #phase: number;

  constructor(seed = 1) {
    this.#phase = (seed * 2.399963) % (2 * Math.PI); // golden-angle offsets decorrelate headsets
  }

  /** The true pose at `timeMs` on the session's clock. */
  poseAt(timeMs: number): PoseSample {
    const t = timeMs / 1000;
    const p = this.#phase;
    const deg = Math.PI / 180;
    const turnPeriod = 3;
    const k = ((t + p) % turnPeriod) / 0.25; // 0..1 during the first 250 ms of each period
    const turn = Math.floor((t + p) / turnPeriod) % 2 === 0 ? 1 : -1;
    const look = k < 1 ? turn * 30 * deg * (k * k * (3 - 2 * k)) : turn * 30 * deg;
    const yaw = 40 * deg * Math.sin(2 * Math.PI * 0.35 * t + p) + 8 * deg * Math.sin(2 * Math.PI * 1.1 * t + 2 * p) + look;
    const pitch = 15 * deg * Math.sin(2 * Math.PI * 0.23 * t + 3 * p);
    const orientation: Quat = quaternion.multiply(quaternion.fromRotationVector([0, yaw, 0]), quaternion.fromRotationVector([pitch, 0, 0]));
    return {
      device: 'head',
      time: Math.round(timeMs * 1000),
      position: [0.02 * Math.sin(2 * Math.PI * 0.2 * t + p), 1.6 + 0.01 * Math.sin(2 * Math.PI * 0.4 * t), 0.02 * Math.cos(2 * Math.PI * 0.15 * t + p)],
      orientation,
    };
  }
}
