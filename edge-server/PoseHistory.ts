/**
 * Recent poses of one device: a bounded, time-ordered window. Samples with the same or an older
 * time than the newest are dropped: trackers polled faster than they update repeat poses, and a
 * reordered sample would make finite-difference velocities explode.
 */
import type { PoseSample } from '../protocol/index.js';
import { quaternion } from '../protocol/index.js';

export class PoseHistory {
  readonly #samples: PoseSample[] = [];
  readonly #maxSamples: number;
  readonly #maxAgeUs: number;

  /**
   * `maxAgeMs` (default 250): the longest look-back of any predictor here is ~80 ms (the learned
   * window's 56 ms plus its 25 ms velocity span), and a longer window only costs: every stored
   * pose outlives the young generation's next collection and gets copied, then promoted, which
   * at 90 Hz × hundreds of sessions set the length of the node's GC pauses.
   */
  constructor({ maxSamples = 256, maxAgeMs = 250 }: { maxSamples?: number; maxAgeMs?: number } = {}) {
    this.#maxSamples = maxSamples;
    this.#maxAgeUs = maxAgeMs * 1000;
  }

  /** Adds a sample; returns false when it was a duplicate or out of order and was dropped. */
  push(sample: PoseSample): boolean {
    const newest = this.#samples[this.#samples.length - 1];
    if (newest && sample.time <= newest.time) return false;
    this.#samples.push({ ...sample, orientation: quaternion.normalize(sample.orientation) });
    const oldestAllowed = sample.time - this.#maxAgeUs;
    let drop = Math.max(0, this.#samples.length - this.#maxSamples);
    while (drop < this.#samples.length - 1 && this.#samples[drop]!.time < oldestAllowed) drop++;
    if (drop > 0) this.#samples.splice(0, drop);
    return true;
  }

  get samples(): readonly PoseSample[] {
    return this.#samples;
  }

  get latest(): PoseSample | undefined {
    return this.#samples[this.#samples.length - 1];
  }

  /** The newest `count` samples, oldest first (what resume replays on a new node). */
  tail(count: number): PoseSample[] {
    return this.#samples.slice(-count);
  }
}
