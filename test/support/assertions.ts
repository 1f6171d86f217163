/** Assertions uvu lacks: a promise must reject, with a given error `code` or message pattern. */
import * as assert from 'uvu/assert';

export async function rejects(promise: Promise<unknown>, expected?: string | RegExp): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    const error = err as Error & { code?: string };
    if (typeof expected === 'string') assert.is(error.code, expected, `expected code ${expected}, got ${error.code}: ${error.message}`);
    else if (expected) assert.match(error.message, expected);
    return error;
  }
  assert.unreachable(`expected a rejection${expected ? ` (${expected})` : ''}`);
  throw new Error('unreachable');
}
