/**
 * One measured step of N RawWireClient sessions × hz frames against a pinned process (the node or
 * the raw echo): loadStep.step's measurement (round trip, node handling p50/p99 from two
 * `/metrics` scrapes, node CPU per frame from /proc) with the cheap client, plus what the load
 * generator itself cost (CPU per frame and share of its core) and whether it kept its schedule.
 */
import { readFileSync } from 'node:fs';
import type { SimulatedHeadset } from '../../client-sdk/node.js';
import { summarize } from '../lib/stats.js';
import { FrameClock } from './FrameClock.js';
import { PauseLog } from './gcProbe.js';
import { RunWaitSampler } from './RunWaitSampler.js';
import { cpuMs, gcBetween, handlingBetween, runDelayMs, stepRates, threadCpuMs, scrapeNode, sleep, treeCpuMs, type Proc, type StepResult } from './loadStep.js';
import { RawWireClient, type RawSink } from './RawWireClient.js';

/** Round trips of answers to frames sent in [from, until), without an object per answer. */
export class RttSamples implements RawSink {
  #values = new Float64Array(1 << 16);
  /** When each counted frame was sent (performance.now() ms), beside its round trip. */
  #sentAt = new Float64Array(1 << 16);
  count = 0;
  unexpectedCount = 0;
  /** performance.now() from which answers count (Infinity: none). */
  from = Infinity;
  /** Frames sent from this moment on are not counted (the window's end). */
  until = Infinity;

