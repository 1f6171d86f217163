/**
 * The one logger (mediasoup `Logger.ts`): `new Logger(scope)` with debug/warn/error, used by the
 * SDK, the node and discovery alike. Browser-safe: no Node imports.
 *
 * - Debug lines print only when `DEBUG` (Node) or `localStorage.debug` (browser) matches the
 *   namespace, e.g. `DEBUG=edge-offload:*`. Info (a server's startup facts: backend chosen,
 *   models loaded), warnings and errors always print.
 * - Format `text` (default) is `edge-offload:scope WARN message …args`; format `json` (servers:
 *   `EDGE_OFFLOAD_LOG_FORMAT=json` or `Logger.configure({ format: 'json' })`) prints one JSON
 *   object per line, `{"level","time","scope","msg",…fields}`, for log shippers.
 * - Warnings and errors are rate-limited per key (scope + level + the message with ids and
 *   numbers blanked), because a peer that can provoke an error can otherwise make the node write
 *   megabytes of stack traces a second (issue #15: 18,810 traces in 10 s). Past the burst, lines
 *   of that key are counted, and one `suppressed N` line per key is printed every
 *   `reportIntervalMs` while suppression lasts.
 */
const PREFIX = 'edge-offload';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'text' | 'json';

export interface LoggerConfig {
  /** @default env EDGE_OFFLOAD_LOG_FORMAT, else 'text' */
  format: LogFormat;
  /** Lines of one key allowed per second, sustained. @default 5 (env EDGE_OFFLOAD_LOG_RATE) */
  ratePerSecond: number;
  /** Lines of one key allowed back to back. @default 20 (env EDGE_OFFLOAD_LOG_BURST) */
  burst: number;
  /** How often a `suppressed N` line is written per suppressed key. @default 10000 */
  reportIntervalMs: number;
  /** Keys tracked at once; the oldest is forgotten past this (a flood of distinct keys must not grow memory). @default 1000 */
  maxKeys: number;
  /** Where lines go. @default console.debug/warn/error */
  sink: (level: LogLevel, line: string, args: unknown[]) => void;
  /** Clock in ms (tests pass their own). @default performance.now */
  now: () => number;
}

type Env = { process?: { env?: Record<string, string | undefined> }; localStorage?: { getItem(k: string): string | null } };

function env(name: string): string | undefined {
  return (globalThis as Env).process?.env?.[name];
}

function numberEnv(name: string, fallback: number): number {
  const n = Number(env(name));
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

function defaultSink(level: LogLevel, line: string, args: unknown[]): void {
  if (level === 'debug') console.debug(line, ...args);
  else if (level === 'info') console.info(line, ...args);
  else if (level === 'warn') console.warn(line, ...args);
  else console.error(line, ...args);
}

function defaults(): LoggerConfig {
  return {
    format: env('EDGE_OFFLOAD_LOG_FORMAT') === 'json' ? 'json' : 'text',
    ratePerSecond: numberEnv('EDGE_OFFLOAD_LOG_RATE', 5),
    burst: numberEnv('EDGE_OFFLOAD_LOG_BURST', 20),
    reportIntervalMs: 10_000,
    maxKeys: 1000,
    sink: defaultSink,
    now: () => performance.now(),
  };
}

let config: LoggerConfig = defaults();

function debugPattern(): RegExp | undefined {
  let spec: string | null | undefined;
  try {
    spec = env('DEBUG') ?? (globalThis as Env).localStorage?.getItem('debug');
  } catch {
    spec = undefined; // localStorage can throw in sandboxed frames
  }
  if (!spec) return undefined;
  const alternatives = spec.split(/[\s,]+/).filter(Boolean).map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*'));
  return new RegExp(`^(${alternatives.join('|')})$`);
}

interface KeyState {
  tokens: number;
  last: number;
  suppressed: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  level: LogLevel;
  namespace: string;
  sample: string;
}

/** Per-key token buckets, shared by every Logger so the cap holds across instances of one scope. */
const keys = new Map<string, KeyState>();

/** Ids (UUIDs, hex, numbers) blanked so one session's repeated error is one key, not thousands. */
function rateKey(namespace: string, level: LogLevel, message: string): string {
  const firstLine = message.split('\n', 1)[0]!.slice(0, 160);
  return `${namespace}|${level}|${firstLine.replace(/[0-9a-f]{8}-[0-9a-f-]{27,}|0x[0-9a-f]+|\d+(\.\d+)?/gi, '#')}`;
}

function errorFields(err: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { name: err.name, message: err.message };
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (err.stack) out.stack = err.stack;
  return out;
}

/** Extra arguments become JSON fields: one plain object is merged, anything else goes under `args`. */
function fieldsOf(args: unknown[]): Record<string, unknown> {
  if (args.length === 0) return {};
  const toJson = (a: unknown) => (a instanceof Error ? errorFields(a) : a);
  if (args.length === 1 && args[0] !== null && typeof args[0] === 'object' && !Array.isArray(args[0]) && !(args[0] instanceof Error)) {
    return { ...(args[0] as Record<string, unknown>) };
  }
  if (args.length === 1 && args[0] instanceof Error) return { err: errorFields(args[0]) };
  return { args: args.map(toJson) };
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    return JSON.stringify({ level: 'error', msg: 'log line could not be serialised' });
  }
}

