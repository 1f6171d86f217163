/**
 * Requests that outlive the node they were sent to. Every app call becomes a job with an overall
 * deadline; the job is sent to whichever node is active, and when that node dies or the session
 * moves, the job is re-sent to the next one (the late answer of an earlier attempt is ignored).
 * The app sees a rejection only for its own mistakes (unknown model, bad request) or when the
 * deadline passes with no node at all. `predict` never waits that long: when no node answers
 * within `localFallbackMs`, it is answered here by constant velocity and marked `local`.
 */
import { ErrorCode, InvalidStateError, ProtocolError, RequestError, type Device, type NodeTier, type ReplyOf, type RequestBody, type RequestType } from '../../protocol/index.js';
import type { Prediction } from './SessionBackend.js';
import type { SessionMemory } from './SessionMemory.js';

/**
 * The node jobs go to now: the narrow view of a link the router needs. The owner points the
 * router at one with `route()`; the router never asks back.
 */
export interface RoutedLink {
  readonly tier: NodeTier;
  readonly nodeId: string;
  readonly closed: boolean;
  /** Predictors the node offers. */
  readonly predictors: readonly string[];
  request<T extends RequestType>(body: RequestBody<T>, timeoutMs: number): Promise<ReplyOf<T>>;
}

export interface RequestRouterOptions {
  /** Overall deadline of one call across every node it is tried on, ms. */
  deadlineMs: number;
  /** A `predict` with no remote answer after this long is answered locally, ms. */
  localFallbackMs: number;
  /** Wait before re-trying a node that answered "busy" or "shutting down", ms; doubles per retry. */
  retryDelayMs: number;
  /** Such retries per call before its error reaches the app (a node bug must not loop forever). */
  maxRetries: number;
}

/** Codes that say "not now, not here" rather than "your request is wrong": worth another try. */
const RETRIABLE = new Set<string>([ErrorCode.SHUTTING_DOWN, ErrorCode.BUSY, ErrorCode.CLOSED, ErrorCode.RATE_LIMITED, ErrorCode.INTERNAL]);

type Routable = Exclude<RequestType, 'ping'>;

interface Job {
  body: RequestBody<Routable>;
  started: number;
  deadlineAt: number;
  attempt: number;
  /** Retries after "not now" answers (node switches do not count). */
  retries: number;
  link: RoutedLink | undefined;
  done: boolean;
  timers: ReturnType<typeof setTimeout>[];
  resolve(reply: ReplyOf<Routable>, link: RoutedLink): void;
  /** For predict: answers from local history; false when there is none. */
  local?: () => boolean;
  reject(error: Error): void;
}

export class RequestRouter {
  readonly #jobs = new Set<Job>();
  readonly #options: RequestRouterOptions;
  readonly #memory: SessionMemory;
  #target: RoutedLink | undefined;
  #closed = false;
  /** Calls answered locally, and calls re-sent after a node was lost (for benches and tests). */
  readonly counters = { local: 0, resent: 0, remote: 0, failed: 0 };

  constructor(memory: SessionMemory, options: RequestRouterOptions) {
    this.#memory = memory;
    this.#options = options;
  }

  get inflight(): number {
    return this.#jobs.size;
  }

  predict(horizonMs: number, device: Device, predictor: string | undefined, deadlineMs = this.#options.deadlineMs): Promise<Prediction> {
    return new Promise<Prediction>((resolve, reject) => {
      const job = this.#job({ t: 'predict', horizonMs, device, ...(predictor ? { predictor } : {}) }, deadlineMs, reject);
      job.resolve = (reply, link) => {
        const answer = reply as ReplyOf<'predict'>;
        resolve({ pose: answer.pose, predictor: answer.predictor, horizonMs, tier: link.tier, nodeId: link.nodeId, roundTripMs: performance.now() - job.started, ...(answer.fallback ? { fallback: answer.fallback } : {}) });
      };
      job.local = () => {
        const pose = this.#memory.predictLocally(device, horizonMs);
        if (!pose) return false;
        this.counters.local++;
        this.#finish(job);
        resolve({ pose, predictor: 'constant-velocity', horizonMs, tier: 'local', roundTripMs: performance.now() - job.started });
        return true;
      };
      const fallback = setTimeout(() => !job.done && job.local?.(), this.#options.localFallbackMs);
      job.timers.push(fallback);
      this.#dispatch(job);
    });
  }

  request<T extends Routable>(body: RequestBody<T>, deadlineMs = this.#options.deadlineMs): Promise<ReplyOf<T>> {
    return new Promise<ReplyOf<T>>((resolve, reject) => {
      const job = this.#job(body, deadlineMs, reject);
      job.resolve = (reply) => resolve(reply as ReplyOf<T>);
      this.#dispatch(job);
    });
  }

  #active(): RoutedLink | undefined {
    const target = this.#target;
    return target && !target.closed ? target : undefined;
  }

