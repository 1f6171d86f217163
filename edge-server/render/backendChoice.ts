/**
 * The Dawn backend names a node accepts (`--gpu-backend`, EDGE_OFFLOAD_GPU_BACKEND), apart from
 * gpu.ts so the CLI can check the flag without loading Dawn in its own thread (the renderer runs
 * in a heavy worker).
 */

/** `auto`: Dawn's default backend, falling back to `opengles`; anything else is passed to Dawn as is. */
export type GpuBackendChoice = 'auto' | 'default' | 'opengles' | 'vulkan' | 'd3d12' | 'metal';
const BACKEND_CHOICES: readonly GpuBackendChoice[] = ['auto', 'default', 'opengles', 'vulkan', 'd3d12', 'metal'];

export function resolveBackendChoice(value: string | undefined): GpuBackendChoice {
  if (value === undefined || value === '') return 'auto';
  if ((BACKEND_CHOICES as readonly string[]).includes(value)) return value as GpuBackendChoice;
  throw new TypeError(`gpu backend must be one of ${BACKEND_CHOICES.join(', ')} (got '${value}')`);
}
