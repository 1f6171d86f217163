/**
 * The viewer page's files, for whoever serves it (an edge node with `viewer: true`, the demo):
 * `/viewer/` the page, `/viewer/viewer.js` its module, `/viewer/edge-offload-client.js` the SDK's
 * browser bundle (built by `npm run build`). A fixed list: nothing else on disk is reachable.
 */
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const VIEWER_PATH = '/viewer/';

/** {lib,dist}/edge-server/viewerAssets.js → the package root (the page) and the build root (the bundle beside it). */
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const BUILD_ROOT = path.resolve(HERE, '..');

const FILES: Record<string, { file: string; type: string }> = {
  '': { file: 'viewer/index.html', type: 'text/html; charset=utf-8' },
  'index.html': { file: 'viewer/index.html', type: 'text/html; charset=utf-8' },
  'viewer.js': { file: 'viewer/viewer.js', type: 'text/javascript; charset=utf-8' },
  'edge-offload-client.js': { file: path.join(path.relative(ROOT, BUILD_ROOT), 'browser/edge-offload-client.js'), type: 'text/javascript; charset=utf-8' },
};

/** Answers a GET for `urlPath` under /viewer/ (404 for anything not in the list). */
export async function serveViewerFile(urlPath: string, res: ServerResponse): Promise<void> {
  if (urlPath === VIEWER_PATH.slice(0, -1)) {
    res.writeHead(301, { location: VIEWER_PATH }).end();
    return;
  }
  const entry = urlPath.startsWith(VIEWER_PATH) ? FILES[urlPath.slice(VIEWER_PATH.length)] : undefined;
  if (!entry) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not a viewer file\n');
    return;
  }
  try {
    const body = await readFile(path.join(ROOT, entry.file));
    res.writeHead(200, { 'content-type': entry.type, 'content-length': body.length, 'cache-control': 'no-cache' }).end(body);
  } catch {
    const hint = entry.file.includes('browser/') ? 'run npm run build (it bundles the SDK for browsers)' : 'the package is incomplete; reinstall it';
    res.writeHead(500, { 'content-type': 'text/plain' }).end(`${entry.file} is missing: ${hint}\n`);
  }
}
