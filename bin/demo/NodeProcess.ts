/**
 * A node in its own process (`edge-offload edge`), so tests and benches can kill it for real
 * (SIGKILL: no goodbye, sockets reset by the kernel) or stop it gracefully (SIGTERM: drain).
 *
 * The process started may be a launcher that started the node again with V8 flags (its young
 * generation: edge-server/gcThreads.ts); `pid` is the one that serves, from its listening line,
 * and signals go to it, so a SIGKILL kills the node itself, as a crash would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import readline from 'node:readline';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { NodeTier } from '../../protocol/index.js';
import { relaunchedChild } from '../../protocol/server/relaunch.js';
import { generateKeyPair, type KeyPair } from '../../discovery/identity.js';
import { writeJsonFile } from '../../discovery/keyFiles.js';

/** dist/bin/demo/NodeProcess.js → dist/bin/edge-offload.js */
const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../edge-offload.js');

export interface SpawnNodeOptions {
  tier?: NodeTier;
  nodeId?: string;
  /** How long a SIGTERM'd node gives clients to move, ms. */
  drainMs?: number;
  port?: number;
  /** Fail loudly if the node has not said "listening" by then, ms (generous: a render node loads its GPU stack, maybe beside a busy test suite). @default 60000 */
  startTimeoutMs?: number;
  /** More `edge-offload edge` flags (--render, --tls-cert FILE…). */
  extraArgs?: readonly string[];
  /** The node key it signs welcomes with (`--node-key`); register this key with discovery. @default a fresh one */
  nodeKey?: KeyPair;
  /** Flags for node itself, before the script (`--import MODULE`, `--cpu-prof`…). */
  nodeArgs?: readonly string[];
  /** The `edge-offload.js` to run (another checkout's build, for a bench's A/B). @default this build's */
  bin?: string;
  /** Extra environment for the process (EDGE_TF_BACKEND…), over this process's. */
  env?: Readonly<Record<string, string>>;
}

export interface NodeProcess {
  readonly url: string;
  readonly port: number;
  readonly nodeId: string;
  readonly tier: NodeTier;
  /**
   * The process that serves (RSS, CPU, pinning): the listening line's `pid`; for an older build
   * whose line has none, the process the launcher re-launched (relaunchedChild), else the one started.
   */
  readonly pid: number;
  /** The process this module started: `pid`, or the launcher that started `pid` with V8 flags. */
  readonly startedPid: number;
  /** The key its welcomes are signed with: what discovery must vouch for (DiscoveryPlacement.announce). */
  readonly nodeKey: KeyPair;
  /** JSON events the node printed after "listening" (draining, stopped…). */
  readonly events: Record<string, unknown>[];
  /** performance.now() when this process saw the node exit (NaN while it runs). */
  readonly exitedAt: number;
  /** Resolves with the exit code/signal once the process is gone. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Bytes the node has written to stderr so far (its logs: a bench bounds them under attack). */
  stderrBytes(): number;
  /** Waits for an event the node prints (e.g. 'stopped'), failing after `timeoutMs`. */
  waitForEvent(name: string, timeoutMs: number): Promise<Record<string, unknown>>;
}

/** Each started process and, once known, the node it re-launched (a launcher's node would outlive it for a moment). */
const live = new Map<ChildProcess, number | undefined>();
// never leave a node behind, whatever happens to the test or bench
process.once('exit', () => {
  for (const [child, serving] of live) signalNodeAndLauncher(child, serving, 'SIGKILL');
});

/**
 * Signals the serving node (when a launcher re-launched it), then the process started: a SIGKILL
 * to a launcher alone would leave its node alive a moment longer, beside whatever starts next.
 */
export function signalNodeAndLauncher(child: ChildProcess, serving: number | undefined, signal: NodeJS.Signals): void {
  if (serving !== undefined && serving !== child.pid) {
    try {
      process.kill(serving, signal);
    } catch {
      // gone already
    }
  }
  child.kill(signal);
}

