import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { EDGE_CONFIG, configFlagSpecs, configHelp, defaultConfig, envName, formatConfigFile, loadConfig, readConfigFile, type EdgeConfig } from '../../bin/config.js';

const test = suite('ops: config');
let dir: string;
test.before.each(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'edge-config-'));
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

const codeOf = (fn: () => unknown) => {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code;
  }
};

test('round trip: a config written by formatConfigFile reads back to the same values, defaults and changes alike', () => {
  const changed: EdgeConfig = { ...defaultConfig(), maxSessionsPerIp: 7, sendHardBytes: 16 << 20, logFormat: 'json', requireToken: true, tokenSecretFile: '/etc/edge/secret' };
  for (const config of [defaultConfig(), changed]) {
    const file = path.join(dir, 'node.json');
    writeFileSync(file, formatConfigFile(config));
    assert.equal(loadConfig({ file }), config);
  }
});

test('precedence is defaults < file < env < flags; sizes take units', () => {
  const file = path.join(dir, 'node.json');
  writeFileSync(file, JSON.stringify({ maxSessionsPerIp: 5, idleTimeoutMs: 1000, sendSoftBytes: '2MiB' }));
  const flags = parseArgs({ args: ['--idle-timeout-ms', '3000', '--require-token', 'true'], options: configFlagSpecs(), strict: true }).values;
  const config = loadConfig({ file, env: { [envName('maxSessionsPerIp')]: '6', EDGE_OFFLOAD_IDLE_TIMEOUT_MS: '2000', EDGE_OFFLOAD_LOG_RATE: '9' }, flags });
  assert.is(config.maxSessionsPerIp, 6);
  assert.is(config.idleTimeoutMs, 3000);
  assert.is(config.sendSoftBytes, 2 << 20);
  assert.is(config.requireToken, true);
  assert.is(config.logRatePerSecond, 9);
  assert.is(config.maxSessions, EDGE_CONFIG.maxSessions.default);
});

test('unknown keys, bad values and unreadable files fail with stable codes', () => {
  const file = path.join(dir, 'node.json');
  writeFileSync(file, JSON.stringify({ maxSesions: 5 }));
  assert.is(codeOf(() => readConfigFile(file)), 'CONFIG_UNKNOWN_KEY');
  writeFileSync(file, JSON.stringify({ maxSessions: -1 }));
  assert.is(codeOf(() => readConfigFile(file)), 'CONFIG_BAD_VALUE');
  writeFileSync(file, JSON.stringify({ logFormat: 'xml' }));
  assert.is(codeOf(() => readConfigFile(file)), 'CONFIG_BAD_VALUE');
  writeFileSync(file, '{ not json');
  assert.is(codeOf(() => readConfigFile(file)), 'CONFIG_UNREADABLE');
  assert.is(codeOf(() => loadConfig({ env: { EDGE_OFFLOAD_SEND_SOFT_BYTES: '9MiB' } })), 'CONFIG_BAD_VALUE'); // soft over hard
  assert.is(codeOf(() => loadConfig({ flags: { 'max-sessions': '1.5' } })), 'CONFIG_BAD_VALUE');
  // __proto__ in a file is an unknown key, not a prototype write
  writeFileSync(file, '{"__proto__": {"polluted": 1}}');
  assert.is(codeOf(() => readConfigFile(file)), 'CONFIG_UNKNOWN_KEY');
  assert.is(({} as { polluted?: number }).polluted, undefined);
});

test('--help documents every option with its default and env var', () => {
  const help = configHelp();
  for (const key of Object.keys(EDGE_CONFIG)) assert.ok(help.includes(envName(key)), key);
  assert.match(help, /--send-hard-bytes BYTES.*\[default: 8MiB; env EDGE_OFFLOAD_SEND_HARD_BYTES\]/);
});

test.run();
