/**
 * `edge-offload measure <target>`: latency of real deployments, through the public SDK. Exit codes
 * are part of the interface (CI jobs and cron SLO probes read them): 0 measured and every check
 * passed, 1 a check failed, 2 usage error, 3 nothing could be measured (unreachable target).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseLatLon } from '../../discovery/locate.js';
import { environment } from '../report/environment.js';
import { intFlag, numberFlag, parseCommandArgs, stringFlag } from './args.js';
import { AssertionSyntaxError, judge, parseAssertion, type Assertion } from '../measure/assertions.js';
import { measureDiscovery, MeasureTargetError } from '../measure/discoveryTarget.js';
import { measureNode, type MeasureOptions } from '../measure/measureNode.js';
import { chartReport, compareReports, formatComparison, formatReport, type MeasureReport } from '../measure/report.js';

const HELP = `Usage: edge-offload measure <target> [options]
       edge-offload measure --compare a.json b.json [--json]

Measures latency as an app sees it, through the client SDK. <target> is
  ws://HOST:PORT/v1/session or wss://…   one node
  http(s)://HOST:PORT                     a discovery service: every node it shortlists for
                                          --at (or this client's geo-located address), plus
                                          the cloud tier, and whether the SDK's own pick was
                                          the fastest node measured

Per node: handshake time, ping RTT (this client's clock, first ping dropped), jitter, loss
(requests with no answer within --timeout), predict round trip, render pose → decoded frame
(nodes that render), reconnects, and the node's id, tier, protocol version, caps and limits.
Safe to point at someone else's node: each session sends at most half the node's advertised
maxMessagesPerSecond (rates are scaled down to fit), for a few seconds.

Options:
  --duration S        seconds to measure each node (one node at a time) [default: 5]
  --rate HZ           predict requests per second per session         [default: 30]
  --ping-rate HZ      pings per second per session                    [default: 20]
  --render-rate HZ    render requests per second per session, one in
                      flight at a time (rendering nodes only)         [default: 5]
  --sessions N        concurrent sessions per node                    [default: 1]
  --horizon MS        predict horizon                                 [default: 50]
  --size WxH          rendered frame size (one eye)                   [default: 256x256]
  --timeout MS        a request unanswered this long counts as lost   [default: 3 × the first
                      ping, at least 100: over TCP a lost packet is a ≥ 200 ms stall]
  --connect-timeout MS  TCP + WebSocket + hello                       [default: 3000]
  --at LAT,LON        discovery targets: where the client is           [default: geo-located]
  --budget MS         discovery targets: the SDK's latency budget for its pick [default: 20]
  --out FILE.json     also write the JSON report there, and FILE.svg (RTT and round-trip
                      p50/p99 per node side by side)                  [default: none]
  --json              print the JSON report instead of the table
  --assert CHECK      exit 1 unless CHECK holds for every node; repeatable. CHECK is
                      METRIC.STAT OP NUMBER, METRIC handshake|rtt|predict|render,
                      STAT min|mean|p50|p90|p99|max|loss|jitter, OP < <= > >= =
                      (loss is a fraction: rtt.loss<0.01), or selection=fastest
  --compare A B       diff two saved JSON reports (b − a per node and metric)
  -h, --help          show this help

Exit codes: 0 ok, 1 a check failed, 2 usage error, 3 nothing could be measured.
Ctrl-C stops early and prints what was measured so far.

Example: edge-offload measure ws://127.0.0.1:8765/v1/session --duration 3 --assert 'rtt.p99<20'`;

class UsageError extends Error {
  readonly code = 'USAGE';
}

/** `--assert X` / `--assert=X` are taken out before flag parsing: they repeat. */
function takeAssertions(argv: string[]): { rest: string[]; checks: string[] } {
  const rest: string[] = [];
  const checks: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--assert') {
      if (i + 1 >= argv.length) throw new UsageError('--assert needs a check, e.g. --assert "predict.p99<20"');
      checks.push(argv[++i]!);
    } else if (a.startsWith('--assert=')) checks.push(a.slice('--assert='.length));
    else rest.push(a);
  }
  return { rest, checks };
}

function parseSize(text: string | undefined): { width: number; height: number } {
  if (text === undefined) return { width: 256, height: 256 };
  const m = /^(\d{1,4})x(\d{1,4})$/.exec(text);
  if (!m || Number(m[1]) < 8 || Number(m[2]) < 8) throw new UsageError(`--size must be WxH with each side in [8, 9999], e.g. 256x256; got '${text}'`);
  return { width: Number(m[1]), height: Number(m[2]) };
}

function readReport(file: string): MeasureReport {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`--compare: cannot read ${file}: ${(err as Error).message}`);
  }
  if (!data || typeof data !== 'object' || !Array.isArray((data as MeasureReport).nodes)) throw new UsageError(`--compare: ${file} is not an 'edge-offload measure' JSON report (no nodes)`);
  return data as MeasureReport;
}

