/**
 * A load-generator session that costs a fraction of WireClient per frame, so that one core of a
 * 2-core machine can drive a node on the other core and a half without measuring itself.
 *
 * Where WireClient's ~40 µs per frame went (ws client library, msgpackr pack + unpack,
 * SimulatedHeadset, a Map per client) and what is done here instead:
 * - the WebSocket handshake is written by hand once over `net` (and its Sec-WebSocket-Accept
 *   checked); after it the socket carries raw frames, no ws library on either direction;
 * - every frame is prebuilt when the session opens (WebSocket header, zero masking key, the
 *   MessagePack `predict` with one pose from SimulatedHeadset): a ring of `frames` poses played
 *   forwards then backwards (a head turning back, never a jump the node would call a reset), and
 *   per send only the request id and the pose time are patched in place (both written as uint32
 *   by construction) before one `socket.write`;
 * - answers are read through `onread` into one buffer shared by every session (no Buffer per
 *   read), and scanned just far enough to read `t` and `id` (the rest of the map is skipped,
 *   whatever order the node writes its keys in); the round trip comes from a ring of send times
 *   indexed by id. Nothing is allocated per frame.
 *
 * Same session protocol as WireClient: `hello` → `welcome`, then `predict` (pose and predict in
 * one message) answered by `prediction` with the same id; `echo: true` talks to the raw echo
 * server instead (no hello, the answer is the request itself, echoed).
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { Packr } from 'msgpackr';
import { PROTOCOL_VERSION } from '../../protocol/index.js';
import type { SimulatedHeadset } from '../../client-sdk/node.js';

const packr = new Packr({ useRecords: false, moreTypes: false });
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Send times kept per session: an answer over RING frames late is counted lost, not matched. */
const RING = 256;
/** Placeholders that msgpackr writes as uint32 (0xce + 4 bytes): found once, patched per send. */
const ID_MARK = 0xfffffff1;
const TIME_MARK = 0xfffffff2;
/** One read buffer for every session: onread callbacks run one at a time and parse in place. */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
const WELCOME = Buffer.from('welcome');
const PREDICTION = Buffer.from('prediction');

/** Where a session's answers go: the round trip of each matched answer, and the unexpected ones. */
export interface RawSink {
  /** A matched answer; `sentAt` is performance.now() when its frame was written. */
  answer(sentAt: number, now: number): void;
  /** An answer that was not the expected type (an `error`, say), or named no id we sent. */
  unexpected(): void;
}

export interface RawWireClientOptions {
  /** Talk to a raw ws echo server: no hello, and an answer is any message carrying the id. */
  echo?: boolean;
  /** Prebuilt poses per session, played forwards then backwards. */
  frames?: number;
  /** Period between the prebuilt poses, ms (1000 / hz). */
  periodMs?: number;
  horizonMs?: number;
  predictor?: string;
  /** Called with every answer's MessagePack payload (correctness checks only: it copies). */
  inspect?: (payload: Buffer) => void;
  /** Handshake deadline, ms. */
  timeoutMs?: number;
}

/** A client frame: FIN + binary, masked with the zero key (so XOR-ing is a no-op), payload. */
function clientFrame(payload: Uint8Array, opcode = 0x2): Buffer {
  const n = payload.length;
  const head = n < 126 ? 6 : 8;
  const frame = Buffer.alloc(head + n);
  frame[0] = 0x80 | opcode;
  if (n < 126) frame[1] = 0x80 | n;
  else {
    if (n > 0xffff) throw new Error('RawWireClient frames stay under 64 kB');
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(n, 2);
  }
  // bytes head-4 … head-1: the masking key, zero
  frame.set(payload, head);
  return frame;
}

function offsetOfUint32(frame: Buffer, value: number): number {
  const mark = Buffer.from([0xce, value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff]);
  const at = frame.indexOf(mark);
  if (at < 0 || frame.indexOf(mark, at + 1) >= 0) throw new Error('RawWireClient: placeholder not found exactly once in the prebuilt frame');
  return at + 1;
}

// the scan's results, module-level so a scan allocates nothing
let scannedType = 0; // 0: no t, 1: the expected type, 2: another
let scannedId = -1;

/** Skips one MessagePack value at `p`; returns the offset after it (or -1 on a type not expected in answers). */
function skip(b: Buffer, p: number): number {
  const h = b[p++]!;
  if (h <= 0x7f || h >= 0xe0 || h === 0xc0 || h === 0xc2 || h === 0xc3) return p;
  if ((h & 0xe0) === 0xa0) return p + (h & 0x1f);
  if ((h & 0xf0) === 0x90 || (h & 0xf0) === 0x80) {
    const n = (h & 0x0f) * ((h & 0xf0) === 0x80 ? 2 : 1);
    for (let i = 0; i < n && p >= 0; i++) p = skip(b, p);
    return p;
  }
  switch (h) {
    case 0xcc: case 0xd0: return p + 1;
    case 0xcd: case 0xd1: return p + 2;
    case 0xce: case 0xd2: case 0xca: return p + 4;
    case 0xcf: case 0xd3: case 0xcb: return p + 8;
    case 0xd9: case 0xc4: return p + 1 + b[p]!;
    case 0xda: case 0xc5: return p + 2 + b.readUInt16BE(p);
    case 0xdb: case 0xc6: return p + 4 + b.readUInt32BE(p);
    case 0xdc: case 0xde: {
      const n = b.readUInt16BE(p) * (h === 0xde ? 2 : 1);
      p += 2;
      for (let i = 0; i < n && p >= 0; i++) p = skip(b, p);
      return p;
    }
    default: return -1;
  }
}

