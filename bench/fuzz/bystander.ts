/**
 * The innocent session during a fuzz campaign: one well-behaved client on its own address that
 * sends its pose on a `predict` at 90 Hz and times every answer. A failure is a predict with no
 * answer within `timeoutMs`, an `error` answer, or its socket closing.
 */
import { WebSocket } from 'ws';
import { PROTOCOL_VERSION, decode, encode, type Message } from '../../protocol/index.js';
import { LAX_LIMITS } from '../lib/laxLimits.js';

export interface BystanderWindow {
  rttMs: number[];
  failures: number;
}

export class Bystander {
  #ws: WebSocket;
  #timer: NodeJS.Timeout | undefined;
  #next = 1;
  readonly #pending = new Map<number, { sent: number; timeout: NodeJS.Timeout }>();
  #window: BystanderWindow = { rttMs: [], failures: 0 };
  #closedUnexpectedly = false;
  /** take({ settled }) callers waiting for every predict sent before their call to end. */
  #settlers: { mark: number; resolve: () => void }[] = [];

  private constructor(ws: WebSocket) {
    this.#ws = ws;
  }

  static async start(url: string, rateHz = 90, timeoutMs = 1000): Promise<Bystander> {
    const ws = new WebSocket(url, { perMessageDeflate: false, localAddress: '127.0.0.1' });
    const b = new Bystander(ws);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('bystander: no welcome within 5 s; is the node up?')), 5000);
      ws.once('error', reject);
      ws.on('message', (data: Buffer) => {
        const m = decode(data, LAX) as Message;
        if (m.t === 'welcome') {
          clearTimeout(timer);
          resolve();
        }
        b.#onMessage(m);
      });
      ws.once('open', () => ws.send(encode({ t: 'hello', v: PROTOCOL_VERSION })));
    });
    ws.on('close', () => {
      if (b.#timer) b.#closedUnexpectedly = true;
    });
    b.#timer = setInterval(() => b.#tick(timeoutMs), 1000 / rateHz);
    return b;
  }

  /**
   * What happened since the last call, once every predict sent before this call has its answer
   * or timed out: a stall that began in this window (an attack's connection storm) is charged to
   * it, not to the next — answers are timed when they arrive, so without settling, predicts stuck
   * behind a set-up storm were answered in the attack's first second and counted there.
   */
  async settled(): Promise<BystanderWindow & { closed: boolean }> {
    const mark = this.#next;
    if (!this.#pendingBefore(mark)) await new Promise<void>((resolve) => this.#settlers.push({ mark, resolve }));
    return this.take();
  }

  /** What happened since the last call. */
  take(): BystanderWindow & { closed: boolean } {
    const w = this.#window;
    this.#window = { rttMs: [], failures: 0 };
    return { ...w, closed: this.#closedUnexpectedly };
  }

  /** Whether no predict sent before `mark` is still waiting. */
  #pendingBefore(mark: number): boolean {
    for (const id of this.#pending.keys()) if (id < mark) return false;
    return true;
  }

  #ended(): void {
    if (this.#settlers.length === 0) return;
    const waiting: { mark: number; resolve: () => void }[] = [];
    for (const s of this.#settlers) {
      if (this.#pendingBefore(s.mark)) s.resolve();
      else waiting.push(s);
    }
    this.#settlers = waiting;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const p of this.#pending.values()) clearTimeout(p.timeout);
    this.#ws.terminate();
  }

  #tick(timeoutMs: number): void {
    if (this.#ws.readyState !== this.#ws.OPEN) {
      this.#window.failures++;
      return;
    }
    const id = this.#next++;
    const t = performance.now();
    const angle = t / 1000;
    const pose = { device: 'head' as const, time: Math.round(t * 1000), position: [0, 1.6, 0] as [number, number, number], orientation: [0, Math.sin(angle / 2), 0, Math.cos(angle / 2)] as [number, number, number, number] };
    const timeout = setTimeout(() => {
      this.#pending.delete(id);
      this.#window.failures++;
      this.#ended();
    }, timeoutMs);
    this.#pending.set(id, { sent: t, timeout });
    this.#ws.send(encode({ t: 'predict', id, horizonMs: 20, poses: [pose] }));
  }

  #onMessage(m: Message): void {
    if (m.t !== 'prediction' && m.t !== 'error') return;
    const id = (m as { id?: number }).id;
    const pending = id === undefined ? undefined : this.#pending.get(id);
    if (!pending) return;
    clearTimeout(pending.timeout);
    this.#pending.delete(id!);
    if (m.t === 'error') this.#window.failures++;
    else this.#window.rttMs.push(performance.now() - pending.sent);
    this.#ended();
  }
}

const LAX = LAX_LIMITS;
