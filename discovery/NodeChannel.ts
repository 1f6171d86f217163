/**
 * The node channel (`/v1/node`, protocol/discovery.ts): a node authenticates once, then stays
 * alive at the cost of a ws ping/pong per interval.
 *
 * Why: a signed heartbeat per node per second costs discovery an HTTP request, a JSON parse, an
 * Ed25519 verification, a nonce write and a registry script, so one replica held ~10k nodes.
 * Here the signature is checked once per connection (over the connection's challenge), the
 * connection itself is the credential afterwards, the node sends a bare ws pong frame each
 * interval, pongs are folded into one batched `registry.refresh()` per interval, and load
 * reaches the registry only when the node says it changed (pushed past a threshold, rate-capped),
 * batched with every other status of the next statusFlushMs into one registry write.
 * Discovery writes to a node's socket only every `pingEveryRounds` rounds (so the node can tell
 * discovery is gone): node-driven pongs halve the socket operations per node-second.
 *
 * A node that disconnects stops being refreshed and expires a ttl after its last pong; a node
 * that stops sending them is cut off once it has been silent for the ttl.
 */
import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import { Logger } from '../protocol/Logger.js';
import { NodeChannelClose, nodeChannelInSchema, type NodeStatusMessage } from '../protocol/discovery.js';
import { DiscoveryError, DiscoveryErrorCode as E, parseBody } from './errors.js';
import type { StatusUpdate } from './registry/Registry.js';
import type { ChannelAdmission, ChannelRegistry, NodeChannelHost } from './channels/NodeChannelHost.js';

const logger = new Logger('discovery:node-channel');

export interface NodeChannelOptions {
  /** How long a connection may stay unregistered after its challenge. Default 10 s. */
  registerTimeoutMs?: number;
  /**
   * Shortest gap between two status updates of one node; faster ones are refused RATE_LIMITED.
   * Nodes push only changes, at most every `statusIntervalMs` (NodeAgent). Default 250 ms.
   */
  minStatusIntervalMs?: number;
  /**
   * Messages one channel may send, of any kind (a flood of garbage still costs a parse and an
   * error reply each): a token bucket of this rate and twice as many in a burst; beyond it the
   * channel is closed (4429). Default 20/s.
   */
  maxMessagesPerSecond?: number;
  /** Nodes per registry.refresh() call of a liveness round (each its own write, the loop free between them). Default 500. */
  refreshBatch?: number;
  /** Discovery pings each channel every this many liveness rounds (nodes pong every interval on their own). Default 10. */
  pingEveryRounds?: number;
  /** How often the liveness round runs (tick()). Default: the heartbeat interval. */
  tickIntervalMs?: number;
  /**
   * Channels handled between two turns of the event loop in a liveness round. Pinging 2,000
   * channels in one go held the loop ~50 ms, which was the p99 of every query served meanwhile.
   * Default 32.
   */
  pingBatch?: number;
  /**
   * An accepted status waits up to this long to be written with the others (one registry
   * touchMany() per flush, a script per 100 nodes on Redis, instead of a script per status), and
   * is acked once written. Far below the interval, so liveness keeps its 3-interval guarantee.
   * 0 writes each status on its own (a touch() per status, as before batching; `bench scale`
   * compares the two in one run). Default 100 ms.
   */
  statusFlushMs?: number;
  /** Flush at once when this many statuses wait. Default 500. */
  statusBatch?: number;
  /** Clock (epoch ms) for pongs and liveness; give it the registry's clock in tests. Default `Date.now`. */
  now?: () => number;
}