export async function spawnNode(options: SpawnNodeOptions = {}): Promise<NodeProcess> {
  const args = [options.bin ?? BIN, 'edge', '--port', String(options.port ?? 0), '--tier', options.tier ?? 'edge'];
  if (options.nodeId) args.push('--node-id', options.nodeId);
  if (options.drainMs !== undefined) args.push('--drain-ms', String(options.drainMs));
  args.push(...(options.extraArgs ?? []));
  const nodeKey = options.nodeKey ?? generateKeyPair();
  const keyDir = mkdtempSync(path.join(tmpdir(), 'edge-offload-node-'));
  writeJsonFile(path.join(keyDir, 'node.json'), nodeKey, true);
  args.push('--node-key', path.join(keyDir, 'node.json'));
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...(options.env ? { env: { ...process.env, ...options.env } } : {}) });
  live.set(child, undefined);
  let exitedAt = Number.NaN;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      exitedAt = performance.now();
      live.delete(child);
      rmSync(keyDir, { recursive: true, force: true });
      resolve({ code, signal });
    }),
  );
  let stderr = '';
  let stderrBytes = 0;
  child.stderr!.on('data', (chunk: Buffer) => {
    stderrBytes += chunk.length;
    stderr = (stderr + chunk).slice(-4000);
  });
  const events: Record<string, unknown>[] = [];
  const waiters = new Set<(event: Record<string, unknown>) => void>();
  const lines = readline.createInterface({ input: child.stdout! });
  lines.on('line', (line) => {
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(line);
    } catch {
      return; // free text (logs) is not an event
    }
    events.push(event);
    for (const waiter of [...waiters]) waiter(event);
  });
  const waitForEvent = (name: string, timeoutMs: number) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const seen = events.find((e) => e.event === name);
      if (seen) return resolve(seen);
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`node ${child.pid} printed no '${name}' event within ${timeoutMs} ms; stderr: ${stderr || '(empty)'}`));
      }, timeoutMs);
      const waiter = (event: Record<string, unknown>) => {
        if (event.event !== name) return;
        clearTimeout(timer);
        waiters.delete(waiter);
        resolve(event);
      };
      waiters.add(waiter);
      void exited.then(({ code, signal }) => {
        if (!waiters.has(waiter)) return;
        clearTimeout(timer);
        waiters.delete(waiter);
        reject(new Error(`node ${child.pid} exited (${code ?? signal}) before printing '${name}'; stderr: ${stderr || '(empty)'}`));
      });
    });
  let listening: Record<string, unknown>;
  try {
    listening = await waitForEvent('listening', options.startTimeoutMs ?? 60_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const pid = servingPid(listening, child.pid!);
  if (live.has(child)) live.set(child, pid);
  return {
    nodeKey,
    url: String(listening.url),
    port: Number(listening.port),
    nodeId: String(listening.nodeId),
    tier: (listening.tier as NodeTier) ?? options.tier ?? 'edge',
    pid,
    startedPid: child.pid!,
    events,
    stderrBytes: () => stderrBytes,
    get exitedAt() {
      return exitedAt;
    },
    exited,
    waitForEvent,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) {
        // to the node itself (a launcher forwards SIGTERM/SIGINT, but a SIGKILL would only end the
        // launcher, and the node a moment later); the launcher then ends as the node did
        try {
          process.kill(pid, signal);
        } catch {
          child.kill(signal); // gone already: the launcher follows, or never had a child
        }
      }
      await exited;
    },
  };
}

/** The listening line's `pid`, else (an older build) the child a launcher re-launched, else the process started. */
export function servingPid(listening: Record<string, unknown>, startedPid: number): number {
  if (typeof listening.pid === 'number' && Number.isInteger(listening.pid)) return listening.pid;
  return relaunchedChild(startedPid) ?? startedPid;
}
