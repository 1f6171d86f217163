/**
 * One node as the session sees it: the connection, what the locator said about it, the monitor
 * judging it, and whether it is going away. Owners use its methods and typed events; the
 * connection and the monitor stay inside.
 */
import type { DrainMessage, HelloMessage, RequestError, Message, PoseSample, ReplyOf, RequestBody, RequestType, ResumeState, WelcomeMessage } from '../../protocol/index.js';
import { EnhancedEventEmitter } from '../../protocol/EnhancedEventEmitter.js';
import type { NodeCandidate } from '../placement/locator.js';
import { LinkMonitor, type LinkMonitorOptions } from './LinkMonitor.js';
import { openVideo } from './openVideo.js';
import { NodeConnection } from './NodeConnection.js';
import type { LiveSpotCheck } from '../trust/LiveSpotCheck.js';
import { RequestHealth, type NodeFault, type RequestHealthOptions } from './RequestHealth.js';
import type { RttSummary } from './RttStats.js';
import type { WebSocketConstructor } from '../transport/WebSocketTransport.js';
import type { DataPathOptions } from '../transport/RtcPeer.js';

export interface NodeLinkOpenOptions extends DataPathOptions {
  hello?: Omit<HelloMessage, 't' | 'v' | 'resume'>;
  resume: ResumeState;
  connectTimeoutMs: number;
  WebSocket?: WebSocketConstructor;
  monitor: Pick<LinkMonitorOptions, 'intervalMs' | 'missedPings' | 'budgetMs' | 'overBudgetPings'>;
  /** When unanswered requests or stray answer ids make the node count as failing. */
  requestHealth?: Partial<RequestHealthOptions>;
  /** Spot checks of this link's live answers from its hello on (SessionTrust.spotCheck); undefined: none. */
  spotCheck?: SpotCheckFactory;
}

/** Builds a link's spot checker once its welcome arrived; undefined for a node it cannot check. */
export type SpotCheckFactory = (link: { candidate: NodeCandidate; welcome: WelcomeMessage; resume: ResumeState; onWebRtc: () => boolean }) => LiveSpotCheck | undefined;

export type NodeLinkEvents = {
  /** A pong came back on the monitor's ping loop, ms. */
  rtt: [rttMs: number];
  /** The link failed (socket closed, pongs stopped); never fired for a `close()` on purpose. */
  lost: [why: string];
  /** Its requests went unanswered or came back with ids never sent; `lost` follows at once. */
  fault: [fault: NodeFault];
  /** The RTT stayed over the budget. */
  overbudget: [rttMs: number];
  /** The node asked its clients to move. */
  drain: [message: DrainMessage];
  /** pose/predict moved onto WebRTC data channels or back onto ws. */
  transport: [kind: 'ws' | 'webrtc', why: string];
  /** The node's video track stopped (its encoder died). */
  videolost: [error: RequestError];
};

export class NodeLink extends EnhancedEventEmitter<NodeLinkEvents> {
  readonly candidate: NodeCandidate;
  readonly #conn: NodeConnection;
  readonly #monitor: LinkMonitor;
  readonly #health: RequestHealth;
  #down = false;
  /** Why the link was given up although it answered pings, if it was. */
  fault: NodeFault | undefined;
  /** The node asked us to leave. */
  draining = false;
  /** Spot checks of this link's live answers (set once, at open), if the session runs them. */
  spotCheck: LiveSpotCheck | undefined;

  /** Dials the node and says hello with the session's resume state; pings are left to the monitor. */
  static async open(candidate: NodeCandidate, options: NodeLinkOpenOptions): Promise<NodeLink> {
    const { transport, rtcPeers, rtcConnectTimeoutMs, rtcResendAfterMs } = options;
    const conn = await NodeConnection.open(candidate.url, {
      // the link owns its data path through the connection, which closes it with itself
      ...{ transport, rtcPeers, rtcConnectTimeoutMs, rtcResendAfterMs },
      hello: { ...options.hello, resume: options.resume },
      connectTimeoutMs: options.connectTimeoutMs,
      ...(options.WebSocket ? { WebSocket: options.WebSocket } : {}),
      ...(candidate.publicKey ? { publicKey: candidate.publicKey } : {}),
    });
    const link = new NodeLink(conn, candidate, options);
    // before anything else is sent on it: the check follows the wire from the hello on
    link.spotCheck = options.spotCheck?.({ candidate, welcome: conn.welcome, resume: options.resume, onWebRtc: () => conn.dataPath !== undefined });
    conn.tap = link.spotCheck;
    return link;
  }

