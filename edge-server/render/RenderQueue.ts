/**
 * Frame pacing for one GPU: a global FIFO of sessions, one job on the GPU at a time.
 *
 * Policy (newest wins, never more than one waiting frame per session):
 * - A session has at most one job running and one waiting. A new request from a session that
 *   already has one waiting replaces it in place (keeping its turn); the replaced request is
 *   rejected with `SUPERSEDED`. A headset wants the frame for its newest pose, never a backlog.
 *   (The edge Session already paces each session this way; the queue enforces it for any caller.)
 * - Sessions take turns in arrival order, so a session that asks often cannot starve the others,
 *   and a slow client (slow socket, slow decode) only delays itself: encoding and sending happen
 *   after the job leaves the queue.
 * - At most `maxWaitingSessions` sessions wait; beyond that a request is rejected with
 *   `BUSY` at once rather than growing latency for everyone.
 */
import { ErrorCode, InvalidStateError, RequestError } from '../../protocol/index.js';

export interface RenderQueueOptions {
  /** Most sessions waiting for the GPU at once. Default 16. */
  maxWaitingSessions?: number;
}

export const DEFAULT_MAX_WAITING_SESSIONS = 16;

interface Waiting<T> {
  sessionId: string;
  job: () => Promise<T>;
  enqueuedAt: number;
  resolve: (value: { result: T; queueMs: number }) => void;
  reject: (reason: unknown) => void;
}

export class RenderQueue<T> {
  readonly maxWaitingSessions: number;
  /** FIFO of sessions waiting; each entry is that session's newest request. */
  readonly #waiting: Waiting<T>[] = [];
  #running: Promise<void> | null = null;
  #closed = false;
  #dropped = 0;
  #served = 0;

  constructor(options: RenderQueueOptions = {}) {
    this.maxWaitingSessions = options.maxWaitingSessions ?? DEFAULT_MAX_WAITING_SESSIONS;
    if (!(this.maxWaitingSessions >= 1)) throw new TypeError('maxWaitingSessions must be at least 1');
  }

  /** Runs `job` when the session's turn comes; resolves with its result and the time it waited. */
  schedule(sessionId: string, job: () => Promise<T>): Promise<{ result: T; queueMs: number }> {
    if (this.#closed) return Promise.reject(new InvalidStateError('render queue is closed'));
    return new Promise((resolve, reject) => {
      const entry: Waiting<T> = { sessionId, job, enqueuedAt: performance.now(), resolve, reject };
      const index = this.#waiting.findIndex((w) => w.sessionId === sessionId);
      if (index >= 0) {
        const stale = this.#waiting[index]!;
        this.#waiting[index] = entry;
        this.#drop(stale, ErrorCode.SUPERSEDED, 'superseded by a newer render request from this session');
      } else if (this.#waiting.length >= this.maxWaitingSessions) {
        this.#drop(entry, ErrorCode.BUSY, `render queue is full (${this.maxWaitingSessions} sessions waiting)`);
        return;
      } else {
        this.#waiting.push(entry);
      }
      this.#pump();
    });
  }

  #drop(entry: Waiting<T>, code: ErrorCode, why: string): void {
    this.#dropped++;
    entry.reject(new RequestError(code, why));
  }

  #pump(): void {
    if (this.#running || this.#waiting.length === 0) return;
    const entry = this.#waiting.shift()!;
    const queueMs = performance.now() - entry.enqueuedAt;
    this.#running = (async () => {
      try {
        const result = await entry.job();
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
    const index = this.#waiting.findIndex((w) => w.sessionId === sessionId);
    if (index < 0) return;
    const [entry] = this.#waiting.splice(index, 1);
    entry!.reject(new InvalidStateError(reason));
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  stats(): { waiting: number; served: number; dropped: number } {
    return { waiting: this.#waiting.length, served: this.#served, dropped: this.#dropped };
  }

  /** Rejects everything waiting and resolves once the running job (if any) is done. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const entry of this.#waiting.splice(0)) entry.reject(new InvalidStateError('render queue closed'));
    await this.#running;
  }
}
