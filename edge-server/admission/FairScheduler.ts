/**
 * Fair sharing of the node's CPU-heavy work (render, infer, scene decode) between sessions
 * (issue #15, attack 4: two sessions sending back-to-back 2048² renders or big `infer` batches
 * pushed a bystander's predict p99 to 158 / 116 ms).
 *
 * Fair queueing on measured cost: each session has a virtual clock that advances by the
 * milliseconds its jobs actually took (divided by its weight); the waiting session whose next job
 * would *finish* first on that clock (its clock plus its last job's cost) runs next, so a session
 * of cheap jobs goes ahead of one whose every job is expensive. A session that was idle re-enters at the current minimum, so it gets
 * its share from now on but no credit for the time it was away. Heavy jobs run `concurrency` at a
 * time, and the scheduler yields to the event loop (`setImmediate`) before each, so the cheap
 * per-frame work (pose, predict) queued behind one heavy job runs before the next heavy one.
 *
 * Each session may have at most `maxQueuedPerSession` jobs waiting (`BUSY` beyond that) so no
 * session builds a backlog the others wait behind.
 *
 * With the heavy work in worker threads (edge-server/offload), `concurrency` is the pool's size and
 * a session has at most one job of each `kind` (render, infer, scene) running at once: a session
 * cannot fill every worker with its own infer batches while another session waits, and its next
 * job of that kind waits for its turn again.
 */
import { ErrorCode, InvalidStateError, RequestError } from '../../protocol/index.js';

export interface FairSchedulerOptions {
  /** Heavy jobs running at once. @default 1 */
  concurrency?: number;
  /** Jobs one session may have waiting. @default 4 */
  maxQueuedPerSession?: number;
  /** Clock in ms, for measuring job cost. @default performance.now */
  now?: () => number;
}

interface Job {
  kind: string;
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

interface Lane {
  id: string;
  weight: number;
  vtime: number;
  queue: Job[];
  running: number;
  /** Kinds of this session's running jobs: one of each kind at a time. */
  runningKinds: Set<string>;
  costMs: number;
  jobs: number;
  /** Cost of this session's last job: the estimate for its next one. */
  lastCostMs: number;
}

export class FairScheduler {
  readonly concurrency: number;
  readonly maxQueuedPerSession: number;
  readonly #now: () => number;
  readonly #lanes = new Map<string, Lane>();
  #running = 0;
  #pumping = false;
  #closed = false;

  constructor(options: FairSchedulerOptions = {}) {
    this.concurrency = options.concurrency ?? 1;
    this.maxQueuedPerSession = options.maxQueuedPerSession ?? 4;
    this.#now = options.now ?? (() => performance.now());
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) throw new TypeError('concurrency must be a positive integer');
    if (!Number.isInteger(this.maxQueuedPerSession) || this.maxQueuedPerSession < 1) throw new TypeError('maxQueuedPerSession must be a positive integer');
  }

  /**
   * Runs `job` when `sessionId`'s turn comes and no other job of the same `kind` of this session
   * is running. `weight` > 1 gives a session a larger share.
   */
  schedule<T>(sessionId: string, job: () => T | Promise<T>, { kind = 'heavy', weight = 1 }: { kind?: string; weight?: number } = {}): Promise<T> {
    if (this.#closed) return Promise.reject(new InvalidStateError('scheduler is closed'));
    let lane = this.#lanes.get(sessionId);
    if (!lane) {
      lane = { id: sessionId, weight, vtime: this.#minVtime(), queue: [], running: 0, runningKinds: new Set(), costMs: 0, jobs: 0, lastCostMs: 0 };
      this.#lanes.set(sessionId, lane);
    } else if (lane.queue.length === 0 && lane.running === 0) {
      lane.vtime = Math.max(lane.vtime, this.#minVtime());
    }
    if (lane.queue.length >= this.maxQueuedPerSession) {
      return Promise.reject(new RequestError(ErrorCode.BUSY, `more than ${this.maxQueuedPerSession} heavy requests of this session waiting`));
    }
    const promise = new Promise<T>((resolve, reject) => lane.queue.push({ kind, run: job, resolve: resolve as (v: unknown) => void, reject }));
    this.#schedulePump();
    return promise;
  }

  /** Drops what a session has waiting (it closed); running jobs finish. */
  cancel(sessionId: string, reason = 'session closed'): void {
    const lane = this.#lanes.get(sessionId);
    if (!lane) return;
    for (const job of lane.queue.splice(0)) job.reject(new InvalidStateError(reason));
    if (lane.running === 0) this.#lanes.delete(sessionId);
  }

  /** Per session: jobs done and milliseconds used (for metrics and `/admin/health`). */
  stats(): { running: number; waiting: number; sessions: Record<string, { jobs: number; costMs: number; waiting: number }> } {
    let waiting = 0;
    const sessions: Record<string, { jobs: number; costMs: number; waiting: number }> = {};
    for (const lane of this.#lanes.values()) {
      waiting += lane.queue.length;
      sessions[lane.id] = { jobs: lane.jobs, costMs: lane.costMs, waiting: lane.queue.length };
    }
    return { running: this.#running, waiting, sessions };
  }

  close(): void {
    this.#closed = true;
    for (const id of [...this.#lanes.keys()]) this.cancel(id, 'scheduler closed');
  }

  #minVtime(): number {
    let min = Infinity;
    for (const lane of this.#lanes.values()) if (lane.queue.length > 0 || lane.running > 0) min = Math.min(min, lane.vtime);
    return min === Infinity ? 0 : min;
  }

  #schedulePump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    // yield first: frames already read from sockets (predicts) run before the next heavy job
    setImmediate(() => {
      this.#pumping = false;
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#running < this.concurrency) {
      let next: Lane | undefined;
      let nextIndex = -1;
      for (const lane of this.#lanes.values()) {
        if (lane.queue.length === 0 || (next !== undefined && finishTime(lane) >= finishTime(next))) continue;
        const index = runnable(lane);
        if (index < 0) continue;
        next = lane;
        nextIndex = index;
      }
      if (!next) return;
      this.#start(next, next.queue.splice(nextIndex, 1)[0]!);
    }
  }

  #start(lane: Lane, job: Job): void {
    this.#running++;
    lane.running++;
    lane.runningKinds.add(job.kind);
    const started = this.#now();
    const finish = () => {
      const cost = Math.max(0, this.#now() - started);
      lane.vtime += cost / lane.weight;
      lane.costMs += cost;
      lane.lastCostMs = cost;
      lane.jobs++;
      lane.running--;
      lane.runningKinds.delete(job.kind);
      this.#running--;
      if (lane.running === 0 && lane.queue.length === 0 && this.#closed) this.#lanes.delete(lane.id);
      this.#schedulePump();
    };
    let result: unknown;
    try {
      result = job.run();
    } catch (err) {
      finish();
      job.reject(err);
      return;
    }
    Promise.resolve(result).then(
      (value) => {
        finish();
        job.resolve(value);
      },
      (err: unknown) => {
        finish();
        job.reject(err);
      },
    );
  }
}

/** The lane's oldest waiting job whose kind is not running already; -1 when none is. */
function runnable(lane: Lane): number {
  if (lane.runningKinds.size === 0) return 0;
  for (let i = 0; i < lane.queue.length; i++) if (!lane.runningKinds.has(lane.queue[i]!.kind)) return i;
  return -1;
}

/** When a lane's next job would finish in virtual time, estimating its cost by the last one. */
function finishTime(lane: Lane): number {
  return lane.vtime + lane.lastCostMs / lane.weight;
}
