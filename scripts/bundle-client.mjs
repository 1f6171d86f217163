/**
 * Builds the browser bundle of the client SDK: one minified ESM file, `dist/browser/edge-offload-client.js`,
 * for pages that use no bundler (`<script type="module">import { openSession } from './edge-offload-client.js'`).
 * Built from the TypeScript sources with esbuild for the browser platform, so a Node-only import
 * (node:*, ws) fails the build instead of failing in a user's page; the metafile is checked too.
 *
 *   node scripts/bundle-client.mjs        (npm run build runs it after tsc)
 *
 * Prints the raw and gzip sizes. Tests import `bundleClient()` and build the same file.
 */
import { build } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BUNDLE_PATH = path.join(ROOT, 'dist/browser/edge-offload-client.js');

/** @returns {Promise<{ file: string, bytes: number, gzipBytes: number, inputs: string[] }>} */
export async function bundleClient() {
  mkdirSync(path.dirname(BUNDLE_PATH), { recursive: true });
  const result = await build({
    entryPoints: [path.join(ROOT, 'client-sdk/index.ts')],
    outfile: BUNDLE_PATH,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const inputs = Object.keys(result.metafile.inputs);
  // platform 'browser' already refuses node builtins; this also catches a Node-only package
  const nodeOnly = inputs.filter((input) => /(^|\/)node:|node_modules\/ws\//.test(input));
  if (nodeOnly.length > 0) throw new Error(`the browser bundle pulled in Node-only modules: ${nodeOnly.join(', ')}`);
  const code = readFileSync(BUNDLE_PATH);
  return { file: path.relative(ROOT, BUNDLE_PATH), bytes: code.length, gzipBytes: gzipSync(code, { level: 9 }).length, inputs };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { file, bytes, gzipBytes, inputs } = await bundleClient();
  writeFileSync(path.join(path.dirname(BUNDLE_PATH), 'bundle-size.json'), JSON.stringify({ file, bytes, gzipBytes, modules: inputs.length }, null, 2) + '\n');
  console.log(`${file}: ${(bytes / 1024).toFixed(1)} KiB, ${(gzipBytes / 1024).toFixed(1)} KiB gzip, ${inputs.length} modules`);
}
