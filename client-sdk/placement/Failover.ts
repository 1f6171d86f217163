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
 * While on an edge, a standby connection to the cloud is kept open and pinged slowly, so a
 * failover is one pointer swap: no handshake, no TLS, no DNS on the critical path. Requests live
 * in the RequestRouter and are re-sent to whichever node is active; poses are replayed so the
 * new node predicts from the same history. Reconnects go through a per-node jittered backoff, so
 * a dead node with many sessions is not stormed.
 */
import { Logger, type Device, type DrainMessage, type PoseSample, type Tensor } from '../../protocol/index.js';
import { BackoffTable, Backoff } from '../link/Backoff.js';
import { EnhancedEventEmitter } from '../events/EnhancedEventEmitter.js';
import type { NodeCandidate, Shortlist } from './locator.js';
import { NodeLink } from '../link/NodeLink.js';
import { RequestRouter } from '../session/RequestRouter.js';
import type { RttSummary } from '../link/RttStats.js';
import { renderBody, type CallOptions, type Frame, type Prediction, type RenderRequest, type SessionBackend, type Tier } from '../session/SessionBackend.js';
import { SessionMemory } from '../session/SessionMemory.js';
import { resolveFailoverOptions, type FailoverOptions, type ResolvedFailoverOptions } from './FailoverOptions.js';

export type { FailoverOptions } from './FailoverOptions.js';

const logger = new Logger('client:failover');

export type FailoverState = 'discovering' | Tier | 'closed';

/** Why the session changed tier (the `tier` event's second argument). */
export const TierReason = {
  /** First placement after discovery. */
  DISCOVERED: 'discovered',
  /** The node's socket closed or its pings stopped. */
  NODE_LOST: 'node-lost',
  /** The edge's RTT stayed over the budget and the cloud was faster. */
  OVER_BUDGET: 'over-budget',
  /** The node asked its clients to move. */
  DRAIN: 'drain',
  /** Re-discovery found a node within budget (restore). */
  EDGE_FOUND: 'edge-found',
  /** No edge within budget, a cloud node answered. */
  CLOUD_FOUND: 'cloud-found',
  /** No node reachable: local predictions only. */
  NO_NODE: 'no-node',
} as const;
export type TierReason = (typeof TierReason)[keyof typeof TierReason];

export type FailoverEvents = {
  tier: [tier: Tier, reason: string];
  latency: [rtt: RttSummary];
  drain: [reason: string];
  close: [];
};

type Link = NodeLink;

export class Failover extends EnhancedEventEmitter<FailoverEvents> implements SessionBackend {
  readonly memory: SessionMemory;
  readonly router: RequestRouter;
  readonly #o: ResolvedFailoverOptions;
  readonly #links = new Set<Link>();
  /** Nodes that failed (refused, died, drained): retried later and later, up to seconds. */
  readonly #backoff: BackoffTable;
  /**
   * Nodes that answered but too slowly: retried on a short, capped schedule, because "too slow"
   * is often a passing spike and restore should follow it within a second.
   */
  readonly #slow: BackoffTable;
  readonly #rediscover: Backoff;
  #state: FailoverState = 'discovering';
  #active: Link | undefined;
  #standby: Link | undefined;
  #shortlist: Shortlist = { edge: [], cloud: [] };
  #discovering: Promise<void> | undefined;
  #discoverTimer: ReturnType<typeof setTimeout> | undefined;
  #standbyTimer: ReturnType<typeof setTimeout> | undefined;
  #openingStandby = false;

