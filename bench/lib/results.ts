/**
 * Where benches write `<name>.json` (+ `.svg`, frames): `--out DIR`, default `bench/results` under
 * the current directory (the repo root when run as `npm run bench`). Resolved against the working
 * directory, never against this file, so results never land inside dist/ or an installed package.
 * bench/cli.ts takes `--out` off the command line for every bench (`takeOutFlag`), so no bench
 * parses it on its own.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const DEFAULT_RESULTS_DIR = path.join('bench', 'results');
export const OUT_HELP = `  --out DIR      where results go (default ${DEFAULT_RESULTS_DIR} under the current directory)`;

let resultsDirectory = path.resolve(DEFAULT_RESULTS_DIR);

/** Absolute path of the folder results go to (created on first write). */
export function resultsDir(): string {
  return resultsDirectory;
}

/**
 * Removes `--out DIR` / `--out=DIR` from `argv` and points results there; returns the rest for
 * the bench's own parser. A bare `--out` (no folder) is a usage error.
 */
export function takeOutFlag(argv: readonly string[]): string[] {
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    let value: string | undefined;
    if (arg === '--out') value = argv[++i];
    else if (arg.startsWith('--out=')) value = arg.slice('--out='.length);
    else {
      rest.push(arg);
      continue;
    }
    if (!value || value.startsWith('-')) throw new Error(`--out needs a folder, e.g. --out ${DEFAULT_RESULTS_DIR}`);
    resultsDirectory = path.resolve(value);
  }
  return rest;
}

export function writeResult(name: string, data: unknown, svg?: string): string {
  mkdirSync(resultsDirectory, { recursive: true });
  const file = path.join(resultsDirectory, `${name}.json`);
  writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
  if (svg) writeFileSync(path.join(resultsDirectory, `${name}.svg`), svg);
  console.log(`wrote ${path.relative(process.cwd(), file) || file}${svg ? ` and ${name}.svg` : ''}`);
  return file;
}
