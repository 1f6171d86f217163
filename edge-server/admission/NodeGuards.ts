/**
 * Every admission control and budget of a node, built once from its options, with one
 * `SessionGuard` per session, so the server and the session each call a handful of methods
 * instead of wiring six mechanisms:
 *
 *   server:  createServer(guards.httpServerOptions(), …); guards.attach(http);
 *            upgrade → guards.admitUpgrade(req, socket) (refuses with a status line itself),
 *                      then guards.paceUpgrade(socket, handshake) (a few handshakes per turn)
 *   session: guard = guards.forSession(id, ws, ticket, { onIdle, onSlowConsumer })
 *            every frame → guard.touch(); hello → guard.authorize(hello.token)
 *            every answer → guard.send(bytes, 'droppable' | 'required')
 *            render → guard.canTake(bytes) first; render/infer/scene → guard.heavy(job)
 *            scene upload → guard.reserveScene(name, glb) before decoding; close → guard.close()
 */
import type { IncomingMessage, Server, ServerOptions } from 'node:http';
import type { Duplex } from 'node:stream';
import type { EdgeMetricsSink } from '../metrics.js';
import { parseGlb, DEFAULT_SCENE_LIMITS, GLB_MAGIC, type SceneLimits } from '../render/glb.js';
import { ConnectionGuard, type ConnectionGuardOptions } from '../../protocol/server/ConnectionGuard.js';
import { FairScheduler, type FairSchedulerOptions, type HeavyMeter, type ScheduleOptions } from './FairScheduler.js';
import type { FrameGateOptions } from './FrameGate.js';
import { DEFAULT_IDLE_MS, IdleTimer } from './IdleTimer.js';
import { MemoryBudget, type MemoryBudgetOptions, type MemoryReservation } from './MemoryBudget.js';
import { SendBudget, type SendBudgetOptions, type SendOutcome, type SendPriority, type SendSink } from './SendBudget.js';
import { AdmissionRefusal, SessionAdmission, type AdmissionTicket, type SessionAdmissionOptions } from './SessionAdmission.js';
import { UpgradePacer, type UpgradePacerOptions } from './UpgradePacer.js';
import { estimateTextureBytes } from './textureEstimate.js';

/** The kinds of heavy work; a session has at most one of each running. */
export type HeavyKind = 'render' | 'infer' | 'scene';

/**
 * Event-loop ms per second one session's heavy requests may use on a node (FairScheduler's
 * `mainMsPerSecond`): a tenth of the loop, so two sessions sending infer batches back to back
 * leave the loop mostly to everyone's predicts (issue #15, attack 4b). A 512-row batch is charged
 * ~1 ms (its measured hand-off and answer plus 90 kB at 10 ns a byte): ~100 such batches a second per session.
 */
export const DEFAULT_HEAVY_MAIN_MS_PER_SECOND = 100;

export interface NodeGuardsOptions {
  admission?: SessionAdmissionOptions;
  connections?: ConnectionGuardOptions;
  /** WebSocket handshakes per event-loop turn and how many may wait (UpgradePacer). */
  upgrades?: UpgradePacerOptions;
  /** Close a session silent this long. @default 600000 (env EDGE_OFFLOAD_IDLE_TIMEOUT_MS) */
  idleTimeoutMs?: number;
  send?: SendBudgetOptions;
  /** Frames of one session handled per socket read before other sessions' turn (FrameGate). */
  frames?: FrameGateOptions;
  memory?: MemoryBudgetOptions;
  heavy?: FairSchedulerOptions;
  /** Scene limits (texture edge cap) used by the pre-decode estimate. */
  sceneLimits?: Partial<SceneLimits>;
  metrics?: EdgeMetricsSink;
}

export interface SessionGuardHandlers {
  onIdle(silentMs: number): void;
  onSlowConsumer(why: string): void;
}

