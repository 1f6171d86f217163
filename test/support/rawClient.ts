/**
 * A deliberately unpolished client for protocol tests: sends arbitrary bytes over a real socket
 * and collects whatever the node answers, decoded, plus how the socket closed.
 */
import { WebSocket } from 'ws';
import { decode, encode, PROTOCOL_VERSION, type Message } from '../../protocol/index.js';
import { withTimeout } from './wait.js';
import { LAX_LIMITS } from '../../bench/lib/laxLimits.js';

export class RawClient {
  readonly received: Message[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly #ws: WebSocket;
  #waiters: (() => void)[] = [];

  static async open(url: string): Promise<RawClient> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await withTimeout(new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), `connect ${url}`);
    return new RawClient(ws);
  }

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data: Buffer) => {
      this.received.push(decode(data, { ...DECODE_ANYTHING }));
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  sendBytes(bytes: Uint8Array | string): void {
    this.#ws.send(bytes);
  }

  send(message: Message): void {
    this.#ws.send(encode(message));
  }

  async hello(): Promise<Message> {
    this.send({ t: 'hello', v: PROTOCOL_VERSION });
    return this.next((m) => m.t === 'welcome');
  }

  /** The first received message (past or future) matching `match`. */
  async next(match: (m: Message) => boolean, timeoutMs = 2000): Promise<Message> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.received.find(match);
      if (found) return found;
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no matching message within ${timeoutMs} ms; got ${this.received.length} others (${[...new Set(this.received.map((m) => m.t))].join(', ') || 'nothing'})`);
      await withTimeout(new Promise<void>((resolve) => this.#waiters.push(resolve)), 'next message', left).catch(() => {});
    }
  }

  close(): void {
    this.#ws.terminate();
  }
}

const DECODE_ANYTHING = LAX_LIMITS;