  /**
   * Points the router at the node jobs go to now (undefined: none, predictions answer locally)
   * and re-sends every job not on it.
   */
  route(link: RoutedLink | undefined): void {
    this.#target = link;
    const active = this.#active();
    for (const job of this.#jobs) {
      if (job.link !== active || !active) {
        if (job.link) this.counters.resent++;
        this.#dispatch(job);
      }
    }
  }

  /** Rejects everything outstanding: the session is closing. */
  close(): void {
    this.#closed = true;
    for (const job of [...this.#jobs]) {
      this.#finish(job);
      job.reject(new InvalidStateError('session closed with the request outstanding'));
    }
  }

  #job(body: RequestBody<Routable>, deadlineMs: number, reject: (error: Error) => void): Job {
    // calls were shape-checked once, at the Session (session/checks.ts)
    if (this.#closed) throw new InvalidStateError('session is closed');
    const started = performance.now();
    const job: Job = {
      body,
      started,
      deadlineAt: started + deadlineMs,
      attempt: 0,
      retries: 0,
      link: undefined,
      done: false,
      timers: [],
      resolve: () => {},
      reject: (error) => {
        this.counters.failed++;
        reject(error);
      },
    };
    job.timers.push(
      setTimeout(() => {
        if (job.done) return;
        this.#finish(job);
        job.reject(new RequestError(ErrorCode.TIMEOUT, `${body.t} got no answer from any node within its ${deadlineMs} ms deadline`));
      }, deadlineMs),
    );
    this.#jobs.add(job);
    return job;
  }

  #finish(job: Job): void {
    job.done = true;
    job.attempt++; // any answer still on its way belongs to a finished job
    for (const timer of job.timers) clearTimeout(timer);
    this.#jobs.delete(job);
  }

  #dispatch(job: Job): void {
    if (job.done) return;
    const link = this.#active();
    const attempt = ++job.attempt;
    if (!link) {
      // parked until a node becomes active (route); predict need not wait for that
      job.link = undefined;
      job.local?.();
      return;
    }
    job.link = link;
    const remaining = Math.max(1, job.deadlineAt - performance.now());
    link
      .request<Routable>(this.#forNode(job.body, link), remaining)
      .then((reply) => {
        if (job.attempt !== attempt || job.done) return;
        this.counters.remote++;
        this.#finish(job);
        job.resolve(reply, link);
      })
      .catch((error: unknown) => {
        if (job.attempt !== attempt || job.done) return;
        if (error instanceof InvalidStateError || error instanceof ProtocolError) {
          // the node went away (or broke the protocol and is being dropped): the session is
          // switching; by the time this runs the new node is usually active already. If not,
          // the job waits for the switch (route) rather than going back to the same node.
          this.counters.resent++;
          if (link.closed || this.#active() !== link) queueMicrotask(() => this.#dispatch(job));
          else job.link = undefined;
        } else if (error instanceof RequestError && RETRIABLE.has(error.code) && job.retries < this.#options.maxRetries) {
          const delay = this.#options.retryDelayMs * 2 ** job.retries++;
          if (performance.now() + delay >= job.deadlineAt) return this.#fail(job, error);
          this.counters.resent++;
          job.timers.push(setTimeout(() => this.#dispatch(job), delay));
        } else {
          this.#fail(job, error as Error);
        }
      });
  }

  /** The remote answer is final: the app's own mistake, or a node that keeps failing. */
  #fail(job: Job, error: Error): void {
    // a prediction the nodes could not make is still one the SDK can: only app errors reject
    const appError = error instanceof RequestError && (error.code === ErrorCode.BAD_REQUEST || error.code === ErrorCode.UNSUPPORTED);
    if (!appError && job.local?.()) return;
    this.#finish(job);
    job.reject(error);
  }

  /** Strips what this node cannot honour: a predictor it lacks falls back to the node's default. */
  #forNode(body: RequestBody<Routable>, link: RoutedLink): RequestBody<Routable> {
    if (body.t === 'predict' && body.predictor && !link.predictors.includes(body.predictor)) {
      const { predictor: _dropped, ...rest } = body;
      return rest;
    }
    return body;
  }
}
