/**
 * The wire between the replica (primary) and its channel process: calls with request ids and
 * replies, each checked on arrival, so a confused or compromised peer process gets a coded
 * refusal, never a crash. Both directions use the same `IpcCalls`.
 *
 * Primary → child: `upgrade` (with the socket as the handle, on Node's IPC channel), and on the
 * call pipe (FramedPipe.ts) `init` and calls `tick`, `lastHeard`, `count`, `statusFlushMs`,
 * `usage`, `close`. Child → primary, on the call pipe: `ready`, `size`, calls `refresh`,
 * `refreshSlots`, `touch`, `touchMany`, `register`. Maps and typed arrays travel as themselves (V8
 * serialisation on both). With a memory registry a registration's reply carries the node's slot
 * handle, and the child sends its liveness batches by handle (`refreshSlots`: three typed arrays,
 * no id strings to deserialise in the replica's heap); without one, by id (`refresh`).
 */
import { isDiscoveryErrorCode, type DiscoveryErrorCode } from '../errors.js';

export type ChannelProcessErrorCode =
  /** A call got no reply within the timeout option. */
  | 'CHANNEL_TIMEOUT'
  /** A message or reply failed its shape or size check. */
  | 'CHANNEL_BAD_MESSAGE'
  /** The channel process exited (or was not running) while the call waited. */
  | 'CHANNEL_GONE';

export class ChannelProcessError extends Error {
  override readonly name = 'ChannelProcessError';
  readonly code: ChannelProcessErrorCode;
  constructor(code: ChannelProcessErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export type Reply = { t: 'reply'; id: number; ok: true; result: unknown } | { t: 'reply'; id: number; ok: false; code: string; message: string };
export interface Call {
  t: 'call';
  id: number;
  op: string;
  args: Record<string, unknown>;
}

/** Caps on what one IPC message may carry. */
export interface IpcLimits {
  /** Entries of one batch (a liveness round's refresh, a status flush, missing ids). Default 100,000. */
  maxEntries?: number;
  /** Characters of an id, op or error message. Default 1,024. */
  maxString?: number;
  /** Bytes of one call or reply frame on the call pipe (FramedPipe.ts); a bigger one restarts the child. Default 64 MiB. */
  maxFrameBytes?: number;
}

const bad = (message: string) => new ChannelProcessError('CHANNEL_BAD_MESSAGE', message);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export class IpcChecks {
  readonly maxEntries: number;
  readonly maxString: number;
  constructor(limits: IpcLimits = {}) {
    this.maxEntries = limits.maxEntries ?? 100_000;
    this.maxString = limits.maxString ?? 1024;
  }

  string(v: unknown, what: string): string {
    if (typeof v !== 'string' || v.length > this.maxString) throw bad(`${what} must be a string of at most ${this.maxString} characters`);
    return v;
  }

  finite(v: unknown, what: string): number {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`${what} must be a finite number`);
    return v;
  }

  ids(v: unknown, what: string): string[] {
    if (!Array.isArray(v) || v.length > this.maxEntries) throw bad(`${what} must be an array of at most ${this.maxEntries} ids`);
    for (const id of v) this.string(id, `${what}[]`);
    return v as string[];
  }

  /** A typed array of `type` with at most maxEntries entries, or exactly `length` when given. */
  typed<A extends Uint32Array | Float64Array>(v: unknown, type: { new (n: number): A; name: string }, what: string, length?: number): A {
    if (!(v instanceof type) || v.length > this.maxEntries || (length !== undefined && v.length !== length)) {
      throw bad(`${what} must be a ${type.name} of ${length === undefined ? `at most ${this.maxEntries}` : length} entries`);
    }
    return v;
  }

  /** Positions in a batch of `n` entries: an array of distinct-or-not integers in [0, n). */
  positions(v: unknown, n: number, what: string): number[] {
    if (!Array.isArray(v) || v.length > n) throw bad(`${what} must be an array of at most ${n} positions`);
    for (const i of v) if (!Number.isInteger(i) || i < 0 || i >= n) throw bad(`${what}[] must be an integer in [0, ${n})`);
    return v as number[];
  }

  /** A Map of id → `value`'s check, at most maxEntries. */
  map<V>(v: unknown, what: string, value: (v: unknown) => V): Map<string, V> {
    if (!(v instanceof Map) || v.size > this.maxEntries) throw bad(`${what} must be a Map of at most ${this.maxEntries} entries`);
    for (const [k, x] of v) {
      this.string(k, `${what} key`);
      value(x);
    }
    return v as Map<string, V>;
  }

  /** A message's envelope: a call or a reply with a sane id, or an event (`ready`, `size`, …). */
  envelope(m: unknown): Call | Reply | { t: string; [k: string]: unknown } {
    if (!isObject(m) || typeof m.t !== 'string') throw bad('a message must be an object with a string t');
    if (m.t === 'call' || m.t === 'reply') {
      if (!Number.isSafeInteger(m.id) || (m.id as number) <= 0) throw bad('a call or reply needs a positive integer id');
    }
    if (m.t === 'call') {
      this.string(m.op, 'op');
      if (!isObject(m.args)) throw bad('a call needs args');
    }
    if (m.t === 'reply' && m.ok !== true) {
      if (m.ok !== false) throw bad('a reply says ok true or false');
      this.string(m.code, 'code');
      this.string(m.message, 'message');
    }
    return m as Call | Reply;
  }
}

interface Pending {
  resolve: (v: any) => void;
  reject: (e: Error) => void;
  check: (v: unknown) => unknown;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Calls to the other process: each with an id, settled by its reply (checked by the caller's
 * `check`) or failed CHANNEL_TIMEOUT after `timeoutMs`, CHANNEL_GONE by failAll().
 */
export class IpcCalls {
  readonly #send: (m: Call) => boolean;
  readonly #timeoutMs: number;
  readonly #pending = new Map<number, Pending>();
  #next = 1;

