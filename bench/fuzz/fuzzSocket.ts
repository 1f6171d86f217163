/**
 * What every websocket fuzzer does the same way: open a connection from one of the fuzz
 * addresses, note when the server closes it, and wait — never sleep — until a condition on the
 * answers holds (checked after every event) or the stall timeout says the server swallowed it.
 * `fanOut` runs `concurrency` workers over the fuzz addresses; `done` is the budget check.
 */
import { WebSocket, type ClientOptions } from 'ws';
import type { EntryCounts, FuzzBudget } from './entries.js';

/** A probe unanswered this long is a stall. */
export const STALL_MS = 5000;

export const bump = (counts: Record<string, number>, key: string) => (counts[key] = (counts[key] ?? 0) + 1);
export const done = (c: EntryCounts, b: FuzzBudget) => c.frames >= b.frames || performance.now() > b.deadline;
export const newCounts = (): EntryCounts => ({ frames: 0, closes: 0, stalls: 0, answers: {} });

export class FuzzSocket {
  readonly ws: WebSocket;
  /** The server closed the connection, or a handler saw its last word (a fatal error). */
  closed = false;
  #wake: (() => void) | undefined;
  readonly #stallMs: number;

  /** `onMessage` reads each frame (it may set `closed`); waiting conditions are checked after it. */
  constructor(url: string, options: ClientOptions, onMessage: (data: Buffer, socket: FuzzSocket) => void, stallMs = STALL_MS) {
    this.ws = new WebSocket(url, options);
    this.#stallMs = stallMs;
    this.ws.on('message', (data: Buffer) => {
      onMessage(data, this);
      this.#wake?.();
    });
    this.ws.on('close', () => {
      this.closed = true;
      this.#wake?.();
    });
    this.ws.on('error', () => {});
    this.ws.on('open', () => this.#wake?.());
  }

  /** True once `cond` holds, false when the stall timeout passes first. One wait at a time. */
  until(cond: () => boolean): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve(false);
      }, this.#stallMs);
      const check = () => {
        if (!cond()) return;
        clearTimeout(timer);
        this.#wake = undefined;
        resolve(true);
      };
      this.#wake = check;
      check();
    });
  }

  send(frame: Buffer | Uint8Array | string): void {
    this.ws.send(frame);
  }

  terminate(): void {
    this.ws.terminate();
  }
}

/** `budget.concurrency` workers, each given the next fuzz address (round robin) and its index. */
export async function fanOut(budget: FuzzBudget, worker: (localAddress: string, index: number) => Promise<void>): Promise<void> {
  await Promise.all(Array.from({ length: budget.concurrency }, (_, i) => worker(budget.addresses[i % budget.addresses.length]!, i)));
}
