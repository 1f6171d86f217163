/**
 * `bench wake-latency`: how long a woken task waits for its core beside a neighbour in each
 * scheduling class discovery uses (protocol/server/background.ts, the calls it ships with), the
 * question behind a one-core replica's query tail (issue #13): a query sleeps on Redis and is
 * woken by its reply while the channel process may hold the core.
 *
 * A sleeper (normal class, nice 0) on core 0 is woken every 1-6 ms by a UDP datagram from a waker
 * on core 1 and measures now − the datagram's stamp; a neighbour on core 0 is busy 25 % of the
 * time, with a user-mode loop (`spin`) or loopback TCP writes (`send`: kernel work, as the channel
 * process's socket writes), at nice 0, at nice 10 (niceProcess) or in SCHED_IDLE
 * (backgroundProcess). Rounds rotate the cases; each case's samples pool over the rounds, and
 * every p99 is quoted beside the same run's case with no neighbour.
 */
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { parseCommandArgs, intFlag } from '../bin/commands/args.js';
import { backgroundProcess, niceProcess } from '../protocol/server/background.js';
import { barChart } from './lib/chart.js';
import { environment, printEnvironment } from './lib/environment.js';
import { pinSelf, spawnPinned } from './lib/pin.js';
import { writeResult } from './lib/results.js';
import { quantile } from './lib/stats.js';

const HELP = `Usage: npm run bench -- wake-latency [options]

Options:
  --samples N   wake-ups per case and round (default 2000, ~7 s at one per 1-6 ms)
  --rounds R    rounds over every case, the order rotated each round (default 2)
  -h, --help    show this help

Needs Linux, 2 cores, taskset and chrt (util-linux). Run it on an otherwise idle machine.
Writes bench/results/wake-latency.json and wake-latency.svg.`;

const ROLES = fileURLToPath(new URL('./wake/roles.js', import.meta.url));
type Work = 'spin' | 'send';
type Klass = 'nice 0' | 'nice 10' | 'SCHED_IDLE';
interface Case {
  neighbour: 'none' | Work;
  klass?: Klass;
}
const CASES: Case[] = [{ neighbour: 'none' }, ...(['spin', 'send'] as const).flatMap((neighbour) => (['nice 0', 'nice 10', 'SCHED_IDLE'] as const).map((klass) => ({ neighbour, klass })))];
const label = (c: Case) => (c.klass ? `${c.neighbour}, ${c.klass}` : 'no neighbour');

/** The first line the child prints (its port), or a rejection if it exits first. */
function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    child.once('exit', (code) => reject(new Error(`a wake-latency process exited (${code}) before it was ready; is taskset installed?`)));
  });
}

/** The rest of the child's stdout once it exits. */
function output(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d));
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`the sleeper exited with ${code}`))));
  });
}

async function runCase(c: Case, samples: number): Promise<{ latencyUs: number[]; applied: string }> {
  const started: ChildProcess[] = [];
  const start = (core: number, args: string[]) => {
    const child = spawnPinned(core, [ROLES, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    started.push(child);
    return child;
  };
  try {
    let applied = 'none';
    if (c.neighbour !== 'none') {
      const sinkPort = c.neighbour === 'send' ? await firstLine(start(1, ['sink'])) : '0';
      const neighbour = start(0, ['neighbour', c.neighbour, sinkPort]);
      // the class as discovery gives it to its channel process (what ships, not a bench copy)
      applied = c.klass === 'SCHED_IDLE' ? backgroundProcess(neighbour.pid!, 10) : c.klass === 'nice 10' ? niceProcess(neighbour.pid!, 10) : 'nice 0';
    }
    const sleeper = start(0, ['sleeper', String(samples)]);
    const port = await firstLine(sleeper);
    const done = output(sleeper);
    start(1, ['waker', port, String(samples)]);
    const { latencyUs } = JSON.parse((await done).trim().split('\n').pop()!) as { latencyUs: number[] };
    return { latencyUs, applied };
  } finally {
    for (const child of started) child.kill('SIGKILL');
  }
}

export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(argv, { samples: { type: 'string' }, rounds: { type: 'string' } }, HELP);
  if (!args) return;
  const samples = intFlag(args.values.samples, 'samples', 100, 1_000_000) ?? 2000;
  const rounds = intFlag(args.values.rounds, 'rounds', 1, 100) ?? 2;
  // the bench's own process stays off core 0 (it only waits on its children)
  pinSelf(1, 'wake-latency');
  const env = environment({ samplesPerCaseAndRound: samples, rounds, sleeper: 'core 0, nice 0', waker: 'core 1', neighbour: 'core 0, busy 1 ms of every 4' });
  printEnvironment(env);
  const pooled = new Map<string, { latencyUs: number[]; applied: Set<string> }>();
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < CASES.length; i++) {
      const c = CASES[(i + r) % CASES.length]!;
      const { latencyUs, applied } = await runCase(c, samples);
      const entry = pooled.get(label(c)) ?? { latencyUs: [], applied: new Set() };
      entry.latencyUs.push(...latencyUs);
      entry.applied.add(applied);
      pooled.set(label(c), entry);
      if (process.stdout.isTTY) process.stdout.write(`\rround ${r + 1}/${rounds}, case ${i + 1}/${CASES.length}   `);
    }
  }
  if (process.stdout.isTTY) process.stdout.write('\n');
  const cases = CASES.map((c) => {
    const { latencyUs, applied } = pooled.get(label(c))!;
    const sorted = latencyUs.sort((a, b) => a - b);
    const ms = (q: number) => +(quantile(sorted, q) / 1000).toFixed(3);
    return { case: label(c), neighbour: c.neighbour, class: c.klass ?? null, applied: [...applied], samples: sorted.length, p50Ms: ms(0.5), p99Ms: ms(0.99), p999Ms: ms(0.999), maxMs: +(sorted[sorted.length - 1]! / 1000).toFixed(3) };
  });
  const floor = cases[0]!;
  const result = { environment: env, cases: cases.map((c) => ({ ...c, p99VsNoNeighbour: +(c.p99Ms / floor.p99Ms).toFixed(2), p999VsNoNeighbour: +(c.p999Ms / floor.p999Ms).toFixed(2) })) };
  for (const c of result.cases) console.log(`${c.case.padEnd(22)} p50 ${c.p50Ms.toFixed(3)}  p99 ${c.p99Ms.toFixed(3)} (×${c.p99VsNoNeighbour})  p99.9 ${c.p999Ms.toFixed(3)} (×${c.p999VsNoNeighbour})  max ${c.maxMs.toFixed(3)} ms  [${c.applied.join(', ')}]`);
  const svg = barChart({
    title: 'Wake-up latency of a nice-0 task beside a neighbour busy 25 % of its core',
    yLabel: 'ms',
    categories: cases.map((c) => c.case),
    series: [
      { name: 'p99', values: cases.map((c) => c.p99Ms) },
      { name: 'p99.9', values: cases.map((c) => c.p999Ms) },
    ],
  });
  writeResult('wake-latency', result, svg);
}
