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
import { parseClientLimits } from '../discovery/limitsFile.js';
import type { ConfigError } from '../protocol/server/ConfigError.js';
import { verifyAuditLog } from '../discovery/ledger/AuditLog.js';
import { DiscoveryError } from '../discovery/errors.js';
import { discoveryGcMode, HELPER_THREADS_NICE } from '../discovery/gcThreads.js';
import { mayLeaveIdle } from '../protocol/server/background.js';
import { chrtAvailable } from './support/schedPolicy.js';

const CLI = fileURLToPath(new URL('../discovery/cli.js', import.meta.url));
const test = suite('discovery cli');

// memory with its node channels in a channel process (--node-channels process), the cluster inline
for (const backend of ['memory', 'redis-cluster'] as const) test(`keygen → operators file → discovery process (${backend}) → agent registers → SIGTERM exits 0`, async () => {
  const channels = backend === 'memory' ? 'process' : 'inline';
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
    child = spawn(process.execPath, ['--input-type=module', '-e', `import(${JSON.stringify(CLI)}).then(m => m.runDiscoveryCommand(process.argv.slice(1))).then(c => process.exit(c), e => { console.error(e.message); process.exit(2); })`, '--', '--port', '0', '--operators', join(dir, 'operators.json'), '--heartbeat-ms', '200', '--node-channels', channels, ...store], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let banner = '';
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child!.stdout!.on('data', (d) => {
        out += d;
        const m = /listening on (http:\/\/\S+).*node channels (inline|in a channel process)/.exec(out);
        if (m) banner = m[2]!;
        if (m) resolve(m[1]!);
      });
      child!.once('exit', (code) => reject(new Error(`discovery exited early with ${code}`)));
      setTimeout(() => reject(new Error('no banner within 60 s')), 60_000).unref();
    });
    assert.is(banner, channels === 'process' ? 'in a channel process' : 'inline');
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

/** Runs the discovery command in a child process; resolves with its exit code and output. */
function discoveryProcess(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', `import(${JSON.stringify(CLI)}).then(m => m.runDiscoveryCommand(process.argv.slice(1))).then(c => process.exit(c), e => { console.error(e.code, e.message); process.exit(2); })`, '--', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

test('--limits FILE: the file sets the limits discovery enforces; --print-limits shows them; a typo stops it with a code', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eo-limits-'));
  try {
    const file = join(dir, 'limits.json');
    writeFileSync(file, JSON.stringify({ perAddress: { query: { ratePerSecond: 0.001, burst: 2 } } }));
    const printed = discoveryProcess(['--limits', file, '--print-limits']);
    assert.is(await printed.exited, 0);
    const effective = JSON.parse(printed.output().stdout);
    assert.equal(effective.perAddress.query, { ratePerSecond: 0.001, burst: 2 });
    assert.equal(effective.perAddress.register, { ratePerSecond: 2, burst: 20 }, 'what the file does not name keeps its default');
    assert.ok(effective.perIdentity.heartbeat.burst >= 1);

    // the same file through the environment, on a running service: the third query is refused
    const service = discoveryProcess(['--port', '0'], { ...process.env, DISCOVERY_LIMITS: file, DISCOVERY_OPERATORS: '' });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        service.child.stdout!.on('data', () => {
          const m = /listening on (http:\/\/\S+)/.exec(service.output().stdout);
          if (m) resolve(m[1]!);
        });
        service.exited.then((code) => reject(new Error(`discovery exited early with ${code}: ${service.output().stderr}`)));
      });
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await fetch(url + '/v1/query?lat=10&lon=10');
        statuses.push(res.status);
        if (res.status === 429) assert.is(((await res.json()) as { error: { code: string } }).error.code, 'RATE_LIMITED');
        else await res.body?.cancel();
      }
      assert.equal(statuses, [200, 200, 429]);
    } finally {
      service.child.kill('SIGTERM');
      await service.exited;
    }

    writeFileSync(file, JSON.stringify({ perAdress: { query: { ratePerSecond: 1, burst: 1 } } }));
    const typo = discoveryProcess(['--limits', file, '--print-limits']);
    assert.is(await typo.exited, 2);
    assert.match(typo.output().stderr, /^CONFIG_UNKNOWN_KEY /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--ledger-key: registration needs the operator\'s stake (--stakes, --min-stake), and GET /v1/audit verifies offline with `edge-offload audit verify`', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eo-ledger-'));
  const agents: NodeAgent[] = [];
  const say = () => {};
  let service: ReturnType<typeof discoveryProcess> | undefined;
  try {
    const operators = [];
    for (const name of ['acme', 'thin']) {
      const lines: string[] = [];
      await runKeygenCommand(['operator', '--name', name, '--out', join(dir, `${name}.key.json`)], (l) => lines.push(l));
      operators.push(JSON.parse(lines[0]!));
      await runKeygenCommand(['node', '--out', join(dir, `${name}-node.key.json`)], say);
      await runKeygenCommand(['authorize', '--operator', join(dir, `${name}.key.json`), '--node', join(dir, `${name}-node.key.json`), '--id', `${name}-1`, '--out', join(dir, `${name}.auth.json`)], say);
    }
    writeFileSync(join(dir, 'operators.json'), JSON.stringify({ operators }));
    await runKeygenCommand(['node', '--out', join(dir, 'audit.key.json')], say);
    writeFileSync(join(dir, 'stakes.json'), JSON.stringify({ acme: 5000, thin: 999 }));
    service = discoveryProcess(['--port', '0', '--operators', join(dir, 'operators.json'), '--ledger-key', join(dir, 'audit.key.json'), '--stakes', join(dir, 'stakes.json'), '--min-stake', '1000']);
    const url = await new Promise<string>((resolve, reject) => {
      service!.child.stdout!.on('data', () => {
        const m = /listening on (http:\/\/\S+).*stake ledger \(min stake 1000\)/.exec(service!.output().stdout);
        if (m) resolve(m[1]!);
      });
      service!.exited.then((code) => reject(new Error(`discovery exited early with ${code}: ${service!.output().stderr}`)));
    });
    const agentOf = (name: string) => {
      const agent = new NodeAgent({
        discoveryUrl: url,
        descriptor: { id: `${name}-1`, url: 'ws://127.0.0.1:1/', tier: 'edge', lat: 10, lon: 10, caps: ['render'], capacity: 2, pricePerMinute: 0.5, operator: name },
        privateKeyPem: readNodeKey(join(dir, `${name}-node.key.json`)).privateKeyPem,
        authorization: readAuthorization(join(dir, `${name}.auth.json`)),
      });
      agents.push(agent);
      return agent;
    };
    await agentOf('acme').start();
    const refused = await agentOf('thin').start().then(() => undefined, (err: unknown) => err);
    assert.instance(refused, DiscoveryError);
    assert.is((refused as DiscoveryError).code, 'INSUFFICIENT_STAKE', 'an operator below --min-stake cannot register nodes');
    const q = (await (await fetch(url + '/v1/query?lat=10&lon=10&caps=render')).json()) as { edge: { id: string }[] };
    assert.equal(q.edge.map((n) => n.id), ['acme-1']);

    const audit = await fetch(url + '/v1/audit');
    assert.is(audit.status, 200);
    const report = verifyAuditLog(await audit.text(), readNodeKey(join(dir, 'audit.key.json')).publicKey);
    assert.is(report.entries, 2, 'the two top-ups are audited deposits');
    assert.is(report.state.stakes.get('acme'), 5000);
    // the CLI auditors use, on the URL
    const verify = spawn(process.execPath, [fileURLToPath(new URL('../bin/edge-offload.js', import.meta.url)), 'audit', 'verify', url + '/v1/audit'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    verify.stdout!.on('data', (d) => (out += d));
    assert.is(await new Promise((r) => verify.once('exit', r)), 0);
    assert.is(JSON.parse(out).ok, true);
  } finally {
    for (const agent of agents) agent.close();
    service?.child.kill('SIGTERM');
    await service?.exited;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('limits documents are schema-checked: unknown operations, fields and bad numbers are refused with codes', () => {
  const codeOf = (doc: unknown) => {
    try {
      parseClientLimits(doc, 'limits.json');
      return 'accepted';
    } catch (err) {
      return (err as ConfigError).code;
    }
  };
  assert.is(codeOf({ perSubnet: { query: { ratePerSecond: 5, burst: 10 } }, perIdentity: { report: { ratePerSecond: 0.5, burst: 1 } } }), 'accepted');
  assert.is(codeOf({ perIdentity: { query: { ratePerSecond: 5, burst: 10 } } }), 'CONFIG_UNKNOWN_KEY', 'queries carry no identity');
  assert.is(codeOf({ perAddress: { query: { ratePerSecond: 5, burst: 10, refill: 1 } } }), 'CONFIG_UNKNOWN_KEY');
  assert.is(codeOf({ perAddress: { query: { ratePerSecond: 0, burst: 10 } } }), 'CONFIG_BAD_VALUE');
  assert.is(codeOf({ perAddress: { query: { ratePerSecond: 5, burst: 0.5 } } }), 'CONFIG_BAD_VALUE');
  assert.is(codeOf({ perAddress: { query: { ratePerSecond: '5', burst: 10 } } }), 'CONFIG_BAD_VALUE');
  assert.is(codeOf({ perAddress: [] }), 'CONFIG_BAD_VALUE');
  assert.is(codeOf(JSON.parse('{"__proto__": {"query": {"ratePerSecond": 1, "burst": 1}}}')), 'CONFIG_UNKNOWN_KEY');
  assert.is(codeOf(null), 'CONFIG_BAD_VALUE');
});

const BIN = fileURLToPath(new URL('../bin/edge-offload.js', import.meta.url));

/** `edge-offload discovery …` through the real launcher (the young generation is its job). */
function launched(args: string[], env: NodeJS.ProcessEnv, pinned = false) {
  const argv = [BIN, 'discovery', ...args];
  const options = { stdio: ['ignore', 'pipe', 'pipe'] as ('ignore' | 'pipe')[], env: { ...process.env, DISCOVERY_OPERATORS: '', ...env } };
  // pinned: a replica given one core (taskset -c 0), what --gc auto looks for
  const child = pinned ? spawn('taskset', ['-c', '0', process.execPath, ...argv], options) : spawn(process.execPath, argv, options);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const banner = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', () => {
      const m = /listening on .*\n/.exec(stdout);
      if (m) resolve(m[0]);
    });
    exited.then((code) => reject(new Error(`discovery exited early with ${code}: ${stderr}`)));
  });
  return { child, exited, banner, output: () => ({ stdout, stderr }) };
}

