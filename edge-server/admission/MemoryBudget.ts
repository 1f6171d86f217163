/**
 * Decoded-memory budgets for scenes, per session and per node, reserved *before* anything is
 * decoded (issue #15, attack 3: a 23 kB glTF with 16 textures sharing one 2048² PNG cost
 * +285 MB RSS; the 4-scene cap was checked before parsing, but nothing counted decoded bytes).
 *
 * `reserve(session, bytes)` either returns a reservation (released when the scene is dropped or
 * the session goes) or throws a `RequestError`: `TOO_LARGE` when the session's own budget cannot
 * hold it (the client asked for too much), `BUSY` when the node's budget is full (try later or
 * elsewhere). The request is answered; the session goes on.
 */
import { ErrorCode, RequestError } from '../../protocol/index.js';

export interface MemoryBudgetOptions {
  /** Decoded bytes one session may hold. @default 256 MiB (env EDGE_OFFLOAD_SESSION_MEMORY_BYTES) */
  perSessionBytes?: number;
  /** Decoded bytes all sessions together may hold. @default 1 GiB (env EDGE_OFFLOAD_NODE_MEMORY_BYTES) */
  perNodeBytes?: number;
}

export const DEFAULT_SESSION_MEMORY_BYTES = 256 << 20;
export const DEFAULT_NODE_MEMORY_BYTES = 1 << 30;

export interface MemoryReservation {
  readonly bytes: number;
  /** Idempotent. */
  release(): void;
}

export class MemoryBudget {
  readonly perSessionBytes: number;
  readonly perNodeBytes: number;
  readonly #bySession = new Map<string, Set<{ bytes: number }>>();
  #used = 0;

  constructor(options: MemoryBudgetOptions = {}) {
    this.perSessionBytes = options.perSessionBytes ?? envBytes('EDGE_OFFLOAD_SESSION_MEMORY_BYTES', DEFAULT_SESSION_MEMORY_BYTES);
    this.perNodeBytes = options.perNodeBytes ?? envBytes('EDGE_OFFLOAD_NODE_MEMORY_BYTES', DEFAULT_NODE_MEMORY_BYTES);
    if (!(this.perSessionBytes > 0 && this.perNodeBytes >= this.perSessionBytes)) throw new TypeError('memory budget: need 0 < perSessionBytes <= perNodeBytes');
  }

  get usedBytes(): number {
    return this.#used;
  }

  sessionBytes(sessionId: string): number {
    let n = 0;
    for (const r of this.#bySession.get(sessionId) ?? []) n += r.bytes;
    return n;
  }

  reserve(sessionId: string, bytes: number, what = 'scene'): MemoryReservation {
    if (!Number.isFinite(bytes) || bytes < 0) throw new TypeError('bytes must be a non-negative number');
    const held = this.sessionBytes(sessionId);
    if (held + bytes > this.perSessionBytes) {
      throw new RequestError(ErrorCode.TOO_LARGE, `${what} needs ${mib(bytes)} decoded; this session holds ${mib(held)} of its ${mib(this.perSessionBytes)}`);
    }
    if (this.#used + bytes > this.perNodeBytes) {
      throw new RequestError(ErrorCode.BUSY, `${what} needs ${mib(bytes)} decoded; the node has ${mib(this.perNodeBytes - this.#used)} left`);
    }
    const entry = { bytes };
    let set = this.#bySession.get(sessionId);
    if (!set) this.#bySession.set(sessionId, (set = new Set()));
    set.add(entry);
    this.#used += bytes;
    let released = false;
    return {
      bytes,
      release: () => {
        if (released) return;
        released = true;
        this.#used -= bytes;
        const s = this.#bySession.get(sessionId);
        s?.delete(entry);
        if (s?.size === 0) this.#bySession.delete(sessionId);
      },
    };
  }

  /** Frees everything a session held (it closed). */
  releaseSession(sessionId: string): void {
    for (const r of this.#bySession.get(sessionId) ?? []) this.#used -= r.bytes;
    this.#bySession.delete(sessionId);
  }
}

const mib = (bytes: number) => `${(bytes / (1 << 20)).toFixed(1)} MiB`;

function envBytes(name: string, fallback: number): number {
  const n = Number(process.env[name]);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}
