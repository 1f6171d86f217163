/**
 * A real 3-master Redis Cluster on loopback for tests and benches: `redis-server
 * --cluster-enabled yes` × N on free ports, joined by `redis-cli --cluster create`, ready once
 * every node reports `cluster_state:ok`. Masters can be SIGKILLed and restarted on the same port
 * and cluster config file, so they rejoin with their slots (and, without persistence, no data).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, redisAvailable, spawnRedis, stopChild } from './redisServer.js';

const run = promisify(execFile);

export interface RedisCluster {
  /** `host:port` of every master, the seeds RedisClusterRegistry takes. */
  nodes: string[];
  ports: number[];
  /** SIGKILLs master i; resolves once it has exited. */
  kill(i: number): Promise<void>;
  /** Starts master i again on its port and config file; resolves when the cluster says ok again. */
  restart(i: number): Promise<void>;
  stop(): Promise<void>;
}

export interface RedisClusterOptions {
  masters?: number;
  /** How long to wait for each step (listening, `cluster_state:ok`). Default 20 s. */
  timeoutMs?: number;
  /**
   * `cluster-node-timeout`: a master unanswered this long is flagged failing by the others.
   * Default 1000 ms, so a test's SIGKILLed master is noticed in about a second; a bench that
   * loads the masters' core gives more (a master starved for a second is not dead).
   */
  nodeTimeoutMs?: number;
}

/** Polls CLUSTER INFO on every live master until each says `cluster_state:ok`; throws loudly past the timeout. */
async function waitClusterOk(ports: number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const states = await Promise.all(
      ports.map((port) =>
        run('redis-cli', ['-p', String(port), 'cluster', 'info'], { timeout: 5000 }).then(
          ({ stdout }) => /cluster_state:(\w+)/.exec(stdout)?.[1] ?? 'unknown',
          (err: Error) => `error (${err.message.split('\n')[0]})`,
        ),
      ),
    );
    if (states.every((s) => s === 'ok')) return;
    last = states.map((s, i) => `${ports[i]}: ${s}`).join(', ');
    if (Date.now() > deadline) throw new Error(`Redis Cluster not ok within ${timeoutMs} ms (${last})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  if (!redisAvailable()) throw new Error('redis-server not found; run scripts/install-redis.sh');
  const masters = options.masters ?? 3;
  const timeoutMs = options.timeoutMs ?? 20_000;
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 1000;
  const dir = mkdtempSync(path.join(tmpdir(), 'eo-redis-cluster-'));
  const ports: number[] = [];
  for (let i = 0; i < masters; i++) ports.push(await freePort());
  // require-full-coverage no: the masters that are up keep serving their slots while one is down
  // (the registry's contract: queries on other shards keep answering); the default short node
  // timeout makes the cluster notice a dead master in about a second.
  const args = (port: number) => [
    '--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${port}.conf`), '--dir', dir,
    '--cluster-require-full-coverage', 'no', '--cluster-node-timeout', String(nodeTimeoutMs),
  ];
  const procs = await Promise.all(ports.map((port) => spawnRedis(port, args(port), timeoutMs)));
  const stopAll = async () => {
    await Promise.all(procs.map((p) => stopChild(p.child, p.kill)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: timeoutMs });
    await waitClusterOk(ports, timeoutMs);
  } catch (err) {
    await stopAll();
    throw err;
  }
  return {
    nodes: ports.map((p) => `127.0.0.1:${p}`),
    ports,
    async kill(i) {
      const { child, kill } = procs[i]!;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      kill();
      await exited;
    },
    async restart(i) {
      procs[i] = await spawnRedis(ports[i]!, args(ports[i]!), timeoutMs);
      await waitClusterOk(ports, timeoutMs);
    },
    stop: stopAll,
  };
}
