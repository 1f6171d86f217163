/**
 * Measures one node through the public client SDK only (`connect`, `Session`), as an app would
 * see it: handshake time, ping RTT on this client's clock, predict and render round trips, loss
 * (requests with no answer within the timeout), jitter and reconnects, plus what the node says
 * about itself. Rates stay under the node's advertised `maxMessagesPerSecond`: this is meant to be
 * pointed at other people's nodes.
 */
import { connect, ConnectError, ErrorCode, RequestError, type NodeInfo, type PoseSample, type Session } from '../../client-sdk/node.js';
import { summarize, type Summary } from '../report/stats.js';

export interface MeasureOptions {
  durationMs: number;
  /** predict requests per second, per session */
  rateHz: number;
  /** pings per second, per session */
  pingHz: number;
  /** render requests per second, per session (nodes that render only; one in flight at a time) */
  renderHz: number;
  sessions: number;
  horizonMs: number;
  size: { width: number; height: number };
  /** A request with no answer within this counts as lost; undefined: adaptive (see `lossTimeout`). */
  timeoutMs: number | undefined;
  connectTimeoutMs: number;
  signal?: AbortSignal;
}

export interface LossCount {
  sent: number;
  lost: number;
  /** lost / sent (NaN before anything was sent) */
  lossRate: number;
}
export type Measured = Summary & LossCount;

export interface NodeMeasurement {
  url: string;
  /** The node's welcome: id, tier, protocol version, caps, predictors, limits. */
  node?: { id: string; tier: string; version: number; caps: string[]; predictors: string[]; limits: NodeInfo['limits'] };
  /** Discovery's estimate, when the node came from a discovery shortlist. */
  estimatedRttMs?: number;
  error?: { code: string; message: string; next: string };
  handshake: Summary;
  rtt: Measured & { jitterMs: number };
  predict?: Measured;
  /** pose → frame received; `decode` adds the client's decode to get pose → decoded frame. */
  render?: Measured & { toDecodedMs: Summary; width: number; height: number };
  reconnects: number;
  /** Errors the node answered with (rate limits, unknown predictor…), by code. */
  requestErrors: Record<string, number>;
  timeoutMs: number;
  /** Per-session rates actually used, and why they are lower than asked when they are. */
  rates: { pingHz: number; predictHz: number; renderHz: number; cappedBy?: string };
  samples: { rtt: number[]; predict: number[]; render: number[] };
}

/** What to check when a node cannot be measured, by `ConnectError` code. */
const NEXT_STEP: Record<string, string> = {
  NODE_UNREACHABLE: 'check the node runs and the host/port is reachable from here (firewall, DNS); a node serves ws://HOST:PORT/v1/session; for wss:// check its certificate',
  HANDSHAKE_TIMEOUT: 'something answered but no welcome came: check the URL path (/v1/session) and that it is an edge-offload node, not another server or a proxy that holds WebSocket frames',
  HANDSHAKE_REJECTED: 'the node refused the session: check its error code (version, token, capacity) and whether it admits this client',
  HANDSHAKE_FAILED: 'the node closed during the handshake: check protocol versions match and that no proxy in between rewrites frames',
  NO_WEBSOCKET: 'run under Node 20+ with the ws package installed',
};

export function nextStepFor(code: string): string {
  return NEXT_STEP[code] ?? 'check the URL and that the node is an edge-offload node';
}

/**
 * Lost-request timeout when none is given: 3 × the first ping (which pays cold start, so it
 * over-estimates) and at least 100 ms. Over TCP a lost packet is a retransmission stall of at
 * least 200 ms; an answer that late misses many frames, so it counts as lost rather than slow.
 */
export function lossTimeout(firstPingMs: number): number {
  return Math.max(100, Math.ceil(3 * firstPingMs));
}

