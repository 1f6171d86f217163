/**
 * A loopback UDP relay between ffmpeg's RTP output and the track's PlainTransport that makes one
 * continuous RTP stream out of the encoder processes VideoSender runs one after another:
 *
 *   ffmpeg #1 ─┐
 *   ffmpeg #2 ─┼→ RtpRelay (127.0.0.1, rewrites SSRC, sequence, timestamp) → PlainTransport
 *   ffmpeg #3 ─┘
 *
 * Why: ffmpeg cannot change its bitrate live and cannot be told to send a keyframe, so every rate
 * change and every PLI starts a new process, and ffmpeg 5.1's RTP muxer starts each one at its own
 * timestamp base. Chromium's playout timing maps RTP timestamps to arrival times: a base that jumps
 * looks like a frame from the far past or future (held or dropped), and timestamps 1/fps apart on
 * frames that come at the renderer's uneven pace look like jitter it buffers for (82 ms held per
 * frame in bench webrtc-video). Here every packet leaves with
 *   - one SSRC for the track's life (the producer's),
 *   - a sequence number continuing the last one forwarded when a new encoder starts (gaps inside
 *     one encoder's stream are kept, so the receiver still NACKs real losses),
 *   - a timestamp on the 90 kHz clock from the monotonic clock when the encoder took the frame
 *     (`frame()`), strictly increasing across encoders,
 * and its marker bit, payload type and payload untouched.
 *
 * It listens on 127.0.0.1 only and forwards only what looks like the current encoder's RTP: version
 * 2, the expected payload type and SSRC, a header that fits, at most `maxPacketBytes`. Anything
 * else is counted and dropped, never thrown.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { Logger } from '../../../protocol/Logger.js';

const logger = new Logger('webrtc:relay');

/** RTP timestamp ticks per ms (H.264's 90 kHz clock). */
const TICKS_PER_MS = 90;
/** Input timestamps remembered with their output ones, for a packet that comes after a later frame's. */
const REMEMBERED_FRAMES = 8;

export interface RtpRelayOptions {
  /** Where the packets go: the PlainTransport's tuple (comedia: it learns the relay's address from the first packet). */
  target: { host: string; port: number };
  /** The SSRC every forwarded packet carries (the producer's). */
  ssrc: number;
  /** The only payload type forwarded (ffmpeg's `-payload_type`). */
  payloadType: number;
  /** Largest packet forwarded, bytes (ffmpeg's `pkt_size`); bigger ones are dropped. */
  maxPacketBytes: number;
  /**
   * Receive buffer of the socket ffmpeg sends to, bytes, default 2 MiB (the kernel caps it at
   * net.core.rmem_max): the relay runs on the node's event loop, and a keyframe's burst of packets
   * must wait there, not be dropped, while a render or a message holds the loop for a few ms.
   */
  recvBufferBytes?: number;
  /** Frame times waiting for their first packet, default 64 (a stalled encoder cannot grow it without bound). */
  maxQueuedFrames?: number;
  /** Monotonic clock, ms, default `performance.now` (tests pass their own). */
  clock?: () => number;
  /**
   * What a frame's timestamp says, default 'taken':
   *  - 'taken': when the encoder took the frame (`frame()`), the frame's capture time for the receiver;
   *  - 'sent': when the frame's first packet reached the relay (after encoding), so the receiver
   *    sees no encode-time jitter;
   *  - 'fps': 90 000 / `fps` ticks after the frame before (what ffmpeg writes; the old behaviour,
   *    kept as the bench's baseline).
   */
  stamp?: RtpStamp;
  /** Frame rate the 'fps' stamps assume, default 30. */
  fps?: number;
}

export const RTP_STAMPS = ['taken', 'sent', 'fps'] as const;
export type RtpStamp = (typeof RTP_STAMPS)[number];

