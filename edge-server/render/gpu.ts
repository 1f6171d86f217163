/**
 * Dawn device creation for the edge renderer.
 *
 * Edge nodes with a GPU use Dawn's default backend (Vulkan/D3D12/Metal). Machines without one (CI,
 * CPU-only nodes) use Dawn's OpenGL ES backend on Mesa llvmpipe through a surfaceless EGL display,
 * with an adapter of feature level `compatibility` (GL ES cannot offer `core`). Vulkan on lavapipe
 * (Mesa 22.3) gives no adapter, so `auto` falls back to OpenGL ES when the default finds nothing.
 */
import { create } from 'webgpu';
import { Logger } from '../../protocol/index.js';
import { resolveBackendChoice, type GpuBackendChoice } from './backendChoice.js';

export { resolveBackendChoice, type GpuBackendChoice };

const logger = new Logger('render:gpu');


export interface GpuOptions {
  /** Which Dawn backend to use. Default: env `EDGE_OFFLOAD_GPU_BACKEND`, else `auto`. */
  backend?: GpuBackendChoice;
  /** Extra Dawn toggles passed to `create()` (e.g. `enable-dawn-features=...`). Default none. */
  dawnFlags?: string[];
}

export interface GpuContext {
  /** The Dawn instance (`navigator.gpu` equivalent); kept referenced for the device's lifetime. */
  readonly instance: GPU;
  readonly device: GPUDevice;
  /** The backend that actually gave the adapter (`default` means Dawn chose). */
  readonly backend: Exclude<GpuBackendChoice, 'auto'>;
  readonly featureLevel: 'core' | 'compatibility';
  readonly adapter: { vendor: string; architecture: string; device: string; description: string };
  describe(): Record<string, unknown>;
  destroy(): void;
}

/** The GPU stack could not start; the message says what to install. */
export class GpuUnavailableError extends Error {
  override readonly name = 'GpuUnavailableError';
  readonly code = 'GPU_UNAVAILABLE';
}

export const INSTALL_HINT =
  'On a machine without a GPU install Mesa\'s EGL/GLES drivers (Debian: sudo apt-get install libegl1 libegl-mesa0 ' +
  'libgles2 libgl1-mesa-dri; in a clone of the repository scripts/install-render-deps.sh does it) and use ' +
  'EDGE_OFFLOAD_GPU_BACKEND=opengles.';


async function tryBackend(
  backend: Exclude<GpuBackendChoice, 'auto'>,
  dawnFlags: string[],
): Promise<{ instance: GPU; adapter: GPUAdapter; featureLevel: 'core' | 'compatibility' } | null> {
  if (backend === 'opengles') {
    // Mesa must pick the surfaceless EGL platform before Dawn opens its display; no X/Wayland here.
    process.env['EGL_PLATFORM'] ??= 'surfaceless';
  }
  const flags = backend === 'default' ? [...dawnFlags] : [`backend=${backend}`, ...dawnFlags];
  const gpu = create(flags);
  // GL ES only has compatibility-level adapters; a core request finds none.
  const featureLevel = backend === 'opengles' ? 'compatibility' : 'core';
  const adapter = await gpu.requestAdapter({ featureLevel, powerPreference: 'high-performance' });
  logger.debug('backend %s (%s): %s', backend, featureLevel, adapter ? 'adapter found' : 'no adapter');
  return adapter ? { instance: gpu, adapter, featureLevel } : null;
}

/** Opens one Dawn device. Rejects with GpuUnavailableError (carrying the install hint) when no backend works. */
export async function createGpu(options: GpuOptions = {}): Promise<GpuContext> {
  const choice = options.backend ?? resolveBackendChoice(process.env['EDGE_OFFLOAD_GPU_BACKEND']);
  const dawnFlags = options.dawnFlags ?? [];
  const order: Exclude<GpuBackendChoice, 'auto'>[] = choice === 'auto' ? ['default', 'opengles'] : [choice];
  const tried: string[] = [];
  for (const backend of order) {
    let found: Awaited<ReturnType<typeof tryBackend>>;
    try {
      found = await tryBackend(backend, dawnFlags);
    } catch (err) {
      tried.push(`${backend}: ${(err as Error).message}`);
      continue;
    }
    if (!found) {
      tried.push(`${backend}: no adapter`);
      continue;
    }
    const { instance, adapter, featureLevel } = found;
    // Ask for every optional feature the adapter has: three.js uses what it finds (float32 blending…).
    const device = await adapter.requestDevice({ requiredFeatures: [...adapter.features] as GPUFeatureName[] });
    const info = adapter.info;
    const adapterInfo = {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
    };
    // No 'uncapturederror' listener: with webgpu@0.6.2 on the GL ES backend, adding one makes the
    // process abort (pthread mutex assertion) on the next frame. Errors surface as failed readbacks.
    let destroyed = false;
    // The Dawn instance must outlive its device: if it is garbage-collected while the device is in
    // use, Dawn aborts the process (futex/mutex assertions, at a random frame). `instance` holds it.
    return {
      instance,
      device,
      backend,
      featureLevel,
      adapter: adapterInfo,
      describe: () => ({ backend, featureLevel, adapter: adapterInfo, requested: choice, tried }),
      destroy() {
        if (destroyed) return;
        destroyed = true;
        device.destroy();
      },
    };
  }
  throw new GpuUnavailableError(`no WebGPU adapter (${tried.join('; ')}). ${INSTALL_HINT}`);
}