/** Scales the asked rates down so one session sends at most half the node's message limit. */
export function boundRates(asked: { pingHz: number; predictHz: number; renderHz: number }, maxMessagesPerSecond: number): NodeMeasurement['rates'] {
  const allowed = maxMessagesPerSecond / 2; // half: headroom for the node's token bucket and our reconnects
  const total = asked.pingHz + asked.predictHz + asked.renderHz;
  if (total <= allowed) return asked;
  const k = allowed / total;
  return { pingHz: asked.pingHz * k, predictHz: asked.predictHz * k, renderHz: asked.renderHz * k, cappedBy: `node's maxMessagesPerSecond ${maxMessagesPerSecond} (at most half of it is used)` };
}

/** A head swaying slowly: predictable motion, so predictors have something to do. */
function syntheticPose(): PoseSample {
  const now = performance.now();
  const yaw = 0.3 * Math.sin(now / 700);
  return { device: 'head', time: now * 1000, position: [0.05 * Math.sin(now / 500), 1.6, 0], orientation: [0, Math.sin(yaw / 2), 0, Math.cos(yaw / 2)] };
}

class Tally {
  samples: number[] = [];
  sent = 0;
  lost = 0;
  measured(): Measured {
    return { ...summarize(this.samples), sent: this.sent, lost: this.lost, lossRate: this.sent ? this.lost / this.sent : Number.NaN };
  }
}

/** Mean absolute difference of consecutive RTTs per session (RFC 3550's jitter, unsmoothed). */
function jitter(sequences: number[][]): number {
  let sum = 0;
  let n = 0;
  for (const seq of sequences) for (let i = 1; i < seq.length; i++, n++) sum += Math.abs(seq[i]! - seq[i - 1]!);
  return n ? sum / n : Number.NaN;
}

type Decoder = (data: Uint8Array) => Promise<void>;
/** sharp decodes JPEG/WebP on the client side; without it, decode time is left out. */
async function loadDecoder(): Promise<Decoder | undefined> {
  try {
    const sharp = (await import('sharp')).default;
    return async (data) => void (await sharp(data).raw().toBuffer());
  } catch {
    return undefined;
  }
}

