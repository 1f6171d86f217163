/**
 * Serves a test page and the client SDK's browser bundle (`/edge-offload-client.js`, built by
 * scripts/bundle-client.mjs, the build's own step) to a browser, nothing else: the page loads the
 * SDK exactly as a bundler-less app would. Over https when given a certificate.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

interface BundleInfo {
  file: string;
  bytes: number;
  gzipBytes: number;
  inputs: string[];
}

let built: Promise<BundleInfo> | undefined;
/** Builds the browser bundle once per test process (esbuild: tens of milliseconds), with the build's script. */
export function buildClientBundle(): Promise<BundleInfo> {
  built ??= (import(pathToFileURL(path.join(ROOT, 'scripts/bundle-client.mjs')).href) as Promise<{ bundleClient(): Promise<BundleInfo> }>).then((m) => m.bundleClient());
  return built;
}

export async function bundlePath(): Promise<string> {
  return path.join(ROOT, (await buildClientBundle()).file);
}

export interface ServeOptions {
  /** PEM certificate and key: serve https. */
  tls?: { cert: string; key: string };
  /** Host name in the returned URL (the certificate's name). @default '127.0.0.1' */
  hostname?: string;
}

export async function serveForBrowser(page: string, options: ServeOptions = {}): Promise<{ url: string; close(): Promise<void> }> {
  const bundle = await bundlePath();
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const file = (req.url ?? '/').split('?')[0]!;
    if (file === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    } else if (file === '/edge-offload-client.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(await readFile(bundle));
    } else {
      res.writeHead(404).end();
    }
  };
  const server: Server = options.tls ? createHttpsServer(options.tls, handler) : createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const scheme = options.tls ? 'https' : 'http';
  return {
    url: `${scheme}://${options.hostname ?? '127.0.0.1'}:${(server.address() as AddressInfo).port}/`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
