/**
 * Finds the mediasoup worker binary and loads mediasoup (an optional dependency: a headset-only
 * install lacks it, and the edge then serves ws only).
 *
 * Order: `$MEDIASOUP_WORKER_BIN` (a worker built elsewhere), then the cache that
 * scripts/install-mediasoup.sh fills outside the clone, then the package's own build output.
 * mediasoup reads MEDIASOUP_WORKER_BIN once, when its module loads, so the resolver sets it
 * before the first import.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

export const MEDIASOUP_VERSION = '3.12.16';
/** The Debian -dev packages whose versions key the cache; keep in step with install-mediasoup.sh. */
const DEB_LIBS = ['libuv1-dev', 'libabsl-dev', 'libsrtp2-dev', 'libusrsctp-dev', 'libssl-dev', 'nlohmann-json3-dev'];

type Mediasoup = typeof import('mediasoup');

export class MediasoupUnavailableError extends Error {
  override readonly name = 'MediasoupUnavailableError';
  readonly code = 'MEDIASOUP_UNAVAILABLE';
}

/** The text hashed into the cache key, line for line what `key_input` in the script prints. */
export function cacheKeyInput(): string {
  const dpkg = spawnSync('dpkg-query', ['-W', '-f=${Package}=${Version}\\n', ...DEB_LIBS], { encoding: 'utf8' });
  const libs = (dpkg.stdout ?? '').split('\n').filter(Boolean).sort();
  return [`mediasoup=${MEDIASOUP_VERSION}`, `arch=${os.machine()}`, ...libs].map((line) => `${line}\n`).join('');
}

/** Where install-mediasoup.sh caches the worker for this version, CPU and set of Debian libraries. */
export function cachedWorkerPath(env: NodeJS.ProcessEnv = process.env): string {
  const key = createHash('sha256').update(cacheKeyInput()).digest('hex').slice(0, 16);
  const cacheHome = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
  return path.join(cacheHome, 'edge-offload', `mediasoup-worker-${MEDIASOUP_VERSION}-${key}`);
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The worker binary to use, or undefined when there is none. */
export function resolveWorkerBin(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.MEDIASOUP_WORKER_BIN) return executable(env.MEDIASOUP_WORKER_BIN) ? env.MEDIASOUP_WORKER_BIN : undefined;
  const cached = cachedWorkerPath(env);
  if (executable(cached)) return cached;
  try {
    const pkg = path.dirname(createRequire(import.meta.url).resolve('mediasoup/package.json'));
    const built = path.join(pkg, 'worker', 'out', 'Release', 'mediasoup-worker');
    if (executable(built)) return built;
  } catch {
    // mediasoup not installed: reported below
  }
  return undefined;
}

/**
 * Whether `loadMediasoup()` can work here (the package and a worker binary), without loading it:
 * what `edge-offload demo` asks before starting its nodes with --webrtc.
 */
export function mediasoupInstalled(env: NodeJS.ProcessEnv = process.env): boolean {
  try {
    createRequire(import.meta.url).resolve('mediasoup');
  } catch {
    return false;
  }
  return resolveWorkerBin(env) !== undefined;
}

let loading: Promise<Mediasoup> | undefined;

/**
 * Imports mediasoup with its worker binary resolved, or rejects with MediasoupUnavailableError
 * saying what to run.
 */
export function loadMediasoup(): Promise<Mediasoup> {
  loading ??= (async () => {
    const bin = resolveWorkerBin();
    if (!bin) {
      throw new MediasoupUnavailableError(
        `no mediasoup worker binary: run 'bash scripts/install-mediasoup.sh' or set MEDIASOUP_WORKER_BIN (looked in ${cachedWorkerPath()})`,
      );
    }
    process.env.MEDIASOUP_WORKER_BIN = bin;
    try {
      const mediasoup = await import('mediasoup');
      // ESM import of the CommonJS package: the namespace may sit under `default`
      return ((mediasoup as { default?: Mediasoup }).default ?? mediasoup) as Mediasoup;
    } catch (err) {
      throw new MediasoupUnavailableError(`mediasoup@${MEDIASOUP_VERSION} is not installed (${(err as Error).message}); run 'npm install' then 'bash scripts/install-mediasoup.sh'`);
    }
  })();
  loading.catch(() => (loading = undefined)); // a later install can succeed
  return loading;
}