interface Channel {
  ws: WebSocket;
  ip: string;
  challenge: string;
  /** Set once the registration passed admission. */
  id?: string;
  lastSeq: number;
  /** The registered capacity: a status cannot claim more free sessions. */
  capacity: number;
  lastStatusAt: number;
  /** Epoch ms of the latest pong, status or registration. */
  lastPong: number;
  /** The liveness round during which lastPong was heard. */
  lastPongRound: number;
  /** lastPong as last written to the registry. */
  refreshed: number;
  registerTimer?: ReturnType<typeof setTimeout>;
  /** A registration is being checked: a second one on this connection is refused. */
  registering: boolean;
  /** Message token bucket. */
  tokens: number;
  tokensAt: number;
}

export class NodeChannels implements NodeChannelHost {
  readonly #registry: ChannelRegistry;
  readonly #admission: ChannelAdmission;
  readonly #intervalMs: number;
  readonly #ttlMs: number;
  readonly #registerTimeoutMs: number;
  readonly #minStatusIntervalMs: number;
  readonly #allowRegister: (ip: string) => void;
  readonly #channels = new Set<Channel>();
  readonly #byId = new Map<string, Channel>();
  readonly #ticker: ReturnType<typeof setInterval>;
  readonly #now: () => number;
  readonly #pingBatch: number;
  readonly #pingEveryRounds: number;
  readonly #refreshBatch: number;
  readonly #maxMessagesPerSecond: number;
  /** Public so a bench can compare batched and per-status writes on one replica. */
  statusFlushMs: number;
  readonly #statusBatch: number;
  /** Accepted statuses not yet written, per channel (the latest; every seq is acked). */
  #pending = new Map<Channel, StatusUpdate & { seqs: number[] }>();
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #round = 0;
  #ticking = false;
  /** A round was due while the last one still ran: run the next as soon as it ends. */
  #overran = false;
  #closed = false;
  /** The channels of the current liveness round (tick()), reused from round to round. */
  readonly #roundList: Channel[] = [];

  /**
   * @param allowRegister throws RATE_LIMITED when `ip` registers too often (the server's buckets).
   */
  constructor(registry: ChannelRegistry, admission: ChannelAdmission, intervalMs: number, allowRegister: (ip: string) => void, options: NodeChannelOptions = {}) {
    this.#registry = registry;
    this.#admission = admission;
    this.#intervalMs = intervalMs;
    this.#ttlMs = registry.ttlMs;
    this.#registerTimeoutMs = options.registerTimeoutMs ?? 10_000;
    this.#minStatusIntervalMs = options.minStatusIntervalMs ?? 250;
    this.#allowRegister = allowRegister;
    this.#now = options.now ?? Date.now;
    this.#pingBatch = options.pingBatch ?? 32;
    this.#pingEveryRounds = options.pingEveryRounds ?? 10;
    this.#refreshBatch = options.refreshBatch ?? 500;
    this.#maxMessagesPerSecond = options.maxMessagesPerSecond ?? 20;
    this.statusFlushMs = options.statusFlushMs ?? 100;
    this.#statusBatch = options.statusBatch ?? 500;
    this.#ticker = setInterval(() => void this.tick(), options.tickIntervalMs ?? intervalMs);
    this.#ticker.unref();
  }

  /** When this replica last heard from node `id` over its channel (undefined: no channel here). */
  lastHeard(id: string): number | undefined {
    return this.#byId.get(id)?.lastPong;
  }

  /** Registered channels on this replica. */
  get size(): number {
    return this.#byId.size;
  }

  async count(): Promise<number> {
    return this.#byId.size;
  }

