/** Benches write `bench/results/<name>.json` (+ `.svg`) in the source tree, not in dist/. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

// compiled to dist/bench/lib/results.js → the repo root is three levels up
export const RESULTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bench/results');

export function writeResult(name: string, data: unknown, svg?: string): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${name}.json`);
  writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
  if (svg) writeFileSync(path.join(RESULTS_DIR, `${name}.svg`), svg);
  console.log(`wrote ${path.relative(process.cwd(), file)}${svg ? ` and ${name}.svg` : ''}`);
  return file;
}