  constructor(options: FailoverOptions) {
    super();
    this.#o = resolveFailoverOptions(options);
    this.memory = new SessionMemory(options.memory);
    this.#backoff = new BackoffTable({ initialMs: 250, maxMs: 5000, ...options.nodeBackoff });
    this.#slow = new BackoffTable({ initialMs: 250, maxMs: 1000 });
    this.#rediscover = new Backoff({ initialMs: this.#o.rediscoverInitialMs, maxMs: this.#o.rediscoverMaxMs, factor: 1.5 });
    this.router = new RequestRouter(() => (this.#active && !this.#active.conn.closed ? this.#active : undefined), this.memory, {
      deadlineMs: this.#o.deadlineMs,
      localFallbackMs: this.#o.localFallbackMs,
      retryDelayMs: 20,
      maxRetries: 5,
    });
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

  /** The node doing the work now, if any. */
  get node(): { id: string; url: string; tier: Tier } | undefined {
    const a = this.#active;
    return a && { id: a.conn.nodeId, url: a.url, tier: a.tier };
  }

  /** The warm cloud connection kept while on an edge; `rttMs` is NaN until its first pong. */
  get standbyNode(): { id: string; url: string; rttMs: number } | undefined {
    const s = this.#standby;
    return s && !s.conn.closed ? { id: s.conn.nodeId, url: s.url, rttMs: s.monitor.srttMs } : undefined;
  }

  /** Runs the first discovery; resolves once the session is placed (edge, cloud or local). */
  async start(): Promise<void> {
    await this.#discover();
  }

  rtt(): RttSummary {
    return this.#active?.conn.rtt() ?? { p50: Number.NaN, p99: Number.NaN, last: Number.NaN, count: 0 };
  }

  /** Records a pose and streams it to the active node. */
  sendPose(pose: PoseSample): void {
    if (!this.memory.observe(pose)) return;
    const link = this.#active;
    if (link && !link.conn.closed) link.conn.sendPose(pose);
  }

  /** The pose of `device` `horizonMs` ahead: from the active node, or locally when none answers in time. */
  predict(horizonMs: number, { device = 'head', predictor = this.#o.predictor, deadlineMs }: { device?: Device; predictor?: string; deadlineMs?: number } = {}): Promise<Prediction> {
    if (!Number.isFinite(horizonMs) || horizonMs < 0) throw new TypeError('horizonMs must be a non-negative number');
    return this.router.predict(horizonMs, device, predictor, deadlineMs);
  }

  async infer(model: string, input: Tensor, { deadlineMs }: CallOptions = {}): Promise<Tensor> {
    this.memory.model = model;
    return (await this.router.request<'infer'>({ t: 'infer', model, input }, deadlineMs)).output;
  }

  async render(request: RenderRequest, { deadlineMs }: CallOptions = {}): Promise<Frame> {
    const started = performance.now();
    const { t: _t, id: _id, ...frame } = await this.router.request<'render'>(renderBody(request), deadlineMs);
    return { ...frame, roundTripMs: performance.now() - started };
  }

  /**
   * Uploads a scene to the active node; once a node has accepted it, it is kept for replay on
   * every node the session moves to (the standby gets it now, so a failover can render at once).
   */
  async uploadScene(name: string, data: Uint8Array, { deadlineMs }: CallOptions = {}): Promise<void> {
    await this.router.request<'scene'>({ t: 'scene', name, format: 'glb', data }, deadlineMs);
    this.memory.rememberScene(name, data);
    const standby = this.#standby;
    if (standby && !standby.conn.closed) standby.conn.request({ t: 'scene', name, format: 'glb', data }, this.#o.connectTimeoutMs).catch(() => {});
  }

  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearTimeout(this.#discoverTimer);
    clearTimeout(this.#standbyTimer);
    this.router.close();
    for (const link of [...this.#links]) this.#closeLink(link, 'session closed');
    this.#active = this.#standby = undefined;
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
    try {
      this.#shortlist = await this.#o.locator.shortlist();
    } catch (err) {
      logger.debug(`locator failed: ${(err as Error).message}; using the last shortlist`);
    }
    const { edge, cloud } = this.#shortlist;
    this.#backoff.retain([...edge, ...cloud].map((c) => c.url));
    this.#slow.retain(edge.map((c) => c.url));
    const active = this.#active;
    if (!active || active.tier !== 'edge' || active.draining) {
      const probing = edge.filter((c) => c.url !== active?.url && this.#backoff.ready(c.url) && this.#slow.ready(c.url));
      if (probing.length) logger.debug(`probing ${probing.map((c) => c.url).join(' ')}`);
      const found = await this.#probeEdges(probing);
      if (probing.length) logger.debug(`probed: ${found ? 'found' : 'none'}`);
      if (found && !this.#isClosed()) {
        await this.#warm(found);
        const now = this.#active;
        if (!found.conn.closed && (!now || now.tier !== 'edge' || now.draining)) {
          this.#activate(found, this.#reasonFor(TierReason.EDGE_FOUND));
        } else this.#closeLink(found, 'not needed');
      }
    }
    if (this.#isClosed()) return;
    if (!this.#active || this.#active.draining) {
      const standby = this.#standby;
      if (standby && !standby.conn.closed && !standby.draining) {
        this.#activate(standby, this.#reasonFor(TierReason.CLOUD_FOUND));
      } else {
        for (const candidate of cloud) {
          if (candidate.url === this.#active?.url || !this.#backoff.ready(candidate.url)) continue;
          const link = await this.#open(candidate).catch(() => undefined);
          if (!link || this.#isClosed()) continue;
          await this.#warm(link);
          if (link.conn.closed) continue;
          if (!this.#active || this.#active.draining) this.#activate(link, this.#reasonFor(TierReason.CLOUD_FOUND));
          else this.#closeLink(link, 'not needed');
          break;
        }
      }
    }
    if (this.#state === 'discovering') this.#enterLocal(TierReason.NO_NODE);
  }

  /** Why a node found by discovery takes over: first placement, leaving a draining node, or `found`. */
  #reasonFor(found: TierReason): TierReason {
    if (this.#state === 'discovering') return TierReason.DISCOVERED;
    return this.#active?.draining ? TierReason.DRAIN : found;
  }

  /** Opens and probes up to `maxParallelProbes` edges at once; keeps the fastest within budget. */
  async #probeEdges(candidates: NodeCandidate[]): Promise<Link | undefined> {
    const probes = await Promise.all(candidates.slice(0, this.#o.maxParallelProbes).map((c) => this.#probe(c)));
    const reports = probes.map((p, i) => ({ id: candidates[i]!.id, ...(p ? { rttMs: p.medianMs } : {}) }));
    if (reports.length > 0) this.#o.locator.report?.(reports);
    let best: { link: Link; rttMs: number } | undefined;
    for (const probe of probes) {
      if (!probe) continue;
      if (probe.rttMs > this.#o.budgetMs) {
        // not a failure of the node, just not near enough now
        this.#slow.failed(probe.link.url);
        this.#closeLink(probe.link, 'over budget');
      } else if (!best || probe.rttMs < best.rttMs) {
        if (best) this.#closeLink(best.link, 'a faster node was found');
        best = probe;
      } else this.#closeLink(probe.link, 'a faster node was found');
    }
    return best?.link;
  }

  async #probe(candidate: NodeCandidate): Promise<{ link: Link; rttMs: number; medianMs: number } | undefined> {
    let link: Link;
    try {
      link = await this.#open(candidate);
    } catch (err) {
      logger.debug(`probe of ${candidate.url} failed: ${(err as Error).message}`);
      return undefined;
    }
    try {
      const result = await link.probe(this.#o.probePings, Math.max(500, 4 * this.#o.budgetMs));
      logger.debug(`probe ${candidate.url}: best ${result.rttMs.toFixed(1)} ms, median ${result.medianMs.toFixed(1)} ms`);
      return { link, ...result };
    } catch (err) {
      logger.debug(`probe ${candidate.url} failed: ${(err as Error).message}`);
      this.#backoff.failed(candidate.url);
      this.#closeLink(link, 'probe failed');
      return undefined;
    }
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

  // ── links ────────────────────────────────────────────────────────────────

  async #open(candidate: NodeCandidate): Promise<Link> {
    let link: Link;
    try {
      link = await NodeLink.open(candidate, {
        hello: this.#o.hello,
        resume: this.memory.resumeState(64),
        connectTimeoutMs: this.#o.connectTimeoutMs,
        ...(this.#o.WebSocket ? { WebSocket: this.#o.WebSocket } : {}),
        monitor: { intervalMs: this.#o.pingIntervalMs, missedPings: this.#o.missedPings, budgetMs: this.#o.budgetMs, overBudgetPings: this.#o.overBudgetPings },
        on: {
          rtt: (l) => l === this.#active && this.safeEmit('latency', l.conn.rtt()),
          lost: (l, why) => this.#linkDown(l, why),
          overBudget: (l, rttMs) => this.#overBudget(l, rttMs),
          drain: (l, message) => this.#drained(l, message),
        },
      });
    } catch (err) {
      this.#backoff.failed(candidate.url);
      throw err;
    }
    this.#links.add(link);
    if (this.#isClosed()) this.#closeLink(link, 'session closed');
    return link;
  }

  /** Make-before-break: the new node gets history and scene before it gets traffic. */
  async #warm(link: Link): Promise<void> {
    this.#replayPoses(link);
    const scene = this.memory.scene;
    const waits: Promise<unknown>[] = [];
    if (scene) waits.push(link.conn.request({ t: 'scene', name: scene.name, format: 'glb', data: scene.data }, this.#o.connectTimeoutMs));
    const device = this.memory.recentPoses(1)[0]?.device;
    // the first predict on a node creates the session's predictor; pay that before the switch
    if (device) waits.push(link.conn.request({ t: 'predict', horizonMs: 0, device }, this.#o.connectTimeoutMs));
    await Promise.allSettled(waits);
  }

  #replayPoses(link: Link): void {
    const poses = this.memory.recentPoses(Math.min(64, link.conn.welcome.limits.maxPosesPerMessage));
    if (poses.length > 0 && !link.conn.closed) link.conn.send({ t: 'pose', poses });
  }

  #activate(link: Link, reason: TierReason): void {
    const previous = this.#active;
    if (link === this.#standby) this.#standby = undefined;
    this.#active = link;
    link.monitor.start(this.#o.pingIntervalMs);
    link.monitor.graceMs = 0;
    this.#replayPoses(link); // poses that arrived during warm-up, or since the standby's hello
    this.#backoff.succeeded(link.url);
    this.#slow.succeeded(link.url);
    const changed = this.#state !== link.tier || previous !== link;
    this.#state = link.tier;
    logger.debug(`${reason}: now on ${link.tier} ${link.url}`);
    if (changed) this.safeEmit('tier', link.tier, reason);
    this.router.relocate();
    if (previous && previous !== link && !previous.down) {
      if (previous.tier === 'cloud' && link.tier === 'edge' && this.#o.standby && !this.#standby && !previous.draining) {
        this.#standby = previous;
        previous.monitor.start(this.#o.standbyPingIntervalMs);
      } else {
        this.#closeLink(previous, `moved to ${link.url}`);
      }
    }
    this.#updateGrace();
    if (link.tier === 'edge') {
      clearTimeout(this.#discoverTimer);
      void this.#ensureStandby();
    } else {
      this.#rediscoverSoon();
    }
  }

  /** The active node gets extra patience exactly while nothing stands behind it. */
  #updateGrace(): void {
    const active = this.#active;
    if (active) active.monitor.graceMs = this.#standby && !this.#standby.conn.closed ? 0 : this.#o.lastResortGraceMs;
  }

  #enterLocal(reason: TierReason): void {
    if (this.#isClosed()) return;
    const changed = this.#state !== 'local';
    this.#state = 'local';
    if (changed) this.safeEmit('tier', 'local', reason);
    this.router.relocate(); // parked predictions are answered locally now
    this.#rediscoverSoon();
  }

  #linkDown(link: Link, why: string): void {
    if (link.down) return;
    this.#closeLink(link, why);
    if (this.#isClosed()) return;
    this.#backoff.failed(link.url);
    if (link === this.#standby) {
      this.#standby = undefined;
      this.#updateGrace();
      this.#scheduleStandby();
    }
    if (link === this.#active) {
      logger.debug(`lost ${link.tier} ${link.url}: ${why}`);
      this.#active = undefined;
      const standby = this.#standby;
      if (standby && !standby.conn.closed) this.#activate(standby, TierReason.NODE_LOST);
      else this.#enterLocal(TierReason.NODE_LOST);
    }
  }

  #overBudget(link: Link, rttMs: number): void {
    if (link !== this.#active || link.tier !== 'edge') return;
    const standby = this.#standby;
    // leave only for something better: a cloud at 60 ms beats an edge stuck at 80 ms
    if (!standby || standby.conn.closed || standby.monitor.srttMs >= rttMs) return;
    this.#backoff.failed(link.url, this.#o.overBudgetCooldownMs);
    this.#activate(standby, TierReason.OVER_BUDGET);
  }

  #drained(link: Link, message: DrainMessage): void {
    link.draining = true;
    this.safeEmit('drain', message.reason);
    // do not come back to a node that is going away
    this.#backoff.failed(link.url, Math.max(message.deadlineMs, 5000));
    if (link === this.#standby) {
      this.#standby = undefined;
      this.#closeLink(link, 'standby draining');
      this.#updateGrace();
      this.#scheduleStandby();
    } else if (link === this.#active) {
      const standby = this.#standby;
      if (standby && !standby.conn.closed) this.#activate(standby, TierReason.DRAIN);
      else void this.#discover(); // keeps using the draining node until a replacement is warm
    }
  }

  /** Closes a link on purpose: not a failure, so its close must not feed the node's backoff. */
  #closeLink(link: Link, why: string): void {
    this.#links.delete(link);
    link.close(why);
  }

  // ── standby ──────────────────────────────────────────────────────────────

  #scheduleStandby(): void {
    if (this.#standbyTimer || this.#state !== 'edge' || !this.#o.standby) return;
    this.#standbyTimer = setTimeout(() => {
      this.#standbyTimer = undefined;
      void this.#ensureStandby();
    }, new Backoff({ initialMs: 250 }).next());
  }

  async #ensureStandby(): Promise<void> {
    if (!this.#o.standby || this.#standby || this.#openingStandby || this.#state !== 'edge') return;
    this.#openingStandby = true;
    try {
      if (this.#shortlist.cloud.length === 0) this.#shortlist = await this.#o.locator.shortlist().catch(() => this.#shortlist);
      const candidate = this.#shortlist.cloud.find((c) => this.#backoff.ready(c.url));
      if (!candidate) return this.#scheduleStandby();
      const link = await this.#open(candidate).catch(() => undefined);
      if (!link) return this.#scheduleStandby();
      const scene = this.memory.scene;
      if (scene) await link.conn.request({ t: 'scene', name: scene.name, format: 'glb', data: scene.data }, this.#o.connectTimeoutMs).catch(() => {});
      if (this.#state !== 'edge' || this.#standby || link.conn.closed) {
        // placed elsewhere meanwhile; a cloud link is still useful if we are now cloudless
        if (!link.conn.closed && !this.#active) this.#activate(link, TierReason.CLOUD_FOUND);
        else this.#closeLink(link, 'standby not needed');
        return;
      }
      this.#standby = link;
      link.monitor.start(this.#o.standbyPingIntervalMs);
      this.#updateGrace();
    } finally {
      this.#openingStandby = false;
    }
  }
}