/** Reads `t` (compared with `expected`, or any when undefined) and `id` of the map at `p`. */
function scanAnswer(b: Buffer, p: number, end: number, expected: Buffer | undefined): void {
  scannedType = 0;
  scannedId = -1;
  const h = b[p++]!;
  let n: number;
  if ((h & 0xf0) === 0x80) n = h & 0x0f;
  else if (h === 0xde) {
    n = b.readUInt16BE(p);
    p += 2;
  } else return;
  for (let i = 0; i < n && p >= 0 && p < end; i++) {
    const kh = b[p]!;
    if ((kh & 0xe0) !== 0xa0) return; // keys are short strings in this protocol
    const kl = kh & 0x1f;
    if (kl === 1 && b[p + 1] === 0x74) {
      // "t": a short string
      p += 2;
      const vh = b[p]!;
      const vl = (vh & 0xe0) === 0xa0 ? vh & 0x1f : vh === 0xd9 ? b[p + 1]! : -1;
      const start = p + ((vh & 0xe0) === 0xa0 ? 1 : 2);
      scannedType = expected === undefined || (vl === expected.length && b.compare(expected, 0, vl, start, start + vl) === 0) ? 1 : 2;
      p = skip(b, p);
    } else if (kl === 2 && b[p + 1] === 0x69 && b[p + 2] === 0x64) {
      // "id": a uint
      p += 3;
      const vh = b[p]!;
      scannedId = vh <= 0x7f ? vh : vh === 0xcc ? b[p + 1]! : vh === 0xcd ? b.readUInt16BE(p + 1) : vh === 0xce ? b.readUInt32BE(p + 1) : -1;
      p = skip(b, p);
    } else p = skip(b, p + 1 + kl);
    if (scannedType !== 0 && scannedId !== -1) return;
  }
}

export class RawWireClient {
  readonly #socket: net.Socket;
  readonly #frames: Buffer[] = [];
  readonly #idOffset: number[] = [];
  readonly #timeOffset: number[] = [];
  readonly #sentAt = new Float64Array(RING);
  readonly #sentId = new Uint32Array(RING);
  readonly #sink: RawSink;
  readonly #expected: Buffer | undefined;
  readonly #inspect: ((payload: Buffer) => void) | undefined;
  #next = 0;
  #nextId = 1;
  /** Bytes of a frame split across reads (rare: answers are small), else undefined. */
  #partial: Buffer | undefined;
  /** Frames written, answers matched, answers unexpected. */
  sent = 0;
  answered = 0;
  unexpected = 0;

  private constructor(socket: net.Socket, sink: RawSink, options: RawWireClientOptions, headset: SimulatedHeadset) {
    this.#socket = socket;
    this.#sink = sink;
    this.#expected = options.echo ? undefined : PREDICTION;
    this.#inspect = options.inspect;
    const count = options.frames ?? 180;
    const period = options.periodMs ?? 1000 / 90;
    const half = Math.ceil(count / 2);
    for (let k = 0; k < count; k++) {
      // forwards for half the ring, then back the same way: continuous motion, no jumps
      const pose = headset.poseAt((k < half ? k : count - 1 - k) * period);
      const payload = packr.pack({ t: 'predict', id: ID_MARK, horizonMs: options.horizonMs ?? 50, device: pose.device, predictor: options.predictor ?? 'learned', poses: [{ ...pose, time: TIME_MARK }] });
      const frame = clientFrame(payload);
      this.#frames.push(frame);
      this.#idOffset.push(offsetOfUint32(frame, ID_MARK));
      this.#timeOffset.push(offsetOfUint32(frame, TIME_MARK));
    }
  }

