/**
 * One session's WebRTC signalling, independent of how the session frames its socket: `rtc*`
 * requests in, their answers out (for the session to send as it answers any request), `rtcLost`
 * notices through the host, and client data-channel messages handed to the host like frames from
 * its socket. This object owns the session's (at most one) RtcTransport; the session owns it and
 * closes it with itself.
 */
import { ErrorCode, RequestError } from '../../protocol/errors.js';
import type { AckMessage } from '../../protocol/messages.js';
import { validateRtc, type RtcEdgeChannel, type RtcMessageOf } from '../../protocol/webrtc.js';
import { TokenBucket } from '../TokenBucket.js';
import type { RtcTransport } from './RtcTransport.js';
import type { WorkerPool } from './WorkerPool.js';

export type RtcAnswer = RtcMessageOf<'rtcTransport'> | RtcMessageOf<'rtcDataConsumer'> | AckMessage;

export interface RtcSignallingHost {
  readonly sessionId: string;
  /** Sends a notice that answers no request (`rtcLost`) on the session socket. */
  notify(message: RtcMessageOf<'rtcLost'>): void;
  /** A wire message from a client data channel: handle it as one from the socket. */
  receive(data: Buffer): void;
}

export interface RtcSignallingOptions {
  /**
   * Transports a session may open per minute (each `rtcOpen` costs the worker ports, ICE and DTLS
   * state), default 6 with a burst of 3: enough to reopen after a worker death or an ICE failure.
   */
  opensPerMinute?: number;
  opensBurst?: number;
}

export class RtcSignalling {
  readonly #pool: WorkerPool;
  readonly #host: RtcSignallingHost;
  readonly #opens: TokenBucket;
  #transport: RtcTransport | undefined;
  #closed = false;

  constructor(pool: WorkerPool, host: RtcSignallingHost, options: RtcSignallingOptions = {}) {
    this.#pool = pool;
    this.#host = host;
    this.#opens = new TokenBucket((options.opensPerMinute ?? 6) / 60, options.opensBurst ?? 3);
  }

  get transport(): RtcTransport | undefined {
    return this.#transport;
  }

  /**
   * Serves one signalling request (validated again here: the caller may hand raw decoded values)
   * and resolves with its answer. Rejects with FieldError/RequestError carrying a code, for the
   * session to answer as `error { id, code }`.
   */
  async handle(value: unknown): Promise<RtcAnswer> {
    const message = validateRtc(value);
    if (this.#closed) throw new RequestError(ErrorCode.SHUTTING_DOWN, 'the session is closing');
    switch (message.t) {
      case 'rtcOpen':
        return this.#open(message);
      case 'rtcConnect':
        await this.#current().connect(message.dtlsParameters);
        return { t: 'ack', id: message.id };
      case 'rtcProduceData':
        await this.#current().produceData(message.channel, message.sctpStreamParameters);
        return { t: 'ack', id: message.id };
      case 'rtcConsumeData': {
        const sctpStreamParameters = await this.#current().consumeData(message.channel);
        return { t: 'rtcDataConsumer', id: message.id, channel: message.channel, sctpStreamParameters };
      }
      default:
        throw new RequestError(ErrorCode.BAD_REQUEST, `'${message.t}' is sent by the edge, not to it`);
    }
  }

  /** Sends on the edge's data channel; false when it is not open (the caller uses the socket). */
  send(channel: RtcEdgeChannel, data: Uint8Array): boolean {
    return this.#transport?.send(channel, data) ?? false;
  }

  close(): void {
    this.#closed = true;
    this.#transport?.close();
    this.#transport = undefined;
  }

  async #open(message: RtcMessageOf<'rtcOpen'>): Promise<RtcMessageOf<'rtcTransport'>> {
    if (!this.#opens.take()) throw new RequestError(ErrorCode.RATE_LIMITED, 'too many rtcOpen; wait, or stay on ws');
    // one transport per session: a new open replaces the old one (an ICE restart the simple way)
    this.#transport?.close();
    this.#transport = undefined;
    const transport = await this.#pool.createTransport(this.#host.sessionId);
    if (this.#closed) {
      transport.close();
      throw new RequestError(ErrorCode.SHUTTING_DOWN, 'the session is closing');
    }
    this.#transport = transport;
    transport.on('message', (_channel, data) => this.#host.receive(data));
    transport.on('lost', (error) => {
      if (this.#transport === transport) this.#transport = undefined;
      this.#host.notify({ t: 'rtcLost', code: error.code, reason: error.message.slice(0, 256), retryAfterMs: this.#pool.options.respawnDelayMs });
    });
    return { t: 'rtcTransport', id: message.id, ...transport.info() };
  }

  #current(): RtcTransport {
    if (!this.#transport || this.#transport.closed) throw new RequestError(ErrorCode.BAD_REQUEST, 'no WebRTC transport: send rtcOpen first');
    return this.#transport;
  }
}
