/**
 * Recent poses of one device: a bounded, time-ordered window. Samples with the same or an older
 * time than the newest are dropped: trackers polled faster than they update repeat poses, and a
 * reordered sample would make finite-difference velocities explode.
 *
 * The window's samples are slots the history owns and reuses: a new pose is copied into the slot
 * of one that aged out. At 90 Hz × hundreds of sessions, a fresh object (and its arrays) per pose
 * were most of what the node's young-generation collections had to copy, and that copying was
 * the length of their pauses, which is the tail of every round trip. Readers see plain
 * `PoseSample`s, but a slot's values change once it ages out: read them during a call, and copy
 * what must outlive it (see `snapshot`).
 */
import type { PoseSample, Quat, Vec3 } from '../index.js';
import { normalizeInto } from './quaternion.js';

class Slot implements PoseSample {
  device: PoseSample['device'] = 'head';
  time = 0;
  readonly position: Vec3 = [0, 0, 0];
  readonly orientation: Quat = [0, 0, 0, 1];
  linearVelocity: Vec3 | undefined = undefined;
  angularVelocity: Vec3 | undefined = undefined;
  readonly #linear: Vec3 = [0, 0, 0];
  readonly #angular: Vec3 = [0, 0, 0];

  /** Copies `sample` in, orientation normalised. */
  fill(sample: PoseSample): void {
    this.device = sample.device;
    this.time = sample.time;
    copy3(sample.position, this.position);
    const q = sample.orientation;
    normalizeInto(q[0], q[1], q[2], q[3], this.orientation);
    this.linearVelocity = sample.linearVelocity ? copy3(sample.linearVelocity, this.#linear) : undefined;
    this.angularVelocity = sample.angularVelocity ? copy3(sample.angularVelocity, this.#angular) : undefined;
  }
}

function copy3(from: readonly number[], to: Vec3): Vec3 {
  to[0] = from[0]!;
  to[1] = from[1]!;
  to[2] = from[2]!;
  return to;
}

/** A copy of `sample` that no history will overwrite. */
export function snapshot(sample: PoseSample): PoseSample {
  const copy: PoseSample = { device: sample.device, time: sample.time, position: [...sample.position] as Vec3, orientation: [...sample.orientation] as Quat };
  if (sample.linearVelocity) copy.linearVelocity = [...sample.linearVelocity] as Vec3;
  if (sample.angularVelocity) copy.angularVelocity = [...sample.angularVelocity] as Vec3;
  return copy;
}

export class PoseHistory {
  readonly #samples: Slot[] = [];
  /** Slots that aged out, filled again by the next pushes. */
  readonly #spare: Slot[] = [];
  readonly #maxSamples: number;
  readonly #maxAgeUs: number;

  /**
   * `maxAgeMs` (default 120): the longest look-back of any predictor here is ~80 ms (the learned
   * window's 56 ms plus its 25 ms velocity span); `maxSamples` (default 256) bounds the window
   * for trackers much faster than 90 Hz.
   */
  constructor({ maxSamples = 256, maxAgeMs = 120 }: { maxSamples?: number; maxAgeMs?: number } = {}) {
    this.#maxSamples = maxSamples;
    this.#maxAgeUs = maxAgeMs * 1000;
  }

  /** Adds a sample; returns false when it was a duplicate or out of order and was dropped. */
  push(sample: PoseSample): boolean {
    const samples = this.#samples;
    const newest = samples[samples.length - 1];
    if (newest && sample.time <= newest.time) return false;
    const slot = this.#spare.pop() ?? new Slot();
    slot.fill(sample);
    samples.push(slot);
    const oldestAllowed = sample.time - this.#maxAgeUs;
    // the newest always stays, however old
    while (samples.length > 1 && (samples.length > this.#maxSamples || samples[0]!.time < oldestAllowed)) this.#spare.push(samples.shift()!);
    return true;
  }

  /** Oldest first; the objects are reused slots (see the file comment). */
  get samples(): readonly PoseSample[] {
    return this.#samples;
  }

  get latest(): PoseSample | undefined {
    return this.#samples[this.#samples.length - 1];
  }
}