  /**
   * Connects to `url` (ws://host:port/path), does the WebSocket handshake by hand and (unless
   * `echo`) the hello/welcome; `headset` gives the poses the frames carry.
   */
  static open(url: string, headset: SimulatedHeadset, sink: RawSink, options: RawWireClientOptions = {}): Promise<RawWireClient> {
    const target = new URL(url);
    const key = randomBytes(16).toString('base64');
    const accept = createHash('sha1').update(key + WS_GUID).digest('base64');
    return new Promise((resolve, reject) => {
      let client: RawWireClient | undefined;
      let header = '';
      let stage: 'upgrade' | 'welcome' | 'open' = 'upgrade';
      const fail = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      const timer = setTimeout(() => fail(new Error(`RawWireClient: no handshake with ${url} within ${options.timeoutMs ?? 10_000} ms`)), options.timeoutMs ?? 10_000);
      const socket = net.connect({
        host: target.hostname,
        port: Number(target.port),
        noDelay: true,
        onread: {
          buffer: READ_BUFFER,
          // true: keep reading (false would pause the socket)
          callback: (nread: number, buf: Uint8Array) => (onRead(nread, buf as Buffer), true),
        },
      });
      function onRead(nread: number, b: Buffer): void {
        if (stage === 'open') return void client!.#onBytes(b, 0, nread);
        let from = 0;
        if (stage === 'upgrade') {
          header += b.toString('latin1', 0, nread);
          const end = header.indexOf('\r\n\r\n');
          if (end < 0) return;
          const lines = header.slice(0, end).split('\r\n');
          if (!/^HTTP\/1\.1 101 /.test(lines[0]!)) return fail(new Error(`RawWireClient: ${url} answered the upgrade with '${lines[0]}'`));
          if (!lines.some((l) => l.toLowerCase() === `sec-websocket-accept: ${accept.toLowerCase()}`)) return fail(new Error('RawWireClient: wrong Sec-WebSocket-Accept'));
          from = nread - (header.length - end - 4);
          client = new RawWireClient(socket, sink, options, headset);
          if (options.echo) {
            stage = 'open';
            clearTimeout(timer);
            resolve(client);
          } else {
            stage = 'welcome';
            socket.write(clientFrame(packr.pack({ t: 'hello', v: PROTOCOL_VERSION })));
          }
          if (from >= nread) return;
        }
        // welcome: the first whole frame after the upgrade (small: one read)
        let len = b[from + 1]! & 0x7f;
        let head = 2;
        if (len === 126) {
          len = b.readUInt16BE(from + 2);
          head = 4;
        }
        if (from + head + len > nread) return fail(new Error(`RawWireClient: ${url}'s welcome came in pieces (not expected on loopback)`));
        scanAnswer(b, from + head, from + head + len, WELCOME);
        if (scannedType !== 1) return fail(new Error(`RawWireClient: ${url} did not answer hello with welcome`));
        stage = 'open';
        clearTimeout(timer);
        resolve(client!);
      }
      socket.on('error', fail);
      socket.once('connect', () =>
        socket.write(`GET ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`),
      );
    });
  }

  /** Sends the next frame, its pose stamped `dueMs` (performance.now() ms) and a new id. */
  send(dueMs: number): void {
    const k = this.#next;
    this.#next = k + 1 === this.#frames.length ? 0 : k + 1;
    const frame = this.#frames[k]!;
    const id = this.#nextId++;
    const time = Math.round(dueMs * 1000);
    if (time > 0xffffffff) throw new Error('RawWireClient pose times are uint32 µs: run it in a process under 71 minutes old');
    frame.writeUInt32BE(id, this.#idOffset[k]!);
    frame.writeUInt32BE(time, this.#timeOffset[k]!);
    const slot = id & (RING - 1);
    this.#sentId[slot] = id;
    this.#sentAt[slot] = performance.now();
    this.sent++;
    // a frame buffer is rewritten only a ring of frames (2 s at 90 Hz) later, long after the
    // kernel took it: a socket that far behind has lost those answers anyway
    this.#socket.write(frame);
  }

  /** Frames sent and not answered (nor answered unexpectedly). */
  get outstanding(): number {
    return this.sent - this.answered - this.unexpected;
  }

  close(): void {
    this.#socket.destroy();
  }

  #onBytes(b: Buffer, from: number, end: number): void {
    if (this.#partial) {
      b = Buffer.concat([this.#partial, b.subarray(from, end)]);
      from = 0;
      end = b.length;
      this.#partial = undefined;
    }
    let p = from;
    while (p < end) {
      if (end - p < 2) break;
      const opcode = b[p]! & 0x0f;
      let len = b[p + 1]! & 0x7f;
      let head = 2;
      if (len === 126) {
        if (end - p < 4) break;
        len = b.readUInt16BE(p + 2);
        head = 4;
      } else if (len === 127) {
        if (end - p < 10) break;
        len = Number(b.readBigUInt64BE(p + 2));
        head = 10;
      }
      if (end - p < head + len) break;
      const at = p + head;
      p = at + len;
      if (opcode === 0x9) {
        this.#socket.write(clientFrame(b.subarray(at, at + len), 0xa)); // ping: pong
        continue;
      }
      if (opcode !== 0x2) continue;
      this.#inspect?.(Buffer.from(b.subarray(at, at + len)));
      scanAnswer(b, at, at + len, this.#expected);
      const slot = scannedId & (RING - 1);
      if (scannedType === 1 && scannedId > 0 && this.#sentId[slot] === scannedId) {
        this.#sentId[slot] = 0;
        this.answered++;
        this.#sink.answer(this.#sentAt[slot]!, performance.now());
      } else {
        this.unexpected++;
        this.#sink.unexpected();
      }
    }
    // copied: the shared read buffer is overwritten by the next read of any session
    if (p < end) this.#partial = Buffer.from(b.subarray(p, end));
  }
}
