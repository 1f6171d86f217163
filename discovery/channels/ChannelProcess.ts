/**
 * The replica's side of the channel process (`nodeChannelProcess: 'process'`): it forks
 * channelMain.js, hands it every `/v1/node` upgrade with its socket (Node can pass a socket to a
 * child process, not to a worker thread: same public port, no deployment change), and answers its
 * calls with the real registry, register limiter and Admission.
 *
 * Why: with the channels inline, every young-generation scavenge of the replica carried the
 * channels' survivors (new connections, socket reads, ws frames, status batches, the liveness
 * round), and the query p99 under churn was a scavenge pause. Here those live in another heap.
 * The child runs in the background and inherits the replica's affinity: at `nice`, and on a
 * one-core replica that may lift it back (CAP_SYS_NICE) in SCHED_IDLE once it is ready
 * (protocol/server/background.ts: since EEVDF, niceness no longer keeps a woken query from
 * waiting for the rest of the child's slice). The idle class has no floor: a child starved for a
 * liveness interval says so, and is moved back to the normal class until the core has had time
 * to calm down (#starved).
 *
 * If the child dies the replica logs it, keeps answering queries, and starts a new one after
 * `restartDelayMs`; its nodes reconnect and register again, as after a replica restart. Upgrades
 * arriving while no child is ready are answered 503.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Logger } from '../../protocol/Logger.js';
import { backgroundProcess, foregroundProcess, mayLeaveIdle, niceProcess, type Background } from '../../protocol/server/background.js';
import { currentGcThreads, SINGLE_THREADED_GC_FLAG } from '../../protocol/server/gcThreads.js';
import type { Admission } from '../admission.js';
import { DiscoveryError } from '../errors.js';
import type { NodeChannelOptions } from '../NodeChannel.js';
import { livenessStoreOf, slotLiveness, type Registry, type StatusUpdate } from '../registry/Registry.js';
import { TrustError } from '../trustErrors.js';
import type { ChannelInit } from './channelMain.js';
import { DEFAULT_MAX_FRAME_BYTES, FramedPipe } from './FramedPipe.js';
import { ChannelProcessError, IpcCalls, IpcChecks, type Call, type IpcLimits, type Reply } from './ipc.js';
import type { NodeChannelHost } from './NodeChannelHost.js';

const logger = new Logger('discovery:channel-process');

export interface ChannelProcessOptions extends IpcLimits {
  /** A call to the child (or the child's to us) with no reply within this fails CHANNEL_TIMEOUT. Default 10 s. */
  callTimeoutMs?: number;
  /** How long the child may take to start (fork, load, `ready`). Default 30 s. */
  readyTimeoutMs?: number;
  /** Wait before starting a new child after one died (a child that dies at once must not spin). Default 1 s. */
  restartDelayMs?: number;
  /**
   * Run the child in SCHED_IDLE once it is ready: a query woken on the shared core runs at once
   * instead of after the child's slice. Default: when the replica runs single-threaded GC
   * (discovery --gc auto on a one-core replica, or --gc single), the layout where the child shares
   * the query thread's core. Only where the replica may lift it back (CAP_SYS_NICE); otherwise,
   * or where it cannot be set: at `nice`.
   */
  idle?: boolean;
  /** The child's niceness when not idle (os.setPriority), and once moved back after starving. Default 10. */
  nice?: number;
  /**
   * A child moved back to `nice` after starving goes idle again this long later; each time it
   * starves again the wait doubles (up to 32×). A burst that saturates the core (a query flood, a
   * mass reconnect) then costs its duration, not the rest of the process's life. Default 30 s.
   */
  idleRetryMs?: number;
  /** The child reports its channel count this often when it changed. Default 250 ms. */
  sizeReportMs?: number;
  /** How long close() waits for the child to close its channels and exit before killing it. Default 5 s. */
  closeTimeoutMs?: number;
}

const SCRIPT = fileURLToPath(new URL('./channelMain.js', import.meta.url));

