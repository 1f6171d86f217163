/**
 * The network emulator's UDP path: a datagram proxy on loopback that adds delay, jitter, loss and
 * a bandwidth cap (with a bounded bottleneck queue) to each direction, through the same DelayLine
 * link model as the TCP proxy, so WebRTC (ICE, DTLS, SCTP, RTP) is measured through the same links
 * as ws. Each client source address gets its own upstream socket, so the target sees one peer per
 * client and answers go back to the right one.
 *
 *   const proxy = await startUdpNetemProxy({ target: { host: '127.0.0.1', port }, delayMs: 20, lossRate: 0.02 });
 *   // send to 127.0.0.1:proxy.port instead of the target (for WebRTC: rewrite the ICE candidate)
 *   proxy.update({ up: { bandwidthBytesPerS: 1.25e6 } }); proxy.cut(); proxy.restore(); await proxy.close();
 */
import dgram from 'node:dgram';
import { DelayLine, resolveLinkParams, updateLinkParams, validateLinkParams, type LinkParams } from './DelayLine.js';
import { assertLoopback, assertTarget, type NetemTarget } from './NetemProxy.js';

export interface UdpLinkUpdate extends Partial<LinkParams> {
  /** Overrides for client → target only. */
  up?: Partial<LinkParams>;
  /** Overrides for target → client only. */
  down?: Partial<LinkParams>;
}

export interface UdpNetemOptions extends UdpLinkUpdate {
  target: NetemTarget;
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Loopback address to listen on (default 127.0.0.1). */
  host?: string;
  /**
   * Bytes each direction's bottleneck queue holds before it drops arrivals (tail drop), default
   * 256 KiB: about 200 ms at 10 Mbit/s, a typical access-router buffer, so a capped link shows
   * queueing delay and then loss, as a real one does.
   */
  maxQueuedBytes?: number;
  /** A client silent this long loses its upstream socket (default 30 s, longer than ICE consent). */
  idleTimeoutMs?: number;
  /** Most clients at once; datagrams from more are dropped (default 1024: bounds the sockets). */
  maxClients?: number;
  /** Loss and jitter draws; injectable so a loss test is deterministic. Default Math.random. */
  random?: () => number;
}

export interface UdpNetemStats {
  /** Client source addresses seen since start. */
  clients: number;
  /** Clients with an open upstream socket now. */
  open: number;
  datagramsUp: number;
  datagramsDown: number;
  /** Dropped by loss, a full queue, a cut link or the client limit. */
  droppedUp: number;
  droppedDown: number;
  bytesUp: number;
  bytesDown: number;
}

export interface UdpNetemProxy {
  readonly port: number;
  readonly host: string;
  readonly params: Readonly<{ up: LinkParams; down: LinkParams }>;
  readonly cut: boolean;
  readonly stats: Readonly<UdpNetemStats>;
  /** Changes link parameters (both ways, then `up`/`down` overrides); applies to new datagrams. */
  update(params: UdpLinkUpdate): void;
  /** Drops every datagram both ways until `restore()` (UDP has no reset: a pulled cable). */
  cutLink(): void;
  restore(): void;
  close(): Promise<void>;
}

interface Client {
  upstream: dgram.Socket;
  up: DelayLine;
  down: DelayLine;
  idle: NodeJS.Timeout;
}

function checkUpdate(update: UdpLinkUpdate): void {
  validateLinkParams(update);
  if (update.up !== undefined) validateLinkParams(update.up, 'netem.up');
  if (update.down !== undefined) validateLinkParams(update.down, 'netem.down');
}

function positiveOption(value: number | undefined, fallback: number, path: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0)) throw new TypeError(`${path} must be a number > 0`);
  return value;
}

