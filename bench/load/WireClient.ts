/**
 * The leanest client that still speaks the session protocol: plain MessagePack frames written and
 * read directly on a ws socket, no SDK, no schema checks, no per-request timers, and frames masked
 * with a zero key (valid WebSocket, and ws then skips the XOR), so one load-generator core can
 * drive hundreds of 90 Hz sessions. The same client drives the raw echo server (`echo: true`):
 * there the answer is its own request, echoed.
 */
import { Packr, Unpackr } from 'msgpackr';
import WebSocket from 'ws';
import { PROTOCOL_VERSION, type PoseSample } from '../../protocol/index.js';

const packr = new Packr({ useRecords: false, moreTypes: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
const zeroMask = (mask: Buffer) => mask.fill(0);

export interface WireClientOptions {
  /** Talk to a raw ws echo server: no hello, and an answer is any message carrying the id. */
  echo?: boolean;
}

export class WireClient {
  readonly #ws: WebSocket;
  readonly #sentAt = new Map<number, number>();
  readonly #onAnswer: (rttMs: number) => void;
  readonly #onError: () => void;
  readonly #answerType: string | undefined;
  #nextId = 1;

  private constructor(ws: WebSocket, onAnswer: (rttMs: number) => void, onError: () => void, echo: boolean) {
    this.#ws = ws;
    this.#onAnswer = onAnswer;
    this.#onError = onError;
    this.#answerType = echo ? undefined : 'prediction';
    ws.on('message', (data: Buffer) => {
      const message = unpackr.unpack(data) as { t: string; id?: number };
      const sent = message.id === undefined ? undefined : this.#sentAt.get(message.id);
      if (sent === undefined) return;
      this.#sentAt.delete(message.id!);
      if (this.#answerType === undefined || message.t === this.#answerType) this.#onAnswer(performance.now() - sent);
      else this.#onError();
    });
  }

  /** Connects and (unless `echo`) completes the hello/welcome handshake; answers and errors go to the callbacks. */
  static async open(url: string, onAnswer: (rttMs: number) => void, onError: () => void, options: WireClientOptions = {}): Promise<WireClient> {
    const ws = new WebSocket(url, { perMessageDeflate: false, generateMask: zeroMask, skipUTF8Validation: true });
    await new Promise<void>((resolve, reject) => {
      ws.once('error', reject);
      ws.once('open', () => {
        if (options.echo) return resolve();
        ws.send(packr.pack({ t: 'hello', v: PROTOCOL_VERSION }));
        ws.once('message', () => resolve());
      });
    });
    return new WireClient(ws, onAnswer, onError, options.echo === true);
  }

  /** One frame: the pose and its predict in one message, as the SDK sends them. */
  predict(pose: PoseSample, horizonMs: number, predictor: string): void {
    const id = this.#nextId++;
    this.#sentAt.set(id, performance.now());
    this.#ws.send(packr.pack({ t: 'predict', id, horizonMs, device: pose.device, predictor, poses: [pose] }));
  }

  /** Requests sent and not answered yet; ones older than `olderThanMs` are forgotten and returned as lost. */
  lost(olderThanMs: number): number {
    const now = performance.now();
    let lost = 0;
    for (const [id, at] of this.#sentAt) {
      if (now - at <= olderThanMs) continue;
      this.#sentAt.delete(id);
      lost++;
    }
    return lost;
  }

  close(): void {
    this.#ws.terminate();
  }
}
