/**
 * Runs every compiled uvu suite (`dist/test/**\/*.test.js`) in one process, like `uvu dist/test`,
 * then exits: a leaked socket or timer shows up as a warning instead of a hung CI job.
 * `node dist/test/run.js discovery render` runs only files whose path below dist/test contains one of the words.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);

function findSuites(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) return findSuites(full);
      return name.endsWith('.test.js') ? [full] : [];
    });
}

// the words match the path below dist/test: a checkout under a folder named like a suite ('trust') must not select them all
const files = findSuites(here).filter((file) => filters.length === 0 || filters.some((f) => path.relative(here, file).includes(f)));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(', ')}`);
  process.exit(1);
}

// uvu's own CLI protocol: defer every suite, then run them all and print one summary
const g = globalThis as { UVU_DEFER?: number; UVU_INDEX?: number; UVU_QUEUE?: unknown[][] };
g.UVU_DEFER = 1;
const uvu = await import('uvu');
for (const [index, file] of files.entries()) {
  g.UVU_INDEX = index;
  g.UVU_QUEUE!.push([path.relative(here, file)]);
  await import(pathToFileURL(file).href);
}
await uvu.exec(false);

// closes finish on the next turns of the event loop; give them a moment before judging
await new Promise((resolve) => setTimeout(resolve, 200));
const leaks = process.getActiveResourcesInfo().filter((r) => /TCP|Process|UDP/.test(r));
if (leaks.length > 0) console.warn(`warning: resources still open after the tests: ${leaks.join(', ')}`);
process.exit(process.exitCode ?? 0);
