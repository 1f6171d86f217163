/** The benches' shared `--out` flag: taken off the command line once, for every bench. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import { DEFAULT_RESULTS_DIR, resultsDir, takeOutFlag } from '../bench/lib/results.js';

const Out = suite('bench --out');

Out('results default to bench/results under the current directory, not beside the compiled code', () => {
  assert.is(resultsDir(), path.resolve(process.cwd(), DEFAULT_RESULTS_DIR));
});

Out('--out DIR and --out=DIR are taken off argv and point results there; other flags pass through', () => {
  assert.equal(takeOutFlag(['--iterations', '10', '--out', 'tmp/a', '--quick']), ['--iterations', '10', '--quick']);
  assert.is(resultsDir(), path.resolve('tmp/a'));
  assert.equal(takeOutFlag(['--out=/tmp/b']), []);
  assert.is(resultsDir(), '/tmp/b');
  // after `--` everything belongs to the bench
  assert.equal(takeOutFlag(['--', '--out', 'x']), ['--', '--out', 'x']);
  assert.is(resultsDir(), '/tmp/b');
  takeOutFlag([`--out=${DEFAULT_RESULTS_DIR}`]);
});

Out('--out without a folder is a usage error', () => {
  assert.throws(() => takeOutFlag(['--out']));
  assert.throws(() => takeOutFlag(['--out', '--quick']));
});

Out.run();