test('the launcher runs discovery with the young generation asked for; the operator\'s own NODE_OPTIONS wins; SIGTERM reaches it', async () => {
  const noSemiSpace = (process.env.NODE_OPTIONS ?? '').replace(/--(max|min)-semi-space-size=\S+/g, '');
  const relaunched = launched(['--port', '0', '--young-gen-mib', '64'], { NODE_OPTIONS: noSemiSpace, EDGE_OFFLOAD_YOUNG_GEN_MIB: '' });
  try {
    assert.match(await relaunched.banner, /young generation --max-semi-space-size=64[,)]/);
    // SIGTERM to the launcher reaches the re-launched replica, which closes cleanly: exit 0
    relaunched.child.kill('SIGTERM');
    assert.is(await relaunched.exited, 0);
    assert.match(relaunched.output().stdout, /discovery: SIGTERM, closing/);
  } finally {
    if (relaunched.child.exitCode === null) relaunched.child.kill('SIGKILL');
  }
  for (const [args, env, expected] of [
    // by default: V8's own young generation, no re-launch
    [['--port', '0'], { NODE_OPTIONS: noSemiSpace, EDGE_OFFLOAD_YOUNG_GEN_MIB: '' }, /young generation V8's default[,)]/],
    [['--port', '0'], { NODE_OPTIONS: noSemiSpace, EDGE_OFFLOAD_YOUNG_GEN_MIB: '32' }, /young generation --max-semi-space-size=32[,)]/],
    [['--port', '0'], { NODE_OPTIONS: `${noSemiSpace} --max-semi-space-size=32` }, /young generation --max-semi-space-size=32[,)]/],
    [['--port', '0', '--young-gen-mib', '0'], { NODE_OPTIONS: noSemiSpace }, /young generation V8's default[,)]/],
    [['--port', '0', '--young-gen-mib', '16'], { NODE_OPTIONS: noSemiSpace }, /young generation --max-semi-space-size=16[,)]/],
  ] as const) {
    const service = launched([...args], env);
    try {
      assert.match(await service.banner, expected);
    } finally {
      service.child.kill('SIGTERM');
      await service.exited;
    }
  }
  const bad = launched(['--port', '0', '--young-gen-mib', 'lots'], { NODE_OPTIONS: noSemiSpace });
  await bad.banner.then(
    () => assert.unreachable('a bad size must stop discovery'),
    () => {},
  );
  assert.is(await bad.exited, 1);
  assert.match(bad.output().stderr, /\[CONFIG_BAD_VALUE\]/);
});

