/**
 * What `measure` hands people: a terminal table, the JSON document (the benches' shape: `env`
 * first, then the results), an SVG chart, and the diff of two saved runs.
 */
import { barChart } from '../report/chart.js';
import type { Environment } from '../report/environment.js';
import type { AssertionResult } from './assertions.js';
import type { NodeMeasurement } from './measureNode.js';

export interface Selection {
  /** Node the SDK's own placement (`openSession` on the same discovery) chose. */
  chosen?: string;
  /** Node with the lowest measured median RTT. */
  fastestMeasured?: string;
  fastest: boolean;
  /** Chosen node's median RTT minus the fastest one's, ms. */
  excessMs: number;
}

export interface MeasureReport {
  env: Environment;
  target: string;
  /** Discovery targets: the position asked for (absent: discovery geo-located this client). */
  at?: { lat: number; lon: number };
  options: Record<string, unknown>;
  nodes: NodeMeasurement[];
  selection?: Selection;
  /** Ctrl-C stopped the run early: the figures cover what was measured until then. */
  interrupted?: boolean;
  assertions?: AssertionResult[];
}

const f = (v: number | undefined, digits = 1) => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits));
const pct = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : `${(100 * v).toFixed(1)}%`);

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

export function formatReport(report: MeasureReport): string {
  const lines: string[] = [];
  const rows = [['node', 'tier', 'handshake', 'rtt min', 'p50', 'p99', 'jitter', 'loss', 'predict p50', 'p99', 'loss', 'render p50', '→decoded p50', 'reconn']];
  for (const n of report.nodes) {
    const name = n.node?.id ?? n.url;
    if (n.error) {
      rows.push([name, '-', n.error.code, ...Array<string>(11).fill('-')]);
      continue;
    }
    rows.push([
      name,
      n.node!.tier,
      f(n.handshake.p50),
      f(n.rtt.min, 2),
      f(n.rtt.p50, 2),
      f(n.rtt.p99, 2),
      f(n.rtt.jitterMs, 2),
      pct(n.rtt.lossRate),
      f(n.predict?.p50, 2),
      f(n.predict?.p99, 2),
      pct(n.predict?.lossRate),
      f(n.render?.p50),
      f(n.render?.toDecodedMs.p50),
      String(n.reconnects),
    ]);
  }
  lines.push(table(rows) + '\n(ms; loss: requests with no answer within the timeout)');
  for (const n of report.nodes) {
    if (n.error) lines.push(`\n${n.url}: ${n.error.message}\n  next: ${n.error.next}`);
    else {
      const node = n.node!;
      lines.push(
        `${node.id}: ${n.url} v${node.version} caps ${node.caps.join(',')} maxMessagesPerSecond ${node.limits.maxMessagesPerSecond}; ` +
          `rates/session ping ${f(n.rates.pingHz)} predict ${f(n.rates.predictHz)} render ${f(n.rates.renderHz)} Hz${n.rates.cappedBy ? ` (capped by ${n.rates.cappedBy})` : ''}; ` +
          `timeout ${n.timeoutMs} ms; ${n.rtt.n} pings` +
          (Object.keys(n.requestErrors).length ? `; node errors ${JSON.stringify(n.requestErrors)}` : ''),
      );
    }
  }
  if (report.selection) {
    const est = [['node', 'tier', 'estimated rtt', 'measured p50', 'error']];
    for (const n of report.nodes) {
      const err = n.estimatedRttMs !== undefined && Number.isFinite(n.rtt.p50) ? n.rtt.p50 - n.estimatedRttMs : Number.NaN;
      est.push([n.node?.id ?? n.url, n.node?.tier ?? '-', f(n.estimatedRttMs), f(n.rtt.p50, 2), Number.isFinite(err) ? (err >= 0 ? '+' : '') + err.toFixed(1) : '-']);
    }
    const s = report.selection;
    lines.push(
      `\nDiscovery's estimate vs measured:\n${table(est)}\n` +
        `SDK chose ${s.chosen ?? 'no node'}; fastest measured ${s.fastestMeasured ?? 'none'}: ${s.fastest ? 'the SDK chose the fastest node' : `NOT the fastest (+${f(s.excessMs, 2)} ms median)`}`,
    );
  }
  if (report.interrupted) lines.push('\ninterrupted: figures cover what was measured until Ctrl-C');
  for (const a of report.assertions ?? []) lines.push(`${a.passed ? 'PASS' : 'FAIL'} ${a.text}  (${a.detail})`);
  return lines.join('\n');
}

