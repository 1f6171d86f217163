/**
 * The node's half of signed results (the bytes are defined in protocol/resultSigning.ts): one
 * `ResultSigner` per session keeps a running SHA-256 of each device's input and the session's
 * record chain, and seals a block every `sealEvery` records or `sealAfterMs` ms, whichever first.
 *
 * Cost is what matters here (it runs on the per-frame hot path): a sample is one `update` of a
 * running hash with bytes written into a reused buffer; an answer is one `copy().digest()` of the
 * input hash, one SHA-256 for the record and one `update` of the block hash; Ed25519 (~50-200 µs
 * on a busy core) is paid once a block. bench/result-signing.ts measures it against a predict.
 */
import { createHash, createPrivateKey, sign, type Hash, type KeyObject } from 'node:crypto';
import {
  ByteWriter,
  genesisBytes,
  inputPrefixBytes,
  linkPrefixBytes,
  sealBytes,
  writePose,
  writePredictionOutput,
  writeRecordPreimage,
  writeTensorOutput,
  type Device,
  type PoseSample,
  type ResultSeal,
  type Tensor,
} from '../../protocol/index.js';

export interface ResultSignerOptions {
  /** [sealEvery=64] records per sealed block: Ed25519 once per this many answers. */
  sealEvery?: number;
  /**
   * [sealAfterMs=250] a block older than this is sealed at the next answer or `flush()`, so a
   * client checking a trap waits at most this long (plus one answer) for its evidence.
   */
  sealAfterMs?: number;
  /** Clock for the block age; injectable for tests. */
  now?: () => number;
}

export class ResultSigner {
  readonly #node: string;
  readonly #session: string;
  readonly #key: KeyObject;
  readonly #sealEvery: number;
  readonly #sealAfterMs: number;
  readonly #now: () => number;
  readonly #inputs = new Map<Device, Hash>();
  readonly #writer = new ByteWriter(512);
  readonly #output = new ByteWriter(256);
  #link: Buffer;
  #block: Hash;
  #blockSize = 0;
  #blockStarted = 0;
  #seq = 0;

  constructor(node: string, session: string, privateKey: KeyObject | string, options: ResultSignerOptions = {}) {
    this.#node = node;
    this.#session = session;
    this.#key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
    this.#sealEvery = options.sealEvery ?? 64;
    this.#sealAfterMs = options.sealAfterMs ?? 250;
    this.#now = options.now ?? (() => performance.now());
    this.#link = createHash('sha256').update(genesisBytes(node, session)).digest();
    this.#block = createHash('sha256').update(linkPrefixBytes(this.#link));
  }

  /** Number of records so far (the sequence number of the last one). */
  get sequence(): number {
    return this.#seq;
  }

  /** Every sample the session receives, in wire order, before the history may drop it. */
  observe(sample: PoseSample): void {
    let hash = this.#inputs.get(sample.device);
    if (!hash) this.#inputs.set(sample.device, (hash = createHash('sha256').update(inputPrefixBytes(this.#session, sample.device))));
    hash.update(writePose(this.#writer.reset(), sample).view());
  }

  #inputDigest(device: Device): Buffer {
    const hash = this.#inputs.get(device);
    return (hash ?? createHash('sha256').update(inputPrefixBytes(this.#session, device))).copy().digest();
  }

  /** Records a prediction; returns its sequence number and the seal when this answer closed a block. */
  prediction(requestId: number, device: Device, answer: { predictor: string; horizonMs: number; pose: PoseSample }): { seq: number; seal?: ResultSeal } {
    const out = writePredictionOutput(this.#output.reset(), answer).view();
    return this.#append(requestId, this.#inputDigest(device), out);
  }

  /** Records an infer result; the input digest is over the model and input tensor. */
  result(requestId: number, model: string, input: Tensor, output: Tensor): { seq: number; seal?: ResultSeal } {
    const inputDigest = createHash('sha256').update(writeTensorOutput(this.#writer.reset(), model, input).view()).digest();
    return this.#append(requestId, inputDigest, writeTensorOutput(this.#output.reset(), model, output).view());
  }

  #append(requestId: number, inputDigest: Uint8Array, output: Uint8Array): { seq: number; seal?: ResultSeal } {
    const record = createHash('sha256').update(writeRecordPreimage(this.#writer.reset(), this.#session, requestId, inputDigest, output).view()).digest();
    if (this.#blockSize === 0) this.#blockStarted = this.#now();
    this.#block.update(record);
    this.#blockSize++;
    const seq = ++this.#seq;
    if (this.#blockSize >= this.#sealEvery || this.#now() - this.#blockStarted >= this.#sealAfterMs) return { seq, seal: this.flush()! };
    return { seq };
  }

  /** Seals the open block now (session end, idle timer); undefined when it is empty. */
  flush(): ResultSeal | undefined {
    if (this.#blockSize === 0) return undefined;
    this.#link = this.#block.digest();
    this.#block = createHash('sha256').update(linkPrefixBytes(this.#link));
    this.#blockSize = 0;
    const link = this.#link.toString('base64url');
    const signature = sign(null, sealBytes(this.#node, this.#session, this.#seq, link), this.#key).toString('base64url');
    return { node: this.#node, session: this.#session, to: this.#seq, link, signature };
  }

  /** Whether an open block has waited past `sealAfterMs` (for the session's idle timer). */
  get due(): boolean {
    return this.#blockSize > 0 && this.#now() - this.#blockStarted >= this.#sealAfterMs;
  }
}
