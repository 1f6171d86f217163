/**
 * Runs a trap task on a node: a session of its own, one predict per frame at the live cadence
 * (so the node sees an ordinary short session: a client resuming, a second app), then waits for
 * the seal that covers the answers, closes, and hands the run to `TrapVerifier.check`.
 *
 * Transport-agnostic: `TrapChannel` opens the trap's session (the SDK adapts NodeConnection to
 * it), so this file holds only the pacing and bookkeeping.
 */
import type { ResultSeal } from '../../protocol/index.js';
import type { TrapAnswer, TrapExtraAnswer, TrapExtraReply, TrapInfer, TrapPredict, TrapRender, TrapRun, TrapTask } from './TrapVerifier.js';

export interface TrapSession {
  /** The node's session id (welcome.session). */
  readonly session: string;
  /** The node's default predictor (first of welcome.predictors). */
  readonly defaultPredictor: string;
  /** Sends one predict exactly as given (its poses ride on it); resolves with the node's answer. */
  predict(message: TrapPredict): Promise<TrapAnswer>;
  /** Sends one infer or render exactly as given; resolves with the node's answer. */
  extra(message: TrapInfer | TrapRender): Promise<TrapExtraAnswer>;
  /** Seals received so far, in arrival order. */
  readonly seals: readonly ResultSeal[];
  /** Resolves when a seal covering `answers` answers has arrived; rejects after `timeoutMs`. */
  sealed(answers: number, timeoutMs: number): Promise<void>;
  close(): void;
}

export interface TrapChannel {
  open(): Promise<TrapSession>;
}

export interface TrapRunOptions {
  node: string;
  /** The key discovery vouched for. */
  publicKey: string;
  /** [frameIntervalMs=11.1] one predict per frame, as the live stream sends them (90 Hz). */
  frameIntervalMs?: number;
  /** [sealTimeoutMs=2000] how long to wait for the last seal (the node seals every ≤ 250 ms). */
  sealTimeoutMs?: number;
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Plays `task` on a fresh session. A node that drops the session, errors or never seals yields
 * a run with fewer answers or seals; the verifier judges what it got (`unsealed`, `unsigned`).
 */
export async function runTrap(task: TrapTask, channel: TrapChannel, options: TrapRunOptions): Promise<TrapRun> {
  const session = await channel.open();
  const answers: TrapAnswer[] = [];
  const extraReplies: TrapExtraReply[] = [];
  const extras = task.extras ?? [];
  const interval = options.frameIntervalMs ?? 1000 / 90;
  try {
    let next = performance.now();
    sending: for (const [i, message] of task.messages.entries()) {
      const wait = next - performance.now();
      if (wait > 0) await pause(wait);
      next += interval;
      try {
        answers.push(await session.predict(message));
        // one request at a time, so replies arrive (and are chained by the node) in send order
        for (const [extra, { after, request }] of extras.entries()) {
          if (after !== i + 1) continue;
          // a refused infer or render (busy, skipped frame) has no entry in the chain: go on without it
          const answer = await session.extra(request).catch(() => undefined);
          if (answer) extraReplies.push({ extra, at: answers.length + extraReplies.length, answer });
        }
      } catch {
        break sending; // the node refused or dropped the trap: judge what came back
      }
    }
    const replies = answers.length + extraReplies.length;
    if (replies > 0) await session.sealed(replies, options.sealTimeoutMs ?? 2000).catch(() => {});
    const run: TrapRun = { node: options.node, publicKey: options.publicKey, session: session.session, defaultPredictor: session.defaultPredictor, task, answers, seals: [...session.seals] };
    if (extras.length > 0) run.extraReplies = extraReplies;
    return run;
  } finally {
    session.close();
  }
}
