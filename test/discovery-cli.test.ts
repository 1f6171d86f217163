/**
 * The discovery CLI as a real process: keygen writes operator/node keys and an authorisation,
 * the service trusts the operator file, a NodeAgent built from those files registers, and
 * SIGTERM shuts the service down cleanly: in memory, and over a real 3-master Redis Cluster
 * (`--redis-cluster`).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runKeygenCommand } from '../discovery/keygen.js';
import { NodeAgent } from '../discovery/NodeAgent.js';
import { readAuthorization, readNodeKey } from '../discovery/keyFiles.js';
import { startRedisCluster, type RedisCluster } from '../bench/lib/redisCluster.js';

const CLI = fileURLToPath(new URL('../discovery/cli.js', import.meta.url));
const test = suite('discovery cli');

for (const backend of ['memory', 'redis-cluster'] as const) test(`keygen → operators file → discovery process (${backend}) → agent registers → SIGTERM exits 0`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eo-disc-'));
  let agent: NodeAgent | undefined;
  let child: ReturnType<typeof spawn> | undefined;
  let cluster: RedisCluster | undefined;
  try {
    if (backend === 'redis-cluster') cluster = await startRedisCluster();
    const store = cluster ? ['--redis-cluster', cluster.nodes.join(',')] : [];
    const lines: string[] = [];
    const say = (l: string) => lines.push(l);
    assert.is(await runKeygenCommand(['operator', '--name', 'acme', '--out', join(dir, 'acme.key.json')], say), 0);
    writeFileSync(join(dir, 'operators.json'), JSON.stringify({ operators: [JSON.parse(lines[0]!)] }));
    assert.is(await runKeygenCommand(['node', '--out', join(dir, 'node.key.json')], say), 0);
    assert.is(await runKeygenCommand(['authorize', '--operator', join(dir, 'acme.key.json'), '--node', join(dir, 'node.key.json'), '--id', 'n1', '--out', join(dir, 'n1.auth.json')], say), 0);
    await runKeygenCommand(['node', '--out', join(dir, 'node.key.json')], say).then(
      () => assert.unreachable('an existing key file must not be overwritten'),
      (err: NodeJS.ErrnoException) => assert.is(err.code, 'EEXIST'),
    );
    child = spawn(process.execPath, ['--input-type=module', '-e', `import(${JSON.stringify(CLI)}).then(m => m.runDiscoveryCommand(process.argv.slice(1))).then(c => process.exit(c), e => { console.error(e.message); process.exit(2); })`, '--', '--port', '0', '--operators', join(dir, 'operators.json'), '--heartbeat-ms', '200', ...store], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child!.stdout!.on('data', (d) => {
        out += d;
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child!.once('exit', (code) => reject(new Error(`discovery exited early with ${code}`)));
      setTimeout(() => reject(new Error('no banner within 10 s')), 10_000).unref();
    });
    const key = readNodeKey(join(dir, 'node.key.json'));
    agent = new NodeAgent({
      discoveryUrl: url,
      descriptor: { id: 'n1', url: 'ws://127.0.0.1:1/', tier: 'edge', lat: 10, lon: 10, caps: ['render'], capacity: 2, pricePerMinute: 0.5, operator: 'acme' },
      privateKeyPem: key.privateKeyPem,
      authorization: readAuthorization(join(dir, 'n1.auth.json')),
    });
    await agent.start();
    const q = (await (await fetch(url + '/v1/query?lat=10&lon=10&caps=render')).json()) as { edge: { id: string }[] };
    assert.equal(q.edge.map((n) => n.id), ['n1']);
    assert.is(((await (await fetch(url + '/healthz')).json()) as { backend: string }).backend, backend);
    agent.close();
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    child!.kill('SIGTERM');
    assert.is(await exited, 0);
  } finally {
    agent?.close();
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