  /** @param send sends the call; false (or a throw) only when the other process is gone. */
  constructor(send: (m: Call) => boolean, timeoutMs: number) {
    this.#send = send;
    this.#timeoutMs = timeoutMs;
  }

  call<T>(op: string, args: Record<string, unknown>, check: (v: unknown) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const id = this.#next++;
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new ChannelProcessError('CHANNEL_TIMEOUT', `no reply to ${op} within ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      this.#pending.set(id, { resolve, reject, check, timer });
      // a full pipe queues the frame; send() says false (or throws) only once the other process is gone
      let sent = false;
      try {
        sent = this.#send({ t: 'call', id, op, args });
      } catch {
        // the channel closed under us
      }
      if (!sent) this.#fail(id, new ChannelProcessError('CHANNEL_GONE', `the other process is gone; ${op} not sent`));
    });
  }

  /**
   * Settles the call `reply` answers. A failed call rejects with a DiscoveryError-shaped
   * `{ code, message }` through `toError`; a result that fails its check rejects CHANNEL_BAD_MESSAGE.
   */
  settle(reply: Reply, toError: (code: string, message: string) => Error): void {
    const p = this.#pending.get(reply.id);
    if (p === undefined) return; // timed out meanwhile, or never ours
    this.#pending.delete(reply.id);
    clearTimeout(p.timer);
    if (!reply.ok) return p.reject(toError(reply.code, reply.message));
    try {
      p.resolve(p.check(reply.result));
    } catch (err) {
      p.reject(err as Error);
    }
  }

  failAll(error: ChannelProcessError): void {
    for (const id of [...this.#pending.keys()]) this.#fail(id, error);
  }

  #fail(id: number, error: Error): void {
    const p = this.#pending.get(id);
    if (p === undefined) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    p.reject(error);
  }
}

/** A reply's error as the node channel needs it: a known discovery code stays itself. */
export function knownCode(code: string): DiscoveryErrorCode | undefined {
  return isDiscoveryErrorCode(code) ? code : undefined;
}
