/**
 * The channel process (`nodeChannelProcess: 'process'`, forked by ChannelProcess.ts): the node
 * channels' sockets, ws frames, liveness rounds and status batches live here, in a heap of their
 * own, so the replica's scavenges carry only its queries. The replica hands each `/v1/node`
 * upgrade over with its socket; NodeChannels runs here as it runs inline, with an admission that
 * forwards each registration to the replica, and a registry that either forwards each batch (a
 * liveness round's refresh is one message per batch, not one per node) to the replica, which
 * holds the memory registry, or, over a Redis registry, writes the batches to Redis on a
 * connection of its own (ownLiveness).
 */
import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { Logger } from '../../protocol/Logger.js';
import { DiscoveryError, DiscoveryErrorCode as E } from '../errors.js';
import { NodeChannels, type NodeChannelOptions } from '../NodeChannel.js';
import type { LivenessStore, SlotHandle, StatusUpdate } from '../registry/Registry.js';
import { RedisRegistry } from '../registry/RedisRegistry.js';
import type { ChannelAdmission, ChannelRegistry } from './NodeChannelHost.js';
import { FramedPipe } from './FramedPipe.js';
import { ChannelProcessError, IpcCalls, IpcChecks, knownCode, type Call, type Reply } from './ipc.js';

const logger = new Logger('discovery:channel-process');

export interface ChannelInit {
  t: 'init';
  intervalMs: number;
  ttlMs: number;
  /** NodeChannelOptions less `now` (a function does not cross processes: the channel process runs on Date.now). */
  options: Omit<NodeChannelOptions, 'now'>;
  maxPayload: number;
  callTimeoutMs: number;
  /** How often the child reports its channel count when it changed. */
  sizeReportMs: number;
  /** Where the child writes liveness itself (a Redis registry), instead of through the replica. */
  liveness?: LivenessStore;
}

// calls, replies and events on fd 4 (FramedPipe.ts says why); Node's IPC channel brings only sockets
const pipe = new FramedPipe(new Socket({ fd: 4, readable: true, writable: true }), onMessage, (why) => {
  logger.error('the call pipe to the replica broke (%s); exiting', why);
  process.exit(1);
});
/** False only when the replica is gone (a full pipe queues). */
const send = (m: object): boolean => pipe.send(m);
const checks = new IpcChecks();
let calls: IpcCalls | undefined;
let channels: NodeChannels | undefined;
let wss: WebSocketServer | undefined;
/** This process's own Redis connection for liveness (ownLiveness), when the replica's registry offers one. */
let liveness: RedisRegistry | undefined;

const toError = (code: string, message: string) => {
  const known = knownCode(code);
  // a refusal the replica coded (BAD_SIGNATURE, RATE_LIMITED…) reaches the node as itself; anything else is UNAVAILABLE there
  return known ? new DiscoveryError(known, message) : new ChannelProcessError('CHANNEL_BAD_MESSAGE', `${code}: ${message}`);
};

async function start(init: ChannelInit): Promise<void> {
  const c = (calls = new IpcCalls((m) => send(m), init.callTimeoutMs));
  const ids = (v: unknown) => checks.ids(v, 'missing');
  const store = (liveness = init.liveness ? await ownLiveness(init.liveness) : undefined);
  const registry: ChannelRegistry = store
    ? {
        ttlMs: init.ttlMs,
        refresh: (seen) => store.refresh(seen),
        touch: async (id, status, now) => ((await store.touch(id, status, now)) ? {} : undefined),
        touchMany: (updates) => store.touchMany(updates),
      }
    : {
        ttlMs: init.ttlMs,
        refresh: (seen) => refresh(c, seen),
        touch: (id, status, now) => c.call('touch', { id, status, now }, (v) => (v === true ? {} : undefined)),
        touchMany: (updates: ReadonlyMap<string, StatusUpdate>) => c.call('touchMany', { updates }, ids),
      };
  const admission: ChannelAdmission = {
    register: (registration, now, challenge, ip) =>
      c.call('register', { registration, now, challenge, ip }, (v) => {
        const r = v as { id?: unknown; capacity?: unknown; lastSeen?: unknown; slot?: unknown; gen?: unknown } | null;
        const record = { id: checks.string(r?.id, 'id'), capacity: checks.finite(r?.capacity, 'capacity'), lastSeen: checks.finite(r?.lastSeen, 'lastSeen') };
        if (isUint32(r?.slot) && isUint32(r?.gen)) keepHandle(record.id, { slot: r.slot, gen: r.gen });
        return record;
      }),
  };
  // the replica ran its register limiter before admission: nothing to take here
  channels = new NodeChannels(registry, admission, init.intervalMs, () => {}, init.options);
  wss = new WebSocketServer({ noServer: true, maxPayload: init.maxPayload, perMessageDeflate: false });
  let reported = -1;
  // this timer's lateness is how long this process could not run: a whole liveness interval or
  // more (the replica's core saturated while this process runs in SCHED_IDLE) is reported, and
  // the replica lifts it where it may (ChannelProcess #starved)
  let due = performance.now() + init.sizeReportMs;
  setInterval(() => {
    const late = performance.now() - due;
    due = performance.now() + init.sizeReportMs;
    if (late >= init.intervalMs) send({ t: 'starved', ms: late });
    if (channels!.size !== reported) send({ t: 'size', size: (reported = channels!.size) });
  }, init.sizeReportMs).unref();
  send({ t: 'ready', liveness: store ? 'own connection' : 'replica' });
}

