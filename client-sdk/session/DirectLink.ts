/**
 * The backend of a `connect(url)` session: every call goes to one node, and fails if that node
 * does. For sessions that move between nodes, see `Failover`.
 */
import { CloseCode, type PoseSample, type ReplyOf, type RequestBody, type RequestType, type Tensor } from '../../protocol/index.js';
import { EnhancedEventEmitter } from '../../protocol/EnhancedEventEmitter.js';
import { openVideo } from '../link/openVideo.js';
import { LinkMonitor } from '../link/LinkMonitor.js';
import type { NodeConnection } from '../link/NodeConnection.js';
import type { RttSummary } from '../link/RttStats.js';
import { RequestHealth } from '../link/RequestHealth.js';
import { renderBody, type CallOptions, type Frame, type NodeInfo, type PredictOptions, type Prediction, type RenderRequest, type SessionBackend, type SessionEvents } from './SessionBackend.js';
import { SessionMemory } from './SessionMemory.js';

/** A call's deadline when the app sets none. */
const DEFAULT_DEADLINE_MS = 1000;

export class DirectLink extends EnhancedEventEmitter<SessionEvents> implements SessionBackend {
  readonly memory = new SessionMemory();
  readonly #connection: NodeConnection;
  readonly #monitor: LinkMonitor;
  /** Counts unanswered requests and stray answer ids; with nowhere to move, a fault is only reported (once). */
  readonly #health = new RequestHealth();

  /** `pingIntervalMs` paces the RTT measurement (the `latency` event); 0 turns it off. */
  constructor(connection: NodeConnection, pingIntervalMs: number) {
    super();
    this.#connection = connection;
    // a fixed node has nowhere to move to: the monitor only measures (no lost, no budget)
    this.#monitor = new LinkMonitor(connection, { intervalMs: pingIntervalMs || 1, missedPings: Infinity, budgetMs: Infinity, overBudgetPings: Infinity });
    if (pingIntervalMs > 0) this.#monitor.start();
    connection.on('latency', () => this.safeEmit('latency', connection.rtt()));
    connection.on('drain', (message) => this.safeEmit('drain', message.reason));
    connection.on('nodeerror', (error) => this.safeEmit('error', error));
    connection.on('strayanswer', (id, kind) => this.#health.wrongId(`'${kind}' for id ${id}`));
    this.#health.on('fault', ({ code, detail }) => this.safeEmit('nodeFault', { node: connection.nodeId, url: connection.url, code, detail }));
    connection.on('transport', (kind, why) => this.safeEmit('transport', kind, why));
    connection.on('videolost', (error) => this.safeEmit('videolost', error));
    connection.on('close', () => {
      this.#monitor.stop();
      this.safeEmit('close');
    });
  }

  openVideo(timeoutMs: number): Promise<MediaStreamTrack> {
    return openVideo(this.#connection, timeoutMs);
  }

  get node(): SessionBackend['node'] {
    return { id: this.#connection.nodeId, tier: this.#connection.welcome.node.tier };
  }

  get transport(): 'ws' | 'webrtc' {
    return this.#connection.dataPath ? 'webrtc' : 'ws';
  }

  sendPose(pose: PoseSample): void {
    if (this.memory.observe(pose)) this.#connection.sendPose(pose);
  }

  async predict(horizonMs: number, { device = 'head', predictor, deadlineMs }: PredictOptions): Promise<Prediction> {
    const started = performance.now();
    const body = predictor ? { t: 'predict' as const, horizonMs, device, predictor } : { t: 'predict' as const, horizonMs, device };
    const answer = await this.#request<'predict'>(body, deadlineMs ?? DEFAULT_DEADLINE_MS);
    const { id, tier } = this.node!;
    return { pose: answer.pose, predictor: answer.predictor, horizonMs, tier, nodeId: id, roundTripMs: performance.now() - started, ...(answer.fallback ? { fallback: answer.fallback } : {}) };
  }

  async infer(model: string, input: Tensor, { deadlineMs }: CallOptions): Promise<Tensor> {
    return (await this.#request<'infer'>({ t: 'infer', model, input }, deadlineMs ?? DEFAULT_DEADLINE_MS)).output;
  }

  async render(request: RenderRequest, { deadlineMs }: CallOptions): Promise<Frame> {
    const started = performance.now();
    const { t: _t, id: _id, ...frame } = await this.#request<'render'>(renderBody(request), deadlineMs ?? DEFAULT_DEADLINE_MS);
    return { ...frame, roundTripMs: performance.now() - started };
  }

  async uploadScene(name: string, glb: Uint8Array, { deadlineMs }: CallOptions): Promise<void> {
    // a scene is megabytes where a pose is bytes: its default deadline is ten calls' worth
    await this.#request<'scene'>({ t: 'scene', name, format: 'glb', data: glb }, deadlineMs ?? DEFAULT_DEADLINE_MS * 10);
  }

  #request<T extends RequestType>(body: RequestBody<T>, timeoutMs: number): Promise<ReplyOf<T>> {
    return this.#health.track(body.t, this.#connection.request(body, timeoutMs));
  }

  rtt(): RttSummary {
    return this.#connection.rtt();
  }

  ping(timeoutMs: number): Promise<number> {
    return this.#connection.ping(timeoutMs);
  }

  get nodeInfo(): NodeInfo {
    const { t: _t, time: _time, ...info } = this.#connection.welcome;
    return info;
  }

  close(): void {
    this.#monitor.stop();
    this.#connection.close(CloseCode.NORMAL, 'session closed');
  }
}
