/**
 * What the client remembers so that nodes can stay stateless: recent poses per device, the
 * predictor/scene/model the app selected, and the last uploaded scene. Replayed on every node
 * the session moves to (`hello.resume`, a `pose` catch-up, a scene re-upload), and the source of
 * local constant-velocity predictions while no node answers in time.
 */
import { extrapolateConstantVelocity, type Device, type PoseSample, type ResumeState } from '../../protocol/index.js';

export interface SessionMemoryOptions {
  /** Poses kept per device; also the most replayed in one `pose` message. @default 64 */
  maxPoses?: number;
  /** Largest scene kept for re-upload after a switch; larger ones are not replayed. @default 32 MiB */
  maxSceneBytes?: number;
}

export class SessionMemory {
  readonly #poses = new Map<Device, PoseSample[]>();
  readonly #maxPoses: number;
  readonly #maxSceneBytes: number;
  predictor: string | undefined;
  model: string | undefined;
  #scene: { name: string; data: Uint8Array } | undefined;
  #sceneName: string | undefined;

  constructor({ maxPoses = 64, maxSceneBytes = 32 << 20 }: SessionMemoryOptions = {}) {
    this.#maxPoses = maxPoses;
    this.#maxSceneBytes = maxSceneBytes;
  }

  /** Keeps a sample; out-of-order and repeated samples are dropped, as nodes do. */
  observe(sample: PoseSample): boolean {
    let list = this.#poses.get(sample.device);
    if (!list) this.#poses.set(sample.device, (list = []));
    const newest = list[list.length - 1];
    if (newest && sample.time <= newest.time) return false;
    list.push(sample);
    if (list.length > this.#maxPoses) list.splice(0, list.length - this.#maxPoses);
    return true;
  }

  history(device: Device): readonly PoseSample[] {
    return this.#poses.get(device) ?? [];
  }

  /** Newest poses of every device, oldest first per device, at most `max` in all. */
  recentPoses(max = this.#maxPoses): PoseSample[] {
    const devices = [...this.#poses.values()].filter((list) => list.length > 0);
    if (devices.length === 0) return [];
    const perDevice = Math.max(1, Math.floor(max / devices.length));
    return devices.flatMap((list) => list.slice(-perDevice));
  }

  /** Constant-velocity extrapolation from local history; undefined with no poses yet. */
  predictLocally(device: Device, horizonMs: number): PoseSample | undefined {
    const history = this.history(device);
    return history.length === 0 ? undefined : extrapolateConstantVelocity(history, horizonMs);
  }

  rememberScene(name: string, data: Uint8Array): void {
    this.#sceneName = name;
    this.#scene = data.byteLength <= this.#maxSceneBytes ? { name, data } : undefined;
  }

  /** The scene to re-upload on a new node, when it was small enough to keep. */
  get scene(): { name: string; data: Uint8Array } | undefined {
    return this.#scene;
  }

  /**
   * `hello.resume` for a new node. The predictor is not included: a node that lacks it would
   * refuse the hello, so it travels with each `predict` instead, only to nodes that offer it.
   */
  resumeState(maxPoses: number): ResumeState {
    const resume: ResumeState = {};
    const poses = this.recentPoses(maxPoses);
    if (poses.length > 0) resume.poses = poses;
    if (this.#sceneName) resume.scene = this.#sceneName;
    if (this.model) resume.model = this.model;
    return resume;
  }
}