export class ChannelProcess extends EventEmitter implements NodeChannelHost {
  readonly #registry: Registry;
  readonly #admission: Admission;
  readonly #intervalMs: number;
  readonly #allowRegister: (ip: string) => void;
  readonly #channelOptions: Omit<NodeChannelOptions, 'now'>;
  readonly #maxPayload: number;
  readonly #options: Required<Omit<ChannelProcessOptions, keyof IpcLimits>>;
  readonly #checks: IpcChecks;
  readonly #maxFrameBytes: number;
  #child: ChildProcess | undefined;
  #calls: IpcCalls | undefined;
  #pipe: FramedPipe | undefined;
  #ready = false;
  #closed = false;
  #size = 0;
  #statusFlushMs: number;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #idleRetryTimer: ReturnType<typeof setTimeout> | undefined;
  /** How often a child was moved back out of SCHED_IDLE (a lift's retry waits 2^min(lifts before it, 5) × idleRetryMs). */
  #lifts = 0;
  #background: Background = 'none';
  #starvedWarned = false;
  #livenessWrites: 'own connection' | 'replica' = 'replica';
  /** The longest the child said it could not run (ms), and how often (starved reports). */
  readonly starved = { reports: 0, maxMs: 0 };
  /** Messages from the child refused by their checks (a test and the logs read it). */
  rejected = 0;

  constructor(registry: Registry, admission: Admission, intervalMs: number, allowRegister: (ip: string) => void, channelOptions: NodeChannelOptions, maxPayload: number, options: ChannelProcessOptions = {}) {
    super();
    this.#registry = registry;
    this.#admission = admission;
    this.#intervalMs = intervalMs;
    this.#allowRegister = allowRegister;
    const { now: _clock, ...rest } = channelOptions;
    this.#channelOptions = rest;
    this.#maxPayload = maxPayload;
    this.#statusFlushMs = channelOptions.statusFlushMs ?? 100;
    this.#options = {
      callTimeoutMs: options.callTimeoutMs ?? 10_000,
      readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
      restartDelayMs: options.restartDelayMs ?? 1000,
      idle: options.idle ?? currentGcThreads() === 'single',
      nice: options.nice ?? 10,
      idleRetryMs: options.idleRetryMs ?? 30_000,
      sizeReportMs: options.sizeReportMs ?? 250,
      closeTimeoutMs: options.closeTimeoutMs ?? 5000,
    };
    this.#checks = new IpcChecks(options);
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  /** The running child (tests kill it; benches read its pid), undefined between two. */
  get child(): ChildProcess | undefined {
    return this.#child;
  }

  get ready(): boolean {
    return this.#ready;
  }

  get size(): number {
    return this.#size;
  }

  /**
   * Who writes the nodes' liveness and load: the child on a Redis connection of its own (a Redis
   * registry: Registry.ts LivenessStore), or the replica, from the child's batches.
   */
  get livenessWrites(): 'own connection' | 'replica' {
    return this.#livenessWrites;
  }

  /** How the running child is scheduled: 'idle' (SCHED_IDLE), 'nice', or 'none' (not Linux). */
  get background(): Background {
    return this.#background;
  }

  get statusFlushMs(): number {
    return this.#statusFlushMs;
  }

  set statusFlushMs(ms: number) {
    this.#statusFlushMs = ms;
    void this.#call('statusFlushMs', { ms }, (v) => v).catch(() => {});
  }