/** printf-style `%s`/`%d`/`%j`… placeholders (as console and util.format take them) filled from args. */
function interpolate(message: string, args: unknown[]): { msg: string; rest: unknown[] } {
  if (args.length === 0 || !message.includes('%')) return { msg: message, rest: args };
  let i = 0;
  const msg = message.replace(/%([sdifjoO%])/g, (whole, c: string) => {
    if (c === '%') return '%';
    if (i >= args.length) return whole;
    const a = args[i++];
    if (c === 'd' || c === 'i') return String(c === 'i' ? Math.trunc(Number(a)) : Number(a));
    if (c === 'f') return String(Number(a));
    if (c === 'j' || c === 'o' || c === 'O') return safeStringify(a);
    return a instanceof Error ? (a.stack ?? a.message) : typeof a === 'object' && a !== null ? safeStringify(a) : String(a);
  });
  return { msg, rest: args.slice(i) };
}

function write(level: LogLevel, namespace: string, message: string, args: unknown[]): void {
  if (config.format === 'json') {
    const { msg, rest } = interpolate(message, args);
    const line = { level, time: new Date().toISOString(), scope: namespace, msg, ...fieldsOf(rest) };
    config.sink(level, safeStringify(line), []);
  } else {
    const tag = level === 'debug' || level === 'info' ? '' : ` ${level.toUpperCase()}`;
    config.sink(level, `${namespace}${tag} ${message}`, args);
  }
}

function reportSuppressed(key: string): void {
  const state = keys.get(key);
  if (!state) return;
  state.timer = undefined;
  if (state.suppressed === 0) return;
  const n = state.suppressed;
  state.suppressed = 0;
  write('warn', state.namespace, `suppressed ${n} ${state.level} lines like: ${state.sample}`, [{ suppressed: n, key }]);
}

/** True when the line may print; otherwise counts it and makes sure a report is scheduled. */
function admit(namespace: string, level: LogLevel, message: string): boolean {
  const key = rateKey(namespace, level, message);
  const t = config.now();
  let state = keys.get(key);
  if (!state) {
    if (keys.size >= config.maxKeys) {
      const [oldestKey, oldest] = keys.entries().next().value!;
      if (oldest.timer !== undefined) clearTimeout(oldest.timer);
      reportSuppressed(oldestKey);
      keys.delete(oldestKey);
    }
    state = { tokens: config.burst, last: t, suppressed: 0, timer: undefined, level, namespace, sample: message.split('\n', 1)[0]!.slice(0, 160) };
    keys.set(key, state);
  }
  state.tokens = Math.min(config.burst, state.tokens + ((t - state.last) / 1000) * config.ratePerSecond);
  state.last = t;
  if (state.tokens >= 1) {
    state.tokens -= 1;
    return true;
  }
  state.suppressed++;
  if (state.timer === undefined) {
    state.timer = setTimeout(() => reportSuppressed(key), config.reportIntervalMs);
    (state.timer as { unref?: () => void }).unref?.(); // a pending report never keeps a process alive
  }
  return false;
}

export class Logger {
  readonly namespace: string;
  readonly debugEnabled: boolean;
  constructor(scope: string) {
    this.namespace = `${PREFIX}:${scope}`;
    this.debugEnabled = debugPattern()?.test(this.namespace) ?? false;
  }

  /**
   * Process-wide settings (servers call this once at start; tests pass a sink and a clock).
   * Unset fields keep their current value; `Logger.configure()` with `reset: true` restores the
   * defaults from the environment.
   */
  static configure(options: Partial<LoggerConfig> & { reset?: boolean } = {}): void {
    const { reset, ...rest } = options;
    if (reset) {
      Logger.flushSuppressed();
      keys.clear();
      config = defaults();
    }
    config = { ...config, ...rest };
  }

  /** Writes every pending `suppressed N` line now (at shutdown, so counts are not lost). */
  static flushSuppressed(): void {
    for (const [key, state] of keys) {
      if (state.timer !== undefined) clearTimeout(state.timer);
      reportSuppressed(key);
    }
  }

  /** How many rate-limit keys are tracked now (bounded by `maxKeys`). */
  static get trackedKeys(): number {
    return keys.size;
  }

  debug(message: string, ...args: unknown[]): void {
    if (this.debugEnabled) write('debug', this.namespace, message, args);
  }
  /** Startup facts and rare events; not rate-limited (nothing a peer can provoke belongs here). */
  info(message: string, ...args: unknown[]): void {
    write('info', this.namespace, message, args);
  }
  warn(message: string, ...args: unknown[]): void {
    if (admit(this.namespace, 'warn', message)) write('warn', this.namespace, message, args);
  }
  error(message: string, ...args: unknown[]): void {
    if (admit(this.namespace, 'error', message)) write('error', this.namespace, message, args);
  }
}
