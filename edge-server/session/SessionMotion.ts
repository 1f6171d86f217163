/**
 * One session's motion state: a pose history per device and the predictor instances made for it.
 * Kept apart from the socket so the pose and predict handlers share one history and one set of
 * stateful filters, and so closing the session has one place to free them.
 */
import { ErrorCode, RequestError, type Device, type PoseSample } from '../../protocol/index.js';
import type { Predictor, PredictorFactory } from '../engines.js';
import { PoseHistory } from '../../protocol/motion/PoseHistory.js';

export class SessionMotion {
  readonly #factories: ReadonlyMap<string, PredictorFactory>;
  readonly #histories = new Map<Device, PoseHistory>();
  /**
   * Per device, per predictor name: each device gets its own filter state per predictor. Two
   * levels rather than one `${device}/${name}` key: that string was built (and hashed) on every
   * pose and every predict, at 90 Hz × every session.
   */
  readonly #predictors = new Map<Device, Map<string, Predictor>>();
  /** Sees every sample first, in wire order, before the history may drop it (signed results' input). */
  readonly #recorder: { observe(sample: PoseSample): void } | undefined;
  #predictorName: string;

  constructor(factories: ReadonlyMap<string, PredictorFactory>, defaultPredictor: string, recorder?: { observe(sample: PoseSample): void }) {
    this.#factories = factories;
    this.#predictorName = defaultPredictor;
    this.#recorder = recorder;
  }

  /** The predictor `predict` uses unless a request names another. */
  get predictorName(): string {
    return this.#predictorName;
  }

  /** Selects the session's predictor; unknown names are the client's error. */
  select(name: string): void {
    if (!this.#factories.has(name)) {
      throw new RequestError(ErrorCode.BAD_REQUEST, `unknown predictor '${name}'; this node has ${[...this.#factories.keys()].join(', ')}`);
    }
    this.#predictorName = name;
  }

  /**
   * Adopts a predictor carried over by `hello.resume` if this node has it. A client resuming
   * from another node may name one this node lacks: it is served with the default (welcome
   * lists what is here) rather than refused the whole session.
   */
  resume(name: string | undefined): void {
    if (name && this.#factories.has(name)) this.#predictorName = name;
  }

  /** Adds a sample to its device's history and feeds it to that device's live predictors. */
  observe(sample: PoseSample): void {
    this.#recorder?.observe(sample);
    let history = this.#histories.get(sample.device);
    if (!history) this.#histories.set(sample.device, (history = new PoseHistory()));
    if (!history.push(sample)) return;
    const normalized = history.latest!;
    const live = this.#predictors.get(sample.device);
    if (live) for (const predictor of live.values()) predictor.observe?.(normalized);
  }

  /** The device's history; undefined until it has sent a pose. */
  history(device: Device): PoseHistory | undefined {
    return this.#histories.get(device);
  }

  /** The session's instance of predictor `name` for `device`, created on first use. */
  predictor(device: Device, name: string): Predictor {
    let forDevice = this.#predictors.get(device);
    if (!forDevice) this.#predictors.set(device, (forDevice = new Map()));
    let predictor = forDevice.get(name);
    if (!predictor) {
      const factory = this.#factories.get(name);
      if (!factory) throw new RequestError(ErrorCode.BAD_REQUEST, `unknown predictor '${name}'`);
      predictor = factory.create();
      // a stateful filter created mid-stream catches up on the history it missed
      for (const sample of this.#histories.get(device)?.samples ?? []) predictor.observe?.(sample);
      forDevice.set(name, predictor);
    }
    return predictor;
  }

  /** Frees every predictor instance (tfjs-backed ones hold tensors). */
  close(): void {
    for (const forDevice of this.#predictors.values()) for (const predictor of forDevice.values()) predictor.close?.();
    this.#predictors.clear();
    this.#histories.clear();
  }
}
