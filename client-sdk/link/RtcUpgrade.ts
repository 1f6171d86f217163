/**
 * Puts one connection's hot path on WebRTC when the node can (`webrtc` in its welcome) and the
 * client can (a peer implementation, RtcPeer.ts), in the background: until the channels open,
 * and whenever they are gone, pose/predict travel on ws, so no call ever waits for the upgrade or
 * fails with it. When the edge loses the transport (`rtcLost`: its media worker died) it opens a
 * new one after the edge's `retryAfterMs`; an ICE/DTLS failure on our side leaves the session on
 * ws for the connection's life (the network between us will not change its mind). Owned by the
 * NodeConnection, closed with it.
 */
import { Logger } from '../../protocol/index.js';
import { RtcDataPath } from '../transport/RtcDataPath.js';
import { resolveRtcPeers, type DataPathOptions, type RtcPeerFactory } from '../transport/RtcPeer.js';
import type { NodeConnection } from './NodeConnection.js';

const logger = new Logger('client:rtc');

export class RtcUpgrade {
  readonly #conn: NodeConnection;
  readonly #timeoutMs: number;
  readonly #peers: Promise<RtcPeerFactory | undefined>;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(conn: NodeConnection, options: DataPathOptions) {
    this.#conn = conn;
    this.#timeoutMs = options.rtcConnectTimeoutMs ?? 5000;
    this.#peers = resolveRtcPeers(options);
    // an unhandled rejection here would be a peer library that failed to load: #open reports it
    this.#peers.catch(() => {});
    conn.on('rtclost', (retryAfterMs) => {
      conn.dataPath?.close();
      if (this.#closed || this.#timer) return;
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        void this.#open();
      }, retryAfterMs);
    });
    void this.#open();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  async #open(): Promise<void> {
    let path: RtcDataPath | undefined;
    try {
      const peers = await this.#peers;
      if (!peers) return;
      path = await RtcDataPath.open(this.#conn, peers, this.#timeoutMs);
    } catch (err) {
      const why = (err as Error)?.message ?? String(err);
      logger.debug(`${this.#conn.url}: staying on ws (${why})`);
      if (!this.#closed) this.#conn.useDataPath(undefined, why);
      return;
    }
    if (this.#closed || this.#conn.closed) path.close();
    else this.#conn.useDataPath(path);
  }
}
