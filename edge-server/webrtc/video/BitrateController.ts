/**
 * Picks the video encoder's bitrate from what the link carries: every `statsIntervalMs` it reads
 * the WebRtcTransport's send-side estimate (transport-cc feedback from the receiver:
 * `availableOutgoingBitrate`) and the receiver's loss on the video stream, and asks for a new
 * rate when the target moved enough.
 *
 * Why restart the encoder at a new rate instead of sending fewer frames: ffmpeg cannot change its
 * rate live, but a frame not sent still leaves the next frame as big as before, and a frame sent
 * later than its RTP timestamp says makes the receiver's jitter buffer grow; a lower rate keeps
 * every frame small and on time, and costs one IDR per change, so changes are rate-limited
 * (down quickly, up slowly).
 */
import { Logger } from '../../../protocol/Logger.js';
import type { ResolvedVideoOptions } from './videoOptions.js';

const logger = new Logger('webrtc:bitrate');

export interface LinkEstimate {
  /** Send-side bandwidth estimate, bit/s (absent before any feedback). */
  availableOutgoingBitrate?: number;
  /** Receiver-reported loss on the video stream, 0…1. */
  fractionLost?: number;
}

/** Loss above which the rate goes down whatever the estimate says (the estimate lags a full queue). */
const LOSS_LIMIT = 0.1;
/**
 * After a rate change down, the wait before the next change up doubles, up to this many times
 * `upRateIntervalMs`; each change up halves it again. Why: on a capped link the estimate climbs
 * back to the cap and crashes when we reach it (bench webrtc-video: 11 changes, 9 keyframes in
 * 20 s, 16 → 0.47 → 0.8 → 0.36 Mbit/s), and every change is an encoder restart and an IDR that
 * Chromium's jitter estimate remembers.
 */
const UP_BACKOFF_MAX = 8;

export class BitrateController {
  readonly #options: ResolvedVideoOptions;
  readonly #current: () => number;
  readonly #read: () => Promise<LinkEstimate>;
  readonly #set: (bitrate: number, reason: string) => void;
  readonly #timer: ReturnType<typeof setInterval>;
  #lastChangeAt = performance.now();
  /** Wait before a change up: upRateIntervalMs, doubled by each change down (UP_BACKOFF_MAX). */
  #upIntervalMs: number;
  #reading = false;
  #closed = false;

  constructor(options: ResolvedVideoOptions, current: () => number, read: () => Promise<LinkEstimate>, set: (bitrate: number, reason: string) => void) {
    this.#options = options;
    this.#current = current;
    this.#read = read;
    this.#set = set;
    this.#upIntervalMs = options.upRateIntervalMs;
    this.#timer = setInterval(() => void this.#tick(), options.statsIntervalMs);
    this.#timer.unref();
  }

  /** The wait before the next change up, after a change down (`wentDown`) or up (UP_BACKOFF_MAX). */
  static upIntervalAfter(options: ResolvedVideoOptions, upIntervalMs: number, wentDown: boolean): number {
    const base = options.upRateIntervalMs;
    return wentDown ? Math.min(upIntervalMs * 2, base * UP_BACKOFF_MAX) : Math.max(base, upIntervalMs / 2);
  }

  /** The bitrate to use for `estimate` given the `current` one, or undefined to keep it. */
  static decide(options: ResolvedVideoOptions, current: number, estimate: LinkEstimate, msSinceChange: number, upIntervalMs = options.upRateIntervalMs): { bitrate: number; reason: string } | undefined {
    const { minBitrate, maxBitrate, bitrateHeadroom } = options;
    let target = estimate.availableOutgoingBitrate !== undefined ? estimate.availableOutgoingBitrate * bitrateHeadroom : current;
    let reason = `estimate ${Math.round((estimate.availableOutgoingBitrate ?? 0) / 1000)} kbit/s`;
    if ((estimate.fractionLost ?? 0) > LOSS_LIMIT) {
      target = Math.min(target, current * 0.8);
      reason = `loss ${Math.round(estimate.fractionLost! * 100)} %`;
    }
    target = Math.round(Math.min(maxBitrate, Math.max(minBitrate, target)));
    if (target < current * 0.9 && msSinceChange >= options.downRateIntervalMs) return { bitrate: target, reason: `down: ${reason}` };
    // up by at most half at a time: the estimate only grows as far as what we send lets it probe
    if (target > current * 1.15 && msSinceChange >= upIntervalMs) return { bitrate: Math.min(target, Math.round(current * 1.5)), reason: `up: ${reason}` };
    return undefined;
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
  }

  async #tick(): Promise<void> {
    if (this.#reading || this.#closed) return;
    this.#reading = true;
    try {
      const estimate = await this.#read();
      if (this.#closed) return;
      const now = performance.now();
      const current = this.#current();
      const change = BitrateController.decide(this.#options, current, estimate, now - this.#lastChangeAt, this.#upIntervalMs);
      if (change) {
        this.#upIntervalMs = BitrateController.upIntervalAfter(this.#options, this.#upIntervalMs, change.bitrate < current);
        this.#lastChangeAt = now;
        logger.debug(`${this.#current()} → ${change.bitrate} bit/s (${change.reason})`);
        this.#set(change.bitrate, change.reason);
      }
    } catch (err) {
      // the transport or consumer closed under us: the sender closes this controller too
      logger.debug(`stats: ${(err as Error).message}`);
    } finally {
      this.#reading = false;
    }
  }
}
