/**
 * Builds the browser bundle of the client SDK: one minified ESM file, `<root>/browser/edge-offload-client.js`
 * (`lib/` for the package, `dist/` for tests and the development build),
 * for pages that use no bundler (`<script type="module">import { openSession } from './edge-offload-client.js'`).
 * Built from the TypeScript sources with esbuild for the browser platform, so a Node-only import
 * (node:*, ws) fails the build instead of failing in a user's page; the metafile is checked too.
 *
 *   node scripts/bundle-client.mjs lib    (npm run build runs it after tsc; `npm test` builds into dist)
 *
 * Prints the raw and gzip sizes. Tests import `bundleClient()` and build the same file.
 */
import { build } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Where the bundle lands under a build root ('lib' or 'dist'); the viewer serves it from beside its own compiled file. */
export const bundlePath = (root = 'dist') => path.join(ROOT, root, 'browser/edge-offload-client.js');

/** @returns {Promise<{ file: string, bytes: number, gzipBytes: number, inputs: string[] }>} */
export async function bundleClient(root = 'dist') {
  const BUNDLE_PATH = bundlePath(root);
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
  const root = process.argv[2] ?? 'dist';
  const { file, bytes, gzipBytes, inputs } = await bundleClient(root);
  writeFileSync(path.join(path.dirname(bundlePath(root)), 'bundle-size.json'), JSON.stringify({ file, bytes, gzipBytes, modules: inputs.length }, null, 2) + '\n');
  console.log(`${file}: ${(bytes / 1024).toFixed(1)} KiB, ${(gzipBytes / 1024).toFixed(1)} KiB gzip, ${inputs.length} modules`);
}
