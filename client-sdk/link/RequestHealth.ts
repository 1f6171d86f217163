/**
 * Judges a node by its answers to requests, where `LinkMonitor` judges it by its pongs. A node can
 * answer every ping and still be useless: it answers requests with ids we never sent (broken or
 * hostile), or not at all. Pings alone would keep a session on such a node forever, every
 * prediction answered locally; this judge counts those failures and says `fault` past a
 * threshold, so the owner leaves the node like one whose pings stopped.
 */
import { ErrorCode, InvalidStateError, ProtocolError, RequestError, type RequestType } from '../../protocol/index.js';
import { EnhancedEventEmitter } from '../../protocol/EnhancedEventEmitter.js';
import { NodeFaultCode } from '../errors.js';

export interface RequestHealthOptions {
  /**
   * A `predict` with no answer after this long counts as unanswered, ms. Predictions are the one
   * request whose cost does not grow with its input; a node that cannot answer one in a second
   * is not serving. Other kinds (render, infer, scene) count only when they time out. @default 1000
   */
  unansweredAfterMs: number;
  /** Unanswered requests in a row (no answer to any request between them) that make a fault. @default 3 */
  maxUnanswered: number;
  /**
   * Answers carrying an id this connection never sent, or answering a request with the wrong kind
   * of message, that make a fault. An honest node never sends one; a few are allowed so a single
   * corrupted frame does not cost a node. @default 3
   */
  maxWrongIds: number;
}

export const DEFAULT_REQUEST_HEALTH: RequestHealthOptions = { unansweredAfterMs: 1000, maxUnanswered: 3, maxWrongIds: 3 };

export interface NodeFault {
  code: NodeFaultCode;
  /** What was counted, for logs. */
  detail: string;
}

export type RequestHealthEvents = {
  /** The threshold was crossed (fired once; the judge then stops counting). */
  fault: [fault: NodeFault];
};

export class RequestHealth extends EnhancedEventEmitter<RequestHealthEvents> {
  readonly #o: RequestHealthOptions;
  #unansweredInARow = 0;
  #wrongIds = 0;
  #faulted = false;

  constructor(options: Partial<RequestHealthOptions> = {}) {
    super();
    this.#o = { ...DEFAULT_REQUEST_HEALTH, ...options };
  }

  get faulted(): boolean {
    return this.#faulted;
  }

  /** Counts of what was seen so far (diagnostics, tests). */
  get counts(): { unansweredInARow: number; wrongIds: number } {
    return { unansweredInARow: this.#unansweredInARow, wrongIds: this.#wrongIds };
  }

  /** Watches one request's answer; returns the same promise's outcome. */
  track<T>(kind: RequestType, answer: Promise<T>): Promise<T> {
    let counted = false;
    const unanswered = () => {
      if (counted) return;
      counted = true;
      this.#unanswered(kind);
    };
    const overdue = kind === 'predict' ? setTimeout(unanswered, this.#o.unansweredAfterMs) : undefined;
    (overdue as { unref?: () => void } | undefined)?.unref?.();
    return answer.then(
      (value) => {
        clearTimeout(overdue);
        this.#unansweredInARow = 0;
        return value;
      },
      (error: unknown) => {
        clearTimeout(overdue);
        if (error instanceof RequestError && error.code === ErrorCode.TIMEOUT) unanswered();
        else if (error instanceof ProtocolError && error.code === ErrorCode.BAD_MESSAGE) this.wrongId(`${kind} answered with the wrong kind of message`);
        else if (error instanceof RequestError) this.#unansweredInARow = 0; // the node answered: "no"
        else if (!(error instanceof InvalidStateError)) this.#unansweredInARow = 0;
        throw error;
      },
    );
  }

  /** An answer for an id this connection never sent (or of the wrong kind). */
  wrongId(detail: string): void {
    if (this.#faulted) return;
    if (++this.#wrongIds >= this.#o.maxWrongIds) this.#fault(NodeFaultCode.WRONG_IDS, `${this.#wrongIds} answers with ids never sent (latest: ${detail})`);
  }

  #unanswered(kind: RequestType): void {
    if (this.#faulted) return;
    if (++this.#unansweredInARow >= this.#o.maxUnanswered) this.#fault(NodeFaultCode.REQUESTS_UNANSWERED, `${this.#unansweredInARow} requests in a row unanswered (latest: ${kind}) while pings were answered`);
  }

  #fault(code: NodeFaultCode, detail: string): void {
    this.#faulted = true;
    this.safeEmit('fault', { code, detail });
  }
}