/**
 * A connection of this process's own to the replica's Redis keyspace (Registry.ts LivenessStore):
 * the liveness rounds and status batches are written from here, and the replica's query thread
 * sees none of them. It only writes (no sweeper, no query connection). Unreachable: the batches
 * go through the replica as before, and it is said once.
 */
async function ownLiveness(store: LivenessStore): Promise<RedisRegistry | undefined> {
  try {
    return await RedisRegistry.connect({ url: store.url, ...store.options, queryConnection: false, sweeps: false });
  } catch (err) {
    logger.warn('the channel process could not reach Redis itself (%s); its liveness writes go through the replica', (err as Error).message);
    return undefined;
  }
}

/**
 * Each registered node's slot handle in the replica's memory registry (from its registration's
 * reply): a liveness batch whose nodes all have one goes as typed arrays (`refreshSlots`), so
 * the replica, which answers the queries, deserialises numbers instead of 500 id strings and a
 * Map per batch. Handles of nodes no longer connected here are dropped once the table outgrows
 * the channels (a registration replaces a node's handle; a stale one is only refused, never
 * refreshes another node: the replica checks the slot's generation).
 */
const handles = new Map<string, SlotHandle>();
const isUint32 = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffff_ffff;

function keepHandle(id: string, handle: SlotHandle): void {
  if (channels !== undefined && handles.size >= 2 * channels.size + 1024) {
    for (const known of handles.keys()) if (channels.lastHeard(known) === undefined) handles.delete(known);
  }
  handles.set(id, handle);
}

async function refresh(c: IpcCalls, seen: ReadonlyMap<string, number>): Promise<string[]> {
  const n = seen.size;
  const slots = new Uint32Array(n);
  const gens = new Uint32Array(n);
  const times = new Float64Array(n);
  const ids: string[] = [];
  for (const [id, at] of seen) {
    const handle = handles.get(id);
    // a node without a handle (a Redis registry gives none): the whole batch by id
    if (handle === undefined) return c.call('refresh', { seen }, (v) => checks.ids(v, 'missing'));
    slots[ids.length] = handle.slot;
    gens[ids.length] = handle.gen;
    times[ids.length] = at;
    ids.push(id);
  }
  const missing = await c.call('refreshSlots', { slots, gens, seen: times }, (v) => checks.positions(v, n, 'missing'));
  return missing.map((i) => ids[i]!);
}

function upgrade(m: Record<string, unknown>, socket: Socket | undefined): void {
  if (socket === undefined) return; // the connection closed while it was handed over
  if (wss === undefined || channels === undefined) return void socket.destroy();
  try {
    const headers = m.headers as IncomingMessage['headers'];
    const head = Buffer.from(m.head as Uint8Array);
    const ip = checks.string(m.ip, 'ip');
    // ws reads the method, the headers and the socket of the request
    const req = { method: checks.string(m.method, 'method'), url: checks.string(m.url, 'url'), headers, socket } as unknown as IncomingMessage;
    wss.handleUpgrade(req, socket, head, (ws) => channels!.accept(ws, ip));
  } catch (err) {
    logger.warn('upgrade handed over malformed: %s', (err as Error).message);
    socket.destroy();
  }
}

async function answer(call: Call): Promise<unknown> {
  const ch = channels!;
  switch (call.op) {
    case 'tick':
      return ch.tick();
    case 'lastHeard':
      return ch.lastHeard(checks.string(call.args.id, 'id')) ?? null;
    case 'count':
      return ch.size;
    case 'statusFlushMs':
      ch.statusFlushMs = checks.finite(call.args.ms, 'ms');
      return ch.statusFlushMs;
    case 'usage': {
      const cpu = process.cpuUsage();
      const mem = process.memoryUsage();
      return { cpuMicros: cpu.user + cpu.system, rss: mem.rss, heapUsed: mem.heapUsed, external: mem.external + mem.arrayBuffers };
    }
    case 'close':
      // the same close codes as inline (NodeChannels.close), then the sockets go as the server's do
      ch.close();
      for (const ws of wss!.clients) ws.terminate();
      await liveness?.close();
      return null;
    default:
      throw new DiscoveryError(E.MALFORMED, `no call ${call.op}`);
  }
}

process.on('message', (raw: unknown, socket?: Socket) => {
  const m = raw as { t?: unknown } | null;
  if (m?.t === 'upgrade') upgrade(m as Record<string, unknown>, socket);
  else socket?.destroy();
});

function onMessage(raw: unknown): void {
  let m;
  try {
    m = checks.envelope(raw);
  } catch (err) {
    return logger.warn('dropped a message from the replica: %s', (err as Error).message);
  }
  if (m.t === 'init' && calls === undefined) return void start(m as unknown as ChannelInit);
  if (m.t === 'reply') return calls?.settle(m as Reply, toError);
  if (m.t !== 'call' || channels === undefined) return;
  const call = m as Call;
  answer(call).then(
    (result) => {
      const reply = { t: 'reply', id: call.id, ok: true, result };
      send(reply);
      // closed: exit once the reply is out (the replica waits for both)
      if (call.op === 'close') pipe.end(() => process.exit(0));
    },
    (err: Error & { code?: string }) => send({ t: 'reply', id: call.id, ok: false, code: err.code ?? 'INTERNAL', message: err.message }),
  );
}
// never outlive the replica
process.on('disconnect', () => process.exit(0));
