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
 *
 * Event-loop budget (`mainMsPerSecond`): fair order alone is work-conserving, so two sessions
 * sending infer batches back to back still keep the event loop busy with their frames' receive,
 * hand-off, answer encode and the garbage their buffers make, and every other session's predict
 * waits behind those slices and GC pauses (issue #15, attack 4b: ×4.5 the bystander's unloaded
 * p99). So each session also has a budget of event-loop time for its heavy requests, a token bucket
 * refilled at `mainMsPerSecond` per second up to `burstMs`: a job is charged what the scheduler
 * measures of its synchronous start, what the caller reports through its meter (decode before,
 * answer after) and `byteCostNs` per payload byte for what cannot be timed per request (the
 * socket's receive and unmasking, GC of the buffers). A session in debt has its next heavy job
 * deferred (kept in its queue, nothing dropped) until the bucket is back at zero; the session's
 * predicts and every other session's work run meanwhile.
 */
import { ErrorCode, InvalidStateError, RequestError } from '../../protocol/index.js';

export interface FairSchedulerOptions {
  /** Heavy jobs running at once. @default 1 */
  concurrency?: number;
  /** Jobs one session may have waiting. @default 4 */
  maxQueuedPerSession?: number;
  /** Clock in ms, for measuring job cost. @default performance.now */
  now?: () => number;
  /**
   * Event-loop ms one session's heavy jobs may use per second (see the top); a session over it has
   * its next heavy job deferred. @default Infinity here (no budget); the node's default is
   * NodeGuards' DEFAULT_HEAVY_MAIN_MS_PER_SECOND
   */
  mainMsPerSecond?: number;
  /** Budget a session banks while it sends no heavy work, ms. @default 20 */
  burstMs?: number;
  /** Event-loop time charged per payload byte of a heavy job (see the top), ns. @default 10 */
  byteCostNs?: number;
}

/** What a heavy job reports of the event-loop time it used outside its synchronous start. */
export interface HeavyMeter {
  /** Charges `ms` of event-loop time and `bytes` of payload (each at `byteCostNs`) to the job's session. */
  spent(ms: number, bytes?: number): void;
}

export interface ScheduleOptions {
  /** One job of each kind of a session runs at a time. @default 'heavy' */
  kind?: string;
  /** A larger share of the workers (not of the event-loop budget). @default 1 */
  weight?: number;
  /** Event-loop ms the request already used before it was scheduled (its decode). @default 0 */
  spentMs?: number;
  /** Payload bytes of the request (charged at `byteCostNs`). @default 0 */
  bytes?: number;
}

interface Job {
  kind: string;
  run: (meter: HeavyMeter) => unknown;
  /** Charged when the job starts: event-loop ms before scheduling plus its bytes' cost. */
  upfrontMs: number;
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
  /** Event-loop budget left, ms (negative: in debt, its next job is deferred). */
  credit: number;
  /** When `credit` was last refilled (the scheduler's clock). */
  creditAt: number;
  /** Event-loop ms charged to this session's heavy jobs so far. */
  mainMs: number;
  /** Jobs that waited for this session's budget. */
  deferred: number;
  /** Its next job is waiting for the budget (counted in `deferred` once). */
  waitingOnCredit?: boolean;
}

export class FairScheduler {
  readonly concurrency: number;
  readonly maxQueuedPerSession: number;
  readonly mainMsPerSecond: number;
  readonly burstMs: number;
  readonly byteCostNs: number;
  readonly #now: () => number;
  /** The pump waits for a session in debt: when it is due (the scheduler's clock). */
  #deferTimer: NodeJS.Timeout | undefined;
  readonly #lanes = new Map<string, Lane>();
  #running = 0;
  #pumping = false;
  #closed = false;

  constructor(options: FairSchedulerOptions = {}) {
    this.concurrency = options.concurrency ?? 1;
    this.maxQueuedPerSession = options.maxQueuedPerSession ?? 4;
    this.#now = options.now ?? (() => performance.now());
    this.mainMsPerSecond = options.mainMsPerSecond ?? Infinity;
    this.burstMs = options.burstMs ?? 20;
    this.byteCostNs = options.byteCostNs ?? 10;
    if (!(this.mainMsPerSecond > 0)) throw new TypeError('mainMsPerSecond must be positive (Infinity: no budget)');
    if (!(this.burstMs >= 0 && Number.isFinite(this.burstMs))) throw new TypeError('burstMs must be a non-negative number');
    if (!(this.byteCostNs >= 0 && Number.isFinite(this.byteCostNs))) throw new TypeError('byteCostNs must be a non-negative number');
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) throw new TypeError('concurrency must be a positive integer');
    if (!Number.isInteger(this.maxQueuedPerSession) || this.maxQueuedPerSession < 1) throw new TypeError('maxQueuedPerSession must be a positive integer');
  }

  /**
   * Runs `job` when `sessionId`'s turn comes, no other job of the same `kind` of this session is
   * running and the session's event-loop budget is not in debt. `weight` > 1 gives a session a
   * larger share of the workers. The job gets a meter for the event-loop time it uses after its
   * synchronous start (its answer's encode and send).
   */
  schedule<T>(sessionId: string, job: (meter: HeavyMeter) => T | Promise<T>, { kind = 'heavy', weight = 1, spentMs = 0, bytes = 0 }: ScheduleOptions = {}): Promise<T> {
    if (this.#closed) return Promise.reject(new InvalidStateError('scheduler is closed'));
    let lane = this.#lanes.get(sessionId);
    if (!lane) {
      lane = { id: sessionId, weight, vtime: this.#minVtime(), queue: [], running: 0, runningKinds: new Set(), costMs: 0, jobs: 0, lastCostMs: 0, credit: this.burstMs, creditAt: this.#now(), mainMs: 0, deferred: 0 };
      this.#lanes.set(sessionId, lane);
    } else if (lane.queue.length === 0 && lane.running === 0) {
      lane.vtime = Math.max(lane.vtime, this.#minVtime());
    }
    if (lane.queue.length >= this.maxQueuedPerSession) {
      return Promise.reject(new RequestError(ErrorCode.BUSY, `more than ${this.maxQueuedPerSession} heavy requests of this session waiting`));
    }
    const upfrontMs = Math.max(0, spentMs) + (Math.max(0, bytes) * this.byteCostNs) / 1e6;
    const promise = new Promise<T>((resolve, reject) => lane.queue.push({ kind, run: job, upfrontMs, resolve: resolve as (v: unknown) => void, reject }));
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
  stats(): { running: number; waiting: number; deferred: number; sessions: Record<string, { jobs: number; costMs: number; mainMs: number; deferred: number; waiting: number }> } {
    let waiting = 0;
    let deferred = 0;
    const sessions: Record<string, { jobs: number; costMs: number; mainMs: number; deferred: number; waiting: number }> = {};
    for (const lane of this.#lanes.values()) {
      waiting += lane.queue.length;
      deferred += lane.deferred;
      sessions[lane.id] = { jobs: lane.jobs, costMs: lane.costMs, mainMs: lane.mainMs, deferred: lane.deferred, waiting: lane.queue.length };
    }
    return { running: this.#running, waiting, deferred, sessions };
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#deferTimer);
    this.#deferTimer = undefined;
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
    const now = this.#now();
    /** The soonest a session in debt may run again (the scheduler's clock); Infinity: none waits on its budget. */
    let due = Infinity;
    while (this.#running < this.concurrency) {
      let next: Lane | undefined;
      let nextIndex = -1;
      for (const lane of this.#lanes.values()) {
        if (lane.queue.length === 0 || (next !== undefined && finishTime(lane) >= finishTime(next))) continue;
        const index = runnable(lane);
        if (index < 0) continue;
        if (!this.#hasCredit(lane, now)) {
          due = Math.min(due, now + (-lane.credit * 1000) / this.mainMsPerSecond);
          continue;
        }
        next = lane;
        nextIndex = index;
      }
      if (!next) break;
      this.#start(next, next.queue.splice(nextIndex, 1)[0]!);
    }
    if (due !== Infinity) this.#deferUntil(due - now);
  }

  /** Refills `lane`'s event-loop budget to `now`; false while it is in debt (its next job is deferred). */
  #hasCredit(lane: Lane, now: number): boolean {
    if (this.mainMsPerSecond === Infinity) return true;
    lane.credit = Math.min(this.burstMs, lane.credit + ((now - lane.creditAt) * this.mainMsPerSecond) / 1000);
    lane.creditAt = now;
    if (lane.credit >= 0) return true;
    // counted once per job that waits: the pump looks at it again each time it runs
    if (!lane.waitingOnCredit) {
      lane.waitingOnCredit = true;
      lane.deferred++;
    }
    return false;
  }

  /** Pumps again once a session in debt may run (a timer: nothing else may wake the scheduler). */
  #deferUntil(delayMs: number): void {
    if (this.#deferTimer) return;
    this.#deferTimer = setTimeout(() => {
      this.#deferTimer = undefined;
      this.#pump();
    }, Math.max(1, Math.ceil(delayMs)));
  }

  #start(lane: Lane, job: Job): void {
    this.#running++;
    lane.running++;
    lane.runningKinds.add(job.kind);
    lane.waitingOnCredit = false;
    const charge = (ms: number) => {
      lane.mainMs += ms;
      if (this.mainMsPerSecond !== Infinity) lane.credit -= ms;
    };
    const meter: HeavyMeter = { spent: (ms, bytes = 0) => charge(Math.max(0, ms) + (Math.max(0, bytes) * this.byteCostNs) / 1e6) };
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
      result = job.run(meter);
    } catch (err) {
      charge(job.upfrontMs + Math.max(0, this.#now() - started));
      finish();
      job.reject(err);
      return;
    }
    // the synchronous start (a worker hand-off, or the whole job when it is synchronous) ran on the event loop
    charge(job.upfrontMs + Math.max(0, this.#now() - started));
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
