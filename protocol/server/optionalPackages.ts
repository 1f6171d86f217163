/**
 * The one loader for the server-side packages, which are optionalDependencies so that a headset
 * app can install the client alone (`npm install edge-offload --omit=optional`). Every place that
 * loads one of them goes through `importOptional` / `requireOptional`; a missing package becomes
 * an `OptionalPackageError` that names the package and the feature (CLI flag) that needs it, instead
 * of Node's bare "Cannot find package".
 *
 * It lives in protocol/ because both edge-server/ and discovery/ load optional packages and
 * protocol/ is the one module every side imports. It is Node-only and deliberately not exported
 * from protocol/index.ts, which the browser entry reaches.
 */

/** package.json `optionalDependencies`: everything only a server needs. */
export const OPTIONAL_PACKAGES = [
  '@tensorflow/tfjs',
  '@tensorflow/tfjs-backend-wasm',
  '@tensorflow/tfjs-node',
  'sharp',
  'three',
  'webgpu',
  'geoip-lite',
  '@redis/client',
  'prom-client',
] as const;
export type OptionalPackage = (typeof OPTIONAL_PACKAGES)[number];

export class OptionalPackageError extends Error {
  override readonly name = 'OptionalPackageError';
  readonly code = 'OPTIONAL_PACKAGE_MISSING';

  constructor(
    readonly packageName: OptionalPackage,
    /** What needs it, as the user asked for it, e.g. `edge-offload edge --render`. */
    readonly feature: string,
    options?: { cause?: unknown },
  ) {
    super(`${feature} needs the optional package '${packageName}': npm install ${packageName}`, options);
  }
}

/** The package a "Cannot find package/module 'x/y'" error is about, when it is one of ours. */
function missingOptionalPackage(err: unknown): OptionalPackage | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return undefined;
  const specifier = /Cannot find (?:package|module) '([^']+)'/.exec((err as Error).message)?.[1];
  if (specifier === undefined) return undefined;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  return (OPTIONAL_PACKAGES as readonly string[]).includes(name) ? (name as OptionalPackage) : undefined;
}

/**
 * Runs `load` (an `import()` of an optional package, or of a module that imports them) and turns
 * a missing optional package into an `OptionalPackageError`; other errors pass through unchanged.
 *   const { createClient } = await importOptional('edge-offload discovery --redis', () => import('@redis/client'));
 */
export async function importOptional<T>(feature: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const missing = missingOptionalPackage(err);
    throw missing ? new OptionalPackageError(missing, feature, { cause: err }) : err;
  }
}

/**
 * The same for CommonJS loading through the caller's `require` (tfjs and its backends must share
 * one tfjs-core instance, which one require cache guarantees).
 */
export function requireOptional<T>(require: NodeJS.Require, name: OptionalPackage, feature: string): T {
  try {
    return require(name) as T;
  } catch (err) {
    throw missingOptionalPackage(err) === name ? new OptionalPackageError(name, feature, { cause: err }) : err;
  }
}
