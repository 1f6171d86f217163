/**
 * The fuzz campaign's victim: a child process running an edge node and a discovery service on
 * loopback, exactly as `edge-offload edge` / `discovery` would, plus the instruments the
 * campaign reads over IPC: unhandled rejections (counted instead of crashing the process, so a
 * campaign goes on and reports them), a snapshot of the built-in prototypes to diff, RSS.
 * A crash is the process dying: the campaign sees the exit.
 *
 * Started by campaign.ts with `fork`; env FUZZ_OPERATORS is the discovery operators JSON.
 */
import { EdgeServer } from '../../edge-server/index.js';
import { DiscoveryServer } from '../../discovery/DiscoveryServer.js';
import { TrustedOperators } from '../../discovery/trust.js';
import { preloadGeoip } from '../../discovery/locate.js';
import { Logger } from '../../protocol/index.js';
import { WorkerPool } from '../../edge-server/webrtc/index.js';

export interface TargetReady {
  type: 'ready';
  edgeUrl: string;
  discoveryUrl: string;
  /** Why the edge has no WebRTC (no mediasoup worker installed), or null when it has. */
  rtcUnavailable: string | null;
}

export interface TargetStats {
  type: 'stats';
  rssBytes: number;
  heapUsedBytes: number;
  unhandledRejections: number;
  uncaughtSamples: string[];
  prototypeChanges: string[];
  edgeSessions: number;
  /** mediasoup workers that died (and were replaced) during the run. */
  rtcWorkerDeaths: number;
}

const BUILTINS: Record<string, object> = {
  Object: Object.prototype,
  Array: Array.prototype,
  Function: Function.prototype,
  String: String.prototype,
  Number: Number.prototype,
  Boolean: Boolean.prototype,
  Promise: Promise.prototype,
  Map: Map.prototype,
  Set: Set.prototype,
  Uint8Array: Uint8Array.prototype,
  Buffer: Buffer.prototype,
  Error: Error.prototype,
  JSON: JSON,
};

function snapshot(): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [name, proto] of Object.entries(BUILTINS)) {
    for (const key of Reflect.ownKeys(proto)) {
      const d = Object.getOwnPropertyDescriptor(proto, key)!;
      out.set(`${name}.${String(key)}`, d.value ?? d.get);
    }
  }
  return out;
}

function diff(before: Map<string, unknown>, after: Map<string, unknown>): string[] {
  const changes: string[] = [];
  for (const k of after.keys()) if (!before.has(k)) changes.push(`added ${k}`);
  for (const [k, v] of before) {
    if (!after.has(k)) changes.push(`removed ${k}`);
    else if (after.get(k) !== v) changes.push(`changed ${k}`);
  }
  const probe = {} as Record<string, unknown>;
  if ('polluted' in probe || probe.polluted !== undefined) changes.push('Object.prototype.polluted');
  return changes;
}

async function main(): Promise<void> {
  // errors are rate-limited by the logger; JSON keeps the child's stderr parseable if a human looks
  Logger.configure({ format: 'json' });
  const before = snapshot();
  let unhandled = 0;
  const samples: string[] = [];
  process.on('unhandledRejection', (reason) => {
    unhandled++;
    if (samples.length < 5) samples.push(String((reason as Error)?.stack ?? reason).slice(0, 2000));
  });
  // a live mediasoup worker behind the edge, so rtc* signalling reaches real transports; without
  // one installed the campaign skips that entry point and says why
  let webrtc: WorkerPool | undefined;
  let rtcUnavailable: string | null = null;
  let rtcWorkerDeaths = 0;
  try {
    webrtc = await WorkerPool.create({ workers: 1 });
    webrtc.on('workerdied', () => rtcWorkerDeaths++);
  } catch (err) {
    rtcUnavailable = (err as Error).message;
  }
  const edge = new EdgeServer({ nodeId: 'fuzz-edge', ...(webrtc ? { webrtc } : {}), ...(process.env.FUZZ_EDGE_OPTIONS ? JSON.parse(process.env.FUZZ_EDGE_OPTIONS) : {}) });
  const { url: edgeUrl } = await edge.listen();
  // as `edge-offload discovery` does at start: geoip-lite reads ~150 MB of tables synchronously,
  // and a fuzzed registration naming a public `ip` would otherwise pay that mid-run (one stall
  // of over a second: every bystander predict in it failed, in the first node-channel campaign)
  await preloadGeoip();
  const discovery = new DiscoveryServer({
    operators: TrustedOperators.fromJson(process.env.FUZZ_OPERATORS ?? '{"operators":[]}', 'FUZZ_OPERATORS'),
    // the per-IP buckets would answer most fuzz requests 429 before their bodies reach the
    // schemas; lift them so the parsers are what gets fuzzed (the limiter has its own tests)
    rateLimits: { query: big, register: big, heartbeat: big, report: big },
    // the node channel's own caps likewise (message rate, status spacing)
    nodeChannel: { maxMessagesPerSecond: 1e9, minStatusIntervalMs: 0 },
    subnetRateLimits: { query: big, register: big, heartbeat: big, report: big },
    identityRateLimits: { register: big, heartbeat: big, report: big },
  });
  const { url: discoveryUrl } = await discovery.listen();
  process.on('message', (message: { type: string }) => {
    if (message.type === 'stats') {
      const m = process.memoryUsage();
      const stats: TargetStats = {
        type: 'stats',
        rssBytes: m.rss,
        heapUsedBytes: m.heapUsed,
        unhandledRejections: unhandled,
        uncaughtSamples: samples,
        prototypeChanges: diff(before, snapshot()),
        edgeSessions: edge.sessionCount,
        rtcWorkerDeaths,
      };
      process.send!(stats);
    } else if (message.type === 'gc') {
      (globalThis as { gc?: () => void }).gc?.();
      process.send!({ type: 'gc-done' });
    } else if (message.type === 'stop') {
      void Promise.all([edge.close({ deadlineMs: 0 }), discovery.close()]).then(() => {
        webrtc?.close();
        process.exit(0);
      });
    }
  });
  process.send!({ type: 'ready', edgeUrl, discoveryUrl, rtcUnavailable } satisfies TargetReady);
}

const big = { ratePerSecond: 1e9, burst: 1e9 };

void main();
