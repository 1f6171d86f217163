/**
 * The demo's web page server: the viewer (`/viewer/`, its module and the SDK bundle) and two
 * control endpoints the page's buttons call, `POST /demo/kill-edge` and `POST /demo/start-edge`,
 * so a person watches failover and the return. Same origin as the page, on its own port: the page
 * talks to discovery cross-origin (CORS), as a real web app would.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveViewerFile, VIEWER_PATH } from '../../edge-server/viewerAssets.js';
import { createWebServer, type TlsOptions } from '../../protocol/server/webAccess.js';

export interface ViewerServerOptions {
  tls?: TlsOptions;
  /** @default 0 (any free port) */
  port?: number;
  /** Query string the printed URL carries (discovery=…&lat=…). */
  pageQuery: string;
  killEdge(): Promise<void>;
  startEdge(): Promise<void>;
}

export class ViewerServer {
  readonly #server: Server;
  readonly #options: ViewerServerOptions;

  constructor(options: ViewerServerOptions) {
    this.#options = options;
    this.#server = createWebServer(options.tls, (req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const action = { '/demo/kill-edge': options.killEdge, '/demo/start-edge': options.startEdge }[path];
      if (action) {
        if (req.method !== 'POST') return void res.writeHead(405, { allow: 'POST' }).end();
        action().then(
          () => res.writeHead(204).end(),
          (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
        );
        return;
      }
      if (path === '/') return void res.writeHead(302, { location: `${VIEWER_PATH}?${options.pageQuery}` }).end();
      if (req.method === 'GET') return void serveViewerFile(path, res);
      res.writeHead(404).end();
    });
  }

  /** Listens on loopback; returns the page's full URL (host `localhost`, the certificate's name). */
  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(this.#options.port ?? 0, '127.0.0.1', resolve));
    const { port } = this.#server.address() as AddressInfo;
    return `${this.#options.tls ? 'https' : 'http'}://localhost:${port}${VIEWER_PATH}?${this.#options.pageQuery}`;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
