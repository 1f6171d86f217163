/**
 * What npm users get: the packed tarball holds the product only, and a headset app that installs
 * it with `--omit=optional --omit=peer` gets the client and nothing server-side, and the client
 * works there against a real edge node. The install runs offline from the npm cache: the app's
 * lockfile is this repo's lockfile re-rooted on the tarball, so npm needs no registry metadata.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { EdgeServer } from '../edge-server/index.js';
import { OPTIONAL_PACKAGES } from '../protocol/server/optionalPackages.js';
import { testTimeout } from './support/wait.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

interface Ctx {
  dir: string;
  tarball: string;
  files: string[];
}
const ctx: Ctx = { dir: '', tarball: '', files: [] };

const packaged = suite('npm package');

packaged.before(async () => {
  ctx.dir = mkdtempSync(path.join(tmpdir(), 'edge-offload-pack-'));
  // runs `prepare`, which rebuilds lib/ (the package build) from scratch; dist/ is not touched
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', ctx.dir], { cwd: ROOT, timeout: testTimeout(180_000), maxBuffer: 32 << 20 });
  const [info] = JSON.parse(stdout) as [{ filename: string; files: { path: string }[]; entryCount: number; size: number }];
  ctx.tarball = path.join(ctx.dir, path.basename(info.filename));
  ctx.files = info.files.map((f) => f.path);
  console.log(`# npm pack: ${info.entryCount} files, ${(info.size / 1024).toFixed(1)} kB packed`);
});

packaged.after(() => {
  if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
});

packaged('the tarball ships the product only: no bench, test, training, tuning or source maps', () => {
  const tooling = ctx.files.filter((f) => /^lib\/(bench|test)\/|^dist\/|train|tune|\.map$|^(bench|test|scripts)\//.test(f));
  assert.equal(tooling, []);
  for (const dir of ['protocol', 'client-sdk', 'edge-server', 'discovery', 'netem', 'bin']) {
    assert.ok(ctx.files.some((f) => f.startsWith(`lib/${dir}/`)), `lib/${dir} is shipped`);
  }
  // every compiled file has its source: nothing stale from a file that was moved or deleted
  // (the browser bundle is built from client-sdk/ by scripts/bundle-client.mjs, not compiled 1:1)
  const BUNDLE = 'lib/browser/edge-offload-client.js';
  const orphans = ctx.files.filter((f) => f.startsWith('lib/') && f.endsWith('.js') && f !== BUNDLE && !existsSync(path.join(ROOT, f.slice('lib/'.length).replace(/\.js$/, '.ts'))));
  assert.equal(orphans, []);
  // every export and the bin point at a shipped file
  const targets = Object.values(pkg.exports as Record<string, string | Record<string, string>>).flatMap((t) => (typeof t === 'string' ? [t] : Object.values(t)));
  for (const target of [...targets, ...Object.values(pkg.bin as Record<string, string>)]) {
    assert.ok(ctx.files.includes(target.replace(/^\.\//, '')), `${target} is in the tarball`);
  }
  assert.ok(ctx.files.includes('edge-server/inference/models/head-predictor/model.json'), 'the shipped model');
});

/** Package directories under node_modules (scoped ones as @scope/name). */
function installed(nodeModules: string): string[] {
  return readdirSync(nodeModules)
    .filter((name) => !name.startsWith('.'))
    .flatMap((name) => (name.startsWith('@') ? readdirSync(path.join(nodeModules, name)).map((sub) => `${name}/${sub}`) : [name]))
    .sort();
}

/** The production closure of `deps` through the repo lockfile, optional and peer dependencies left out. */
function requiredClosure(lock: { packages: Record<string, { dependencies?: Record<string, string> }> }, deps: string[]): string[] {
  const seen = new Set<string>();
  const queue = [...deps];
  while (queue.length > 0) {
    const name = queue.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    queue.push(...Object.keys(lock.packages[`node_modules/${name}`]?.dependencies ?? {}));
  }
  return [...seen].sort();
}

