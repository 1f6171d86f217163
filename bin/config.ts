/**
 * Every limit and timeout of an edge node in one table, with its documented default, settable
 * from a JSON file (`--config node.json`), the environment (`EDGE_OFFLOAD_<NAME>`) and flags
 * (`--<name>`), in rising precedence: defaults < file < env < flags.
 *
 * The file is flat JSON keyed by the option names below (`{ "maxSessionsPerIp": 16 }`); sizes may
 * be written `"8MiB"`. An unknown key or a bad value is a `ConfigError` with a stable `code`, so a
 * typo in a config file stops the node at start instead of being ignored.
 * `edge-offload edge --print-config` writes the effective config in the same format.
 */
import { readFileSync } from 'node:fs';
import { TrustedOperators } from '../discovery/trust.js';
import { HmacTokenVerifier } from '../edge-server/admission/index.js';
import { Logger, type LogFormat } from '../protocol/index.js';
import { ConfigError } from '../protocol/server/ConfigError.js';
import type { EdgeServerOptions } from '../edge-server/index.js';

type Kind = 'int' | 'bytes' | 'ms' | 'bool' | 'string' | 'enum';

interface OptionSpec {
  kind: Kind;
  default: number | boolean | string | undefined;
  doc: string;
  /** Env var when it is not `EDGE_OFFLOAD_` + the name in SCREAMING_SNAKE_CASE. */
  env?: string;
  values?: readonly string[];
  /** Smallest value of an `int` (default 1). */
  min?: number;
}

