/**
 * Finding nodes for a session: the locator's shortlist, the per-node backoff, probing (probe.ts,
 * the one algorithm), warming a node up before it gets traffic, and the warm cloud standby.
 * `Failover` decides *when* to move; this object answers *where to*, and forwards what happens
 * to every link it opened as its own typed events.
 */
import { Logger, type RequestError } from '../../protocol/index.js';
import { Backoff, BackoffTable } from '../link/Backoff.js';
import { NodeLink, type SpotCheckFactory } from '../link/NodeLink.js';
import type { NodeFault } from '../link/RequestHealth.js';
import { EnhancedEventEmitter } from '../../protocol/EnhancedEventEmitter.js';
import type { SessionMemory } from '../session/SessionMemory.js';
import { probeOptions, type ResolvedFailoverOptions } from './FailoverOptions.js';
import type { NodeCandidate, Shortlist } from './locator.js';
import { chooseNode, toReports, type OpenPinger } from './probe.js';

const logger = new Logger('client:placement');

export type PlacementEvents = {
  /** A link this placement opened failed (already closed, its node backed off). */
  lost: [link: NodeLink, why: string];
  /** A link gave up on its node although it answered pings (`lost` follows). */
  fault: [link: NodeLink, fault: NodeFault];
  rtt: [link: NodeLink, rttMs: number];
  overbudget: [link: NodeLink, rttMs: number];
  drain: [link: NodeLink, reason: string];
  transport: [link: NodeLink, kind: 'ws' | 'webrtc', why: string];
  videolost: [link: NodeLink, error: RequestError];
  /** The standby appeared or went away. */
  standby: [link: NodeLink | undefined];
};

export class Placement extends EnhancedEventEmitter<PlacementEvents> {
  readonly #o: ResolvedFailoverOptions;
  readonly #memory: SessionMemory;
  readonly #links = new Set<NodeLink>();
  /** Nodes that failed (refused, died, drained): retried later and later, up to seconds. */
  readonly #backoff: BackoffTable;
  /** Nodes that answered but too slowly: retried on a short, capped schedule. */
  readonly #slow: BackoffTable;
  #shortlist: Shortlist = { edge: [], cloud: [] };
  #standby: NodeLink | undefined;
  #standbyTimer: ReturnType<typeof setTimeout> | undefined;
  #openingStandby = false;
  #closed = false;

  /** Whether a standby is wanted now (on an edge), so a lost one is replaced. */
  readonly #standbyWanted: () => boolean;

  /** Set by the Failover when its trust officer spot-checks live answers (SessionTrust.spotCheck). */
  spotCheck: SpotCheckFactory | undefined;

  constructor(options: ResolvedFailoverOptions, memory: SessionMemory, standbyWanted: () => boolean) {
    super();
    this.#o = options;
    this.#memory = memory;
    this.#standbyWanted = standbyWanted;
    this.#backoff = new BackoffTable(options.nodeBackoff);
    this.#slow = new BackoffTable(options.slowBackoff);
  }

  /** Asks the locator again; on failure the last shortlist stays. */
  async refresh(): Promise<Shortlist> {
    try {
      this.#shortlist = await this.#o.locator.shortlist();
    } catch (err) {
      logger.debug(`locator failed: ${(err as Error).message}; using the last shortlist`);
    }
    const { edge, cloud } = this.#shortlist;
    this.#backoff.retain([...edge, ...cloud].map((c) => c.url));
    this.#slow.retain(edge.map((c) => c.url));
    return this.#shortlist;
  }

