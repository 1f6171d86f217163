/**
 * The session state machine: where work runs, decided continuously.
 *
 *   discovering ─► edge ◄──────────────┐ make-before-break: connect, hello (resume), probe,
 *        │          │ node lost         │ warm up, then switch
 *        │          │ over budget       │
 *        │          │ drain             │
 *        └────────► cloud ──────────────┘ background re-discovery finds an edge within budget
 *                   │  ▲
 *        cloud lost ▼  │ a node answers again
 *                  local (constant-velocity predictions, other calls wait for a node)
 *
 * This file is policy only: which link is active, when to move, why. Finding, probing and
 * warming nodes, the per-node backoff and the warm cloud standby are `Placement`'s; requests that
 * outlive a node are the `RequestRouter`'s, which this machine points at the active link.
 */
import { ErrorCode, Logger, RequestError, type PoseSample, type Tensor } from '../../protocol/index.js';
import { Backoff } from '../link/Backoff.js';
import { EnhancedEventEmitter } from '../../protocol/EnhancedEventEmitter.js';
import type { NodeLink } from '../link/NodeLink.js';
import type { RttSummary } from '../link/RttStats.js';
import { RequestRouter } from '../session/RequestRouter.js';
import { renderBody, type CallOptions, type Frame, type NodeInfo, type PredictOptions, type Prediction, type RenderRequest, type SessionBackend, type SessionEvents, type Tier } from '../session/SessionBackend.js';
import { SessionMemory } from '../session/SessionMemory.js';
import { TierReason } from '../session/TierReason.js';
import { ConnectError, ConnectErrorCode } from '../errors.js';
import { resolveFailoverOptions, type FailoverOptions, type ResolvedFailoverOptions } from './FailoverOptions.js';
import { Placement } from './Placement.js';
import { SessionTrust } from '../trust/SessionTrust.js';

export type { FailoverOptions } from './FailoverOptions.js';

const logger = new Logger('client:failover');

/** The `drain` reason the app sees when the session leaves a node it no longer trusts. */
const DISTRUST_REASONS = {
  caught: 'caught answering a trap or a spot-checked live predict wrongly',
  untrusted: 'its seals do not cover what it was sent',
  ejected: 'ejected by discovery for verified wrong answers',
} as const;

export type FailoverState = 'discovering' | Tier | 'closed';

export class Failover extends EnhancedEventEmitter<SessionEvents> implements SessionBackend {
  readonly memory: SessionMemory;
  readonly router: RequestRouter;
  readonly #o: ResolvedFailoverOptions;
  readonly #placement: Placement;
  readonly #rediscover: Backoff;
  #state: FailoverState = 'discovering';
  /** Set once the app opened video (its timeout): a node that takes over opens its track too. */
  #videoTimeoutMs: number | undefined;
  #active: NodeLink | undefined;
  #discovering: Promise<void> | undefined;
  #discoverTimer: ReturnType<typeof setTimeout> | undefined;
  /** EntrapNet's officer for this session; undefined with `trust: false`. */
  readonly trust: SessionTrust | undefined;

  constructor(options: FailoverOptions) {
    super();
    this.#o = resolveFailoverOptions(options);
    this.memory = new SessionMemory(options.memory);
    this.#rediscover = new Backoff({ initialMs: this.#o.rediscoverInitialMs, maxMs: this.#o.rediscoverMaxMs, factor: this.#o.rediscoverFactor });
    this.router = new RequestRouter(this.memory, this.#o);
    this.#placement = new Placement(this.#o, this.memory, () => this.#state === 'edge');
    this.#placement.on('lost', (link, why) => this.#linkDown(link, why));
    this.#placement.on('fault', (link, fault) => {
      logger.warn(`leaving ${link.url}: ${fault.code} (${fault.detail})`);
      this.safeEmit('nodeFault', { node: link.nodeId, url: link.url, code: fault.code, detail: fault.detail });
    });
    this.#placement.on('rtt', (link) => link === this.#active && this.safeEmit('latency', link.rtt()));
    this.#placement.on('overbudget', (link, rttMs) => this.#overBudget(link, rttMs));
    this.#placement.on('drain', (link, reason) => this.#drained(link, reason));
    this.#placement.on('standby', () => this.#updateGrace());
    this.#placement.on('transport', (link, kind, why) => link === this.#active && this.safeEmit('transport', kind, why));
    this.#placement.on('videolost', (link, error) => link === this.#active && this.safeEmit('videolost', error));
    const locator = this.#o.locator;
    this.trust =
      this.#o.trust === false
        ? undefined
        : new SessionTrust(this.#o.trust ?? {}, {
            connectTimeoutMs: this.#o.connectTimeoutMs,
            ...(locator.submitEvidence ? { submit: (evidence) => locator.submitEvidence!(evidence) } : {}),
            ...(locator.ejected ? { ejected: (ids) => locator.ejected!(ids) } : {}),
            ...(this.#o.WebSocket ? { WebSocket: this.#o.WebSocket } : {}),
          });
    this.trust?.on('distrust', (nodeId, why) => this.#distrust(nodeId, DISTRUST_REASONS[why]));
    if (this.trust) this.#placement.spotCheck = (link) => this.trust!.spotCheck(link);
  }

