/**
 * Fair sharing of one GPU between sessions: one job on the GPU at a time, sessions served in
 * turn (round robin in arrival order), a bound on how many sessions may wait.
 *
 * Policy:
 * - Each session's jobs run in the order it scheduled them, but a session gets one turn per
 *   round: after its job runs, a session with more waiting goes to the back of the line. A
 *   session that asks often therefore cannot starve the others, and a slow client (slow socket,
 *   slow decode) only delays itself: encoding and sending happen after the job leaves the queue.
 * - Newest-wins pacing is not done here: each edge session already paces its renders with
 *   `protocol/NewestWins` (session/SessionRender.ts), so a session normally has at most one job
 *   here. `maxJobsPerSession` bounds what a caller that does not pace can pile up.
 * - At most `maxWaitingSessions` sessions wait; beyond that a request is rejected with `BUSY`
 *   at once rather than growing latency for everyone.
 */
import { ErrorCode, InvalidStateError, RequestError } from '../../protocol/index.js';

export interface RenderQueueOptions {
  /** Most sessions waiting for the GPU at once; a newcomer beyond it gets BUSY. Default 16. */
  maxWaitingSessions?: number;
  /** Most jobs one session may have waiting; the next gets BUSY. Default 2. */
  maxJobsPerSession?: number;
}

export const DEFAULT_MAX_WAITING_SESSIONS = 16;
export const DEFAULT_MAX_JOBS_PER_SESSION = 2;

interface Job<T> {
  run: () => Promise<T>;
  enqueuedAt: number;
  resolve: (value: { result: T; queueMs: number }) => void;
  reject: (reason: unknown) => void;
}

export class RenderQueue<T> {
  readonly maxWaitingSessions: number;
  readonly maxJobsPerSession: number;
  /** Sessions with jobs waiting, in turn order (a Map keeps insertion order). */
  readonly #waiting = new Map<string, Job<T>[]>();
  #running: Promise<void> | null = null;
  #closed = false;
  #dropped = 0;
  #served = 0;

  constructor(options: RenderQueueOptions = {}) {
    this.maxWaitingSessions = options.maxWaitingSessions ?? DEFAULT_MAX_WAITING_SESSIONS;
    this.maxJobsPerSession = options.maxJobsPerSession ?? DEFAULT_MAX_JOBS_PER_SESSION;
    if (!(this.maxWaitingSessions >= 1)) throw new TypeError('maxWaitingSessions must be at least 1');
    if (!(this.maxJobsPerSession >= 1)) throw new TypeError('maxJobsPerSession must be at least 1');
  }

  /** Runs `job` when the session's turn comes; resolves with its result and the time it waited. */
  schedule(sessionId: string, job: () => Promise<T>): Promise<{ result: T; queueMs: number }> {
    if (this.#closed) return Promise.reject(new InvalidStateError('render queue is closed'));
    return new Promise((resolve, reject) => {
      const entry: Job<T> = { run: job, enqueuedAt: performance.now(), resolve, reject };
      const jobs = this.#waiting.get(sessionId);
      if (jobs && jobs.length >= this.maxJobsPerSession) {
        this.#drop(entry, `this session already has ${this.maxJobsPerSession} frames waiting for the GPU`);
      } else if (jobs) {
        jobs.push(entry);
      } else if (this.#waiting.size >= this.maxWaitingSessions) {
        this.#drop(entry, `render queue is full (${this.maxWaitingSessions} sessions waiting)`);
      } else {
        this.#waiting.set(sessionId, [entry]);
      }
      this.#pump();
    });
  }

  #drop(entry: Job<T>, why: string): void {
    this.#dropped++;
    entry.reject(new RequestError(ErrorCode.BUSY, why));
  }

  /** Takes the first session's oldest job; a session with more goes to the back of the line. */
  #next(): Job<T> | undefined {
    const first = this.#waiting.entries().next();
    if (first.done) return undefined;
    const [sessionId, jobs] = first.value;
    this.#waiting.delete(sessionId);
    const entry = jobs.shift()!;
    if (jobs.length > 0) this.#waiting.set(sessionId, jobs);
    return entry;
  }

  #pump(): void {
    if (this.#running) return;
    const entry = this.#next();
    if (!entry) return;
    const queueMs = performance.now() - entry.enqueuedAt;
    this.#running = (async () => {
      try {
        const result = await entry.run();
        this.#served++;
        entry.resolve({ result, queueMs });
      } catch (err) {
        entry.reject(err);
      }
    })().finally(() => {
      this.#running = null;
      this.#pump();
    });
  }

  /** Drops what a session has waiting (it went away). A running job finishes normally. */
  cancel(sessionId: string, reason = 'session closed'): void {
    const jobs = this.#waiting.get(sessionId);
    if (!jobs) return;
    this.#waiting.delete(sessionId);
    for (const entry of jobs) entry.reject(new InvalidStateError(reason));
  }

  /** Sessions waiting for their turn. */
  get waiting(): number {
    return this.#waiting.size;
  }

  stats(): { waiting: number; served: number; dropped: number } {
    return { waiting: this.#waiting.size, served: this.#served, dropped: this.#dropped };
  }

  /** Rejects everything waiting and resolves once the running job (if any) is done. */
  async close(): Promise<void> {
    this.#closed = true;
    const jobs = [...this.#waiting.values()].flat();
    this.#waiting.clear();
    for (const entry of jobs) entry.reject(new InvalidStateError('render queue closed'));
    await this.#running;
  }
}
