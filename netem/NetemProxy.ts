/**
 * A user-space network emulator: a TCP proxy on loopback that adds delay, jitter, loss stalls and
 * a bandwidth cap to every connection through it, and can cut the link. The kernel here has no
 * `sch_netem`, and a proxy also works unprivileged; WebSocket runs over it unchanged (point the
 * client at `proxy.url` instead of the node's URL).
 *
 *   const proxy = await startNetemProxy({ target: { host: '127.0.0.1', port }, delayMs: 20 });
 *   // RTT through proxy.url ≈ 2 × 20 ms
 *   proxy.update({ delayMs: 40 }); proxy.cut(); proxy.restore(); await proxy.close();
 */
import net from 'node:net';
import { DelayLine, resolveLinkParams, updateLinkParams, type LinkParams } from './DelayLine.js';

export type { LinkParams } from './DelayLine.js';

export interface NetemTarget {
  host: string;
  port: number;
}

export interface NetemOptions extends Partial<LinkParams> {
  target: NetemTarget;
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Loopback address to listen on (default 127.0.0.1). */
  host?: string;
  /**
   * Bytes queued in one direction before the proxy stops reading the sender (backpressure),
   * default 4 MiB: enough for a bandwidth-limited link never to stall a 90 Hz pose stream.
   */
  maxQueuedBytes?: number;
}

/**
 * How `cut()` breaks the link:
 * - `reset`: every connection is reset now and new ones are reset on accept (a node that died,
 *   a port that refuses) — peers learn at once.
 * - `blackhole`: connections stay open but nothing passes either way, new ones are accepted and
 *   go nowhere (a pulled cable, a wedged node) — peers learn only from missed pings.
 */
export type CutMode = 'reset' | 'blackhole';

export interface NetemStats {
  /** Connections accepted since start. */
  connections: number;
  /** Connections open now. */
  open: number;
  bytesUp: number;
  bytesDown: number;
}

