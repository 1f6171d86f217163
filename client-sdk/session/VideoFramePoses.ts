/**
 * Matches the frames a `<video>` shows (the node's H.264 track, `session.openVideo()`) with the
 * poses they were rendered at, for reprojection: each `render({ codec: 'h264' })` answer carries
 * the RTP timestamp its frame went out with, and `requestVideoFrameCallback` reports the RTP
 * timestamp of each frame presented. Either may come first (the answer travels on ws, the frame
 * on WebRTC), so both sides wait a little for the other, in bounded maps.
 *
 *   const poses = new VideoFramePoses(session, videoElement);
 *   poses.on('frame', ({ frame, presentedAt }) => warp(frame.pose, displayPose));
 *
 * Browser-only at run time (requestVideoFrameCallback); no imports beyond the SDK's own.
 */
import { EnhancedEventEmitter } from '../../protocol/EnhancedEventEmitter.js';
import type { Frame } from './SessionBackend.js';

/** The part of VideoFrameCallbackMetadata used here. */
export interface VideoFrameMetadataLike {
  rtpTimestamp?: number;
  presentationTime: number;
  expectedDisplayTime: number;
  receiveTime?: number;
  width: number;
  height: number;
}

/** The part of HTMLVideoElement used here. */
export interface VideoFrameSource {
  requestVideoFrameCallback(cb: (now: number, metadata: VideoFrameMetadataLike) => void): number;
  cancelVideoFrameCallback(handle: number): void;
}

export interface VideoFrameMatch {
  /** The render answer: `pose` (rendered at), `rtpTimestamp`, `renderedAt` (node clock), timings. */
  frame: Frame;
  /** What the browser said about the presented frame. */
  metadata: VideoFrameMetadataLike;
  /** `performance.now()` when the frame was presented (the callback's `now`). */
  presentedAt: number;
}

export type VideoFramePosesEvents = {
  frame: [match: VideoFrameMatch];
};

/** What emits render answers: a Session (its `frame` event) or a FrameStream. */
interface FrameSource {
  on(event: 'frame', listener: (frame: Frame) => void): unknown;
  off(event: 'frame', listener: (frame: Frame) => void): unknown;
}

export interface VideoFramePosesOptions {
  /** Answers or presented frames kept waiting for their other half, each, default 120 (2 s at 60 fps). */
  maxWaiting?: number;
}

export class VideoFramePoses extends EnhancedEventEmitter<VideoFramePosesEvents> {
  readonly #video: VideoFrameSource;
  readonly #source: FrameSource;
  readonly #maxWaiting: number;
  /** Answers whose frame has not been shown yet, by RTP timestamp. */
  readonly #answers = new Map<number, Frame>();
  /** Frames shown before their answer came, by RTP timestamp. */
  readonly #shown = new Map<number, { metadata: VideoFrameMetadataLike; presentedAt: number }>();
  readonly #onFrame = (frame: Frame) => this.add(frame);
  #handle: number;
  #closed = false;
  /** Frames matched; frames shown whose answer never came (evicted); answers whose frame was never shown (evicted). */
  readonly stats = { matched: 0, shownWithoutPose: 0, posesWithoutFrame: 0 };

  constructor(source: FrameSource, video: VideoFrameSource, options: VideoFramePosesOptions = {}) {
    super();
    this.#video = video;
    this.#source = source;
    this.#maxWaiting = options.maxWaiting ?? 120;
    source.on('frame', this.#onFrame);
    this.#handle = video.requestVideoFrameCallback((now, metadata) => this.#presented(now, metadata));
  }

  /** Adds one render answer (the session's `frame` events do this already); non-video frames are ignored. */
  add(frame: Frame): void {
    const ts = frame.rtpTimestamp;
    if (this.#closed || ts === undefined) return;
    const shown = this.#shown.get(ts);
    if (shown) {
      this.#shown.delete(ts);
      return this.#match(frame, shown.metadata, shown.presentedAt);
    }
    this.#answers.set(ts, frame);
    if (this.#answers.size > this.#maxWaiting) {
      this.#answers.delete(this.#answers.keys().next().value!);
      this.stats.posesWithoutFrame++;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#video.cancelVideoFrameCallback(this.#handle);
    this.#source.off('frame', this.#onFrame);
    this.#answers.clear();
    this.#shown.clear();
  }

  #presented(now: number, metadata: VideoFrameMetadataLike): void {
    if (this.#closed) return;
    this.#handle = this.#video.requestVideoFrameCallback((n, m) => this.#presented(n, m));
    const ts = metadata.rtpTimestamp;
    if (ts === undefined) return;
    const frame = this.#answers.get(ts);
    if (frame) {
      this.#answers.delete(ts);
      return this.#match(frame, metadata, now);
    }
    this.#shown.set(ts, { metadata, presentedAt: now });
    if (this.#shown.size > this.#maxWaiting) {
      this.#shown.delete(this.#shown.keys().next().value!);
      this.stats.shownWithoutPose++;
    }
  }

  #match(frame: Frame, metadata: VideoFrameMetadataLike, presentedAt: number): void {
    this.stats.matched++;
    this.safeEmit('frame', { frame, metadata, presentedAt });
  }
}
