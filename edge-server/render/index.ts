/** The edge renderer's public face. */
export { WebGpuRenderEngine, DEFAULT_MAX_EYE_SIZE, type WebGpuRenderEngineOptions } from './WebGpuRenderEngine.js';
export { createGpu, GpuUnavailableError, INSTALL_HINT, resolveBackendChoice, type GpuBackendChoice, type GpuOptions } from './gpu.js';
export { DEFAULT_SCENE_LIMITS, parseGlb, type SceneLimits } from './glb.js';
export { buildTestSceneGlb, TEST_CUBES, TEST_EYE_HEIGHT, TEST_SCENE_NAME } from './testScene.js';
export { eyePosition } from './StereoRenderer.js';
export { RenderQueue, DEFAULT_MAX_JOBS_PER_SESSION, DEFAULT_MAX_WAITING_SESSIONS } from './RenderQueue.js';
