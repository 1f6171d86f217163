/**
 * One session's officer: it sees the live stream go by (poses recorded, predicts counted), draws
 * which predicts get a trap, runs each trap on the current node in the background, and acts on
 * the outcome: evidence to discovery and `caught` (the session moves away) for a proven wrong
 * answer; `untrusted` (move away, nothing to report) for a node whose seals do not match what it
 * was sent. At most one trap runs at a time per officer.
 *
 * The live path only calls `observe` and `onPredict`, both synchronous and O(1) apart from the
 * sample copy: no live result waits for, or is reordered by, anything here.
 */
import { EnhancedEventEmitter } from '../../protocol/EnhancedEventEmitter.js';
import type { Device, FrameRequest, PoseSample, Evidence, Tensor } from '../../protocol/index.js';
import { runTrap, type TrapChannel, type TrapRunOptions } from './TrapRunner.js';
import { TrapVerifier, type TrapOutcome, type TrapVerifierOptions } from './TrapVerifier.js';

export type TrustOfficerEvents = {
  /** A trap finished (any outcome). */
  trap: [node: string, outcome: TrapOutcome];
  /** The node answered a trap wrongly and sealed it; `evidence` was (or is being) submitted. */
  caught: [node: string, evidence: Evidence];
  /** The node's seals do not cover what it was sent: stop using it. */
  untrusted: [node: string];
  /** Submitting evidence failed (discovery down, refused); the node is still left. */
  reporterror: [error: Error];
  /** A trap could not run (the node refused or dropped its session): liveness is the failover's business. */
  traperror: [node: string, error: Error];
};

export interface TrustNode {
  id: string;
  /** The key discovery vouched for. */
  publicKey: string;
  /** Opens trap sessions on this node. */
  channel: TrapChannel;
}

export interface TrustOfficerOptions extends TrapVerifierOptions {
  /** Sends evidence to discovery (DiscoveryLocator.submitEvidence). */
  submit?: (evidence: Evidence) => Promise<unknown>;
  /** [frameIntervalMs, sealTimeoutMs] of the trap runs. */
  run?: Pick<TrapRunOptions, 'frameIntervalMs' | 'sealTimeoutMs'>;
  /** Client clock in µs for trap pose times (the live stream's clock). Default performance.now() × 1000. */
  nowUs?: () => number;
  /**
   * [trapTimeoutMs=60000] a trap not judged by then is given up (`traperror`) so the next one can
   * start: every step has its own timeout, but one trap at a time means a single stuck step would
   * otherwise end trapping for the rest of the session.
   */
  trapTimeoutMs?: number;
}

export class TrustOfficer extends EnhancedEventEmitter<TrustOfficerEvents> {
  readonly verifier: TrapVerifier;
  readonly #o: TrustOfficerOptions;
  #node: TrustNode | undefined;
  #running: Promise<void> | undefined;
  #closed = false;

  constructor(options: TrustOfficerOptions) {
    super();
    this.#o = options;
    this.verifier = new TrapVerifier(options);
  }

  /** The node live requests go to now (undefined: none, or one without a vouched key). */
  setNode(node: TrustNode | undefined): void {
    this.#node = node;
  }

  /** Every live sample sent. */
  observe(sample: PoseSample): void {
    this.verifier.recorder.record(sample);
  }

  /** Every live infer sent: a trap's infer repeats the latest (never delays it: one assignment). */
  onInfer(model: string, input: Tensor): void {
    this.verifier.recordInfer(model, input);
  }

  /** Every live render sent: a trap's render asks for the same view at one of its own poses. */
  onRender(request: FrameRequest): void {
    this.verifier.recordRender(request);
  }

  /** Every live predict sent; may start a trap in the background. */
  onPredict(live: { device: Device; horizonMs: number; predictor?: string }): void {
    const node = this.#node;
    if (this.#closed || !node || this.#running || !this.verifier.decide()) return;
    const task = this.verifier.task(live, this.#o.nowUs?.() ?? performance.now() * 1000);
    if (!task) return;
    const running: Promise<void> = this.#withDeadline(node.id, this.#trap(node, task)).finally(() => {
      if (this.#running === running) this.#running = undefined;
    });
    this.#running = running;
  }

  /** Resolves when the trap in flight (if any) is judged; for tests and orderly shutdown. */
  async settled(): Promise<void> {
    await this.#running;
  }

  close(): void {
    this.#closed = true;
  }

  #withDeadline(nodeId: string, trap: Promise<void>): Promise<void> {
    const ms = this.#o.trapTimeoutMs ?? 60_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.safeEmit('traperror', nodeId, new Error(`trap not judged within ${ms} ms; given up`));
        resolve();
      }, ms);
    });
    return Promise.race([trap, deadline]).finally(() => clearTimeout(timer));
  }

  async #trap(node: TrustNode, task: Parameters<TrapVerifier['check']>[0]['task']): Promise<void> {
    let outcome: TrapOutcome;
    try {
      outcome = await this.verifier.check(await runTrap(task, node.channel, { node: node.id, publicKey: node.publicKey, ...this.#o.run }));
    } catch (err) {
      this.safeEmit('traperror', node.id, err as Error); // liveness is the failover's business
      return;
    }
    if (this.#closed) return;
    this.safeEmit('trap', node.id, outcome);
    if (outcome.kind === 'unsigned') this.safeEmit('untrusted', node.id);
    if (outcome.kind !== 'caught') return;
    this.safeEmit('caught', node.id, outcome.evidence);
    if (this.#o.submit) await this.#o.submit(outcome.evidence).catch((err: Error) => this.safeEmit('reporterror', err));
  }
}
