import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateKeyPair } from '../discovery/identity.js';
import { auditFile, verifyAuditLog } from '../discovery/ledger/AuditLog.js';
import { MemoryLedger } from '../discovery/ledger/MemoryLedger.js';
import { RedisLedger } from '../discovery/ledger/RedisLedger.js';
import type { StakeLedger } from '../discovery/ledger/StakeLedger.js';
import { startRedis, type RedisProcess } from '../bench/lib/redisServer.js';

const test = suite('discovery-ledger');
const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/edge-offload.js');
const auditKey = generateKeyPair();
const params = { minStake: 1000, slashBps: 2000, rewardBps: 5000 };
let redis: RedisProcess;
let dir: string;

test.before(async () => {
  redis = await startRedis();
  dir = mkdtempSync(path.join(tmpdir(), 'ledger-'));
});
test.after(async () => {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

const codeOf = async (p: Promise<unknown>) => ((await p.then(() => ({ code: 'no error' }), (e) => e)) as { code: string }).code;

/** The same story on any ledger: stake, register, slash (once), withdraw. */
async function story(ledger: StakeLedger) {
  assert.not.ok(await ledger.canRegister('acme'));
  await ledger.deposit('acme', 900);
  assert.not.ok(await ledger.canRegister('acme'), 'below minStake');
  await ledger.deposit('acme', 4100);
  assert.ok(await ledger.canRegister('acme'));
  const r = await ledger.slash({ operator: 'acme', node: 'n1', offenceId: 'n1/s1/6', reporter: 'client-9' });
  assert.equal(r, { stake: 4000, pool: 500, slashed: 1000, reward: 500, credit: 500 });
  assert.is(await codeOf(ledger.slash({ operator: 'acme', node: 'n1', offenceId: 'n1/s1/6', reporter: 'client-7' })), 'DUPLICATE');
  assert.is(await ledger.credit('client-9'), 500);
  assert.is(await ledger.credit('client-7'), 0);
  assert.is(await ledger.pool(), 500);
  assert.is(await codeOf(ledger.withdraw('acme', 4001)), 'INSUFFICIENT_STAKE');
  assert.is(await codeOf(ledger.deposit('acme', 1.5)), 'MALFORMED');
  await ledger.withdraw('acme', 3500);
  assert.not.ok(await ledger.canRegister('acme'), 'a slashed and withdrawn operator cannot register');
  const { header, entries } = await ledger.audit();
  assert.is(entries.length, 4, 'refused changes leave no entry');
  return auditFile(header, entries);
}

test('memory ledger: stake gates registration, a verified offence pays pool and reporter once, every change is audited', async () => {
  const file = await story(new MemoryLedger({ auditKeyPem: auditKey.privateKeyPem, params, now: () => 1_700_000_000_000 }));
  const report = verifyAuditLog(file, auditKey.publicKey);
  assert.is(report.entries, 4);
  assert.is(report.state.stakes.get('acme'), 500);
});

test('the audit log fails to verify after any one byte is changed, and with another key', async () => {
  const file = await story(new MemoryLedger({ auditKeyPem: auditKey.privateKeyPem, params }));
  const bytes = Buffer.from(file);
  let failures = 0;
  for (let i = 0; i < bytes.length - 1; i++) {
    const changed = Buffer.from(bytes);
    changed[i] = changed[i]! ^ 1;
    try {
      verifyAuditLog(changed.toString('utf8'), auditKey.publicKey);
    } catch (err) {
      assert.is((err as { code?: string }).code, 'AUDIT_BROKEN', `byte ${i}`);
      failures++;
      continue;
    }
    assert.unreachable(`changing byte ${i} (${String.fromCharCode(bytes[i]!)}) still verified`);
  }
  assert.is(failures, bytes.length - 1);
  assert.throws(() => verifyAuditLog(file, generateKeyPair().publicKey), (e: { code?: string }) => e.code === 'AUDIT_BROKEN');
  // dropping an entry breaks the chain too
  const lines = file.trim().split('\n');
  assert.throws(() => verifyAuditLog([lines[0], lines[1], lines[3]].join('\n'), auditKey.publicKey), (e: { code?: string }) => e.code === 'AUDIT_BROKEN');
});

test('edge-offload audit verify: exit 0 on the exported log, 1 after one byte is changed', async () => {
  const file = await story(new MemoryLedger({ auditKeyPem: auditKey.privateKeyPem, params }));
  const good = path.join(dir, 'audit.jsonl');
  writeFileSync(good, file);
  const ok = spawnSync(process.execPath, [CLI, 'audit', 'verify', good, `--key=${auditKey.publicKey}`], { encoding: 'utf8' });
  assert.is(ok.status, 0, ok.stderr);
  assert.is(JSON.parse(ok.stdout).entries, 4);
  const bad = path.join(dir, 'audit-bad.jsonl');
  const at = file.indexOf('"slashed":1000') + 11;
  writeFileSync(bad, file.slice(0, at) + '2' + file.slice(at + 1));
  const broken = spawnSync(process.execPath, [CLI, 'audit', 'verify', bad], { encoding: 'utf8' });
  assert.is(broken.status, 1);
  assert.is(JSON.parse(broken.stdout).code, 'AUDIT_BROKEN');
  const help = spawnSync(process.execPath, [CLI, 'audit', '--help'], { encoding: 'utf8' });
  assert.is(help.status, 0);
  assert.match(help.stdout, 'audit verify');
  assert.is(spawnSync(process.execPath, [CLI, 'audit', 'verify', path.join(dir, 'missing.jsonl')], { encoding: 'utf8' }).status, 1);
});

test('redis ledger: same rules and results as memory, atomic across two replicas, one audit chain', async () => {
  const open = (prefix: string, pem = auditKey.privateKeyPem) => RedisLedger.open({ url: redis.url, auditKeyPem: pem, params, prefix, now: () => 1_700_000_000_000 });
  const solo = await open('story:');
  try {
    const file = await story(solo);
    assert.is(verifyAuditLog(file, auditKey.publicKey).entries, 4);
  } finally {
    await solo.close();
  }
  const [a, b] = await Promise.all([open('race:'), open('race:')]);
  try {
    await Promise.all([a.deposit('op', 10_000), b.deposit('op', 20_000), a.deposit('other', 5_000)]);
    // both replicas judge the same offence at once (and others): it is slashed once
    const outcomes = await Promise.allSettled([
      a.slash({ operator: 'op', node: 'n', offenceId: 'n/s/1', reporter: 'c1' }),
      b.slash({ operator: 'op', node: 'n', offenceId: 'n/s/1', reporter: 'c2' }),
      b.slash({ operator: 'op', node: 'n', offenceId: 'n/s/2', reporter: 'c2' }),
      a.slash({ operator: 'other', node: 'm', offenceId: 'm/s/1', reporter: 'c1' }),
    ]);
    assert.equal(outcomes.map((o) => o.status).filter((s) => s === 'fulfilled').length, 3);
    const { header, entries } = await b.audit();
    const replayed = verifyAuditLog(auditFile(header, entries), auditKey.publicKey);
    assert.is(replayed.entries, 6);
    assert.is(replayed.state.stakes.get('op'), await a.stake('op'));
    assert.is(replayed.state.pool, await b.pool());
    assert.is((replayed.state.credits.get('c1') ?? 0) + (replayed.state.credits.get('c2') ?? 0), (await a.credit('c1')) + (await a.credit('c2')));
    // a replica with another audit key must not join (it would fork the signed chain)
    const foreign = await open('race:', generateKeyPair().privateKeyPem).then((l) => l.close().then(() => 'opened'), (e: Error) => e.name);
    assert.is(foreign, 'TypeError');
  } finally {
    await a.close();
    await b.close();
  }
});

test.run();