export interface NetemProxy {
  readonly port: number;
  readonly host: string;
  /** `ws://host:port` — the URL to hand a WebSocket client instead of the target's. */
  readonly url: string;
  readonly params: Readonly<LinkParams>;
  readonly cutMode: CutMode | undefined;
  readonly stats: Readonly<NetemStats>;
  /** Changes link parameters; applies to chunks that arrive from now on. */
  update(params: Partial<LinkParams>): void;
  cut(mode?: CutMode): void;
  /** Lets new connections through again (connections killed by `cut` stay dead). */
  restore(): void;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** This project only ever talks to loopback; a typo must not send bench traffic anywhere else. */
export function assertLoopback(host: string, path: string): void {
  if (!LOOPBACK.has(host)) throw new TypeError(`${path} must be a loopback address (127.0.0.1, ::1, localhost), got ${JSON.stringify(host)}`);
}

interface Link {
  client: net.Socket;
  upstream: net.Socket;
  up: DelayLine;
  down: DelayLine;
}

/** A loopback `{ host, port }` or a TypeError naming `path`. */
export function assertTarget(target: NetemTarget | undefined, path = 'netem.target'): asserts target is NetemTarget {
  if (!target || typeof target.host !== 'string' || !Number.isInteger(target.port) || target.port <= 0 || target.port > 65535) {
    throw new TypeError(`${path} must be { host, port } with a port in 1..65535`);
  }
  assertLoopback(target.host, `${path}.host`);
}

export async function startNetemProxy(options: NetemOptions): Promise<NetemProxy> {
  const { target } = options;
  assertTarget(target);
  const host = options.host ?? '127.0.0.1';
  assertLoopback(host, 'netem.host');
  const params = resolveLinkParams(options);
  const maxQueuedBytes = options.maxQueuedBytes ?? 4 << 20;
  const stats: NetemStats = { connections: 0, open: 0, bytesUp: 0, bytesDown: 0 };
  const links = new Set<Link>();
  let cutMode: CutMode | undefined;
  // Sockets accepted while blackholed: held open, never forwarded.
  const held = new Set<net.Socket>();

  const destroyLink = (link: Link, reset: boolean) => {
    if (!links.delete(link)) return;
    stats.open--;
    link.up.close();
    link.down.close();
    for (const socket of [link.client, link.upstream]) {
      if (reset && typeof socket.resetAndDestroy === 'function' && !socket.destroyed && socket.readyState !== 'opening') socket.resetAndDestroy();
      else socket.destroy();
    }
  };

  /** Wires `from` → delay line → `to`, with backpressure and half-close carried across. */
  const pipe = (from: net.Socket, to: net.Socket, line: DelayLine, count: (n: number) => void) => {
    let ended = false;
    line.onIdle = () => {
      if (from.isPaused() && !ended) from.resume();
      if (ended && !to.destroyed) to.end();
    };
    from.on('data', (chunk: Buffer) => {
      if (cutMode === 'blackhole') return; // swallowed by the void
      count(chunk.byteLength);
      line.push(chunk);
      if (line.queuedBytes > maxQueuedBytes) from.pause();
    });
    from.on('end', () => {
      ended = true;
      if (line.idle && !to.destroyed) to.end();
    });
    to.on('drain', () => {
      if (line.queuedBytes <= maxQueuedBytes && from.isPaused()) from.resume();
    });
  };

  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    if (cutMode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    if (cutMode === 'blackhole') {
      held.add(client);
      client.on('close', () => held.delete(client));
      client.on('error', () => {});
      client.resume(); // read and drop
      return;
    }
    stats.connections++;
    stats.open++;
    const upstream = net.connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true });
    const link: Link = {
      client,
      upstream,
      up: new DelayLine({ params: () => params, deliver: (chunk) => upstream.write(chunk) }),
      down: new DelayLine({ params: () => params, deliver: (chunk) => client.write(chunk) }),
    };
    links.add(link);
    pipe(client, upstream, link.up, (n) => (stats.bytesUp += n));
    pipe(upstream, client, link.down, (n) => (stats.bytesDown += n));
    // A refused or reset upstream resets the client too, as a real dead host would look; the
    // RST, like any packet, takes the one-way delay to arrive.
    const later = (fn: () => void) => (params.delayMs > 0 ? setTimeout(fn, params.delayMs) : fn());
    const onError = () => later(() => destroyLink(link, true));
    client.on('error', onError);
    upstream.on('error', onError);
    const onClose = () => {
      // Let queued bytes drain before the other side learns of the close (a FIN is in order too).
      const other = client.destroyed ? upstream : client;
      const line = client.destroyed ? link.up : link.down;
      if (line.idle || other.destroyed) later(() => destroyLink(link, false));
      else line.onIdle = () => { other.end(); destroyLink(link, false); };
    };
    client.on('close', onClose);
    upstream.on('close', onClose);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    port,
    host,
    url: `ws://${urlHost}:${port}`,
    get params() {
      return { ...params };
    },
    get cutMode() {
      return cutMode;
    },
    get stats() {
      return { ...stats };
    },
    update(partial) {
      updateLinkParams(params, partial);
    },
    cut(mode = 'reset') {
      if (mode !== 'reset' && mode !== 'blackhole') throw new TypeError(`netem.cut mode must be 'reset' or 'blackhole'`);
      cutMode = mode;
      if (mode === 'reset') for (const link of [...links]) destroyLink(link, true);
      else for (const link of links) { link.up.close(); link.down.close(); }
    },
    restore() {
      cutMode = undefined;
      for (const socket of held) socket.destroy();
      held.clear();
      // Blackholed links lost bytes mid-stream; they cannot be resumed honestly, so they end.
      for (const link of [...links]) if (link.up.closed || link.down.closed) destroyLink(link, true);
    },
    async close() {
      cutMode = 'reset';
      for (const link of [...links]) destroyLink(link, false);
      for (const socket of held) socket.destroy();
      held.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