export class NodeGuards {
  readonly admission: SessionAdmission;
  readonly connections: ConnectionGuard;
  readonly upgrades: UpgradePacer;
  readonly memory: MemoryBudget;
  readonly scheduler: FairScheduler;
  readonly idleTimeoutMs: number;
  /** Per-session input gate options (each Session builds its FrameGate with them). */
  readonly frames: FrameGateOptions;
  readonly #send: SendBudgetOptions;
  readonly #sceneLimits: SceneLimits;
  readonly #metrics: EdgeMetricsSink | undefined;

  constructor(options: NodeGuardsOptions = {}) {
    this.admission = new SessionAdmission(options.admission);
    this.connections = new ConnectionGuard(options.connections);
    this.upgrades = new UpgradePacer(options.upgrades);
    this.memory = new MemoryBudget(options.memory);
    this.scheduler = new FairScheduler({ mainMsPerSecond: DEFAULT_HEAVY_MAIN_MS_PER_SECOND, ...options.heavy });
    const envIdle = Number(process.env.EDGE_OFFLOAD_IDLE_TIMEOUT_MS);
    this.idleTimeoutMs = options.idleTimeoutMs ?? (Number.isInteger(envIdle) && envIdle > 0 ? envIdle : DEFAULT_IDLE_MS);
    this.#send = options.send ?? {};
    this.frames = options.frames ?? {};
    this.#sceneLimits = { ...DEFAULT_SCENE_LIMITS, ...options.sceneLimits };
    this.#metrics = options.metrics;
  }

  httpServerOptions(): ServerOptions {
    return this.connections.httpServerOptions();
  }

  attach(http: Server): void {
    this.connections.attach(http);
  }

  /** The upgrade gate: a ticket, or undefined after answering the refusal on `socket`. */
  admitUpgrade(req: IncomingMessage, socket: Duplex): AdmissionTicket | undefined {
    const admitted = this.admission.tryAdmit(req.socket.remoteAddress);
    if (typeof admitted !== 'string') return admitted;
    this.#refuseUpgrade(socket, AdmissionRefusal.statusOf(admitted), admitted);
    return undefined;
  }

  /**
   * Runs an admitted upgrade's `handshake` in its turn, a few per event-loop turn (UpgradePacer);
   * false after refusing it 503 `UPGRADES_QUEUED` (too many waiting: the caller releases its ticket).
   */
  paceUpgrade(socket: Duplex, handshake: () => void): boolean {
    // Node took its own 'error' listener off the upgraded socket and ws adds one only at the
    // handshake: a client resetting while it waits must not be an uncaught error (the node's end)
    const ignore = () => {};
    socket.on('error', ignore);
    const run = () => {
      socket.off('error', ignore);
      handshake();
    };
    if (this.upgrades.submit({ alive: () => !socket.destroyed, run, cancel: () => socket.destroy() })) return true;
    this.#refuseUpgrade(socket, 503, 'UPGRADES_QUEUED');
    return false;
  }