test('--gc: auto by default, single-threaded GC and helper threads at nice 10 on a replica given one core (its query thread real-time where allowed); V8\'s own otherwise; a bad mode is CONFIG_BAD_VALUE', async () => {
  const realtime = chrtAvailable() && mayLeaveIdle();
  assert.is(discoveryGcMode([], {}), 'auto');
  assert.is(discoveryGcMode([], { EDGE_OFFLOAD_GC: 'parallel' }), 'parallel');
  assert.is(discoveryGcMode(['--gc', 'single'], { EDGE_OFFLOAD_GC: 'parallel' }), 'single');
  const noSemiSpace = (process.env.NODE_OPTIONS ?? '').replace(/--(max|min)-semi-space-size=\S+/g, '');
  const env = { NODE_OPTIONS: noSemiSpace, EDGE_OFFLOAD_YOUNG_GEN_MIB: '', EDGE_OFFLOAD_GC: '' };
  for (const [args, pinned, expected] of [
    // a one-core replica's query thread in SCHED_FIFO where the privilege allows (discovery/queryThread.ts)
    [[], true, new RegExp(`GC threads single, \\d+ helper threads at nice ${HELPER_THREADS_NICE}, query thread ${realtime ? 'SCHED_FIFO' : 'SCHED_OTHER'}\\)`)],
    [['--query-thread', 'other'], true, /GC threads single, \d+ helper threads at nice \d+, query thread SCHED_OTHER\)/],
    [[], false, /GC threads parallel, query thread SCHED_OTHER\)/],
    [['--gc', 'parallel'], true, /GC threads parallel, query thread SCHED_OTHER\)/],
    [['--gc', 'single'], false, /GC threads single, \d+ helper threads/],
  ] as const) {
    const service = launched(['--port', '0', ...args], env, pinned);
    try {
      assert.match(await service.banner, expected);
      // the launcher (re-launched or not) ends as the replica did
      service.child.kill('SIGTERM');
      assert.is(await service.exited, 0);
    } finally {
      if (service.child.exitCode === null) service.child.kill('SIGKILL');
    }
  }
  const bad = launched(['--port', '0', '--gc', 'fast'], env);
  await bad.banner.then(
    () => assert.unreachable('a bad mode must stop discovery'),
    () => {},
  );
  assert.is(await bad.exited, 1);
  assert.match(bad.output().stderr, /\[CONFIG_BAD_VALUE\]/);
});

test.run();
