/**
 * One fuzzer per entry point. Each counts a frame only once the server has provably processed
 * it: after every mutated frame it sends a probe the server must answer (a `ping` on the edge
 * session, a known query on discovery ws) or waits for the HTTP response; a session the server
 * closes counts the fatal frame and reconnects.
 */
import { Agent, request } from 'node:http';
import { PROTOCOL_VERSION, decode, encode } from '../../protocol/index.js';
import { generateEdgeMessage } from './generate.js';
import { mutateJson, mutateMessagePack, packFrame, type Random } from './mutate.js';
import { LAX_LIMITS } from '../lib/laxLimits.js';
import { bump, done, fanOut, FuzzSocket, newCounts, STALL_MS } from './fuzzSocket.js';

export interface EntryCounts {
  frames: number;
  /** Connections the server closed (fatal protocol errors, oversize frames…). */
  closes: number;
  /** Probes that got no answer within the stall timeout (a frame swallowed the session). */
  stalls: number;
  /** HTTP statuses, or error codes the server answered. */
  answers: Record<string, number>;
  /** Frames that were byte/structure mutations (the rest: generated, schema-shaped). */
  destructive?: number;
}

export interface FuzzBudget {
  frames: number;
  deadline: number;
  concurrency: number;
  random: Random;
  /** Local source addresses for fuzz connections (never the bystander's). */
  addresses: string[];
  /** Share of edge frames that are mutations (the rest are generated, schema-shaped messages). */
  destructiveShare: number;
  /**
   * Reuse HTTP connections. Off by default: with keep-alive about 1 request in 30 got no answer
   * within 5 s on a reused socket (an open question, recorded as stalls when on).
   */
  httpKeepAlive: boolean;
}

/** (frame, ping) pairs sent before waiting: fewer round trips per frame. */
const WINDOW = 8;

/** How long to leave a request whose body is shorter than it declared before giving up on it. */
const SHORT_BODY_MS = 200;

// --- edge session over ws ---

const POSE = { device: 'head', time: 1000, position: [0, 1.6, 0], orientation: [0, 0, 0, 1] };
export const EDGE_CORPUS: unknown[] = [
  { t: 'hello', v: PROTOCOL_VERSION },
  { t: 'hello', v: PROTOCOL_VERSION, token: 'abc', resume: { predictor: 'kalman', scene: 's', poses: [POSE] } },
  { t: 'pose', poses: [POSE, { ...POSE, time: 2000 }] },
  { t: 'predict', id: 1, horizonMs: 20, poses: [POSE] },
  { t: 'predict', id: 2, horizonMs: 50, device: 'head', predictor: 'constant-velocity' },
  { t: 'ping', id: 3, c: 123.5 },
  { t: 'infer', id: 4, model: 'head', input: { dtype: 'float32', shape: [1, 4], data: new Uint8Array(16) } },
  { t: 'render', id: 5, pose: POSE, camera: { fovY: 90, ipd: 0.064, width: 64, height: 64 } },
  { t: 'scene', id: 6, name: 'x', data: new Uint8Array([0x67, 0x6c, 0x54, 0x46, 2, 0, 0, 0]) },
  { t: 'bye' },
  { t: 'welcome', v: 1 },
];

export async function fuzzEdge(url: string, budget: FuzzBudget): Promise<EntryCounts> {
  const counts = newCounts();
  await fanOut(budget, (localAddress) => edgeWorker(url, localAddress, budget, counts));
  return counts;
}

async function edgeWorker(url: string, localAddress: string, budget: FuzzBudget, counts: EntryCounts): Promise<void> {
  const r = budget.random;
  while (!done(counts, budget)) {
    const pongs = new Set<number>();
    const ws = new FuzzSocket(url, { perMessageDeflate: false, localAddress, maxPayload: 64 << 20 }, (data, socket) => {
      try {
        const m = decode(data, LAX) as { t: string; id?: number; code?: string; fatal?: boolean };
        if (m.t === 'pong' && m.id !== undefined) pongs.add(m.id);
        if (m.t === 'error' && m.code) bump(counts.answers, m.code);
        // a fatal error is the server's last word on this session: do not wait out the close handshake
        if (m.t === 'error' && m.fatal) socket.closed = true;
      } catch {
        bump(counts.answers, 'undecodable-answer');
      }
    });
    if (!(await ws.until(() => ws.ws.readyState === ws.ws.OPEN || ws.closed)) || ws.closed) {
      if (!ws.closed) counts.stalls++;
      ws.terminate();
      continue;
    }
    // one connection in ten fuzzes the handshake itself; the rest say hello first
    if (r() < 0.9) ws.send(encode({ t: 'hello', v: PROTOCOL_VERSION }));
    let ping = 1;
    while (!ws.closed && !done(counts, budget)) {
      // a window of (frame, ping) pairs: each pong proves the frame before it was processed
      const first = ping;
      for (let i = 0; i < WINDOW; i++) {
        const destructive = r() < budget.destructiveShare;
        ws.send(destructive ? mutateMessagePack(r, EDGE_CORPUS) : packFrame(generateEdgeMessage(r, ping)));
        if (destructive) counts.destructive = (counts.destructive ?? 0) + 1;
        ws.send(encode({ t: 'ping', id: ping++, c: 0 }));
      }
      const last = ping - 1;
      const answered = await ws.until(() => pongs.has(last) || ws.closed);
      let processed = 0;
      for (let id = first; id <= last; id++) if (pongs.has(id)) processed++;
      pongs.clear();
      // the frame that closed the session was processed too (it got the fatal error)
      counts.frames += processed + (ws.closed && processed < WINDOW ? 1 : 0);
      if (!answered) {
        counts.stalls++;
        break;
      }
    }
    if (ws.closed) counts.closes++;
    ws.terminate();
  }
}