  /** A status line and the reason, on the raw socket: no HTTP response object, no Error (a storm is refused by the hundred). */
  #refuseUpgrade(socket: Duplex, status: 429 | 503, code: string): void {
    this.#metrics?.admissionRefused(code);
    socket.on('error', () => {}); // a peer gone before the status line (EPIPE, reset) is not the node's error
    const text = status === 429 ? 'Too Many Requests' : 'Service Unavailable';
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nretry-after: 5\r\nx-edge-offload-refused: ${code}\r\ncontent-length: 0\r\n\r\n`);
  }

  forSession(id: string, sink: SendSink, ticket: AdmissionTicket, handlers: SessionGuardHandlers): SessionGuard {
    return new SessionGuard(this, id, sink, ticket, handlers, this.#send, this.#sceneLimits, this.#metrics);
  }

  /** Stop admitting sessions (drain). */
  drain(): void {
    this.admission.drain();
  }

  close(): void {
    this.scheduler.close();
    this.upgrades.close();
  }
}

export class SessionGuard {
  readonly #node: NodeGuards;
  readonly #id: string;
  readonly #ticket: AdmissionTicket;
  readonly #idle: IdleTimer;
  readonly #budget: SendBudget;
  readonly #scenes = new Map<string, MemoryReservation>();
  readonly #sceneLimits: SceneLimits;
  readonly #metrics: EdgeMetricsSink | undefined;
  #closed = false;

  constructor(node: NodeGuards, id: string, sink: SendSink, ticket: AdmissionTicket, handlers: SessionGuardHandlers, send: SendBudgetOptions, sceneLimits: SceneLimits, metrics: EdgeMetricsSink | undefined) {
    this.#node = node;
    this.#id = id;
    this.#ticket = ticket;
    this.#sceneLimits = sceneLimits;
    this.#metrics = metrics;
    this.#idle = new IdleTimer(node.idleTimeoutMs, handlers.onIdle);
    this.#budget = new SendBudget(
      sink,
      (why) => {
        metrics?.slowConsumer();
        handlers.onSlowConsumer(why);
      },
      send,
    );
  }

  /** The identity `hello.token` verified to (undefined on an open node). Throws `UNAUTHORIZED`. */
  authorize(token: string | undefined): string | undefined {
    return this.#ticket.authorize(token);
  }

  touch(): void {
    this.#idle.touch();
  }

  send(bytes: Uint8Array, priority: SendPriority): SendOutcome {
    const outcome = this.#budget.send(bytes, priority);
    if (outcome === 'dropped') this.#metrics?.sendDropped(bytes.byteLength);
    return outcome;
  }

  /** Whether a prediction is worth computing now (SendBudget.wantsAnswer): false while the client's backlog is unread. */
  wantsAnswer(): boolean {
    if (this.#budget.wantsAnswer()) return true;
    this.#metrics?.answerSkipped();
    return false;
  }

  /** Whether a droppable answer of about `bytes` would be sent now (skip rendering it otherwise). */
  canTake(bytes: number): boolean {
    return this.#budget.canTake(bytes);
  }

  /**
   * Runs CPU-heavy work (render, infer, scene decode) in this session's fair turn, one of each
   * `kind` at a time, within its event-loop budget; `cost` is what the request used before
   * (decode) and its payload bytes, the meter takes what it uses after (answer).
   */
  heavy<T>(kind: HeavyKind, job: (meter: HeavyMeter) => T | Promise<T>, cost: Pick<ScheduleOptions, 'spentMs' | 'bytes'> = {}): Promise<T> {
    return this.#node.scheduler.schedule(this.#id, job, { kind, ...cost });
  }

  /**
   * Reserves the decoded size of a scene's textures before it is decoded, replacing what the
   * same scene name held. Throws `TOO_LARGE` (session budget), `BUSY` (node budget) or
   * `BAD_REQUEST` (an image header we cannot read) without decoding a pixel.
   */
  reserveScene(name: string, glb: Uint8Array): void {
    // a glTF binary is budgeted by what its textures decode to; anything else is the engine's own
    // format (test engines take raw bytes) and is budgeted at its size
    const bytes = isGlb(glb) ? glb.byteLength + estimateTextureBytes(parseGlb(glb, this.#sceneLimits), this.#sceneLimits.maxTextureSize).bytes : glb.byteLength;
    const previous = this.#scenes.get(name);
    previous?.release(); // a re-upload replaces the old scene: its memory is the new one's to use
    try {
      this.#scenes.set(name, this.#node.memory.reserve(this.#id, bytes, `scene '${name}'`));
    } catch (err) {
      this.#scenes.delete(name);
      throw err;
    }
  }

  /** The scene failed to load or was dropped: give its reservation back. */
  releaseScene(name: string): void {
    this.#scenes.get(name)?.release();
    this.#scenes.delete(name);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#idle.stop();
    this.#ticket.release();
    this.#node.memory.releaseSession(this.#id);
    this.#scenes.clear();
    this.#node.scheduler.cancel(this.#id);
  }
}

function isGlb(data: Uint8Array): boolean {
  return data.byteLength >= 12 && new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true) === GLB_MAGIC;
}
