/**
 * Where a round trip's tail goes: the garbage-collection pauses of a process, with their wall-clock
 * times, so the load bench can line them up with the frames that were slow.
 *
 * Two uses, one mechanism:
 * - `node --import <dist>/bench/load/gcProbe.js <the node's CLI>`: loaded before the node (bench
 *   only: the product never imports it), it prints one JSON line per pause on stdout,
 *   `{"probe":"gc","at":<epoch ms>,"ms":<pause>,"kind":<minor|major|…>,"pid":<its pid>}`, which
 *   startPinned collects (loadStep.ts) for the process that serves: a node re-launched for V8
 *   flags has its launcher's flags, the probe included, and the launcher's pauses are not the node's;
 * - `observePauses(log)` in the load generator itself, for its own pauses.
 *
 * Times are epoch ms (performance.timeOrigin + startTime): both processes' clocks are the same
 * machine's, and each side converts to its own performance.now() with its own timeOrigin.
 */
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';

const KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/** Pauses as [start, end) epoch ms pairs, oldest first, bounded (the oldest half dropped when full). */
export class PauseLog {
  /** At most this many pauses are kept: a 10-minute soak at ~10 scavenges/s fits. */
  static readonly MAX = 16_384;
  readonly starts: number[] = [];
  readonly ends: number[] = [];
  readonly kinds: string[] = [];

  add(at: number, ms: number, kind: string): void {
    if (this.starts.length >= PauseLog.MAX) {
      const drop = PauseLog.MAX / 2;
      this.starts.splice(0, drop);
      this.ends.splice(0, drop);
      this.kinds.splice(0, drop);
    }
    this.starts.push(at);
    this.ends.push(at + ms);
    this.kinds.push(kind);
  }

  /** Pause ms and count that fall in [from, to) (epoch ms). */
  within(from: number, to: number): { count: number; ms: number; maxMs: number } {
    let count = 0;
    let ms = 0;
    let maxMs = 0;
    for (let i = 0; i < this.starts.length; i++) {
      if (this.starts[i]! < from || this.starts[i]! >= to) continue;
      count++;
      const d = this.ends[i]! - this.starts[i]!;
      ms += d;
      maxMs = Math.max(maxMs, d);
    }
    return { count, ms, maxMs };
  }

  /**
   * Whether [from, to) (epoch ms) overlaps a pause, or starts within `afterMs` of a pause's end
   * (the backlog the pause left is still being served). Pauses are in time order: binary search.
   */
  hits(from: number, to: number, afterMs = 0): boolean {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid]! < to) lo = mid + 1;
      else hi = mid;
    }
    // pauses lo-1, lo-2 … started before `to`; the latest few are the only ones that can reach `from`
    for (let i = lo - 1; i >= 0 && i >= lo - 4; i--) if (this.ends[i]! + afterMs > from) return true;
    return false;
  }
}

/** Records this process's GC pauses into `log` until the returned function is called. */
export function observePauses(log: PauseLog): () => void {
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) log.add(performance.timeOrigin + e.startTime, e.duration, kindOf(e));
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => observer.disconnect();
}

function kindOf(e: PerformanceEntry): string {
  return KINDS[(e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? -1] ?? 'other';
}

/** Preloaded with --import into a node under test: its pauses as JSON lines on stdout. */
if (process.env.EDGE_OFFLOAD_GC_PROBE === 'stdout') {
  const observer = new PerformanceObserver((list) => {
    let lines = '';
    for (const e of list.getEntries()) lines += `{"probe":"gc","at":${(performance.timeOrigin + e.startTime).toFixed(3)},"ms":${e.duration.toFixed(3)},"kind":"${kindOf(e)}","pid":${process.pid}}\n`;
    process.stdout.write(lines);
  });
  observer.observe({ entryTypes: ['gc'] });
  // the observer must not keep a node alive that would otherwise exit
  (observer as unknown as { unref?: () => void }).unref?.();
}
