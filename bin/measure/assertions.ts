/**
 * `--assert` checks: `METRIC.STAT OP NUMBER` (e.g. `predict.p99<20`, `rtt.loss<=0.01`) or
 * `selection=fastest`. Parsed strictly up front (a typo is a usage error, not a silently passing
 * check) and judged against every measured node: a check passes only when every node that has the
 * metric meets it and at least one node has it.
 */
import type { MeasureReport } from './report.js';
import type { NodeMeasurement } from './measureNode.js';

export const METRICS = ['handshake', 'rtt', 'predict', 'render'] as const;
export const STATS = ['min', 'mean', 'p50', 'p90', 'p99', 'max', 'loss', 'jitter'] as const;
const OPS = { '<': (a: number, b: number) => a < b, '<=': (a: number, b: number) => a <= b, '>': (a: number, b: number) => a > b, '>=': (a: number, b: number) => a >= b, '=': (a: number, b: number) => a === b } as const;
type Op = keyof typeof OPS;

export type Assertion =
  | { text: string; kind: 'metric'; metric: (typeof METRICS)[number]; stat: (typeof STATS)[number]; op: Op; value: number }
  | { text: string; kind: 'selection' };

export interface AssertionResult {
  text: string;
  passed: boolean;
  /** What was seen, per node or for the selection. */
  detail: string;
}

/** A malformed `--assert`: the command exits with 2. */
export class AssertionSyntaxError extends Error {
  override readonly name = 'AssertionSyntaxError';
  readonly code = 'BAD_ASSERTION';
}

const METRIC_RE = /^([a-z]+)\.([a-z0-9]+)\s*(<=|>=|<|>|=)\s*(-?\d+(?:\.\d+)?)$/;

export function parseAssertion(text: string): Assertion {
  const t = text.trim();
  if (/^selection\s*=\s*fastest$/.test(t)) return { text: t, kind: 'selection' };
  const m = METRIC_RE.exec(t);
  const usage = `expected METRIC.STAT OP NUMBER (METRIC: ${METRICS.join('|')}; STAT: ${STATS.join('|')}; OP: < <= > >= =) or 'selection=fastest'`;
  if (!m) throw new AssertionSyntaxError(`--assert '${text}': ${usage}`);
  const [, metric, stat, op, value] = m as unknown as [string, string, string, Op, string];
  if (!(METRICS as readonly string[]).includes(metric)) throw new AssertionSyntaxError(`--assert '${text}': unknown metric '${metric}'; ${usage}`);
  if (!(STATS as readonly string[]).includes(stat)) throw new AssertionSyntaxError(`--assert '${text}': unknown stat '${stat}'; ${usage}`);
  if (stat === 'jitter' && metric !== 'rtt') throw new AssertionSyntaxError(`--assert '${text}': jitter is measured on rtt only`);
  if (stat === 'loss' && metric === 'handshake') throw new AssertionSyntaxError(`--assert '${text}': loss is measured on rtt, predict and render`);
  return { text: t, kind: 'metric', metric: metric as (typeof METRICS)[number], stat: stat as (typeof STATS)[number], op, value: Number(value) };
}

function statOf(node: NodeMeasurement, a: Assertion & { kind: 'metric' }): number | undefined {
  const m = node[a.metric];
  if (!m || m.n === 0) return undefined;
  if (a.stat === 'loss') return 'lossRate' in m ? m.lossRate : undefined;
  if (a.stat === 'jitter') return 'jitterMs' in m ? m.jitterMs : undefined;
  return m[a.stat];
}

export function judge(assertions: readonly Assertion[], report: MeasureReport): AssertionResult[] {
  return assertions.map((a) => {
    if (a.kind === 'selection') {
      const s = report.selection;
      if (!s) return { text: a.text, passed: false, detail: 'no selection: only a discovery target has one' };
      return { text: a.text, passed: s.fastest, detail: `SDK chose ${s.chosen ?? 'none'}, fastest measured ${s.fastestMeasured ?? 'none'}` };
    }
    const seen: string[] = [];
    let passed = true;
    let any = false;
    for (const node of report.nodes) {
      const name = node.node?.id ?? node.url;
      if (node.error) {
        passed = false;
        seen.push(`${name}: ${node.error.code}`);
        continue;
      }
      const v = statOf(node, a);
      if (v === undefined) continue; // e.g. render on a node that does not render
      any = true;
      const ok = Number.isFinite(v) && OPS[a.op](v, a.value);
      passed &&= ok;
      seen.push(`${name}: ${+v.toPrecision(4)}${ok ? '' : ' ✗'}`);
    }
    if (!any) return { text: a.text, passed: false, detail: `no node measured ${a.metric}` };
    return { text: a.text, passed, detail: seen.join(', ') };
  });
}