/** Why packets were dropped, counted. */
export interface RtpRelayDrops {
  /** Not RTP version 2, a header longer than the packet, or shorter than 12 bytes. */
  malformed: number;
  /** Over maxPacketBytes. */
  tooBig: number;
  /** Another payload type (RTCP on a muxed port has 72–76). */
  payloadType: number;
  /** Not the current encoder's SSRC (a finished encoder's straggler, or a stranger on loopback). */
  source: number;
  /** From an address other than 127.0.0.1. */
  address: number;
  /** A frame older than the ones remembered. */
  stale: number;
}

interface Frame {
  input: number;
  output: number;
}

/** a is after b on a `bits`-bit wrapping counter. */
function isNewer(a: number, b: number, bits: 16 | 32): boolean {
  const half = bits === 16 ? 0x8000 : 0x80000000;
  const diff = bits === 16 ? (a - b) & 0xffff : (a - b) >>> 0;
  return diff !== 0 && diff < half;
}

export class RtpRelay {
  readonly #in: Socket;
  readonly #out: Socket;
  readonly #options: Required<RtpRelayOptions>;
  /** Output timestamp = tsBase + ms × 90 (a random base, as RFC 3550 asks). */
  readonly #tsBase = Math.floor(Math.random() * 2 ** 32);
  /** Frame times, ms, in the order the current encoder took them. */
  #queued: number[] = [];
  #source: number | undefined;
  /** Output seq = input seq + offset, set by the current source's first packet. */
  #seqOffset: number | undefined;
  #nextSeq = Math.floor(Math.random() * 0x10000);
  #lastTimestamp: number | undefined;
  /** The current source's frames seen last, newest last. */
  #frames: Frame[] = [];
  #closed = false;
  readonly stats: { forwarded: number; frames: number; dropped: RtpRelayDrops } = {
    forwarded: 0,
    frames: 0,
    dropped: { malformed: 0, tooBig: 0, payloadType: 0, source: 0, address: 0, stale: 0 },
  };