  private constructor(conn: NodeConnection, candidate: NodeCandidate, options: NodeLinkOpenOptions) {
    super();
    this.#conn = conn;
    this.candidate = candidate;
    this.#monitor = new LinkMonitor(conn, options.monitor);
    this.#monitor.on('rtt', (rttMs) => this.safeEmit('rtt', rttMs));
    this.#monitor.on('overbudget', (rttMs) => this.safeEmit('overbudget', rttMs));
    this.#monitor.on('lost', (why) => this.#lost(why));
    this.#health = new RequestHealth(options.requestHealth);
    conn.on('strayanswer', (id, kind) => this.#health.wrongId(`'${kind}' for id ${id}`));
    this.#health.on('fault', (fault) => {
      if (this.#down) return;
      this.fault = fault;
      this.safeEmit('fault', fault);
      this.#lost(`${fault.code}: ${fault.detail}`);
    });
    conn.on('close', () => this.spotCheck?.stop('the connection closed'));
    conn.on('close', (code, reason) => this.#lost(`socket closed (${code}${reason ? ` ${reason}` : ''})`));
    conn.on('transport', (kind, why) => this.safeEmit('transport', kind, why));
    conn.on('videolost', (error) => this.safeEmit('videolost', error));
    conn.on('drain', (message) => {
      this.draining = true;
      this.safeEmit('drain', message);
    });
  }

  get tier() {
    return this.candidate.tier;
  }

  get url() {
    return this.candidate.url;
  }

  get nodeId(): string {
    return this.#conn.welcome.node.id;
  }

  /** The node's `welcome`: identity, capabilities, limits. */
  get welcome(): WelcomeMessage {
    return this.#conn.welcome;
  }

  /** Predictors the node offers (a `predict` naming another one is sent without it). */
  get predictors(): readonly string[] {
    return this.#conn.welcome.predictors;
  }

  /** Most poses the node takes in one message. */
  get maxPosesPerMessage(): number {
    return this.#conn.welcome.limits.maxPosesPerMessage;
  }

  /** What carries pose/predict on this link now. */
  get transport(): 'ws' | 'webrtc' {
    return this.#conn.dataPath ? 'webrtc' : 'ws';
  }

  /** Closed, on purpose or not; a link is never reused. */
  get closed(): boolean {
    return this.#down || this.#conn.closed;
  }

  /** Smoothed RTT from the monitor (NaN before the first pong or probe). */
  get srttMs(): number {
    return this.#monitor.srttMs;
  }

  rtt(): RttSummary {
    return this.#conn.rtt();
  }

  /** Starts (or re-paces) the ping loop: fast on the active link, slow on a standby. */
  watch(intervalMs: number): void {
    this.#monitor.start(intervalMs);
  }

  /** Extra silence tolerated before `lost`, ms: raised while nothing stands behind this link. */
  set graceMs(ms: number) {
    this.#monitor.graceMs = ms;
  }

  /** Seeds the smoothed RTT with a probe's measurement. */
  seed(rttMs: number): void {
    this.#monitor.seed(rttMs);
  }

  /** One round trip, ms (probing). */
  ping(timeoutMs: number): Promise<number> {
    return this.#conn.ping(timeoutMs);
  }

  /** This node's H.264 track (client-sdk/link/openVideo.ts). */
  openVideo(timeoutMs: number): Promise<MediaStreamTrack> {
    return openVideo(this.#conn, timeoutMs);
  }

  sendPose(pose: PoseSample): void {
    if (!this.closed) this.#conn.sendPose(pose);
  }

  send(message: Message): void {
    if (this.closed) return;
    this.#conn.send(message);
    this.spotCheck?.sent(message); // NodeConnection taps requests and streamed poses; this, the rest
  }

  request<T extends RequestType>(body: RequestBody<T>, timeoutMs: number): Promise<ReplyOf<T>> {
    return this.#health.track(body.t, this.#conn.request(body, timeoutMs));
  }

  /** Closes on purpose: marks the link down first so its close is not taken for a failure. */
  close(why: string): void {
    this.#down = true;
    this.#monitor.stop();
    if (!this.#conn.closed) this.#conn.close(1000, why.slice(0, 100));
  }

  #lost(why: string): void {
    if (this.#down) return;
    this.#down = true;
    this.#monitor.stop();
    if (!this.#conn.closed) this.#conn.close(1000, 'lost');
    this.safeEmit('lost', why);
  }
}