packaged('a headset-only install (--omit=optional --omit=peer) gets the client and nothing server-side; the client works there', async () => {
  const app = path.join(ctx.dir, 'headset-app');
  const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));
  const spec = `file:${path.relative(app, ctx.tarball)}`;
  const packages: Record<string, unknown> = {
    '': { name: 'headset-app', dependencies: { 'edge-offload': spec } },
    'node_modules/edge-offload': { version: pkg.version, resolved: spec, dependencies: pkg.dependencies, optionalDependencies: pkg.optionalDependencies, bin: pkg.bin },
  };
  for (const [key, entry] of Object.entries(lock.packages as Record<string, { dev?: boolean; link?: boolean }>)) {
    if (key !== '' && !entry.dev && !entry.link) packages[key] = entry;
  }
  mkdirSync(app);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'headset-app', private: true, type: 'module', dependencies: { 'edge-offload': spec } }));
  writeFileSync(path.join(app, 'package-lock.json'), JSON.stringify({ name: 'headset-app', lockfileVersion: 3, requires: true, packages }));
  await run('npm', ['ci', '--omit=optional', '--omit=peer', '--offline', '--no-audit', '--no-fund'], { cwd: app, timeout: testTimeout(120_000) });

  const got = installed(path.join(app, 'node_modules'));
  console.log(`# headset-only install: ${got.length} packages (${got.join(', ')})`);
  assert.equal(got, requiredClosure(lock, ['edge-offload', ...Object.keys(pkg.dependencies)]));
  for (const server of OPTIONAL_PACKAGES) assert.not.ok(existsSync(path.join(app, 'node_modules', server)), `${server} was installed`);

  const edge = new EdgeServer({ nodeId: 'packaged-edge' });
  const { url } = await edge.listen();
  try {
    // a headset app: the installed client, a real node, poses in, a prediction out
    const headset = `
      import { connect } from 'edge-offload/client';
      const session = await connect(${JSON.stringify(url)}, { pingIntervalMs: 0 });
      for (let i = 0; i < 5; i++) session.sendPose({ device: 'head', time: i * 11000, position: [0.001 * i, 1.6, 0], orientation: [0, 0, 0, 1] });
      const p = await session.predict(50);
      session.close();
      console.log(JSON.stringify({ tier: p.tier, nodeId: p.nodeId, time: p.pose.time }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', headset], { cwd: app, timeout: testTimeout(30_000) });
    assert.equal(JSON.parse(stdout.trim().split('\n').pop()!), { tier: 'edge', nodeId: 'packaged-edge', time: 44_000 + 50_000 });
  } finally {
    await edge.close({ deadlineMs: 0 });
  }

  // the server parts say which optional package they miss, by code
  const server = `
    const codeOf = (p) => p.then(() => null, (e) => ({ code: e.code, packageName: e.packageName }));
    const inference = await import('edge-offload/edge/inference');
    const discovery = await import('edge-offload/discovery');
    console.log(JSON.stringify({
      tfjs: await codeOf(inference.loadTfBackend({ log() {} })),
      redis: await codeOf(discovery.RedisRegistry.connect({ url: 'redis://127.0.0.1:1' })),
    }));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', server], { cwd: app, timeout: testTimeout(30_000) });
  assert.equal(JSON.parse(stdout.trim().split('\n').pop()!), {
    tfjs: { code: 'OPTIONAL_PACKAGE_MISSING', packageName: '@tensorflow/tfjs' },
    redis: { code: 'OPTIONAL_PACKAGE_MISSING', packageName: '@redis/client' },
  });
  const cli = path.join(app, 'node_modules/edge-offload/lib/bin/edge-offload.js');
  await run(process.execPath, [cli, '--help'], { cwd: app, timeout: testTimeout(30_000) });
  const render = await run(process.execPath, [cli, 'edge', '--no-inference', '--render', '--port', '0'], { cwd: app, timeout: testTimeout(30_000) }).then(
    () => ({ exitCode: 0, stderr: '' }),
    (err: { code: number; stderr: string }) => ({ exitCode: err.code, stderr: err.stderr }),
  );
  assert.is(render.exitCode, 1);
  assert.ok(render.stderr.includes('[OPTIONAL_PACKAGE_MISSING]'), render.stderr);
});

packaged.run();
