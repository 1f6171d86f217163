/**
 * Coalesces requests that arrive close together into one batch, so a model runs once for many
 * sessions instead of once per request. The window is short by design (a frame is 11 ms): by
 * default a batch closes at the end of the current event-loop turn (`setImmediate`), i.e. it holds
 * whatever arrived while the loop was busy and adds no timer latency; `windowMs` > 0 waits that
 * long (timer granularity is 1 ms in Node) for more. A full batch runs at once.
 */
export interface MicroBatcherOptions<Req, Res> {
  /** Runs one batch; must return one result (or Error) per request, in order. */
  run(requests: readonly Req[]): Promise<readonly (Res | Error)[]> | readonly (Res | Error)[];
  /** [windowMs=0] extra wait for more requests after the first, ms (≤ 1 recommended). */
  windowMs?: number;
  /** [maxBatch=256] most requests in one batch. */
  maxBatch?: number;
}

export interface BatchStats {
  batches: number;
  requests: number;
  largestBatch: number;
}

interface Pending<Req, Res> {
  request: Req;
  resolve(value: Res): void;
  reject(error: Error): void;
}

export class MicroBatcher<Req, Res> {
  readonly #run: MicroBatcherOptions<Req, Res>['run'];
  readonly #windowMs: number;
  readonly #maxBatch: number;
  #queue: Pending<Req, Res>[] = [];
  #scheduled = false;
  readonly #stats: BatchStats = { batches: 0, requests: 0, largestBatch: 0 };

  constructor(options: MicroBatcherOptions<Req, Res>) {
    this.#run = options.run;
    this.#windowMs = options.windowMs ?? 0;
    this.#maxBatch = options.maxBatch ?? 256;
    if (!(this.#windowMs >= 0 && this.#windowMs <= 1000)) throw new TypeError('windowMs must be between 0 and 1000');
    if (!(Number.isInteger(this.#maxBatch) && this.#maxBatch >= 1)) throw new TypeError('maxBatch must be a positive integer');
  }

  get stats(): Readonly<BatchStats> {
    return { ...this.#stats };
  }

  submit(request: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      this.#queue.push({ request, resolve, reject });
      if (this.#queue.length >= this.#maxBatch) this.#flush();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        if (this.#windowMs > 0) setTimeout(() => this.#flush(), this.#windowMs);
        else setImmediate(() => this.#flush());
      }
    });
  }

  /** Rejects everything still queued (engine closing). */
  rejectAll(error: Error): void {
    const queue = this.#queue;
    this.#queue = [];
    for (const p of queue) p.reject(error);
  }

  #flush(): void {
    this.#scheduled = false;
    while (this.#queue.length) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      this.#stats.batches++;
      this.#stats.requests += batch.length;
      this.#stats.largestBatch = Math.max(this.#stats.largestBatch, batch.length);
      void this.#execute(batch);
    }
  }

  async #execute(batch: Pending<Req, Res>[]): Promise<void> {
    try {
      const results = await this.#run(batch.map((p) => p.request));
      batch.forEach((p, i) => {
        const r = results[i];
        if (r instanceof Error) p.reject(r);
        else if (r === undefined) p.reject(new Error('batch returned fewer results than requests'));
        else p.resolve(r);
      });
    } catch (err) {
      for (const p of batch) p.reject(err as Error);
    }
  }
}