/** The table. Order is the order of `--help`. */
export const EDGE_CONFIG = {
  // admission
  maxSessions: { kind: 'int', default: 1000, doc: 'sessions on the node at once; more are refused with HTTP 503' },
  maxSessionsPerIp: { kind: 'int', default: 64, doc: 'sessions from one address (IPv6: one /64)' },
  maxSessionsPerSubnet: { kind: 'int', default: 256, doc: 'sessions from one subnet (IPv4 /24, IPv6 /56): a host with many addresses is one client' },
  maxSessionsPerToken: { kind: 'int', default: 8, doc: 'sessions of one verified hello.token identity' },
  tokenSecretFile: { kind: 'string', default: undefined, doc: 'file holding the HMAC secret (≥ 32 bytes) that client tokens are checked against; unset: an open node' },
  requireToken: { kind: 'bool', default: false, doc: 'refuse a hello without a token (implied by tokenSecretFile)' },
  // timeouts
  helloTimeoutMs: { kind: 'ms', default: 5000, doc: 'a session must say hello within this' },
  idleTimeoutMs: { kind: 'ms', default: 600_000, doc: "a session that sends nothing for this long is closed (long: the SDK's warm standby is silent)" },
  connIdleMs: { kind: 'ms', default: 10_000, doc: 'a TCP connection silent this long before its upgrade is closed' },
  headersTimeoutMs: { kind: 'ms', default: 5000, doc: 'HTTP request headers must arrive within this (slowloris)' },
  requestTimeoutMs: { kind: 'ms', default: 10_000, doc: 'a whole HTTP request must arrive within this' },
  keepAliveTimeoutMs: { kind: 'ms', default: 5000, doc: 'idle keep-alive HTTP connections are closed after this' },
  maxConnectionsPerIp: { kind: 'int', default: 128, doc: 'open TCP connections from one address (IPv6: one /64)' },
  maxConnections: { kind: 'int', default: 4096, doc: 'open TCP connections in all; keep under the fd limit' },
  upgradesPerTurn: { kind: 'int', default: 8, min: 0, doc: "WebSocket handshakes (and the sessions they start) per event-loop turn, so a connection storm cannot hold live sessions' frames; 0: no bound" },
  maxPendingUpgrades: { kind: 'int', default: 512, doc: 'handshakes waiting their turn, beyond which an upgrade is refused 503 (UPGRADES_QUEUED)' },
  // budgets
  maxInflightRequests: { kind: 'int', default: 64, doc: 'requests of one session in flight at once (BUSY beyond)' },
  maxMessagesPerSecond: { kind: 'int', default: 2000, doc: 'messages per second one session may send' },
  maxFrameBytes: { kind: 'bytes', default: 1 << 20, doc: 'largest frame a client may send' },
  framesPerRead: { kind: 'int', default: 2, min: 0, doc: "frames of one session handled per socket read before other sessions' turn (the rest wait, the socket paused); 0: no bound" },
  inputQueueBytes: { kind: 'bytes', default: 4 << 20, doc: 'frames of one session waiting their turn, in bytes, above which it is closed (RATE_LIMITED)' },
  sendSoftBytes: { kind: 'bytes', default: 1 << 20, doc: 'unsent bytes to one session above which droppable answers are dropped' },
  sendHardBytes: { kind: 'bytes', default: 8 << 20, doc: 'unsent bytes to one session above which it is closed (SLOW_CONSUMER)' },
  sendStallMs: { kind: 'ms', default: 10_000, doc: 'a session whose answers are dropped this long is closed (SLOW_CONSUMER)' },
  sendSkipAboveBytes: { kind: 'bytes', default: 64 << 10, doc: 'unsent bytes to one session above which its predictions are not computed (counted, not answered)' },
  sendMaxSkipped: { kind: 'int', default: 256, doc: 'predictions skipped in a row (the client read nothing) after which the session is closed (SLOW_CONSUMER)' },
  sessionMemoryBytes: { kind: 'bytes', default: 256 << 20, doc: 'decoded scene memory (textures) one session may hold' },
  nodeMemoryBytes: { kind: 'bytes', default: 1 << 30, doc: 'decoded scene memory all sessions together may hold' },
  workers: { kind: 'int', default: 1, doc: 'processes serving sessions behind the one port (node:cluster; a session stays in one); one node to discovery, /metrics and admin' },
  heavyWorkers: { kind: 'int', default: undefined, min: 0, doc: 'worker threads that render and infer off the event loop (predict stays on it); 0 runs them on the event loop; unset: cores - 1, at least 1' },
  heavyConcurrency: { kind: 'int', default: undefined, doc: 'CPU-heavy jobs (render, infer, scene decode) running at once, shared fairly between sessions; unset: one per heavy worker (1 with heavyWorkers 0)' },
  heavyQueuePerSession: { kind: 'int', default: 4, doc: 'heavy jobs one session may have waiting (BUSY beyond)' },
  heavyMainMsPerSecond: { kind: 'int', default: 100, min: 0, doc: "event-loop ms per second one session's heavy requests may use (hand-off, answer, plus heavyByteCostNs a payload byte); over it its next one waits, so others' predicts keep their latency; 0: no budget" },
  heavyByteCostNs: { kind: 'int', default: 10, min: 0, doc: 'event-loop ns charged per payload byte of a heavy request (socket receive, GC of its buffers: not timed per request)' },
  warmUpFrames: { kind: 'int', default: 2000, min: 0, doc: "synthetic pose+predict frames run through the codec and each predictor before the node listens, so its first clients do not wait for V8 to optimise that code (edge-server/warmUp.ts); 0: none" },
  drainMs: { kind: 'ms', default: 2000, doc: 'on SIGTERM or an admin drain, how long clients get to move away' },
  // operations
  logFormat: { kind: 'enum', default: 'text', values: ['text', 'json'], doc: 'text, or json lines for log shippers' },
  logRatePerSecond: { kind: 'int', default: 5, env: 'EDGE_OFFLOAD_LOG_RATE', doc: 'warnings/errors of one kind printed per second (then counted as suppressed)' },
  logBurst: { kind: 'int', default: 20, doc: 'warnings/errors of one kind printed back to back' },
  metrics: { kind: 'bool', default: true, doc: 'serve GET /metrics (needs the optional prom-client)' },
  adminOperatorsFile: { kind: 'string', default: undefined, doc: 'operators file ({"operators":[{name,publicKey}]}) whose keys may call /admin; unset: no admin endpoint' },
  adminMaxSkewMs: { kind: 'ms', default: 30_000, doc: 'how far an admin request timestamp may be from the node clock' },
} as const satisfies Record<string, OptionSpec>;

export type EdgeConfigKey = keyof typeof EDGE_CONFIG;
type ValueOf<S extends OptionSpec> = S['kind'] extends 'bool' ? boolean : S['kind'] extends 'string' | 'enum' ? string : number;
export type EdgeConfig = { -readonly [K in EdgeConfigKey]: (typeof EDGE_CONFIG)[K]['default'] extends undefined ? ValueOf<(typeof EDGE_CONFIG)[K]> | undefined : ValueOf<(typeof EDGE_CONFIG)[K]> };

