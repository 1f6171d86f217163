/**
 * A namespaced logger (mediasoup `Logger.ts`). Debug lines print only when the `DEBUG` env var
 * (Node) or `localStorage.debug` (browser) matches the namespace, e.g. `DEBUG=edge-offload:*`.
 * Info (a server's startup facts: backend chosen, models loaded), warnings and errors always
 * print. Browser-safe: no Node imports.
 */
const PREFIX = 'edge-offload';

function debugPattern(): RegExp | undefined {
  const g = globalThis as { process?: { env?: Record<string, string | undefined> }; localStorage?: { getItem(k: string): string | null } };
  let spec: string | null | undefined;
  try {
    spec = g.process?.env?.DEBUG ?? g.localStorage?.getItem('debug');
  } catch {
    spec = undefined; // localStorage can throw in sandboxed frames
  }
  if (!spec) return undefined;
  const alternatives = spec.split(/[\s,]+/).filter(Boolean).map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*'));
  return new RegExp(`^(${alternatives.join('|')})$`);
}

export class Logger {
  readonly namespace: string;
  readonly debugEnabled: boolean;
  constructor(scope: string) {
    this.namespace = `${PREFIX}:${scope}`;
    this.debugEnabled = debugPattern()?.test(this.namespace) ?? false;
  }
  debug(message: string, ...args: unknown[]): void {
    if (this.debugEnabled) console.debug(`${this.namespace} ${message}`, ...args);
  }
  info(message: string, ...args: unknown[]): void {
    console.info(`${this.namespace} ${message}`, ...args);
  }
  warn(message: string, ...args: unknown[]): void {
    console.warn(`${this.namespace} WARN ${message}`, ...args);
  }
  error(message: string, ...args: unknown[]): void {
    console.error(`${this.namespace} ERROR ${message}`, ...args);
  }
}