/** RTT and round-trip distributions per node side by side: p50 and p99 of each. */
export function chartReport(report: MeasureReport): string {
  const nodes = report.nodes.filter((n) => !n.error);
  return barChart({
    title: `edge-offload measure ${report.target}`,
    yLabel: 'ms',
    categories: nodes.map((n) => n.node!.id),
    series: [
      { name: 'rtt p50', values: nodes.map((n) => n.rtt.p50) },
      { name: 'rtt p99', values: nodes.map((n) => n.rtt.p99) },
      { name: 'predict p50', values: nodes.map((n) => n.predict?.p50 ?? Number.NaN) },
      { name: 'predict p99', values: nodes.map((n) => n.predict?.p99 ?? Number.NaN) },
      ...(nodes.some((n) => n.render) ? [{ name: 'render p50', values: nodes.map((n) => n.render?.p50 ?? Number.NaN) }] : []),
    ],
  });
}

const COMPARED: [string, (n: NodeMeasurement) => number | undefined][] = [
  ['handshake p50', (n) => n.handshake.p50],
  ['rtt min', (n) => n.rtt.min],
  ['rtt p50', (n) => n.rtt.p50],
  ['rtt p99', (n) => n.rtt.p99],
  ['rtt jitter', (n) => n.rtt.jitterMs],
  ['rtt loss %', (n) => 100 * n.rtt.lossRate],
  ['predict p50', (n) => n.predict?.p50],
  ['predict p99', (n) => n.predict?.p99],
  ['render p50', (n) => n.render?.p50],
  ['reconnects', (n) => n.reconnects],
];

export interface CompareRow {
  node: string;
  metric: string;
  a: number | undefined;
  b: number | undefined;
  delta: number | undefined;
}

/** Nodes are matched by id (a node may move URL between runs), else by URL. */
export function compareReports(a: MeasureReport, b: MeasureReport): CompareRow[] {
  const key = (n: NodeMeasurement) => n.node?.id ?? n.url;
  const rows: CompareRow[] = [];
  const names = [...new Set([...a.nodes.map(key), ...b.nodes.map(key)])];
  for (const name of names) {
    const na = a.nodes.find((n) => key(n) === name);
    const nb = b.nodes.find((n) => key(n) === name);
    for (const [metric, get] of COMPARED) {
      const va = na && !na.error ? get(na) : undefined;
      const vb = nb && !nb.error ? get(nb) : undefined;
      if (va === undefined && vb === undefined) continue;
      const ok = (v: number | undefined) => v !== undefined && Number.isFinite(v);
      rows.push({ node: name, metric, a: ok(va) ? va : undefined, b: ok(vb) ? vb : undefined, delta: ok(va) && ok(vb) ? vb! - va! : undefined });
    }
  }
  return rows;
}

export function formatComparison(rows: CompareRow[], names: [string, string]): string {
  const body = rows.map((r) => {
    const rel = r.delta !== undefined && r.a ? ` (${r.delta >= 0 ? '+' : ''}${((100 * r.delta) / r.a).toFixed(0)}%)` : '';
    return [r.node, r.metric, f(r.a, 2), f(r.b, 2), r.delta === undefined ? '-' : `${r.delta >= 0 ? '+' : ''}${r.delta.toFixed(2)}${rel}`];
  });
  return table([['node', 'metric', names[0], names[1], 'b − a'], ...body]) + '\n(ms unless named; a node missing from one run shows -)';
}