const spec = (key: string): OptionSpec | undefined => (Object.hasOwn(EDGE_CONFIG, key) ? (EDGE_CONFIG as Record<string, OptionSpec>)[key] : undefined);
export const flagName = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
export const envName = (key: string) => spec(key)?.env ?? `EDGE_OFFLOAD_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

const UNITS: Record<string, number> = { '': 1, b: 1, kib: 1 << 10, mib: 1 << 20, gib: 1 << 30 };

function parseValue(key: string, raw: unknown, origin: string): number | boolean | string {
  const s = spec(key)!;
  const bad = (what: string): never => {
    throw new ConfigError('CONFIG_BAD_VALUE', `${origin}: ${key} ${what}, got ${JSON.stringify(raw)}`);
  };
  switch (s.kind) {
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      return bad('must be true or false');
    case 'string':
      if (typeof raw !== 'string' || raw === '') return bad('must be a non-empty string');
      return raw;
    case 'enum':
      if (typeof raw !== 'string' || !s.values!.includes(raw)) return bad(`must be one of ${s.values!.join(', ')}`);
      return raw;
    case 'bytes': {
      const m = typeof raw === 'string' ? /^\s*(\d+)\s*([kmg]?i?b)?\s*$/i.exec(raw) : undefined;
      const n = typeof raw === 'number' ? raw : m ? Number(m[1]) * (UNITS[(m[2] ?? '').toLowerCase()] ?? NaN) : NaN;
      if (!Number.isSafeInteger(n) || n < 1) return bad('must be a positive byte count (a number, or e.g. "8MiB")');
      return n;
    }
    default: {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      const min = s.kind === 'ms' ? 0 : (s.min ?? 1);
      if (!Number.isSafeInteger(n) || n < min) return bad(s.kind === 'ms' ? 'must be a whole number of milliseconds' : min === 0 ? 'must be a whole number' : 'must be a positive integer');
      return n;
    }
  }
}

export function defaultConfig(): EdgeConfig {
  return Object.fromEntries(Object.entries(EDGE_CONFIG).map(([k, s]) => [k, s.default])) as EdgeConfig;
}

/** Reads a config file: flat JSON object of known keys. */
export function readConfigFile(path: string): Partial<EdgeConfig> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError('CONFIG_UNREADABLE', `cannot read config ${path}: ${(err as Error).message}; it must be a JSON object of options (see --help)`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError('CONFIG_UNREADABLE', `${path} must hold a JSON object`);
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(value)) {
    if (!spec(key)) throw new ConfigError('CONFIG_UNKNOWN_KEY', `${path}: unknown option '${key}'; known: ${Object.keys(EDGE_CONFIG).join(', ')}`);
    if (raw === null) continue; // null = the default, so a printed config with unset options reads back
    out[key] = parseValue(key, raw, path);
  }
  return out as Partial<EdgeConfig>;
}

export interface ConfigSources {
  /** Path of `--config`. */
  file?: string;
  /** Usually process.env. */
  env?: Record<string, string | undefined>;
  /** Flag values as parsed (kebab-case names, strings or booleans). */
  flags?: Record<string, string | boolean | undefined>;
}

/** defaults < file < env < flags. */
export function loadConfig(sources: ConfigSources = {}): EdgeConfig {
  const config = defaultConfig() as Record<string, unknown>;
  if (sources.file) Object.assign(config, readConfigFile(sources.file));
  for (const key of Object.keys(EDGE_CONFIG)) {
    const fromEnv = sources.env?.[envName(key)];
    if (fromEnv !== undefined && fromEnv !== '') config[key] = parseValue(key, fromEnv, `env ${envName(key)}`);
    const fromFlag = sources.flags?.[flagName(key)];
    if (fromFlag !== undefined) config[key] = parseValue(key, fromFlag, `--${flagName(key)}`);
  }
  const c = config as EdgeConfig;
  if (c.sendSoftBytes > c.sendHardBytes) throw new ConfigError('CONFIG_BAD_VALUE', 'sendSoftBytes must be <= sendHardBytes');
  if (c.sessionMemoryBytes > c.nodeMemoryBytes) throw new ConfigError('CONFIG_BAD_VALUE', 'sessionMemoryBytes must be <= nodeMemoryBytes');
  if (c.headersTimeoutMs > c.requestTimeoutMs) throw new ConfigError('CONFIG_BAD_VALUE', 'headersTimeoutMs must be <= requestTimeoutMs');
  return c;
}

/** The config as a file `readConfigFile` reads back to the same values (unset options as null). */
export function formatConfigFile(config: EdgeConfig): string {
  return `${JSON.stringify(Object.fromEntries(Object.keys(EDGE_CONFIG).map((k) => [k, (config as Record<string, unknown>)[k] ?? null])), null, 2)}\n`;
}

/** parseArgs option specs for every config flag (all strings except booleans), plus --config. */
export function configFlagSpecs(): Record<string, { type: 'string' | 'boolean' }> {
  const flags: Record<string, { type: 'string' | 'boolean' }> = { config: { type: 'string' } };
  for (const key of Object.keys(EDGE_CONFIG)) flags[flagName(key)] = { type: 'string' };
  return flags;
}

/** `--help` lines: flag, default, env var, what it is for. */
export function configHelp(): string {
  const lines = ['Limits and timeouts (also from --config FILE.json, keyed by the camelCase name, or env):'];
  for (const [key, s] of Object.entries(EDGE_CONFIG) as [string, OptionSpec][]) {
    const def = s.default === undefined ? 'unset' : s.kind === 'bytes' ? bytesText(s.default as number) : String(s.default);
    lines.push(`  --${flagName(key)} ${s.kind === 'bool' ? 'true|false' : s.kind.toUpperCase()}`.padEnd(36) + `${s.doc} [default: ${def}; env ${envName(key)}]`);
  }
  return lines.join('\n');
}

function bytesText(n: number): string {
  for (const [unit, size] of [['GiB', 1 << 30], ['MiB', 1 << 20], ['KiB', 1 << 10]] as const) if (n % size === 0) return `${n / size}${unit}`;
  return String(n);
}

/**
 * The EdgeServer options a config stands for (limits, guards, metrics, admin), reading the
 * token secret and operators files it names. The caller adds what is not a limit (port, engines).
 */
export function edgeServerOptions(config: EdgeConfig): Pick<EdgeServerOptions, 'maxSessions' | 'helloTimeoutMs' | 'maxInflightRequests' | 'limits' | 'guards' | 'metrics' | 'admin' | 'warmUp'> {
  let verifier: HmacTokenVerifier | undefined;
  if (config.tokenSecretFile) {
    let secret: Buffer;
    try {
      secret = readFileSync(config.tokenSecretFile);
    } catch (err) {
      throw new ConfigError('CONFIG_UNREADABLE', `cannot read tokenSecretFile ${config.tokenSecretFile}: ${(err as Error).message}`);
    }
    verifier = new HmacTokenVerifier(secret);
  }
  return {
    maxSessions: config.maxSessions,
    helloTimeoutMs: config.helloTimeoutMs,
    maxInflightRequests: config.maxInflightRequests,
    limits: { maxMessagesPerSecond: config.maxMessagesPerSecond, maxFrameBytes: config.maxFrameBytes },
    guards: {
      admission: { maxSessionsPerIp: config.maxSessionsPerIp, maxSessionsPerSubnet: config.maxSessionsPerSubnet, maxSessionsPerToken: config.maxSessionsPerToken, requireToken: config.requireToken || verifier !== undefined, ...(verifier ? { verifier } : {}) },
      connections: {
        idleMs: config.connIdleMs,
        headersTimeoutMs: config.headersTimeoutMs,
        requestTimeoutMs: config.requestTimeoutMs,
        keepAliveTimeoutMs: config.keepAliveTimeoutMs,
        maxConnectionsPerIp: config.maxConnectionsPerIp,
        maxConnections: config.maxConnections,
      },
      upgrades: { perTurn: config.upgradesPerTurn, maxPending: config.maxPendingUpgrades },
      idleTimeoutMs: config.idleTimeoutMs,
      frames: { perRead: config.framesPerRead, maxQueuedBytes: config.inputQueueBytes },
      send: { softBytes: config.sendSoftBytes, hardBytes: config.sendHardBytes, stallMs: config.sendStallMs, skipAboveBytes: Math.min(config.sendSkipAboveBytes, config.sendSoftBytes), maxSkipped: config.sendMaxSkipped },
      memory: { perSessionBytes: config.sessionMemoryBytes, perNodeBytes: config.nodeMemoryBytes },
      heavy: { ...(config.heavyConcurrency !== undefined ? { concurrency: config.heavyConcurrency } : {}), maxQueuedPerSession: config.heavyQueuePerSession, mainMsPerSecond: config.heavyMainMsPerSecond === 0 ? Infinity : config.heavyMainMsPerSecond, byteCostNs: config.heavyByteCostNs },
    },
    metrics: config.metrics,
    warmUp: config.warmUpFrames > 0 ? { frames: config.warmUpFrames } : false,
    ...(config.adminOperatorsFile ? { admin: { operators: TrustedOperators.fromFile(config.adminOperatorsFile), maxSkewMs: config.adminMaxSkewMs } } : {}),
  };
}

/** The process-wide logger settings a config asks for. */
export function configureLogging(config: EdgeConfig): void {
  Logger.configure({ format: config.logFormat as LogFormat, ratePerSecond: config.logRatePerSecond, burst: config.logBurst });
}
