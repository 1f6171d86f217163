/**
 * Waiting helpers: wait for a condition or an event, failing loudly on timeout (no bare sleeps).
 *
 * Timeouts only decide when a stuck test gives up, never whether a slow one passes, so they are
 * generous (10 s by default) and scale with one env var for slower or busier machines:
 *   EDGE_OFFLOAD_TEST_TIMEOUT_SCALE=3 npm test     # every test timeout × 3
 */
const scale = Number(process.env.EDGE_OFFLOAD_TEST_TIMEOUT_SCALE ?? '1');
if (!(scale > 0)) throw new TypeError(`EDGE_OFFLOAD_TEST_TIMEOUT_SCALE must be a positive number, got '${process.env.EDGE_OFFLOAD_TEST_TIMEOUT_SCALE}'`);

/** A test timeout in ms, multiplied by EDGE_OFFLOAD_TEST_TIMEOUT_SCALE. */
export function testTimeout(ms: number): number {
  return Math.round(ms * scale);
}

/** Default for waitFor/withTimeout: long enough that a loaded 2-core machine never hits it. */
export const DEFAULT_TEST_TIMEOUT_MS = 10_000;

/** Polls `probe` every `intervalMs` until it returns a value (not undefined/false); throws after the (scaled) timeout. */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = DEFAULT_TEST_TIMEOUT_MS,
  intervalMs = 5,
): Promise<T> {
  const limit = testTimeout(timeoutMs);
  const deadline = performance.now() + limit;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${limit} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export function withTimeout<T>(promise: Promise<T>, what: string, timeoutMs = DEFAULT_TEST_TIMEOUT_MS): Promise<T> {
  const limit = testTimeout(timeoutMs);
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${limit} ms waiting for ${what}`)), limit);
    }),
  ]);
}
