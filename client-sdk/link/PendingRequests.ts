/**
 * The requests one connection has in flight: each waits for the answer carrying its id, fails
 * after its timeout, and may have copies scheduled for re-sending (predicts on the unreliable
 * data channel). Whatever ends a request — answer, error, timeout, close — clears all its timers.
 */
import type { Message, RequestType } from '../../protocol/index.js';

interface Pending {
  type: RequestType;
  resolve: (message: Message) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
  /** The next scheduled copy of the request, if it was sent where datagrams get lost. */
  resend?: ReturnType<typeof setTimeout>;
}

export class PendingRequests {
  readonly #pending = new Map<number, Pending>();

  /** Waits for `id`'s answer; after `timeoutMs` it fails with `onTimeout()`. */
  add(id: number, type: RequestType, resolve: (message: Message) => void, reject: (error: Error) => void, timeoutMs: number, onTimeout: () => Error): void {
    const timer = setTimeout(() => {
      this.#end(id);
      reject(onTimeout());
    }, timeoutMs);
    this.#pending.set(id, { type, resolve, reject, timer });
  }

  has(id: number): boolean {
    return this.#pending.has(id);
  }

  /** The request's kind, while it waits. */
  typeOf(id: number): RequestType | undefined {
    return this.#pending.get(id)?.type;
  }

  /** Schedules a copy of a waiting request (replacing the last schedule); a settled one gets none. */
  resendAfter(id: number, ms: number, send: () => void): void {
    const pending = this.#pending.get(id);
    if (pending) pending.resend = setTimeout(send, ms);
  }

  /** Resolves `id` with its answer; false when nobody waits for it (late, or never sent). */
  resolve(id: number, message: Message): boolean {
    const pending = this.#end(id);
    pending?.resolve(message);
    return pending !== undefined;
  }

  /** Rejects `id`; false when nobody waits for it. */
  reject(id: number, error: Error): boolean {
    const pending = this.#end(id);
    pending?.reject(error);
    return pending !== undefined;
  }

  /** Rejects every waiting request (the connection closed). */
  rejectAll(error: (id: number, type: RequestType) => Error): void {
    for (const id of [...this.#pending.keys()]) {
      const pending = this.#end(id)!;
      pending.reject(error(id, pending.type));
    }
  }

  #end(id: number): Pending | undefined {
    const pending = this.#pending.get(id);
    if (!pending) return undefined;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    clearTimeout(pending.resend);
    return pending;
  }
}
