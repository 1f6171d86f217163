/**
 * Serves the compiled SDK and msgpackr to a browser page from the repo root, nothing else: the
 * browser gets exactly the files a bundler would, with an import map instead of a bundler.
 */
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const ALLOWED = ['dist/client-sdk/', 'dist/protocol/', 'node_modules/msgpackr/'];

export async function serveForBrowser(page: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(async (req, res) => {
    const file = decodeURIComponent((req.url ?? '/').split('?')[0]!).replace(/^\/+/, '');
    if (file === '') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(page);
      return;
    }
    const resolved = path.resolve(ROOT, file);
    if (!ALLOWED.some((prefix) => resolved.startsWith(path.join(ROOT, prefix)))) {
      res.writeHead(404).end();
      return;
    }
    try {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(await readFile(resolved));
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