  /** Binds both loopback sockets (port 0). */
  static async start(options: RtpRelayOptions): Promise<RtpRelay> {
    const bind = (socket: Socket) =>
      new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, '127.0.0.1', () => {
          socket.off('error', reject);
          resolve();
        });
      });
    const input = createSocket('udp4');
    const output = createSocket('udp4');
    try {
      await Promise.all([bind(input), bind(output)]);
    } catch (err) {
      input.close();
      output.close();
      throw err;
    }
    try {
      input.setRecvBufferSize(options.recvBufferBytes ?? 2 * 1024 * 1024);
    } catch (err) {
      // the default buffer still works; bursts just have less room
      logger.debug(`receive buffer: ${(err as Error).message}`);
    }
    return new RtpRelay(input, output, options);
  }

  private constructor(input: Socket, output: Socket, options: RtpRelayOptions) {
    this.#in = input;
    this.#out = output;
    this.#options = {
      ...options,
      recvBufferBytes: options.recvBufferBytes ?? 2 * 1024 * 1024,
      maxQueuedFrames: options.maxQueuedFrames ?? 64,
      clock: options.clock ?? (() => performance.now()),
      stamp: options.stamp ?? 'taken',
      fps: options.fps ?? 30,
    };
    input.on('message', (packet, from) => this.#onPacket(packet, from));
    // a socket error (ICMP unreachable while the transport closes) is no reason to stop the process
    input.on('error', (err) => logger.debug(`input: ${err.message}`));
    output.on('error', (err) => logger.debug(`output: ${err.message}`));
    // the PlainTransport's RTCP (receiver reports of the loopback leg) comes back here: not ours to use
    output.on('message', () => {});
  }

  /** Where the encoder sends its RTP (127.0.0.1: nothing off this host can reach the relay). */
  get host(): string {
    return this.#in.address().address;
  }

  get port(): number {
    return this.#in.address().port;
  }

  /**
   * From now on packets come from a new encoder sending with SSRC `ssrc`: the previous encoder's
   * frames still waiting are forgotten and its stragglers dropped; its first packet continues the
   * sequence after the last one forwarded.
   */
  source(ssrc: number): void {
    this.#source = ssrc >>> 0;
    this.#seqOffset = undefined;
    this.#queued = [];
    this.#frames = [];
  }

  /** The current encoder took its next frame at `at` (ms on the relay's clock, default now). */
  frame(at = this.#options.clock()): void {
    this.#queued.push(at);
    // frames whose packets never came (an encoder that hung) must not stamp later ones forever
    if (this.#queued.length > this.#options.maxQueuedFrames) this.#queued.shift();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#in.close();
    this.#out.close();
  }

  #onPacket(packet: Buffer, from: RemoteInfo): void {
    if (this.#closed) return;
    const drop = this.#check(packet, from);
    if (drop) {
      this.stats.dropped[drop]++;
      return;
    }
    const ssrc = packet.readUInt32BE(8);
    if (ssrc !== this.#source) {
      this.stats.dropped.source++;
      return;
    }
    const inputTs = packet.readUInt32BE(4);
    const output = this.#timestampFor(inputTs);
    if (output === undefined) {
      this.stats.dropped.stale++;
      return;
    }
    const inputSeq = packet.readUInt16BE(2);
    this.#seqOffset ??= (this.#nextSeq - inputSeq) & 0xffff;
    const seq = (inputSeq + this.#seqOffset) & 0xffff;
    if (!isNewer(this.#nextSeq, seq, 16)) this.#nextSeq = (seq + 1) & 0xffff;
    // a copy: the input buffer is the socket's, and the header is all that changes
    const out = Buffer.from(packet);
    out.writeUInt16BE(seq, 2);
    out.writeUInt32BE(output, 4);
    out.writeUInt32BE(this.#options.ssrc >>> 0, 8);
    this.#out.send(out, this.#options.target.port, this.#options.target.host);
    this.stats.forwarded++;
  }

  #check(packet: Buffer, from: RemoteInfo): keyof RtpRelayDrops | undefined {
    if (from.address !== '127.0.0.1') return 'address';
    if (packet.length > this.#options.maxPacketBytes) return 'tooBig';
    if (packet.length < 12 || packet[0]! >> 6 !== 2) return 'malformed';
    let header = 12 + (packet[0]! & 0x0f) * 4;
    if (packet[0]! & 0x10) {
      // header extension: 4 bytes of profile and length (in 32-bit words), then the words
      if (packet.length < header + 4) return 'malformed';
      header += 4 + packet.readUInt16BE(header + 2) * 4;
    }
    const padding = packet[0]! & 0x20 ? packet[packet.length - 1]! : 0;
    if (header + padding > packet.length) return 'malformed';
    if ((packet[1]! & 0x7f) !== this.#options.payloadType) return 'payloadType';
    return undefined;
  }

  /** The output timestamp of the frame with input timestamp `input` (a new frame takes the next frame time). */
  #timestampFor(input: number): number | undefined {
    const newest = this.#frames.at(-1);
    if (newest && newest.input === input) return newest.output;
    if (newest && !isNewer(input, newest.input, 32)) return this.#frames.find((f) => f.input === input)?.output;
    const taken = this.#queued.shift();
    const { stamp, fps } = this.#options;
    const at = stamp === 'taken' && taken !== undefined ? taken : this.#options.clock();
    let output =
      stamp === 'fps' && this.#lastTimestamp !== undefined
        ? (this.#lastTimestamp + Math.round((TICKS_PER_MS * 1000) / fps)) >>> 0
        : (this.#tsBase + Math.round(at * TICKS_PER_MS)) >>> 0;
    // strictly increasing: two frames taken in the same 1/90 ms, or a frame time older than the
    // last frame's (a queued time from before a restart), still go out in order
    if (this.#lastTimestamp !== undefined && !isNewer(output, this.#lastTimestamp, 32)) output = (this.#lastTimestamp + 1) >>> 0;
    this.#lastTimestamp = output;
    this.#frames.push({ input, output });
    if (this.#frames.length > REMEMBERED_FRAMES) this.#frames.shift();
    this.stats.frames++;
    return output;
  }
}