  accept(ws: WebSocket, ip: string): void {
    const channel: Channel = { ws, ip, challenge: randomBytes(16).toString('base64url'), lastSeq: -1, capacity: 0, lastStatusAt: -Infinity, lastPong: 0, lastPongRound: 0, refreshed: 0, registering: false, tokens: 2 * this.#maxMessagesPerSecond, tokensAt: performance.now() };
    this.#channels.add(channel);
    channel.registerTimer = setTimeout(() => ws.close(NodeChannelClose.REGISTER_TIMEOUT, 'register within the timeout'), this.#registerTimeoutMs);
    ws.on('pong', () => {
      if (channel.id !== undefined) this.#heard(channel, this.#now());
    });
    ws.on('message', (data, isBinary) => void this.#onMessage(channel, data as Buffer, isBinary));
    ws.on('error', (err) => logger.debug('node channel error from %s: %s', ip, err.message));
    ws.on('close', () => {
      clearTimeout(channel.registerTimer);
      this.#channels.delete(channel);
      if (channel.id !== undefined && this.#byId.get(channel.id) === channel) this.#byId.delete(channel.id);
    });
    send(ws, { t: 'challenge', nonce: channel.challenge, intervalMs: this.#intervalMs, pingIntervalMs: this.#intervalMs * this.#pingEveryRounds });
  }

  /**
   * One liveness round: every channel heard from since the last round goes into one batched
   * registry write; channels silent for the ttl are cut off; every `pingEveryRounds` rounds the
   * rest are pinged. Runs on a timer; public so tests and benches can drive it.
   */
  async tick(now = this.#now()): Promise<void> {
    // a slow registry write must not pile rounds on top of each other; but the round that was due
    // runs as soon as this one ends, not a whole interval later (a node's lastSeen would age by
    // the overrun plus an interval between two writes, past the ttl on a loaded replica)
    if (this.#ticking) {
      this.#overran = true;
      return;
    }
    this.#ticking = true;
    try {
      const round = ++this.#round;
      const ping = round % this.#pingEveryRounds === 1 || this.#pingEveryRounds === 1;
      // silent = quiet for the ttl AND for that many rounds: a replica that stalled (overloaded,
      // paused) has not read the pongs waiting in its sockets, and must not cut those nodes off
      const silentRounds = Math.max(1, Math.round(this.#ttlMs / this.#intervalMs));
      let inBatch = 0;
      // Nothing this round allocates may outlive a few turns of the loop: a young-generation
      // scavenge costs what survives it, and the round spans hundreds of turns (and scavenges).
      // So the channels are listed into one array kept from round to round (old, after the first
      // rounds: a fresh copy of 8,000 lived through each round and was promoted, ~2 MB per 5 s
      // in the survivor profile of `bench scale --queries-only`; walking the Map's live iterator
      // across the awaits instead made an iterator result per channel), and each batch is
      // sent as soon as it is full instead of all batches being held until the end.
      const list = this.#roundList;
      let count = 0;
      this.#byId.forEach((channel) => {
        list[count++] = channel;
      });
      if (list.length > count) list.length = count; // shrinking frees, it allocates nothing
      let seen = new Map<string, number>();
      // each write's failure is caught when it is sent (the round goes on awaiting turns of the
      // loop meanwhile: a rejection nobody handled yet would count as unhandled); the first is
      // the round's failure
      const writes: Promise<void>[] = [];
      let failure: { error: unknown } | undefined;
      const write = (batch: Map<string, number>) => writes.push(this.#writeRefresh(batch).catch((error: unknown) => void (failure ??= { error })));
      for (let i = 0; i < count; i++) {
        const channel = list[i]!;
        if (++inBatch === this.#pingBatch) {
          inBatch = 0;
          await new Promise((resolve) => setImmediate(resolve));
        }
        if (channel.ws.readyState !== channel.ws.OPEN) continue;
        if (now - channel.lastPong >= this.#ttlMs && round - channel.lastPongRound >= silentRounds) {
          logger.debug("cutting off %s: silent %d ms, %d rounds", channel.id, now - channel.lastPong, round - channel.lastPongRound);
          channel.ws.terminate();
          continue;
        }
        if (channel.lastPong > channel.refreshed) {
          seen.set(channel.id!, channel.lastPong);
          channel.refreshed = channel.lastPong;
          // one registry write per batch (building one for 8,000 nodes held the loop several ms),
          // sent as soon as it is full and not awaited: awaiting each reply before the next batch
          // made a round as long as its batches' round trips through a busy loop (16 at 8,000
          // nodes, seconds on a loaded replica), and live nodes expired between two rounds
          if (seen.size === this.#refreshBatch) {
            write(seen);
            seen = new Map();
          }
        }
        if (ping) channel.ws.ping();
      }
      if (seen.size > 0) write(seen);
      await Promise.all(writes);
      if (failure) throw failure.error;
    } catch (err) {
      logger.debug('liveness round failed: %s', (err as Error).message);
    } finally {
      this.#ticking = false;
      if (this.#overran && !this.#closed) {
        this.#overran = false;
        void this.tick();
      }
    }
  }

  /** One batch of a liveness round to the registry; the nodes it forgot must register again. */
  async #writeRefresh(seen: Map<string, number>): Promise<void> {
    const missing = await this.#registry.refresh(seen);
    // the registry forgot them (swept during an outage, flushed): they must register again
    for (const id of missing) this.#byId.get(id)?.ws.close(NodeChannelClose.UNKNOWN, 'register again');
  }

  #heard(channel: Channel, at: number): void {
    channel.lastPong = at;
    channel.lastPongRound = this.#round;
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#ticker);
    clearTimeout(this.#flushTimer);
    for (const channel of this.#channels) channel.ws.close(NodeChannelClose.GOING_AWAY, 'discovery is shutting down');
  }

  async #onMessage(channel: Channel, data: Buffer, isBinary: boolean): Promise<void> {
    let seq: number | undefined;
    let registering = false;
    // the bucket runs on the real clock: it guards this process, whatever clock liveness runs on
    const t = performance.now();
    channel.tokens = Math.min(2 * this.#maxMessagesPerSecond, channel.tokens + ((t - channel.tokensAt) / 1000) * this.#maxMessagesPerSecond);
    channel.tokensAt = t;
    if (channel.tokens < 1) {
      send(channel.ws, { t: 'error', code: E.RATE_LIMITED, message: `more than ${this.#maxMessagesPerSecond} messages/s on this channel` });
      channel.ws.close(NodeChannelClose.RATE_LIMITED, E.RATE_LIMITED);
      return;
    }
    channel.tokens -= 1;
    try {
      if (isBinary) throw new DiscoveryError(E.BAD_JSON, 'send JSON text frames');
      let message: unknown;
      try {
        message = JSON.parse(data.toString('utf8'));
      } catch {
        throw new DiscoveryError(E.BAD_JSON, 'message is not JSON');
      }
      const t = (message as { t?: unknown } | null)?.t;
      if (t === 'status') {
        const status = parseBody(nodeChannelInSchema.status, message, 'status');
        seq = status.seq;
        await this.#onStatus(channel, status);
      } else if (t === 'register') {
        registering = true;
        await this.#onRegister(channel, parseBody(nodeChannelInSchema.register, message, 'register').registration);
      } else {
        throw new DiscoveryError(E.MALFORMED, "t must be 'register' or 'status'");
      }
    } catch (err) {
      const error = err instanceof DiscoveryError ? err : new DiscoveryError(E.UNAVAILABLE, 'the registry backend is unreachable; retry shortly');
      if (!(err instanceof DiscoveryError)) logger.debug('node channel: %s', (err as Error).message);
      send(channel.ws, { t: 'error', code: error.code, message: error.message, ...(seq === undefined ? {} : { seq }) });
      // a refused registration is a configuration problem; the connection has no further use
      if (registering && channel.id === undefined && error.code !== E.RATE_LIMITED && error.code !== E.UNAVAILABLE && error.code !== E.MALFORMED) {
        channel.ws.close(NodeChannelClose.REFUSED, error.code);
      }
    }
  }

  async #onRegister(channel: Channel, registration: unknown): Promise<void> {
    if (channel.id !== undefined || channel.registering) throw new DiscoveryError(E.MALFORMED, 'this connection already registered; open a new one to register again');
    this.#allowRegister(channel.ip);
    channel.registering = true;
    let record;
    try {
      record = await this.#admission.register(registration, this.#now(), channel.challenge, channel.ip);
    } finally {
      channel.registering = false;
    }
    if (channel.ws.readyState !== channel.ws.OPEN) return;
    clearTimeout(channel.registerTimer);
    channel.id = record.id;
    channel.capacity = record.capacity;
    this.#heard(channel, record.lastSeen);
    channel.refreshed = record.lastSeen;
    // one live channel per node on this replica: a reconnect replaces the old connection
    const old = this.#byId.get(record.id);
    this.#byId.set(record.id, channel);
    old?.ws.close(NodeChannelClose.REPLACED, 'replaced by a newer connection of this node');
    send(channel.ws, { t: 'registered', id: record.id, heartbeatIntervalMs: this.#intervalMs, ttlMs: this.#ttlMs });
  }

  async #onStatus(channel: Channel, status: NodeStatusMessage): Promise<void> {
    if (channel.id === undefined) throw new DiscoveryError(E.NOT_AUTHENTICATED, 'register on this connection before sending status');
    if (status.id !== undefined && status.id !== channel.id) {
      throw new DiscoveryError(E.WRONG_CONNECTION, `this connection is node ${channel.id}'s; it cannot update ${status.id}`);
    }
    if (status.seq <= channel.lastSeq) throw new DiscoveryError(E.STALE_SEQUENCE, `seq ${status.seq} is not above ${channel.lastSeq}`);
    const now = this.#now();
    if (now - channel.lastStatusAt < this.#minStatusIntervalMs) {
      throw new DiscoveryError(E.RATE_LIMITED, `status at most every ${this.#minStatusIntervalMs} ms; push changes only`);
    }
    channel.lastSeq = status.seq;
    channel.lastStatusAt = now;
    this.#heard(channel, now);
    const update = { load: status.load, freeCapacity: Math.min(status.freeCapacity, channel.capacity), at: now };
    if (this.statusFlushMs === 0) {
      const touched = await this.#registry.touch(channel.id, update, now);
      if (touched === undefined) return channel.ws.close(NodeChannelClose.UNKNOWN, 'register again');
      channel.refreshed = now;
      send(channel.ws, { t: 'ack', seq: status.seq });
      return;
    }
    const waiting = this.#pending.get(channel);
    this.#pending.set(channel, { ...update, seqs: waiting ? [...waiting.seqs, status.seq] : [status.seq] });
    if (this.#pending.size >= this.#statusBatch) void this.#flushStatus();
    else this.#flushTimer ??= setTimeout(() => void this.#flushStatus(), this.statusFlushMs);
  }

  /** Writes every waiting status in one registry batch, then acks them (or closes the forgotten). */
  async #flushStatus(): Promise<void> {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    const batch = this.#pending;
    if (batch.size === 0) return;
    this.#pending = new Map();
    const updates = new Map<string, StatusUpdate>();
    for (const [channel, { load, freeCapacity, at }] of batch) updates.set(channel.id!, { load, freeCapacity, at });
    let missing: Set<string>;
    try {
      missing = new Set(await this.#registry.touchMany(updates));
    } catch (err) {
      logger.debug('status batch failed: %s', (err as Error).message);
      for (const [channel, { seqs }] of batch) {
        for (const seq of seqs) send(channel.ws, { t: 'error', code: E.UNAVAILABLE, message: 'the registry backend is unreachable; retry shortly', seq });
      }
      return;
    }
    for (const [channel, { at, seqs }] of batch) {
      if (missing.has(channel.id!)) {
        channel.ws.close(NodeChannelClose.UNKNOWN, 'register again');
        continue;
      }
      if (at > channel.refreshed) channel.refreshed = at;
      for (const seq of seqs) send(channel.ws, { t: 'ack', seq });
    }
  }
}

function send(ws: WebSocket, message: object): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
}
