/**
 * A real redis-server for benches and tests: its own process on a free loopback port, no
 * persistence, stopped (and waited for) by `stop()`. Install with scripts/install-redis.sh.
 * It lives in bench/lib so imports run one way, test → bench → product.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';

export interface RedisProcess {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export function redisAvailable(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode} before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A redis-server on `port` with `extra` arguments, listening before this resolves. */
export async function spawnRedis(port: number, extra: string[], timeoutMs: number): Promise<{ child: ChildProcess; kill: () => void }> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', '--loglevel', 'warning', ...extra], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  // never outlive the test process
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  try {
    await waitForPort(port, child, timeoutMs);
  } catch (err) {
    kill();
    throw err;
  }
  return { child, kill };
}

export async function stopChild(child: ChildProcess, kill: () => void): Promise<void> {
  process.off('exit', kill);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(kill, 2000);
  await exited;
  clearTimeout(timer);
}

export async function startRedis(options: { timeoutMs?: number } = {}): Promise<RedisProcess> {
  if (!redisAvailable()) throw new Error('redis-server not found; run scripts/install-redis.sh');
  const port = await freePort();
  const { child, kill } = await spawnRedis(port, [], options.timeoutMs ?? 5000);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () => stopChild(child, kill),
  };
}
