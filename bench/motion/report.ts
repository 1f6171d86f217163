/**
 * Percentiles, environment line and a grouped-bar SVG for the inference benches. Stand-in until the
 * lead's bench/lib (stats.ts, chart.ts) lands on main; then these switch over.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname } from 'node:path';

export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function summarize(values: readonly number[]): { n: number; mean: number; p50: number; p95: number; p99: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((s, v) => s + v, 0) / Math.max(1, sorted.length);
  return { n: sorted.length, mean, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) };
}

export function environment(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, date: new Date().toISOString(), ...extra };
}

export function writeJson(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(value, null, 2) + '\n');
}

export interface BarGroup {
  label: string;
  bars: { series: string; value: number }[];
}

const COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1'];
const esc = (s: string) => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** Grouped bar chart, one group per label, one colour per series. */
export function barChartSvg(title: string, yLabel: string, groups: readonly BarGroup[]): string {
  const series = [...new Set(groups.flatMap((g) => g.bars.map((b) => b.series)))];
  const max = Math.max(1e-9, ...groups.flatMap((g) => g.bars.map((b) => b.value)));
  const W = 120 + groups.length * (series.length * 22 + 30);
  const H = 360;
  const top = 40;
  const bottom = 300;
  const y = (v: number) => bottom - (v / max) * (bottom - top);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`,
    `<text x="14" y="${(top + bottom) / 2}" transform="rotate(-90 14 ${(top + bottom) / 2})" text-anchor="middle">${esc(yLabel)}</text>`,
    `<line x1="60" y1="${bottom}" x2="${W - 10}" y2="${bottom}" stroke="#333"/>`,
  ];
  for (let t = 0; t <= 4; t++) {
    const v = (max * t) / 4;
    parts.push(`<text x="55" y="${y(v) + 4}" text-anchor="end">${v.toPrecision(3)}</text><line x1="60" y1="${y(v)}" x2="${W - 10}" y2="${y(v)}" stroke="#ddd"/>`);
  }
  groups.forEach((g, gi) => {
    const x0 = 70 + gi * (series.length * 22 + 30);
    g.bars.forEach((b) => {
      const si = series.indexOf(b.series);
      parts.push(`<rect x="${x0 + si * 22}" y="${y(b.value)}" width="18" height="${bottom - y(b.value)}" fill="${COLORS[si % COLORS.length]}"><title>${esc(`${b.series}: ${b.value}`)}</title></rect>`);
    });
    parts.push(`<text x="${x0 + (series.length * 22) / 2}" y="${bottom + 16}" text-anchor="middle">${esc(g.label)}</text>`);
  });
  series.forEach((s, si) => {
    parts.push(`<rect x="${70 + si * 150}" y="${H - 30}" width="12" height="12" fill="${COLORS[si % COLORS.length]}"/><text x="${86 + si * 150}" y="${H - 20}">${esc(s)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export function writeSvg(path: string, svg: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, svg + '\n');
}