// --- discovery over HTTP ---

export async function fuzzDiscoveryHttp(baseUrl: string, corpus: unknown[], budget: FuzzBudget): Promise<EntryCounts> {
  const counts = newCounts();
  const { hostname, port } = new URL(baseUrl);
  const agents = budget.addresses.map((localAddress) => new Agent({ keepAlive: budget.httpKeepAlive, maxSockets: 64, localAddress } as ConstructorParameters<typeof Agent>[0]));
  // mostly the real routes with their methods, so bodies reach the parsers and schemas
  const routes = ['/v1/register', '/v1/heartbeat', '/v1/query', '/v1/report'];
  const oddPaths = ['/healthz', '/v1/ws', '/', '/v1/query?lat=1e400&lon=-&k=-1&caps=,,,', '/%00', '/v1/../healthz', `/${'a'.repeat(5000)}`];
  const oddMethods = ['GET', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'];
  const r = budget.random;
  let n = 0;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const body = Buffer.from(mutateJson(r, corpus), 'latin1');
      const headers: Record<string, string | number> = { 'content-type': r() < 0.9 ? 'application/json' : 'text/plain' };
      // sometimes lie about the length, or send none (chunked)
      const lie = r();
      if (lie < 0.7) headers['content-length'] = body.byteLength;
      else if (lie < 0.71) headers['content-length'] = body.byteLength + 1 + Math.floor(r() * 100);
      else if (lie < 0.75) headers['content-length'] = 1e12;
      const short = headers['content-length'] !== undefined && Number(headers['content-length']) > body.byteLength;
      const req = request({ host: hostname, port: Number(port), method: r() < 0.9 ? 'POST' : oddMethods[Math.floor(r() * oddMethods.length)], path: r() < 0.9 ? routes[Math.floor(r() * routes.length)] : oddPaths[Math.floor(r() * oddPaths.length)], headers, agent: agents[n++ % agents.length], timeout: short ? SHORT_BODY_MS : STALL_MS }, (res) => {
        bump(counts.answers, String(res.statusCode));
        res.resume();
        res.once('end', () => {
          counts.frames++;
          resolve();
        });
        res.once('error', () => resolve());
      });
      req.once('timeout', () => {
        // a body shorter than its content-length: the server rightly waits for the rest
        if (short) bump(counts.answers, 'waited-for-declared-body');
        else {
          counts.stalls++;
          bump(counts.answers, `stalled ${req.method} ${req.path.slice(0, 24)} ${String(headers['content-length'])}/${body.byteLength}`);
        }
        req.destroy();
      });
      req.once('error', () => {
        // the server closed on a lying content-length or an oversize body: processed, then closed
        counts.frames++;
        counts.closes++;
        resolve();
      });
      if (headers['content-length'] === 1e12) req.end(body.subarray(0, 64));
      else req.end(body);
    });
  await fanOut(budget, async () => {
    while (!done(counts, budget)) await one();
  });
  for (const a of agents) a.destroy();
  return counts;
}

// --- discovery over ws ---

export async function fuzzDiscoveryWs(baseUrl: string, corpus: unknown[], budget: FuzzBudget): Promise<EntryCounts> {
  const counts = newCounts();
  const url = `${baseUrl.replace(/^http/, 'ws')}/v1/ws`;
  const ops = ['register', 'heartbeat', 'query', 'report'];
  const r = budget.random;
  await fanOut(budget, async (localAddress) => {
    while (!done(counts, budget)) {
      const replies = new Set<string>();
      const ws = new FuzzSocket(url, { localAddress }, (data) => {
        try {
          const m = JSON.parse(data.toString()) as { id?: unknown; ok?: boolean; error?: { code?: string } };
          if (typeof m.id === 'string') replies.add(m.id);
          bump(counts.answers, m.ok ? 'ok' : (m.error?.code ?? 'error'));
        } catch {
          bump(counts.answers, 'not-json');
        }
      });
      if (!(await ws.until(() => ws.ws.readyState === ws.ws.OPEN || ws.closed)) || ws.closed) {
        ws.terminate();
        continue;
      }
      let probe = 0;
      while (!ws.closed && !done(counts, budget)) {
        const roll = r();
        if (roll < 0.05) ws.send(Buffer.from(mutateJson(r, corpus), 'latin1')); // binary frame
        else if (roll < 0.5) ws.send(mutateJson(r, [{ op: ops[Math.floor(r() * ops.length)], id: 7, body: corpus[Math.floor(r() * corpus.length)] }]));
        else ws.send(JSON.stringify({ op: ops[Math.floor(r() * ops.length)], id: 'm', body: JSON.parse(safeJson(mutateJson(r, corpus))) }));
        const id = `probe-${probe++}`;
        ws.send(JSON.stringify({ op: 'query', id, body: { lat: 1, lon: 1 } }));
        if (!(await ws.until(() => replies.has(id) || ws.closed))) {
          counts.stalls++;
          break;
        }
        replies.clear();
        counts.frames++;
      }
      if (ws.closed) counts.closes++;
      ws.terminate();
    }
  });
  return counts;
}

function safeJson(text: string): string {
  try {
    JSON.parse(text);
    return text;
  } catch {
    return JSON.stringify(text);
  }
}

// fuzzed frames nest deeper than any answer; the node's answers to them are read whole
const LAX = { ...LAX_LIMITS, maxDepth: 64 };