  /**
   * Probes the ready edge candidates (not `exceptUrl`) with probe.ts and returns the winner's
   * link, open and warmed, or undefined when none is within budget. Every measurement is
   * reported to the locator; every other link is closed.
   */
  async findEdge(exceptUrl?: string): Promise<NodeLink | undefined> {
    const candidates = this.#shortlist.edge
      .filter((c) => c.url !== exceptUrl && this.#backoff.ready(c.url) && this.#slow.ready(c.url))
      .slice(0, this.#o.maxParallelProbes);
    if (candidates.length === 0 || this.#closed) return undefined;
    const opened: NodeLink[] = [];
    const unreachable = new Set<string>(); // already backed off by #open
    let decided = false;
    const open: OpenPinger = async (candidate) => {
      const link = await this.#open(candidate).catch((err: unknown) => {
        unreachable.add(candidate.url);
        throw err;
      });
      // a connection that finished opening after the decision (a cut-off straggler) is not needed
      if (decided) this.#close(link, 'probe over');
      else opened.push(link);
      // the link outlives the probe when it wins: closing is left to the decision below
      return { ping: (timeoutMs) => link.ping(timeoutMs), close: () => {} };
    };
    // a pick not among the probed candidates (backed off, unreachable) simply loses to the lowest
    const pick = this.#shortlist.pick;
    const { chosen, results } = await chooseNode(candidates, open, { ...probeOptions(this.#o), ...(pick !== undefined ? { prefer: pick } : {}) });
    decided = true;
    this.#o.locator.report?.(toReports(results));
    for (const r of results) {
      if (r.rttMs === undefined && !r.cutOff && !unreachable.has(r.candidate.url)) this.#backoff.failed(r.candidate.url);
      else if (r.rttMs !== undefined && !r.cutOff && r.rttMs > this.#o.budgetMs) this.#slow.failed(r.candidate.url); // near enough later, maybe
    }
    logger.debug(`probed ${results.map((r) => `${r.candidate.url}=${r.rttMs?.toFixed(1) ?? '-'}${r.cutOff ? '(cut)' : ''}`).join(' ')}`);
    // the winner keeps its newest open link (a tie re-probe opens a fresh one)
    const keep = chosen && [...opened].reverse().find((l) => l.url === chosen.candidate.url && !l.closed);
    for (const link of opened) if (link !== keep) this.#close(link, 'a faster node was found');
    if (!keep || this.#closed) return undefined;
    keep.seed(chosen!.rttMs!);
    await this.warm(keep);
    return keep.closed ? undefined : keep;
  }

  /** Opens and warms the first ready cloud node (not `exceptUrl`). */
  async findCloud(exceptUrl?: string): Promise<NodeLink | undefined> {
    for (const candidate of this.#shortlist.cloud) {
      if (candidate.url === exceptUrl || !this.#backoff.ready(candidate.url)) continue;
      const link = await this.#open(candidate).catch(() => undefined);
      if (!link || this.#closed) continue;
      await this.warm(link);
      if (!link.closed) return link;
    }
    return undefined;
  }

  /** Make-before-break: the new node gets history and scene before it gets traffic. */
  async warm(link: NodeLink): Promise<void> {
    this.replayPoses(link);
    const scene = this.#memory.scene;
    const waits: Promise<unknown>[] = [];
    if (scene) waits.push(link.request({ t: 'scene', name: scene.name, format: 'glb', data: scene.data }, this.#o.connectTimeoutMs));
    const device = this.#memory.recentPoses(1)[0]?.device;
    // the first predict on a node creates the session's predictor; pay that before the switch
    if (device) waits.push(link.request({ t: 'predict', horizonMs: 0, device }, this.#o.connectTimeoutMs));
    await Promise.allSettled(waits);
  }

  /** Sends the recent poses, so the node predicts from the same history as the last one. */
  replayPoses(link: NodeLink): void {
    const poses = this.#memory.recentPoses(Math.min(this.#o.replayPoses, link.maxPosesPerMessage));
    if (poses.length > 0) link.send({ t: 'pose', poses });
  }

  /** A node that failed, or that should not be retried for `atLeastMs`. */
  failed(url: string, atLeastMs?: number): void {
    this.#backoff.failed(url, atLeastMs);
  }

  /** A node now in use: its backoff starts over. */
  succeeded(url: string): void {
    this.#backoff.succeeded(url);
    this.#slow.succeeded(url);
  }

  /** Closes a link on purpose: not a failure, so its close does not feed the node's backoff. */
  release(link: NodeLink, why: string): void {
    if (link === this.#standby) this.#setStandby(undefined);
    this.#close(link, why);
  }

  // ── standby ──────────────────────────────────────────────────────────────

  /** The warm cloud link kept while on an edge, if it is still open. */
  get standby(): NodeLink | undefined {
    return this.#standby && !this.#standby.closed ? this.#standby : undefined;
  }

  /** Hands the standby over (it becomes the active link). */
  takeStandby(): NodeLink | undefined {
    const link = this.standby;
    if (link) this.#setStandby(undefined);
    return link;
  }

  /** Keeps `link` (a cloud link just left for an edge) warm as the standby. */
  keepAsStandby(link: NodeLink): boolean {
    if (!this.#o.standby || this.standby || link.draining || link.closed) return false;
    link.watch(this.#o.standbyPingIntervalMs);
    this.#setStandby(link);
    return true;
  }

  /** Opens a standby when one is wanted (on an edge) and none is open; retries on a backoff. */
  async ensureStandby(): Promise<void> {
    const wanted = this.#standbyWanted;
    if (!this.#o.standby || this.standby || this.#openingStandby || !wanted() || this.#closed) return;
    this.#openingStandby = true;
    try {
      if (this.#shortlist.cloud.length === 0) await this.refresh();
      const candidate = this.#shortlist.cloud.find((c) => this.#backoff.ready(c.url));
      const link = candidate && (await this.#open(candidate).catch(() => undefined));
      if (!link) return this.#retryStandby();
      const scene = this.#memory.scene;
      if (scene) await link.request({ t: 'scene', name: scene.name, format: 'glb', data: scene.data }, this.#o.connectTimeoutMs).catch(() => {});
      if (!wanted() || this.standby || !this.keepAsStandby(link)) this.#close(link, 'standby not needed');
    } finally {
      this.#openingStandby = false;
    }
  }

  #retryStandby(): void {
    if (this.#standbyTimer || this.#closed || !this.#standbyWanted()) return;
    this.#standbyTimer = setTimeout(() => {
      this.#standbyTimer = undefined;
      void this.ensureStandby();
    }, new Backoff({ initialMs: this.#o.standbyRetryMs }).next());
  }

  #setStandby(link: NodeLink | undefined): void {
    if (this.#standby === link) return;
    this.#standby = link;
    this.safeEmit('standby', link);
  }

  // ── links ────────────────────────────────────────────────────────────────

  async #open(candidate: NodeCandidate): Promise<NodeLink> {
    let link: NodeLink;
    try {
      link = await NodeLink.open(candidate, {
        hello: this.#o.hello,
        resume: this.#memory.resumeState(this.#o.replayPoses),
        connectTimeoutMs: this.#o.connectTimeoutMs,
        ...(this.#o.WebSocket ? { WebSocket: this.#o.WebSocket } : {}),
        transport: this.#o.transport,
        ...(this.#o.rtcPeers ? { rtcPeers: this.#o.rtcPeers } : {}),
        ...(this.#o.rtcResendAfterMs !== undefined ? { rtcResendAfterMs: this.#o.rtcResendAfterMs } : {}),
        rtcConnectTimeoutMs: this.#o.rtcConnectTimeoutMs,
        monitor: { intervalMs: this.#o.pingIntervalMs, missedPings: this.#o.missedPings, budgetMs: this.#o.budgetMs, overBudgetPings: this.#o.overBudgetPings },
        requestHealth: this.#o.requestHealth,
        ...(this.spotCheck ? { spotCheck: this.spotCheck } : {}),
      });
    } catch (err) {
      logger.debug(`opening ${candidate.url} failed: ${(err as Error).message}`);
      this.#backoff.failed(candidate.url);
      throw err;
    }
    this.#links.add(link);
    link.on('rtt', (rttMs) => this.safeEmit('rtt', link, rttMs));
    link.on('transport', (kind, why) => this.safeEmit('transport', link, kind, why));
    link.on('videolost', (error) => this.safeEmit('videolost', link, error));
    link.on('overbudget', (rttMs) => this.safeEmit('overbudget', link, rttMs));
    link.on('fault', (fault) => {
      // it still answers pings, so a probe would pick it again at once: keep away for long
      this.#backoff.failed(link.url, this.#o.faultCooldownMs);
      this.safeEmit('fault', link, fault);
    });
    link.on('lost', (why) => {
      this.#links.delete(link);
      this.#backoff.failed(link.url);
      if (link === this.#standby) this.#lostStandby();
      this.safeEmit('lost', link, why);
    });
    link.on('drain', (message) => {
      // do not come back to a node that is going away
      this.#backoff.failed(link.url, Math.max(message.deadlineMs, this.#o.drainFloorMs));
      if (link === this.#standby) {
        this.#close(link, 'standby draining');
        this.#lostStandby();
      }
      this.safeEmit('drain', link, message.reason);
    });
    if (this.#closed) this.#close(link, 'session closed');
    return link;
  }

  #lostStandby(): void {
    this.#setStandby(undefined);
    this.#retryStandby();
  }

  #close(link: NodeLink, why: string): void {
    this.#links.delete(link);
    link.close(why);
  }

  /** Closes every link; nothing opens after this. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#standbyTimer);
    this.#setStandby(undefined);
    for (const link of [...this.#links]) this.#close(link, 'session closed');
  }
}
