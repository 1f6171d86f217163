/**
 * The leanest client that still speaks the session protocol: plain MessagePack frames written and
 * read directly on a ws socket, no SDK, no schema checks, no per-request timers. The load bench
 * runs it beside the SDK on the same node so the node's share of a round trip can be told apart
 * from the client's own (in a real fleet each headset runs one session; here one process runs
 * them all, and its event loop is part of every number).
 */
import { Packr, Unpackr } from 'msgpackr';
import WebSocket from 'ws';
import { PROTOCOL_VERSION, type PoseSample } from '../../protocol/index.js';

const packr = new Packr({ useRecords: false, moreTypes: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

export class WireClient {
  readonly #ws: WebSocket;
  readonly #sentAt = new Map<number, number>();
  readonly #onAnswer: (rttMs: number) => void;
  readonly #onError: () => void;
  #nextId = 1;

  private constructor(ws: WebSocket, onAnswer: (rttMs: number) => void, onError: () => void) {
    this.#ws = ws;
    this.#onAnswer = onAnswer;
    this.#onError = onError;
    ws.on('message', (data: Buffer) => {
      const message = unpackr.unpack(data) as { t: string; id?: number };
      const sent = message.id === undefined ? undefined : this.#sentAt.get(message.id);
      if (sent === undefined) return;
      this.#sentAt.delete(message.id!);
      if (message.t === 'prediction') this.#onAnswer(performance.now() - sent);
      else this.#onError();
    });
  }

  /** Connects and completes the hello/welcome handshake; answers and errors go to the callbacks. */
  static async open(url: string, onAnswer: (rttMs: number) => void, onError: () => void): Promise<WireClient> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('error', reject);
      ws.once('open', () => {
        ws.send(packr.pack({ t: 'hello', v: PROTOCOL_VERSION }));
        ws.once('message', () => resolve());
      });
    });
    return new WireClient(ws, onAnswer, onError);
  }

  /** One frame: the pose and its predict in one message, as the SDK sends them. */
  predict(pose: PoseSample, horizonMs: number, predictor: string): void {
    const id = this.#nextId++;
    this.#sentAt.set(id, performance.now());
    this.#ws.send(packr.pack({ t: 'predict', id, horizonMs, device: pose.device, predictor, poses: [pose] }));
  }

  close(): void {
    this.#ws.terminate();
  }
}