export async function startUdpNetemProxy(options: UdpNetemOptions): Promise<UdpNetemProxy> {
  const { target } = options;
  assertTarget(target);
  const host = options.host ?? '127.0.0.1';
  assertLoopback(host, 'netem.host');
  checkUpdate(options);
  const maxQueuedBytes = positiveOption(options.maxQueuedBytes, 256 << 10, 'netem.maxQueuedBytes');
  const idleTimeoutMs = positiveOption(options.idleTimeoutMs, 30_000, 'netem.idleTimeoutMs');
  const maxClients = positiveOption(options.maxClients, 1024, 'netem.maxClients');
  const random = options.random ?? Math.random;

  const both = resolveLinkParams(options);
  const params = { up: { ...both, ...options.up }, down: { ...both, ...options.down } };
  const stats: UdpNetemStats = { clients: 0, open: 0, datagramsUp: 0, datagramsDown: 0, droppedUp: 0, droppedDown: 0, bytesUp: 0, bytesDown: 0 };
  const clients = new Map<string, Client>();
  let cut = false;
  let closed = false;

  const family = (h: string) => (h.includes(':') ? 'udp6' : 'udp4');
  const server = dgram.createSocket({ type: family(host) });
  // A send to a vanished client fails asynchronously; UDP has no one to tell, so it is a drop.
  server.on('error', () => {});

  const dropClient = (key: string) => {
    const client = clients.get(key);
    if (!client) return;
    clients.delete(key);
    stats.open--;
    clearTimeout(client.idle);
    client.up.close();
    client.down.close();
    client.upstream.close();
  };

  const clientFor = (address: string, port: number): Client | undefined => {
    const key = `${address}|${port}`;
    const existing = clients.get(key);
    if (existing) {
      existing.idle.refresh();
      return existing;
    }
    if (clients.size >= maxClients) return undefined;
    const upstream = dgram.createSocket({ type: family(target.host) });
    upstream.on('error', () => {}); // ICMP port unreachable from a dead target: a drop, as on a real link
    const client: Client = {
      upstream,
      up: new DelayLine({
        kind: 'datagram',
        maxQueuedBytes,
        random,
        params: () => params.up,
        deliver: (datagram) => upstream.send(datagram, target.port, target.host),
      }),
      down: new DelayLine({
        kind: 'datagram',
        maxQueuedBytes,
        random,
        params: () => params.down,
        deliver: (datagram) => server.send(datagram, port, address),
      }),
      idle: setTimeout(() => dropClient(key), idleTimeoutMs),
    };
    client.idle.unref();
    upstream.on('message', (datagram) => {
      if (cut) return void stats.droppedDown++;
      client.idle.refresh();
      if (Number.isNaN(client.down.push(datagram))) return void stats.droppedDown++;
      stats.datagramsDown++;
      stats.bytesDown += datagram.byteLength;
    });
    // Bound to loopback: the proxy never listens beyond it.
    upstream.bind(0, family(target.host) === 'udp6' ? '::1' : '127.0.0.1');
    clients.set(key, client);
    stats.clients++;
    stats.open++;
    return client;
  };

  server.on('message', (datagram, rinfo) => {
    if (cut) return void stats.droppedUp++;
    const client = clientFor(rinfo.address, rinfo.port);
    if (!client || Number.isNaN(client.up.push(datagram))) return void stats.droppedUp++;
    stats.datagramsUp++;
    stats.bytesUp += datagram.byteLength;
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.bind(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  return {
    port: server.address().port,
    host,
    get params() {
      return { up: { ...params.up }, down: { ...params.down } };
    },
    get cut() {
      return cut;
    },
    get stats() {
      return { ...stats };
    },
    update(update) {
      checkUpdate(update); // all of it first, so a bad update changes nothing
      const { up, down, ...common } = update;
      for (const [line, own] of [[params.up, up], [params.down, down]] as const) {
        updateLinkParams(line, common);
        if (own) updateLinkParams(line, own);
      }
    },
    cutLink() {
      cut = true;
      // What was in flight is lost with the cable; clients get fresh upstream sockets on restore.
      for (const key of [...clients.keys()]) dropClient(key);
    },
    restore() {
      cut = false;
    },
    async close() {
      if (closed) return;
      closed = true;
      cut = true;
      for (const key of [...clients.keys()]) dropClient(key);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