  /** Forks the child and resolves once it is ready (rejects CHANNEL_GONE/CHANNEL_TIMEOUT). */
  start(): Promise<void> {
    // fd 3: Node's IPC channel, sockets only; fd 4: calls and replies (FramedPipe.ts says why)
    // the replica's GC threading (discovery/gcThreads.ts): the child inherits its affinity, so on
    // a one-core replica its V8 helpers would take the query thread's core as the replica's did
    const execArgv = currentGcThreads() === 'single' ? [SINGLE_THREADED_GC_FLAG] : [];
    const child = fork(SCRIPT, [], { serialization: 'advanced', execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc', 'pipe'] });
    this.#child = child;
    const pipe = new FramedPipe(
      child.stdio[4] as Duplex,
      (m) => this.#onMessage(child, pipe, calls, m),
      (why) => {
        if (child !== this.#child) return;
        this.#refused(new ChannelProcessError('CHANNEL_BAD_MESSAGE', `the call pipe broke (${why}); restarting the channel process`));
        child.kill('SIGKILL');
      },
      this.#maxFrameBytes,
    );
    this.#pipe = pipe;
    const calls = (this.#calls = new IpcCalls((m) => pipe.send(m), this.#options.callTimeoutMs));
    this.#starvedWarned = false;
    // it starts at `nice`: in SCHED_IDLE on a busy core it might never get to 'ready' (#idleOnceReady)
    this.#background = child.pid === undefined ? 'none' : niceProcess(child.pid, this.#options.nice);
    child.on('error', (err) => logger.warn('channel process: %s', err.message));
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new ChannelProcessError('CHANNEL_TIMEOUT', `the channel process did not start within ${this.#options.readyTimeoutMs} ms`)), this.#options.readyTimeoutMs);
      this.once('ready', () => (clearTimeout(timer), resolve()));
      child.once('exit', () => (clearTimeout(timer), reject(new ChannelProcessError('CHANNEL_GONE', 'the channel process exited while starting; see its output above'))));
    });
    child.once('exit', (code, signal) => this.#onExit(child, code, signal));
    const liveness = livenessStoreOf(this.#registry);
    const init: ChannelInit = { t: 'init', intervalMs: this.#intervalMs, ttlMs: this.#registry.ttlMs, options: { ...this.#channelOptions, statusFlushMs: this.#statusFlushMs }, maxPayload: this.#maxPayload, callTimeoutMs: this.#options.callTimeoutMs, sizeReportMs: this.#options.sizeReportMs, ...(liveness ? { liveness } : {}) };
    pipe.send(init);
    return ready;
  }

  /** Hands a `/v1/node` upgrade to the child, or answers 503 while none is ready. */
  route(req: IncomingMessage, socket: Duplex, head: Buffer, ip: string): void {
    const child = this.#child;
    if (!this.#ready || child === undefined || !child.connected) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n\r\n');
      return;
    }
    // Not a cluster worker's socket: with `server` set, Node tracks it as one and server.close()
    // polls the child for it, which never completes once that child has exited. The send takes
    // the handle away; destroy() then only settles the server's connection count.
    const sock = socket as Socket & { server: unknown; _handle?: { readStop?: () => number } | null };
    sock.server = null;
    // Stop reading here before the socket goes: Node drops what the sending process reads until
    // the child acknowledges the handle (its docs: pauseOnConnect, which an upgrade cannot use), and
    // a node answers the child's challenge within a millisecond. When a batch of connections came
    // in at once, the first one's register frame was read and dropped here while this loop was busy
    // with the rest, and that node was closed 4409 ten seconds later (one per 200 in `bench scale`).
    sock._handle?.readStop?.();
    child.send({ t: 'upgrade', method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, ip, head }, sock, () => sock.destroy());
  }

  async count(): Promise<number> {
    this.#size = await this.#call('count', {}, (v) => this.#checks.finite(v, 'count'));
    return this.#size;
  }

  lastHeard(id: string): Promise<number | undefined> {
    return this.#call('lastHeard', { id }, (v) => (v === null ? undefined : this.#checks.finite(v, 'lastHeard')));
  }

  tick(): Promise<void> {
    return this.#call('tick', {}, () => undefined);
  }

  /** The channel process's CPU (µs, since it started) and memory. */
  usage(): Promise<{ cpuMicros: number; rss: number; heapUsed: number; external: number }> {
    return this.#call('usage', {}, (v) => {
      const u = v as Record<string, unknown> | null;
      return { cpuMicros: this.#checks.finite(u?.cpuMicros, 'cpuMicros'), rss: this.#checks.finite(u?.rss, 'rss'), heapUsed: this.#checks.finite(u?.heapUsed, 'heapUsed'), external: this.#checks.finite(u?.external, 'external') };
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#restartTimer);
    clearTimeout(this.#idleRetryTimer);
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // the child closes its channels with the inline codes, replies, and exits
    await Promise.race([this.#call('close', {}, () => undefined).then(() => exited), new Promise((r) => setTimeout(r, this.#options.closeTimeoutMs).unref())]).catch(() => {});
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  }

  #call<T>(op: string, args: Record<string, unknown>, check: (v: unknown) => T): Promise<T> {
    if (this.#calls === undefined || !this.#ready) return Promise.reject(new ChannelProcessError('CHANNEL_GONE', `no channel process is running; ${op} not sent`));
    return this.#calls.call(op, args, check);
  }

  /** Every message of the child is checked before use; a bad one is counted, logged and refused with a code. */
  #onMessage(child: ChildProcess, pipe: FramedPipe, calls: IpcCalls, raw: unknown): void {
    if (child !== this.#child) return;
    let m;
    try {
      m = this.#checks.envelope(raw);
      if (m.t === 'ready') {
        this.#livenessWrites = m.liveness === 'own connection' ? 'own connection' : 'replica';
        this.#idleOnceReady(child);
        this.#ready = true;
        this.emit('ready');
      } else if (m.t === 'size') this.#size = this.#checks.finite(m.size, 'size');
      else if (m.t === 'starved') this.#starved(child, this.#checks.finite(m.ms, 'ms'));
      else if (m.t === 'reply') calls.settle(m as Reply, (code, message) => new ChannelProcessError('CHANNEL_BAD_MESSAGE', `${code}: ${message}`));
      else if (m.t === 'call') void this.#answer(pipe, m as Call);
      else throw new ChannelProcessError('CHANNEL_BAD_MESSAGE', `no message ${m.t}`);
    } catch (err) {
      const error = err instanceof ChannelProcessError ? err : new ChannelProcessError('CHANNEL_BAD_MESSAGE', (err as Error).message);
      this.#refused(error);
      // a call we could still answer gets the refusal as its reply
      const id = (raw as { id?: unknown } | null)?.id;
      if ((raw as { t?: unknown } | null)?.t === 'call' && Number.isSafeInteger(id)) pipe.send({ t: 'reply', id, ok: false, code: error.code, message: error.message });
    }
  }

  /**
   * The running child into SCHED_IDLE, when asked (`idle`) and when this replica may lift it back
   * out should it starve (CAP_SYS_NICE: mayLeaveIdle). Without that privilege it stays at `nice`:
   * the idle class has no floor, and a child nobody can lift would lose its nodes to any busy
   * neighbour on the core. Says whether it is idle now.
   */
  #idleOnceReady(child: ChildProcess): boolean {
    if (!this.#options.idle || child.pid === undefined || !mayLeaveIdle()) return false;
    this.#background = backgroundProcess(child.pid, this.#options.nice);
    return this.#background === 'idle';
  }

  /**
   * The child could not run for `ms` (>= a liveness interval): in SCHED_IDLE it runs only when
   * nothing else wants the core, and something did (queries saturating it, a busy neighbour). Its
   * nodes stay registered (the sweep's grace) but drop out of answers until it catches up. It goes
   * back to the normal class at `nice`, and to SCHED_IDLE again idleRetryMs later (#retryIdle).
   */
  #starved(child: ChildProcess, ms: number): void {
    this.starved.reports++;
    this.starved.maxMs = Math.max(this.starved.maxMs, ms);
    this.emit('starved', ms);
    if (this.#background !== 'idle' || child.pid === undefined) return;
    if (foregroundProcess(child.pid, this.#options.nice)) {
      this.#background = 'nice';
      const retryMs = this.#options.idleRetryMs * 2 ** Math.min(this.#lifts++, 5);
      this.#idleRetryTimer = setTimeout(() => this.#retryIdle(child), retryMs).unref();
      logger.warn('the channel process could not run for %d ms (this replica\'s core is saturated); moved it to nice %d, where it keeps a share of the core, and back to SCHED_IDLE in %d s', Math.round(ms), this.#options.nice, Math.round(retryMs / 1000));
    } else if (!this.#starvedWarned) {
      // mayLeaveIdle said yes when it went idle: the privilege was dropped since
      this.#starvedWarned = true;
      logger.warn('the channel process could not run for %d ms and could not be moved out of SCHED_IDLE (CAP_SYS_NICE lost?): its nodes drop out of answers until it catches up. Add replicas or cores, or run the replica with the channel process idle: false', Math.round(ms));
    }
  }

  /** The lifted child back in SCHED_IDLE (if it is still the one running, and still may be lifted). */
  #retryIdle(child: ChildProcess): void {
    if (child !== this.#child || this.#closed || this.#background !== 'nice') return;
    if (!this.#idleOnceReady(child)) return;
    logger.info('the channel process is back in SCHED_IDLE');
    this.emit('idle');
  }

  #refused(error: ChannelProcessError): void {
    this.rejected++;
    logger.warn('refused a message of the channel process (%s): %s', error.code, error.message);
    this.emit('rejected', error);
  }

  async #answer(pipe: FramedPipe, call: Call): Promise<void> {
    let reply: Reply;
    try {
      reply = { t: 'reply', id: call.id, ok: true, result: await this.#run(call) };
    } catch (err) {
      if (err instanceof ChannelProcessError && err.code === 'CHANNEL_BAD_MESSAGE') this.#refused(err);
      const code = err instanceof DiscoveryError || err instanceof TrustError || err instanceof ChannelProcessError ? err.code : 'UNAVAILABLE';
      if (code === 'UNAVAILABLE') logger.debug('channel process call %s failed: %s', call.op, (err as Error).message);
      reply = { t: 'reply', id: call.id, ok: false, code, message: (err as Error).message };
    }
    pipe.send(reply);
  }

  async #run({ op, args }: Call): Promise<unknown> {
    const c = this.#checks;
    const status = (v: unknown) => {
      const s = v as Record<string, unknown> | null;
      return { load: c.finite(s?.load, 'load'), freeCapacity: c.finite(s?.freeCapacity, 'freeCapacity'), ...(s?.at === undefined ? {} : { at: c.finite(s.at, 'at') }) };
    };
    switch (op) {
      case 'refresh':
        return this.#registry.refresh(c.map(args.seen, 'seen', (v) => c.finite(v, 'seen value')));
      case 'refreshSlots': {
        const registry = slotLiveness(this.#registry);
        if (!registry) throw new ChannelProcessError('CHANNEL_BAD_MESSAGE', 'this registry keeps no slots; refresh by id');
        const slots = c.typed(args.slots, Uint32Array, 'slots');
        const gens = c.typed(args.gens, Uint32Array, 'gens', slots.length);
        const seen = c.typed(args.seen, Float64Array, 'seen', slots.length);
        for (const t of seen) c.finite(t, 'seen value');
        return registry.refreshSlots(slots, gens, seen);
      }
      case 'touchMany':
        return this.#registry.touchMany(c.map(args.updates, 'updates', status) as Map<string, StatusUpdate>);
      case 'touch':
        return (await this.#registry.touch(c.string(args.id, 'id'), status(args.status), args.now === undefined ? undefined : c.finite(args.now, 'now'))) !== undefined;
      case 'register': {
        const ip = c.string(args.ip, 'ip');
        this.#allowRegister(ip);
        // the registration's shape and signature are Admission's checks (parseBody, verify): coded there
        const record = await this.#admission.register(args.registration, undefined, c.string(args.challenge, 'challenge'));
        // the handle its liveness batches use (memory registry: refreshSlots)
        const handle = slotLiveness(this.#registry)?.slotOf(record.id);
        return { id: record.id, capacity: record.capacity, lastSeen: record.lastSeen, ...handle };
      }
      default:
        throw new ChannelProcessError('CHANNEL_BAD_MESSAGE', `no call ${op}`);
    }
  }

  #onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.#child) return;
    clearTimeout(this.#idleRetryTimer);
    this.#ready = false;
    this.#size = 0;
    this.#calls?.failAll(new ChannelProcessError('CHANNEL_GONE', 'the channel process exited'));
    this.#child = undefined;
    this.#pipe?.destroy();
    this.#pipe = undefined;
    this.emit('exit', code, signal);
    if (this.#closed) return;
    logger.warn('the channel process exited (%s); its nodes reconnect and register again once a new one runs (in %d ms)', signal ?? `code ${code}`, this.#options.restartDelayMs);
    this.#restartTimer = setTimeout(() => {
      if (this.#closed) return;
      this.start().then(
        () => this.emit('restarted'),
        (err: Error) => logger.error('the channel process did not start again: %s', err.message),
      );
    }, this.#options.restartDelayMs);
  }
}
