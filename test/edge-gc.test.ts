import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { gcMode, singleThreadedGc } from '../edge-server/gcThreads.js';
import { withTimeout } from './support/wait.js';

const test = suite('edge: --gc (GC threads)');
const BIN = fileURLToPath(new URL('../bin/edge-offload.js', import.meta.url));

test('--gc and EDGE_OFFLOAD_GC: the flag wins, parallel (V8\'s own) by default, anything else CONFIG_BAD_VALUE', () => {
  assert.is(gcMode([], {}), 'parallel');
  assert.is(gcMode([], { EDGE_OFFLOAD_GC: 'auto' }), 'auto');
  assert.is(gcMode([], { EDGE_OFFLOAD_GC: 'parallel' }), 'parallel');
  assert.is(gcMode(['--gc', 'single'], { EDGE_OFFLOAD_GC: 'parallel' }), 'single');
  assert.is(gcMode(['--gc=parallel'], {}), 'parallel');
  assert.throws(() => gcMode(['--gc', 'fast'], {}), (e: Error & { code?: string }) => e.code === 'CONFIG_BAD_VALUE');
  assert.ok(singleThreadedGc('auto', 1), 'one core: single-threaded');
  assert.not.ok(singleThreadedGc('auto', 2));
  assert.ok(singleThreadedGc('single', 8));
  assert.not.ok(singleThreadedGc('parallel', 1));
});

/** Starts `edge-offload edge` (under `taskset -c 0` when `pinned`) and resolves its listening line. */
function start(args: string[], pinned: boolean) {
  const argv = [BIN, 'edge', '--port', '0', '--no-inference', ...args];
  const child = pinned ? spawn('taskset', ['-c', '0', process.execPath, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const listening = new Promise<{ gc?: string; youngGen?: string; url: string }>((resolve) =>
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      if (line.includes('"listening"')) resolve(JSON.parse(line) as { gc?: string; youngGen?: string; url: string });
    }),
  );
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return { child, lines, exited, listening, stderr: () => stderr };
}

test('--gc auto on a node pinned to one core runs it with single-threaded GC (started again with the flag); it stops cleanly on SIGTERM', async () => {
  const node = start(['--gc', 'auto'], true);
  try {
    const listening = await withTimeout(node.listening, 'the pinned node to listen', 30_000);
    assert.is(listening.gc, 'single');
    node.child.kill('SIGTERM'); // the launcher forwards it to the node it started
    assert.is(await withTimeout(node.exited, 'the launcher to exit', 30_000), 0);
    assert.ok(node.lines.some((l) => l.includes('"stopped"')), 'the re-launched node drained and stopped');
  } finally {
    if (node.child.exitCode === null) node.child.kill('SIGKILL');
  }
});

test('no --gc keeps V8 parallel GC, also on one core; --gc single turns it off on any', async () => {
  for (const [args, pinned, expected] of [[[], true, 'parallel'], [['--gc', 'single'], false, 'single']] as const) {
    const node = start([...args], pinned);
    try {
      assert.is((await withTimeout(node.listening, `the node with ${args.join(' ')} to listen`, 30_000)).gc, expected);
      node.child.kill('SIGTERM');
      assert.is(await withTimeout(node.exited, 'exit', 30_000), 0);
    } finally {
      if (node.child.exitCode === null) node.child.kill('SIGKILL');
    }
  }
});

test('--young-gen-mib 2 runs the node with a 2 MiB semi-space; with --gc single one re-launch carries both flags; none keeps V8\'s own', async () => {
  for (const [args, gc, youngGen] of [
    [['--young-gen-mib', '2', '--gc', 'single'], 'single', '--max-semi-space-size=2'],
    [['--young-gen-mib=0'], 'parallel', 'default'],
  ] as const) {
    const node = start([...args], false);
    try {
      const listening = await withTimeout(node.listening, `the node with ${args.join(' ')} to listen`, 30_000);
      assert.equal([listening.gc, listening.youngGen], [gc, youngGen]);
      node.child.kill('SIGTERM');
      assert.is(await withTimeout(node.exited, 'exit', 30_000), 0);
    } finally {
      if (node.child.exitCode === null) node.child.kill('SIGKILL');
    }
  }
});

test('a bad --young-gen-mib is refused before the node starts, with its code', async () => {
  const node = start(['--young-gen-mib', 'lots'], false);
  assert.is(await withTimeout(node.exited, 'exit', 30_000), 1);
  assert.match(node.stderr(), /\[CONFIG_BAD_VALUE\]/);
});

test('a bad --gc is refused before the node starts, with its code', async () => {
  const node = start(['--gc', 'sometimes'], false);
  assert.is(await withTimeout(node.exited, 'exit', 30_000), 1);
  assert.match(node.stderr(), /\[CONFIG_BAD_VALUE\]/);
});

test.run();