export async function runMeasureCommand(argv: string[]): Promise<void> {
  try {
    process.exitCode = await measure(argv);
  } catch (err) {
    if (!(err instanceof UsageError || err instanceof AssertionSyntaxError)) throw err;
    console.error(`edge-offload measure: ${err.message}\nRun 'edge-offload measure --help' for the options.`);
    process.exitCode = 2;
  }
}

async function measure(argv: string[]): Promise<number> {
  const { rest, checks } = takeAssertions(argv);
  let args;
  try {
    args = parseCommandArgs(
      rest,
      {
        duration: { type: 'string' }, rate: { type: 'string' }, 'ping-rate': { type: 'string' }, 'render-rate': { type: 'string' }, sessions: { type: 'string' },
        horizon: { type: 'string' }, size: { type: 'string' }, timeout: { type: 'string' }, 'connect-timeout': { type: 'string' }, at: { type: 'string' },
        budget: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' }, compare: { type: 'boolean' },
      },
      HELP,
    );
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (!args) return 0;
  const v = args.values;
  const assertions: Assertion[] = checks.map(parseAssertion);

  if (v.compare) {
    if (args.positionals.length !== 2) throw new UsageError('--compare takes two JSON reports: --compare a.json b.json');
    const [fa, fb] = args.positionals as [string, string];
    const rows = compareReports(readReport(fa), readReport(fb));
    console.log(v.json ? JSON.stringify({ a: fa, b: fb, rows }, null, 2) : formatComparison(rows, [path.basename(fa), path.basename(fb)]));
    return 0;
  }

  if (args.positionals.length !== 1) throw new UsageError('give one target: a node URL (ws:// or wss://) or a discovery URL (http:// or https://)');
  const target = args.positionals[0]!;
  const isNode = /^wss?:\/\//.test(target);
  if (!isNode && !/^https?:\/\//.test(target)) throw new UsageError(`'${target}' is neither a node URL (ws://, wss://) nor a discovery URL (http://, https://)`);
  let options: MeasureOptions;
  let at: { lat: number; lon: number } | undefined;
  let budgetMs: number;
  try {
    options = {
      durationMs: 1000 * (numberFlag(v.duration, 'duration', 0.1, 3600) ?? 5),
      rateHz: numberFlag(v.rate, 'rate', 0, 1000) ?? 30,
      pingHz: numberFlag(v['ping-rate'], 'ping-rate', 0.1, 1000) ?? 20,
      renderHz: numberFlag(v['render-rate'], 'render-rate', 0, 240) ?? 5,
      sessions: intFlag(v.sessions, 'sessions', 1, 64) ?? 1,
      horizonMs: numberFlag(v.horizon, 'horizon', 0, 10_000) ?? 50,
      size: parseSize(stringFlag(v.size)),
      timeoutMs: intFlag(v.timeout, 'timeout', 1, 600_000),
      connectTimeoutMs: intFlag(v['connect-timeout'], 'connect-timeout', 1, 600_000) ?? 3000,
    };
    at = parseLatLon(stringFlag(v.at));
    budgetMs = numberFlag(v.budget, 'budget', 0, 100_000) ?? 20;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (isNode && at) throw new UsageError('--at is for discovery targets; a node URL is measured as it is');

  const controller = new AbortController();
  const interrupt = () => controller.abort();
  process.once('SIGINT', interrupt);
  options.signal = controller.signal;
  let samples = 0;
  const started = performance.now();
  const progress = process.stderr.isTTY
    ? setInterval(() => process.stderr.write(`\rmeasuring ${target}: ${((performance.now() - started) / 1000).toFixed(0)} s, ${samples} pings answered `), 250)
    : undefined;
  const report: MeasureReport = { env: environment(), target, ...(at ? { at } : {}), options: { ...options, signal: undefined, budgetMs: isNode ? undefined : budgetMs }, nodes: [] };
  try {
    if (isNode) report.nodes = [await measureNode(target, options, () => samples++)];
    else Object.assign(report, await measureDiscovery(target, { ...options, at, budgetMs }, () => samples++));
  } catch (err) {
    if (!(err instanceof MeasureTargetError)) throw err;
    console.error(`edge-offload measure: ${err.message} (${err.code})\n  next: ${err.next}`);
    return 3;
  } finally {
    process.off('SIGINT', interrupt);
    if (progress) {
      clearInterval(progress);
      process.stderr.write('\r\x1b[K');
    }
  }
  if (controller.signal.aborted) report.interrupted = true;
  if (assertions.length) report.assertions = judge(assertions, report);
  if (v.out) {
    const out = path.resolve(String(v.out));
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
    const svg = out.replace(/\.json$/, '') + '.svg';
    writeFileSync(svg, chartReport(report));
    if (!v.json) console.error(`wrote ${out} and ${svg}`);
  }
  console.log(v.json ? JSON.stringify(report, null, 2) : formatReport(report));
  if (report.nodes.every((n) => n.error)) return 3;
  return report.assertions?.some((a) => !a.passed) ? 1 : 0;
}