  answer(sentAt: number, now: number): void {
    if (sentAt < this.from || sentAt >= this.until) return;
    if (this.count === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
      const sent = new Float64Array(grown.length);
      sent.set(this.#sentAt);
      this.#sentAt = sent;
    }
    this.#sentAt[this.count] = sentAt;
    this.#values[this.count++] = now - sentAt;
  }

  unexpected(): void {
    this.unexpectedCount++;
  }

  reset(from: number): void {
    this.count = 0;
    this.unexpectedCount = 0;
    this.from = from;
    this.until = Infinity;
  }

  values(): number[] {
    return Array.from(this.#values.subarray(0, this.count));
  }

  sentTimes(): Float64Array {
    return this.#sentAt.subarray(0, this.count);
  }
}

/**
 * Where the slowest 1 % of a step's round trips were: each frame at or over the step's p99 is
 * put in the first class its [sent, answered) interval fits: the node, or else the generator,
 * waited for its core (run queue, RunWaitSampler) for a quarter of it or more; it overlapped one of the node's GC
 * pauses; one of the load generator's; it was sent within one longest-pause of a node pause's end
 * (the backlog the pause left was still being served); none of these. `allNodePause` is the same
 * share over every frame (the base rate the tail is compared with), `p99WithoutPauses` the p99 of
 * the frames that none of these touched (no pause, backlog or run-queue wait).
 */
export interface TailBreakdown {
  tailFrames: number;
  thresholdMs: number;
  /** The node was runnable and not running (another task on its core) for ≥ a quarter of the round trip. */
  nodeRunWait: number;
  /** The same for the load generator. */
  generatorRunWait: number;
  nodePause: number;
  generatorPause: number;
  nodeBacklog: number;
  other: number;
  allNodePause: number;
  p99WithoutPausesMs: number;
  nodePauses: { count: number; msPerSecond: number; maxMs: number };
  generatorPauses: { count: number; msPerSecond: number; maxMs: number };
}

export function tailBreakdown(samples: RttSamples, node: PauseLog, generator: PauseLog, windowMs: { from: number; to: number }, waits: { node?: RunWaitSampler; generator?: RunWaitSampler } = {}): TailBreakdown | undefined {
  const rtt = samples.values();
  if (rtt.length < 100) return undefined;
  const sent = samples.sentTimes();
  const origin = performance.timeOrigin;
  const from = origin + windowMs.from;
  const to = origin + windowMs.to;
  const seconds = (windowMs.to - windowMs.from) / 1000;
  const np = node.within(from, to);
  const gp = generator.within(from, to);
  const threshold = [...rtt].sort((a, b) => a - b)[Math.floor(0.99 * (rtt.length - 1))]!;
  const counts = { nodeRunWait: 0, generatorRunWait: 0, nodePause: 0, generatorPause: 0, nodeBacklog: 0, other: 0 };
  let tail = 0;
  let allNode = 0;
  const clean: number[] = [];
  for (let i = 0; i < rtt.length; i++) {
    const a = origin + sent[i]!;
    const b = a + rtt[i]!;
    const inNode = node.hits(a, b);
    const inGen = generator.hits(a, b);
    const inBacklog = !inNode && node.hits(a, b, np.maxMs);
    const nodeWaited = (waits.node?.waitedMs(sent[i]!, sent[i]! + rtt[i]!) ?? 0) >= rtt[i]! / 4;
    const generatorWaited = (waits.generator?.waitedMs(sent[i]!, sent[i]! + rtt[i]!) ?? 0) >= rtt[i]! / 4;
    if (inNode) allNode++;
    if (!inNode && !inGen && !inBacklog && !nodeWaited && !generatorWaited) clean.push(rtt[i]!);
    if (rtt[i]! < threshold) continue;
    tail++;
    if (nodeWaited) counts.nodeRunWait++;
    else if (generatorWaited) counts.generatorRunWait++;
    else if (inNode) counts.nodePause++;
    else if (inGen) counts.generatorPause++;
    else if (inBacklog) counts.nodeBacklog++;
    else counts.other++;
  }
  const share = (k: number) => +(k / Math.max(1, tail)).toFixed(3);
  return {
    tailFrames: tail,
    thresholdMs: threshold,
    nodeRunWait: share(counts.nodeRunWait),
    generatorRunWait: share(counts.generatorRunWait),
    nodePause: share(counts.nodePause),
    generatorPause: share(counts.generatorPause),
    nodeBacklog: share(counts.nodeBacklog),
    other: share(counts.other),
    allNodePause: +(allNode / rtt.length).toFixed(4),
    p99WithoutPausesMs: clean.length ? summarize(clean).p99 : NaN,
    nodePauses: { count: np.count, msPerSecond: np.ms / seconds, maxMs: np.maxMs },
    generatorPauses: { count: gp.count, msPerSecond: gp.ms / seconds, maxMs: gp.maxMs },
  };
}

/** CPU ms the whole machine spent busy (all cores, every process, interrupts, steal), from /proc/stat. */
export function machineBusyMs(): number {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  return ((user! + nice! + system! + irq! + softirq! + (steal ?? 0)) * 1000) / 100; // USER_HZ is 100 on Linux
}

export interface RawStepResult extends StepResult {
  /**
   * Cores the rest of the machine used meanwhile (busy time neither the node's nor this
   * process's): on a shared machine, what the node could not get.
   */
  othersCpuCores: number;
  /** Answers that were not the expected type or named no id in flight (must be 0). */
  unexpected: number;
  /** The load generator's share of its core over the step (CPU time / wall time). */
  clientCpuCores: number;
  /**
   * Ms per second the node's main thread (`node`) and this process (`generator`) waited, runnable,
   * for their core: what other tenants of a shared machine took from them while work was ready.
   */
  runDelayMsPerSecond?: { node: number; generator: number };
  /** The node's CPU per thread name over the step, ms per second (the main thread is `node`). */
  nodeThreadsMsPerSecond?: Record<string, number>;
  /** CPU ms the launcher took over the step, when the node was re-launched for V8 flags (it only waits: ~0). */
  launcherCpuMs?: number;
  /** The slowest 1 % of round trips against GC pauses (when the target runs with the GC probe). */
  tail?: TailBreakdown;
}

/** Opens `count` sessions in batches (a few hundred handshakes at once would measure the accept queue). */
export async function openRawClients(url: string, headsets: SimulatedHeadset[], samples: RttSamples, options: { echo: boolean; hz: number; predictor: string }): Promise<RawWireClient[]> {
  const opened: RawWireClient[] = [];
  for (let i = 0; i < headsets.length; i += 50) {
    const batch = headsets.slice(i, i + 50);
    opened.push(...(await Promise.all(batch.map((h) => RawWireClient.open(url, h, samples, { echo: options.echo, periodMs: 1000 / options.hz, predictor: options.predictor })))));
  }
  return opened;
}

/** Drives `clients` at `hz` for a 1 s warm-up and `seconds`, measuring the second part. */
export async function rawStep(target: Proc, clients: RawWireClient[], samples: RttSamples, opts: { hz: number; seconds: number; metricsUrl?: string; generatorPauses?: PauseLog }): Promise<RawStepResult> {
  const n = clients.length;
  const clock = new FrameClock(n, opts.hz, (i, due) => clients[i]!.send(due));
  samples.reset(Infinity);
  const outstandingBefore = clients.reduce((s, c) => s + c.outstanding, 0);
  clock.start();
  await sleep(1000); // warm-up: sockets, JIT, predictor state
  const before = opts.metricsUrl ? await scrapeNode(opts.metricsUrl) : undefined;
  const sentBefore = clients.reduce((s, c) => s + c.sent, 0);
  // the serving process (and its children: cluster workers); a launcher's own CPU beside it
  const nodeBefore = treeCpuMs(target.pid);
  const launcherBefore = target.pid !== target.child.pid ? cpuMs(target.child.pid) : undefined;
  const clientBefore = process.cpuUsage();
  const machineBefore = machineBusyMs();
  const delayBefore = [runDelayMs(target.pid), runDelayMs(process.pid)];
  const threadsBefore = threadCpuMs(target.pid);
  const nodeWait = target.pauses.starts.length ? RunWaitSampler.open(target.pid) : undefined;
  const generatorWait = nodeWait ? RunWaitSampler.open(process.pid) : undefined;
  nodeWait?.start();
  generatorWait?.start();
  const started = performance.now();
  samples.reset(started);
  const skippedBefore = clock.skipped;
  await sleep(opts.seconds * 1000);
  const ended = performance.now();
  const sent = clients.reduce((s, c) => s + c.sent, 0) - sentBefore;
  samples.until = ended;
  const elapsed = ended - started;
  const nodeCpu = treeCpuMs(target.pid) - nodeBefore;
  const launcherCpu = launcherBefore !== undefined ? cpuMs(target.child.pid) - launcherBefore : undefined;
  const client = process.cpuUsage(clientBefore);
  const machine = machineBusyMs() - machineBefore;
  const delay = [runDelayMs(target.pid) - delayBefore[0]!, runDelayMs(process.pid) - delayBefore[1]!];
  const threadsAfter = threadCpuMs(target.pid);
  const skipped = clock.skipped - skippedBefore;
  const after = opts.metricsUrl ? await scrapeNode(opts.metricsUrl) : undefined;
  clock.stop();
  await sleep(300); // the window's last answers arrive
  // the window's frames, answered by now: a frame still unanswered after its window and 300 ms
  // more is late, whatever its round trip would have been
  const answered = samples.count;
  const rtt = summarize(samples.values());
  const tail = target.pauses.starts.length ? tailBreakdown(samples, target.pauses, opts.generatorPauses ?? new PauseLog(), { from: started, to: ended }, { node: nodeWait, generator: generatorWait }) : undefined;
  nodeWait?.close();
  generatorWait?.close();
  const unexpected = samples.unexpectedCount;
  samples.from = Infinity;
  const result: RawStepResult = {
    ...stepRates(n, opts.hz, sent, answered, elapsed),
    rtt,
    // frames of this step (warm-up included) still unanswered 300 ms after the last was sent;
    // late answers to an earlier step's frames (a re-measured knee) must not count below 0
    lost: Math.max(0, clients.reduce((s, c) => s + c.outstanding, 0) - outstandingBefore),
    unexpected,
    skippedFrames: skipped,
    nodeCpuUsPerFrame: (nodeCpu * 1000) / Math.max(1, answered),
    nodeCpuCores: nodeCpu / elapsed,
    clientCpuUsPerFrame: (client.user + client.system) / Math.max(1, sent),
    clientCpuCores: (client.user + client.system) / 1000 / elapsed,
    othersCpuCores: Math.max(0, machine - nodeCpu - (launcherCpu ?? 0) - (client.user + client.system) / 1000) / elapsed,
  };
  if (launcherCpu !== undefined) result.launcherCpuMs = launcherCpu;
  if (tail) result.tail = tail;
  result.nodeThreadsMsPerSecond = Object.fromEntries(Object.entries(threadsAfter).map(([name, ms]) => [name, +(((ms - (threadsBefore[name] ?? 0)) * 1000) / elapsed).toFixed(1)]).filter(([, v]) => (v as number) > 0));
  if (!Number.isNaN(delay[0])) result.runDelayMsPerSecond = { node: (delay[0]! * 1000) / elapsed, generator: (delay[1]! * 1000) / elapsed };
  if (before && after) Object.assign(result, handlingBetween(before.handling, after.handling), { gc: gcBetween(before.gc, after.gc, (performance.now() - started) / 1000) });
  return result;
}
