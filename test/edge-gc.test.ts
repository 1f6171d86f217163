import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { generateKeyPair } from '../discovery/identity.js';
import { signAdminRequest } from '../edge-server/admin/index.js';
import { DEFAULT_EDGE_YOUNG_GEN_MIB, gcMode, singleThreadedGc } from '../edge-server/gcThreads.js';
import { relaunchedChild } from '../protocol/server/relaunch.js';
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

interface Listening {
  gc?: string;
  youngGen?: string;
  url: string;
  port: number;
  nodeId: string;
  pid?: number;
  launcherPid?: number;
}

/**
 * Starts `edge-offload edge` (under `taskset -c 0` when `pinned`) and resolves its listening line.
 * The young generation is the default's unless `env` says otherwise (the runner's own env cleared).
 */
function start(args: string[], pinned: boolean, env: NodeJS.ProcessEnv = {}) {
  const argv = [BIN, 'edge', '--port', '0', '--no-inference', ...args];
  const options = { stdio: ['ignore', 'pipe', 'pipe'] as ('ignore' | 'pipe')[], env: { ...process.env, EDGE_OFFLOAD_YOUNG_GEN_MIB: '', NODE_OPTIONS: withoutSemiSpace(process.env.NODE_OPTIONS), ...env } };
  const child = pinned ? spawn('taskset', ['-c', '0', process.execPath, ...argv], options) : spawn(process.execPath, argv, options);
  const lines: string[] = [];
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const exited = ended.then(({ code }) => code);
  // every writer of the node's stdout is gone: the launcher and the node it started (which inherited it)
  const outputClosed = new Promise<void>((resolve) => child.stdout!.once('close', () => resolve()));
  const listening = new Promise<Listening>((resolve) =>
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      if (line.includes('"listening"')) resolve(JSON.parse(line) as Listening);
    }),
  );
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return { child, lines, exited, ended, outputClosed, listening, stderr: () => stderr };
}

function withoutSemiSpace(nodeOptions = ''): string {
  return nodeOptions.replace(/--(max|min)[-_]semi[-_]space[-_]size=\S+/g, '').trim();
}

/** Whether `pid` still runs (a zombie waiting for its reaper does not). */
function running(pid: number): boolean {
  if (!existsSync(`/proc/${pid}/stat`)) return false;
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
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

test('by default the node runs with a 2 MiB semi-space, re-launched: its listening line names the serving pid and the launcher; 0 or a semi-space flag of its own runs it in the process started', async () => {
  assert.is(DEFAULT_EDGE_YOUNG_GEN_MIB, 2);
  const node = start([], false);
  try {
    const listening = await withTimeout(node.listening, 'the default node to listen', 30_000);
    assert.equal([listening.gc, listening.youngGen, listening.launcherPid], ['parallel', '--max-semi-space-size=2', node.child.pid]);
    assert.type(listening.pid, 'number');
    assert.is.not(listening.pid, node.child.pid, 'the serving process is the re-launched one');
    // what tooling falls back on for an older build whose line has no pid
    assert.is(relaunchedChild(node.child.pid!), listening.pid);
    node.child.kill('SIGTERM'); // the launcher forwards it: the node drains and stops
    assert.is(await withTimeout(node.exited, 'exit', 30_000), 0);
    assert.ok(node.lines.some((l) => l.includes('"stopped"')));
  } finally {
    if (node.child.exitCode === null) node.child.kill('SIGKILL');
  }
  for (const [args, env, youngGen] of [
    [['--young-gen-mib=0'], {}, 'default'],
    [[], { EDGE_OFFLOAD_YOUNG_GEN_MIB: '0' }, 'default'],
    [[], { NODE_OPTIONS: `${withoutSemiSpace(process.env.NODE_OPTIONS)} --max-semi-space-size=4` }, '--max-semi-space-size=4'],
  ] as const) {
    const same = start([...args], false, env);
    try {
      const listening = await withTimeout(same.listening, `the node with ${args.join(' ')} ${JSON.stringify(env)} to listen`, 30_000);
      assert.equal([listening.youngGen, listening.pid, listening.launcherPid], [youngGen, same.child.pid, undefined]);
      assert.is(relaunchedChild(same.child.pid!), undefined);
      same.child.kill('SIGTERM');
      assert.is(await withTimeout(same.exited, 'exit', 30_000), 0);
    } finally {
      if (same.child.exitCode === null) same.child.kill('SIGKILL');
    }
  }
});

test('--young-gen-mib 2 with --gc single: one re-launch carries both flags', async () => {
  const node = start(['--young-gen-mib', '2', '--gc', 'single'], false);
  try {
    const listening = await withTimeout(node.listening, 'the node to listen', 30_000);
    assert.equal([listening.gc, listening.youngGen, listening.launcherPid], ['single', '--max-semi-space-size=2', node.child.pid]);
    node.child.kill('SIGTERM');
    assert.is(await withTimeout(node.exited, 'exit', 30_000), 0);
  } finally {
    if (node.child.exitCode === null) node.child.kill('SIGKILL');
  }
});

test('a re-launched node and its launcher end together: SIGKILL to the node ends the launcher by SIGKILL, SIGKILL to the launcher ends the node', async () => {
  const crashed = start([], false);
  try {
    const { pid } = await withTimeout(crashed.listening, 'the node to listen', 30_000);
    process.kill(pid!, 'SIGKILL');
    // whoever started the launcher sees what a crash of the node looks like
    assert.equal(await withTimeout(crashed.ended, 'the launcher to end', 30_000), { code: null, signal: 'SIGKILL' });
  } finally {
    if (crashed.child.exitCode === null) crashed.child.kill('SIGKILL');
  }
  const orphaned = start([], false);
  const { pid } = await withTimeout(orphaned.listening, 'the node to listen', 30_000);
  try {
    orphaned.child.kill('SIGKILL');
    await withTimeout(orphaned.outputClosed, 'the node, whose launcher was killed, to exit (its stdout closed)', 30_000);
    assert.not.ok(running(pid!), `node ${pid} still runs`);
  } finally {
    if (running(pid!)) process.kill(pid!, 'SIGKILL');
  }
});

test('the admin health names the serving process and its launcher', async () => {
  const operator = generateKeyPair();
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-gc-admin-'));
  const operators = path.join(dir, 'operators.json');
  writeFileSync(operators, JSON.stringify({ operators: [{ name: 'ops', publicKey: operator.publicKey }] }));
  const node = start(['--admin-operators-file', operators], false);
  try {
    const listening = await withTimeout(node.listening, 'the node to listen', 30_000);
    const headers = signAdminRequest({ method: 'GET', path: '/admin/health', nodeId: listening.nodeId, body: Buffer.alloc(0) }, operator);
    const res = await fetch(`http://127.0.0.1:${listening.port}/admin/health`, { headers });
    assert.is(res.status, 200);
    const health = (await res.json()) as { process?: { pid: number; launcherPid?: number; youngGen: string } };
    assert.equal(health.process, { pid: listening.pid, launcherPid: node.child.pid, gc: 'parallel', youngGen: '--max-semi-space-size=2' });
  } finally {
    node.child.kill('SIGTERM');
    await withTimeout(node.exited, 'exit', 30_000);
    rmSync(dir, { recursive: true, force: true });
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