export async function measureNode(url: string, o: MeasureOptions, onSample?: () => void): Promise<NodeMeasurement> {
  const handshakes: number[] = [];
  const result: NodeMeasurement = {
    url,
    handshake: summarize([]),
    rtt: { ...new Tally().measured(), jitterMs: Number.NaN },
    reconnects: 0,
    requestErrors: {},
    timeoutMs: o.timeoutMs ?? Number.NaN,
    rates: { pingHz: o.pingHz, predictHz: o.rateHz, renderHz: o.renderHz },
    samples: { rtt: [], predict: [], render: [] },
  };
  const open = async (timeoutMs: number): Promise<Session> => {
    const started = performance.now();
    const session = await connect(url, { connectTimeoutMs: o.connectTimeoutMs, pingIntervalMs: 0, requestTimeoutMs: timeoutMs });
    handshakes.push(performance.now() - started);
    return session;
  };

  // a first session learns who the node is and what its round trip costs; its first ping is
  // dropped (it pays for cold caches on both sides)
  let first: Session;
  try {
    first = await open(o.connectTimeoutMs);
  } catch (err) {
    const code = err instanceof ConnectError ? err.code : ((err as { code?: string }).code ?? 'ERROR');
    result.error = { code, message: (err as Error).message, next: nextStepFor(code) };
    result.handshake = summarize(handshakes);
    return result;
  }
  const info = first.nodeInfo!;
  result.node = { id: info.node.id, tier: info.node.tier, version: info.v, caps: [...info.caps], predictors: [...info.predictors], limits: info.limits };
  let firstPing = o.connectTimeoutMs;
  try {
    firstPing = await first.ping(o.connectTimeoutMs);
  } catch {
    // no pong at all: the adaptive timeout falls back to the connect timeout
  }
  first.close();
  const timeoutMs = o.timeoutMs ?? lossTimeout(firstPing);
  result.timeoutMs = timeoutMs;
  result.rates = boundRates({ pingHz: o.pingHz, predictHz: o.rateHz, renderHz: info.caps.includes('render') ? o.renderHz : 0 }, info.limits.maxMessagesPerSecond);
  const canPredict = info.caps.includes('predict') && result.rates.predictHz > 0;
  const canRender = info.caps.includes('render') && result.rates.renderHz > 0;
  const decode = canRender ? await loadDecoder() : undefined;

  const ping = new Tally();
  const predict = new Tally();
  const render = new Tally();
  const decoded: number[] = [];
  const sequences: number[][] = [];
  const inFlight = new Set<Promise<unknown>>();
  const timers: ReturnType<typeof setInterval>[] = [];
  const endAt = performance.now() + o.durationMs;
  let stopped = false;
  let stop!: () => void;
  const stoppedAt = new Promise<void>((resolve) => (stop = resolve));

  const onError = (tally: Tally, err: unknown) => {
    if (err instanceof RequestError && err.code === ErrorCode.TIMEOUT) tally.lost++;
    else if (err instanceof RequestError) result.requestErrors[err.code] = (result.requestErrors[err.code] ?? 0) + 1;
    // anything else is the session closing under the request: counted as a reconnect below
    else tally.sent--;
  };
  const track = (p: Promise<unknown>) => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  const runSession = async (): Promise<void> => {
    const sequence: number[] = [];
    sequences.push(sequence);
    let session: Session | undefined;
    let rendering = false;
    const every = (hz: number, tick: () => void) => {
      if (hz > 0) timers.push(setInterval(() => !stopped && session && !session.closed && tick(), 1000 / hz));
    };
    every(result.rates.pingHz, () => {
      ping.sent++;
      track(
        session!.ping(timeoutMs).then(
          (ms) => {
            // under load an answer and its timeout can be handled in either order: the timeout rules
            if (ms > timeoutMs) return void ping.lost++;
            ping.samples.push(ms);
            sequence.push(ms);
            onSample?.();
          },
          (err) => onError(ping, err),
        ),
      );
    });
    if (canPredict)
      every(result.rates.predictHz, () => {
        predict.sent++;
        session!.sendPose(syntheticPose());
        track(session!.predict(o.horizonMs).then((p) => void (p.roundTripMs > timeoutMs ? predict.lost++ : predict.samples.push(p.roundTripMs)), (err) => onError(predict, err)));
      });
    if (canRender)
      every(result.rates.renderHz, () => {
        if (rendering) return; // one frame in flight: a render measures the node, not its queue
        rendering = true;
        render.sent++;
        const camera = { fovY: 90, ipd: 0.064, ...o.size };
        track(
          session!
            .render({ pose: syntheticPose(), eye: 'left', camera, codec: 'jpeg' })
            .then(async (frame) => {
              render.samples.push(frame.roundTripMs);
              if (!decode) return;
              const started = performance.now();
              await decode(frame.data);
              decoded.push(frame.roundTripMs + performance.now() - started);
            }, (err) => onError(render, err))
            .finally(() => (rendering = false)),
        );
      });
    // (re)connect until the time is up; a session the node closes is a reconnect seen
    while (!stopped) {
      try {
        session = await open(timeoutMs);
      } catch {
        session = undefined;
      }
      if (stopped) break;
      const s = session;
      const closedEarly = await Promise.race([
        stoppedAt.then(() => false),
        s ? new Promise<boolean>((resolve) => s.once('close', () => resolve(!stopped))) : new Promise<boolean>((resolve) => setTimeout(() => resolve(true), Math.min(500, timeoutMs))), // retry pacing
      ]);
      if (closedEarly) result.reconnects++;
      else break;
    }
    await Promise.allSettled([...inFlight]);
    session?.close();
  };

  const sessions = Array.from({ length: o.sessions }, () => runSession());
  await new Promise<void>((resolve) => {
    const done = () => {
      stopped = true;
      stop();
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', done);
      for (const t of timers) clearInterval(t);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, endAt - performance.now()));
    if (o.signal?.aborted) done();
    else o.signal?.addEventListener('abort', done);
  });
  await Promise.all(sessions);

  result.handshake = summarize(handshakes);
  result.rtt = { ...ping.measured(), jitterMs: jitter(sequences) };
  if (canPredict) result.predict = predict.measured();
  if (canRender) result.render = { ...render.measured(), toDecodedMs: summarize(decoded), ...o.size };
  result.samples = { rtt: ping.samples, predict: predict.samples, render: render.samples };
  return result;
}
