/**
 * Dependency-free SVG charts for bench and `measure` results: grouped bars (e.g. p50/p99 per scenario) and
 * lines (e.g. a CDF or a metric over time). Plain SVG opens in any browser and renders on GitHub.
 */
const PALETTE = ['#2563eb', '#f97316', '#16a34a', '#dc2626', '#9333ea', '#0891b2', '#ca8a04', '#64748b'];
const W = 760;
const H = 420;
const M = { top: 48, right: 24, bottom: 72, left: 72 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 2.5, 5, 10].find((s) => s * magnitude >= value) ?? 10;
  return step * magnitude;
}

/** Shrinks a long title to fit: bold sans glyphs average ~0.62 em. */
function titleSize(title: string): number {
  return Math.min(15, Math.floor((W - 24) / (0.62 * title.length)));
}

function frame(title: string, yLabel: string, yMax: number, body: string, legend: string[], xLabel = ''): string {
  const plotH = H - M.top - M.bottom;
  const ticks = Array.from({ length: 6 }, (_, i) => (yMax * i) / 5);
  const grid = ticks
    .map((t) => {
      const y = M.top + plotH - (t / yMax) * plotH;
      return `<line x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="#e5e7eb"/><text x="${M.left - 8}" y="${y + 4}" text-anchor="end">${+t.toPrecision(3)}</text>`;
    })
    .join('');
  const keys = legend
    .map((name, i) => `<rect x="${M.left + i * 150}" y="${H - 22}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/><text x="${M.left + i * 150 + 18}" y="${H - 12}">${esc(name)}</text>`)
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="24" text-anchor="middle" font-size="${titleSize(title)}" font-weight="600">${esc(title)}</text>
${grid}
<text transform="translate(18 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>
${xLabel ? `<text x="${M.left + (W - M.left - M.right) / 2}" y="${H - 34}" text-anchor="middle">${esc(xLabel)}</text>` : ''}
${body}
${keys}
</svg>
`;
}

export interface BarChart {
  title: string;
  yLabel: string;
  /** Groups along the x axis. */
  categories: string[];
  /** One bar per series in each group; `values[i]` belongs to `categories[i]`. */
  series: { name: string; values: number[] }[];
}

export function barChart({ title, yLabel, categories, series }: BarChart): string {
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const yMax = niceMax(Math.max(...series.flatMap((s) => s.values.filter(Number.isFinite))));
  const groupW = plotW / Math.max(1, categories.length);
  const barW = (groupW * 0.8) / Math.max(1, series.length);
  let body = '';
  categories.forEach((category, c) => {
    const x0 = M.left + c * groupW + groupW * 0.1;
    series.forEach((s, i) => {
      const v = s.values[c] ?? Number.NaN;
      if (!Number.isFinite(v)) return;
      const h = (v / yMax) * plotH;
      const x = x0 + i * barW;
      body += `<rect x="${x}" y="${M.top + plotH - h}" width="${barW - 2}" height="${h}" fill="${PALETTE[i % PALETTE.length]}"><title>${esc(`${s.name} ${category}: ${v}`)}</title></rect>`;
      body += `<text x="${x + barW / 2 - 1}" y="${M.top + plotH - h - 4}" text-anchor="middle" font-size="10">${+v.toPrecision(3)}</text>`;
    });
    body += `<text x="${M.left + c * groupW + groupW / 2}" y="${M.top + plotH + 18}" text-anchor="middle">${esc(category)}</text>`;
  });
  return frame(title, yLabel, yMax, body, series.map((s) => s.name));
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: { name: string; points: [number, number][] }[];
}

export function lineChart({ title, xLabel, yLabel, series }: LineChart): string {
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs) === xMin ? xMin + 1 : Math.max(...xs);
  const yMax = niceMax(Math.max(...series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite)));
  const sx = (x: number) => M.left + ((x - xMin) / (xMax - xMin)) * plotW;
  const sy = (y: number) => M.top + plotH - (Math.min(y, yMax) / yMax) * plotH;
  let body = series
    .map((s, i) => `<polyline fill="none" stroke-width="2" stroke="${PALETTE[i % PALETTE.length]}" points="${s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"/>`)
    .join('');
  for (let i = 0; i <= 5; i++) {
    const x = xMin + ((xMax - xMin) * i) / 5;
    body += `<text x="${sx(x)}" y="${M.top + plotH + 18}" text-anchor="middle">${+x.toPrecision(3)}</text>`;
  }
  return frame(title, yLabel, yMax, body, series.map((s) => s.name), xLabel);
}