  get state(): FailoverState {
    return this.#state;
  }

  /** A method, not a field read: TypeScript would narrow `#state` across awaits otherwise. */
  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  get budgetMs(): number {
    return this.#o.budgetMs;
  }

  /** What carries pose/predict to the active node; undefined while answers are local. */
  get transport(): 'ws' | 'webrtc' | undefined {
    return this.#active?.transport;
  }

  /** The node doing the work now, if any. */
  get node(): { id: string; url: string; tier: Tier } | undefined {
    const a = this.#active;
    return a && { id: a.nodeId, url: a.url, tier: a.tier };
  }

  /** The warm cloud connection kept while on an edge; `rttMs` is NaN until its first pong. */
  get standbyNode(): { id: string; url: string; rttMs: number } | undefined {
    const s = this.#placement.standby;
    return s && { id: s.nodeId, url: s.url, rttMs: s.srttMs };
  }

  /** Runs the first discovery; resolves once the session is placed (edge, cloud or local). */
  async start(): Promise<void> {
    await this.#discover();
  }

  ping(timeoutMs: number): Promise<number> {
    if (!this.#active) return Promise.reject(new ConnectError(ConnectErrorCode.NO_NODE, 'no node to ping: the session answers locally'));
    return this.#active.ping(timeoutMs);
  }

  /**
   * The active node's video track. It is that node's; once the app opened one, every node that
   * takes over opens its own at once (#followVideo): `videotrack` hands the app the new track, or
   * `videolost` (VIDEO_UNAVAILABLE) says the new node sends none and the app renders jpeg.
   */
  openVideo(timeoutMs: number): Promise<MediaStreamTrack> {
    if (!this.#active) return Promise.reject(new RequestError(ErrorCode.VIDEO_UNAVAILABLE, 'no node to send video: the session answers locally'));
    this.#videoTimeoutMs = timeoutMs;
    return this.#active.openVideo(timeoutMs);
  }

  /** Opens `link`'s video track for an app that had one on the previous node. */
  #followVideo(link: NodeLink): void {
    if (this.#videoTimeoutMs === undefined) return;
    link.openVideo(this.#videoTimeoutMs).then(
      (track) => link === this.#active && this.safeEmit('videotrack', track, link.nodeId),
      (error: unknown) => {
        if (link !== this.#active) return; // moved on again: the next node's attempt reports
        this.safeEmit('videolost', error instanceof RequestError ? error : new RequestError(ErrorCode.VIDEO_UNAVAILABLE, `${link.url} opened no video: ${String(error)}`));
      },
    );
  }

  get nodeInfo(): NodeInfo | undefined {
    if (!this.#active) return undefined;
    const { t: _t, time: _time, ...info } = this.#active.welcome;
    return info;
  }

  rtt(): RttSummary {
    return this.#active?.rtt() ?? { p50: Number.NaN, p99: Number.NaN, last: Number.NaN, count: 0 };
  }

  /** Records a pose and streams it to the active node. */
  sendPose(pose: PoseSample): void {
    if (!this.memory.observe(pose)) return;
    this.#active?.sendPose(pose);
    this.trust?.observe(pose);
  }

  /** The pose of `device` `horizonMs` ahead: from the active node, or locally when none answers in time. */
  predict(horizonMs: number, { device = 'head', predictor = this.#o.predictor, deadlineMs }: PredictOptions = {}): Promise<Prediction> {
    const answer = this.router.predict(horizonMs, device, predictor, deadlineMs);
    // after the live request left: a trap never goes before, or delays, the live one
    this.trust?.onPredict({ device, horizonMs, ...(predictor ? { predictor } : {}) });
    return answer;
  }

  async infer(model: string, input: Tensor, { deadlineMs }: CallOptions = {}): Promise<Tensor> {
    this.memory.model = model;
    const answer = this.router.request<'infer'>({ t: 'infer', model, input }, deadlineMs);
    // after the live request left: traps repeat it on their own sessions, signed results checked
    this.trust?.onInfer(model, input);
    return (await answer).output;
  }

  async render(request: RenderRequest, { deadlineMs }: CallOptions = {}): Promise<Frame> {
    const started = performance.now();
    const body = renderBody(request);
    const answer = this.router.request<'render'>(body, deadlineMs);
    this.trust?.onRender(body);
    const { t: _t, id: _id, ...frame } = await answer;
    return { ...frame, roundTripMs: performance.now() - started };
  }

  /**
   * Uploads a scene to the active node; once a node has accepted it, it is kept for replay on
   * every node the session moves to (the standby gets it now, so a failover can render at once).
   */
  async uploadScene(name: string, data: Uint8Array, { deadlineMs }: CallOptions = {}): Promise<void> {
    await this.router.request<'scene'>({ t: 'scene', name, format: 'glb', data }, deadlineMs);
    this.memory.rememberScene(name, data);
    this.#placement.standby?.request({ t: 'scene', name, format: 'glb', data }, this.#o.connectTimeoutMs).catch(() => {});
  }

  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearTimeout(this.#discoverTimer);
    this.router.close();
    this.trust?.close();
    this.#placement.close();
    if (this.#active) this.#placement.release(this.#active, 'session closed');
    this.#active = undefined;
    this.safeEmit('close');
  }

  // ── discovery ────────────────────────────────────────────────────────────

  #discover(): Promise<void> {
    this.#discovering ??= this.#discoverOnce().finally(() => {
      this.#discovering = undefined;
      this.#scheduleDiscovery();
    });
    return this.#discovering;
  }

  async #discoverOnce(): Promise<void> {
    if (this.#isClosed()) return;
    await this.#placement.refresh();
    if (!this.#onUsableEdge()) {
      const found = await this.#placement.findEdge(this.#active?.url);
      if (found && !this.#isClosed() && !this.#onUsableEdge()) this.#activate(found, this.#reasonFor(TierReason.EDGE_FOUND));
      else if (found) this.#placement.release(found, 'not needed');
    }
    if (this.#isClosed()) return;
    if (!this.#active || this.#active.draining) {
      const cloud = this.#placement.takeStandby() ?? (await this.#placement.findCloud(this.#active?.url));
      if (cloud && !this.#isClosed() && (!this.#active || this.#active.draining)) this.#activate(cloud, this.#reasonFor(TierReason.CLOUD_FOUND));
      else if (cloud) this.#placement.release(cloud, 'not needed');
    }
    if (this.#state === 'discovering') this.#enterLocal(TierReason.NO_NODE);
  }

  #onUsableEdge(): boolean {
    const a = this.#active;
    return !!a && a.tier === 'edge' && !a.draining && !a.closed;
  }

  /** Why a node found by discovery takes over: first placement, leaving a draining node, or `found`. */
  #reasonFor(found: TierReason): TierReason {
    if (this.#state === 'discovering') return TierReason.DISCOVERED;
    return this.#active?.draining ? TierReason.DRAIN : found;
  }

  #scheduleDiscovery(): void {
    clearTimeout(this.#discoverTimer);
    this.#discoverTimer = undefined;
    if (this.#isClosed()) return;
    if (this.#state === 'edge' && !this.#active?.draining) {
      this.#rediscover.reset();
      return;
    }
    this.#discoverTimer = setTimeout(() => void this.#discover(), this.#rediscover.next());
  }

  /** Off the edge just now: look again soon, then less and less often. */
  #rediscoverSoon(): void {
    this.#rediscover.reset();
    if (!this.#discovering) this.#scheduleDiscovery();
  }

  // ── transitions ──────────────────────────────────────────────────────────

  #activate(link: NodeLink, reason: TierReason): void {
    const previous = this.#active;
    this.#active = link;
    link.watch(this.#o.pingIntervalMs);
    this.#placement.replayPoses(link); // poses that arrived during warm-up, or since the standby's hello
    this.#placement.succeeded(link.url);
    const changed = this.#state !== link.tier || previous !== link;
    this.#state = link.tier;
    logger.debug(`${reason}: now on ${link.tier} ${link.url}`);
    if (changed) this.safeEmit('tier', link.tier, reason);
    this.router.route(link);
    if (previous !== link) this.#followVideo(link);
    this.trust?.follow({ nodeId: link.nodeId, url: link.url, publicKey: link.candidate.publicKey, ...(link.spotCheck ? { spotCheck: link.spotCheck } : {}) });
    if (previous && previous !== link && !previous.closed) {
      const keep = previous.tier === 'cloud' && link.tier === 'edge' && this.#placement.keepAsStandby(previous);
      if (!keep) this.#placement.release(previous, `moved to ${link.url}`);
    }
    this.#updateGrace();
    if (link.tier === 'edge') {
      clearTimeout(this.#discoverTimer);
      void this.#placement.ensureStandby();
    } else {
      this.#rediscoverSoon();
    }
  }

  /** The active node gets extra patience exactly while nothing stands behind it. */
  #updateGrace(): void {
    if (this.#active) this.#active.graceMs = this.#placement.standby ? 0 : this.#o.lastResortGraceMs;
  }

  #enterLocal(reason: TierReason): void {
    if (this.#isClosed()) return;
    const changed = this.#state !== 'local';
    this.#state = 'local';
    if (changed) this.safeEmit('tier', 'local', reason);
    this.router.route(undefined); // parked predictions are answered locally now
    if (changed && this.#videoTimeoutMs !== undefined) this.safeEmit('videolost', new RequestError(ErrorCode.VIDEO_UNAVAILABLE, 'no node sends video: the session answers locally; the next node to take over opens its track'));
    this.trust?.follow(undefined);
    this.#rediscoverSoon();
  }

  #linkDown(link: NodeLink, why: string): void {
    if (this.#isClosed() || link !== this.#active) return;
    logger.debug(`lost ${link.tier} ${link.url}: ${why}`);
    this.#active = undefined;
    const reason = link.fault ? TierReason.NODE_FAULT : TierReason.NODE_LOST;
    const standby = this.#placement.takeStandby();
    if (standby) this.#activate(standby, reason);
    else this.#enterLocal(reason);
  }

  #overBudget(link: NodeLink, rttMs: number): void {
    if (link !== this.#active || link.tier !== 'edge') return;
    const standby = this.#placement.standby;
    // leave only for something better: a cloud at 60 ms beats an edge stuck at 80 ms
    if (!standby || standby.srttMs >= rttMs) return;
    this.#placement.failed(link.url, this.#o.overBudgetCooldownMs);
    this.#activate(this.#placement.takeStandby()!, TierReason.OVER_BUDGET);
  }

  /**
   * Leaves a node this session no longer trusts (a trap caught it, or discovery ejected it) the
   * way it leaves a draining node — make-before-break, calls keep going to it until a replacement
   * is warm — and does not come back to it for `distrustCooldownMs`.
   */
  #distrust(nodeId: string, why: string): void {
    const link = this.#active;
    if (this.#isClosed() || !link || link.nodeId !== nodeId || link.draining) return;
    logger.debug(`leaving ${link.url}: ${why}`);
    link.draining = true;
    this.#placement.failed(link.url, this.#o.distrustCooldownMs);
    const standby = this.#placement.standby;
    if (standby?.nodeId === nodeId) this.#placement.release(standby, why);
    this.#drained(link, `untrusted: ${why}`);
  }

  #drained(link: NodeLink, reason: string): void {
    this.safeEmit('drain', reason);
    if (link !== this.#active) return;
    const standby = this.#placement.takeStandby();
    if (standby) this.#activate(standby, TierReason.DRAIN);
    else void this.#discover(); // keeps using the draining node until a replacement is warm
  }
}
