/**
 * Percentiles and a stacked-bar SVG for the motion-to-photon bench. Local until the shared
 * bench/lib (stats, chart) is on this branch.
 */
export interface Percentiles {
  n: number;
  p50: number;
  p99: number;
  mean: number;
}

/** Nearest-rank percentile on a sorted copy. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function summarize(samples: readonly number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (v: number) => Math.round(v * 100) / 100;
  return {
    n: sorted.length,
    p50: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    mean: round(sorted.reduce((s, v) => s + v, 0) / (sorted.length || 1)),
  };
}

const PALETTE = ['#64748b', '#2563eb', '#0891b2', '#16a34a', '#f97316', '#9333ea'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** One stacked bar per category (p50 of each stage), plus a marker for the measured p50 total and the target. */
export function stackedBarSvg(options: {
  title: string;
  categories: string[];
  stages: string[];
  /** values[category][stage] in ms */
  values: number[][];
  totals: number[];
  targets: number[];
}): string {
  const W = 760;
  const H = 420;
  const M = { top: 48, right: 24, bottom: 80, left: 64 };
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const max = Math.max(...options.totals, ...options.targets, ...options.values.map((v) => v.reduce((s, x) => s + x, 0))) * 1.1 || 1;
  const y = (v: number) => M.top + plotH - (v / max) * plotH;
  const band = plotW / options.categories.length;
  const barW = Math.min(90, band * 0.5);
  let body = '';
  for (let t = 0; t <= 5; t++) {
    const v = (max * t) / 5;
    body += `<line x1="${M.left}" x2="${W - M.right}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e7eb"/><text x="${M.left - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(0)}</text>`;
  }
  options.categories.forEach((category, c) => {
    const x = M.left + band * c + (band - barW) / 2;
    let acc = 0;
    options.values[c]!.forEach((v, s) => {
      body += `<rect x="${x}" y="${y(acc + v)}" width="${barW}" height="${Math.max(0, y(acc) - y(acc + v))}" fill="${PALETTE[s % PALETTE.length]}"><title>${esc(options.stages[s]!)} p50 ${v.toFixed(1)} ms</title></rect>`;
      acc += v;
    });
    const total = options.totals[c]!;
    const target = options.targets[c]!;
    body += `<line x1="${x - 8}" x2="${x + barW + 8}" y1="${y(total)}" y2="${y(total)}" stroke="black" stroke-width="2"/>`;
    body += `<text x="${x + barW + 10}" y="${y(total) + 4}">p50 ${total.toFixed(1)}</text>`;
    body += `<line x1="${x - 8}" x2="${x + barW + 8}" y1="${y(target)}" y2="${y(target)}" stroke="#dc2626" stroke-dasharray="4 3" stroke-width="2"/>`;
    body += `<text x="${x + barW + 10}" y="${y(target) - 4}" fill="#dc2626">target ${target.toFixed(0)}</text>`;
    body += `<text x="${x + barW / 2}" y="${M.top + plotH + 18}" text-anchor="middle">${esc(category)}</text>`;
  });
  const legend = options.stages
    .map((s, i) => `<rect x="${M.left + i * 115}" y="${H - 26}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/><text x="${M.left + i * 115 + 16}" y="${H - 16}">${esc(s)}</text>`)
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="26" text-anchor="middle" font-size="15" font-weight="600">${esc(options.title)}</text>
<text transform="translate(16 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">ms (p50 per stage; bar = sum)</text>
${body}
${legend}
</svg>
`;
}
