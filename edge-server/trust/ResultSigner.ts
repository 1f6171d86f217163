/**
 * The node's half of signed results (the bytes are defined in protocol/resultSigning.ts): one
 * `ResultSigner` per session keeps a running SHA-256 of the session's input and of the open block
 * of answers, and seals the block every `sealEvery` answers or `sealAfterMs` ms.
 *
 * Cost is what matters here (it runs on the per-frame hot path): a sample is one `update` with
 * bytes written into a reused buffer, an answer is one `update`; digests (two) and Ed25519 are
 * paid once a block. bench/result-signing.ts measures it against the node's CPU per predict.
 */
import { createHash, createPrivateKey, sign, type Hash, type KeyObject } from 'node:crypto';
import {
  ByteWriter,
  genesisBytes,
  inputPrefixBytes,
  linkPrefixBytes,
  sealBytes,
  writeEntry,
  writePose,
  writeFrameOutput,
  writeInferOutput,
  writePredictionOutput,
  type FrameFacts,
  type FrameRequest,
  type PoseSample,
  type ResultSeal,
  type Tensor,
} from '../../protocol/index.js';

export interface ResultSignerOptions {
  /** [sealEvery=128] answers per sealed block: Ed25519 once per this many answers (~1.4 s at 90 Hz). */
  sealEvery?: number;
  /**
   * [sealAfterMs=250] a block older than this is sealed at the next answer or `flush()` (the
   * session's timer), so a client checking a trap waits at most about this long for its seal.
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
  readonly #input: Hash;
  readonly #writer = new ByteWriter(512);
  readonly #output = new ByteWriter(256);
  #block: Hash;
  #blockSize = 0;
  #blockStarted = 0;
  #answers = 0;
  #inputs = 0;

  constructor(node: string, session: string, privateKey: KeyObject | string, options: ResultSignerOptions = {}) {
    this.#node = node;
    this.#session = session;
    this.#key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
    this.#sealEvery = options.sealEvery ?? 128;
    this.#sealAfterMs = options.sealAfterMs ?? 250;
    this.#now = options.now ?? (() => performance.now());
    this.#input = createHash('sha256').update(inputPrefixBytes(session));
    const genesis = createHash('sha256').update(genesisBytes(node, session)).digest();
    this.#block = createHash('sha256').update(linkPrefixBytes(genesis));
  }

  /** Answers so far (the sequence number of the last one). */
  get sequence(): number {
    return this.#answers;
  }

  /** Samples received so far: pass it to `prediction` as the answer's input, read at predict time. */
  get inputs(): number {
    return this.#inputs;
  }

  /** Every sample the session receives, in wire order, before the history may drop it. */
  observe(sample: PoseSample): void {
    this.#input.update(writePose(this.#writer.reset(), sample).view());
    this.#inputs++;
  }

  /**
   * Records a prediction computed from the first `inputs` samples (default: all so far; an async
   * predictor passes the count it read when it started). Returns the seal when this closed a block.
   */
  prediction(requestId: number, answer: { predictor: string; horizonMs: number; pose: PoseSample }, inputs = this.#inputs): ResultSeal | undefined {
    return this.#append(requestId, inputs, writePredictionOutput(this.#output.reset(), answer).view());
  }

  /**
   * Records an infer result: the model, its input and its output (tensors by SHA-256). `inputs`:
   * samples received when the request arrived (what the client can count on an ordered socket).
   * `inputDigest`: SHA-256 of the input's bytes taken earlier, when they left for a heavy worker.
   */
  result(requestId: number, model: string, input: Tensor, output: Tensor, inputs = this.#inputs, inputDigest: Uint8Array = createHash('sha256').update(input.data).digest()): ResultSeal | undefined {
    const outputDigest = createHash('sha256').update(output.data).digest();
    return this.#append(requestId, inputs, writeInferOutput(this.#output.reset(), model, input, inputDigest, output, outputDigest).view());
  }

  /** Records a rendered frame: the request it answers, its facts, and SHA-256 of its encoded bytes. `inputs` as for `result`. */
  frame(requestId: number, request: FrameRequest, frame: FrameFacts & { data: Uint8Array }, inputs = this.#inputs): ResultSeal | undefined {
    const digest = createHash('sha256').update(frame.data).digest();
    return this.#append(requestId, inputs, writeFrameOutput(this.#output.reset(), request, frame, digest).view());
  }

  #append(requestId: number, inputs: number, output: Uint8Array): ResultSeal | undefined {
    if (this.#blockSize === 0) this.#blockStarted = this.#now();
    this.#block.update(writeEntry(this.#writer.reset(), requestId, inputs, output).view());
    this.#blockSize++;
    this.#answers++;
    if (this.#blockSize >= this.#sealEvery || this.#now() - this.#blockStarted >= this.#sealAfterMs) return this.flush();
    return undefined;
  }

  /** Seals the open block now (session end, idle timer); undefined when it is empty. */
  flush(): ResultSeal | undefined {
    if (this.#blockSize === 0) return undefined;
    const link = this.#block.digest();
    this.#block = createHash('sha256').update(linkPrefixBytes(link));
    this.#blockSize = 0;
    const unsigned = { node: this.#node, session: this.#session, to: this.#answers, link: link.toString('base64url'), inputs: this.#inputs, inputDigest: this.#input.copy().digest('base64url') };
    return { ...unsigned, signature: sign(null, sealBytes(unsigned), this.#key).toString('base64url') };
  }

  /** Whether an open block has waited past `sealAfterMs` (for the session's idle timer). */
  get due(): boolean {
    return this.#blockSize > 0 && this.#now() - this.#blockStarted >= this.#sealAfterMs;
  }
}
