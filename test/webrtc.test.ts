import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decode, encode, type PredictionMessage } from '../protocol/index.js';
import { ErrorCode } from '../protocol/errors.js';
import { RTC_CLIENT_STREAM_MIN } from '../protocol/webrtc.js';
import { validate as validateRtc } from '../protocol/codec.js';
import { answerSdp, dtlsParametersFromSdp } from '../protocol/webrtcSdp.js';
import { WorkerPool } from '../edge-server/webrtc/WorkerPool.js';
import { cachedWorkerPath, resolveWorkerBin } from '../edge-server/webrtc/workerBin.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectPeer, testSession, type RtcPeer } from './support/rtcPeer.js';
import { waitFor, withTimeout } from './support/wait.js';
import { startUdpNetemProxy, type UdpNetemProxy } from '../netem/UdpNetemProxy.js';
import { processAlive } from '../bench/lib/processAlive.js';

const SHA256 = Array.from({ length: 32 }, (_, i) => (i * 7).toString(16).padStart(2, '0').toUpperCase()).join(':');
const goodDtls = { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: SHA256 }] };

/** Malformed signalling a hostile or buggy client might send; each must be refused with a code. */
const BAD_DTLS: unknown[] = [
  undefined,
  null,
  'dtls',
  42,
  [],
  {},
  { fingerprints: 'sha-256' },
  { fingerprints: [] }, // empty: refused as BAD_REQUEST before mediasoup sees it
  { role: 'boss', fingerprints: goodDtls.fingerprints },
  { role: 7, fingerprints: goodDtls.fingerprints },
  { fingerprints: [{ algorithm: 'md5', value: SHA256 }] },
  { fingerprints: [{ algorithm: 'sha-256', value: SHA256.slice(0, -3) }] }, // 31 bytes
  { fingerprints: [{ algorithm: 'sha-1', value: SHA256 }] }, // 32 bytes for a 20-byte digest
  { fingerprints: [{ algorithm: 'sha-256', value: SHA256.replace(/:/g, '') }] },
  { fingerprints: [{ algorithm: 'sha-256', value: `${SHA256.slice(0, -2)}ZZ` }] },
  { fingerprints: [{ algorithm: 'sha-256', value: 'A'.repeat(1 << 20) }] },
  { fingerprints: [{ algorithm: 'sha-256', value: 12345 }] },
  { fingerprints: Array(10_000).fill(goodDtls.fingerprints[0]) },
  { fingerprints: [{ algorithm: ['sha-256'], value: SHA256 }] },
];

const BAD_STREAMS: unknown[] = [
  undefined,
  { streamId: -1 },
  { streamId: 1.5 },
  { streamId: 65535 },
  { streamId: 2 ** 40 },
  { streamId: '512' },
  { streamId: 0 }, // the edge's half
  { streamId: RTC_CLIENT_STREAM_MIN, ordered: 'no' },
  { streamId: RTC_CLIENT_STREAM_MIN, maxRetransmits: 0, maxPacketLifeTime: 10 },
  { streamId: RTC_CLIENT_STREAM_MIN, maxRetransmits: 1e9 },
];

const CODES = new Set<string>([ErrorCode.BAD_MESSAGE, ErrorCode.TOO_LARGE, ErrorCode.BAD_REQUEST]);

const schemas = suite('webrtc: signalling schemas');

schemas('valid signalling passes and comes back as a clean copy', () => {
  const msg = validateRtc({ t: 'rtcConnect', id: 1, dtlsParameters: goodDtls, extra: { __proto__: 1 } });
  assert.equal(msg, { t: 'rtcConnect', id: 1, dtlsParameters: goodDtls });
  const lower = validateRtc({ t: 'rtcConnect', id: 2, dtlsParameters: { fingerprints: [{ algorithm: 'sha-256', value: SHA256.toLowerCase() }] } });
  assert.is(lower.t, 'rtcConnect');
});

schemas('malformed DTLS parameters, stream parameters and types are refused with codes', () => {
  for (const dtlsParameters of BAD_DTLS) {
    if ((dtlsParameters as { fingerprints?: unknown[] })?.fingerprints?.length === 0) continue; // schema-valid, refused by the transport
    assert.throws(
      () => validateRtc({ t: 'rtcConnect', id: 1, dtlsParameters }),
      (err: { code?: string }) => CODES.has(err.code!),
      JSON.stringify(dtlsParameters)?.slice(0, 80),
    );
  }
  for (const sctpStreamParameters of BAD_STREAMS) {
    assert.throws(
      () => validateRtc({ t: 'rtcProduceData', id: 1, channel: 'poses', sctpStreamParameters }),
      (err: { code?: string }) => err.code === ErrorCode.BAD_MESSAGE,
      JSON.stringify(sctpStreamParameters),
    );
  }
  for (const value of [null, [], 'rtcOpen', { t: 5 }, { t: 'rtcOpen' }, { t: 'rtcOpen', id: -1 }, { t: 'rtcConsumeData', id: 1, channel: 'poses' }]) {
    assert.throws(() => validateRtc(value), (err: { code?: string }) => err.code === ErrorCode.BAD_MESSAGE, JSON.stringify(value));
  }
  assert.throws(() => validateRtc({ t: 'rtcNuke', id: 1 }), (err: { code?: string }) => err.code === ErrorCode.UNKNOWN_TYPE);
});

schemas('the answer SDP carries the transport parameters; the offer gives the client DTLS parameters', () => {
  const offer = ['v=0', 'a=group:BUNDLE data', 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'a=mid:data', `a=fingerprint:SHA-256 ${SHA256}`, 'a=setup:actpass', ''].join('\r\n');
  assert.equal(dtlsParametersFromSdp(offer), { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: SHA256 }] });
  const sdp = answerSdp(offer, {
    transportId: 't',
    iceParameters: { usernameFragment: 'uf', password: 'pw', iceLite: true },
    iceCandidates: [{ foundation: 'f', priority: 100, ip: '127.0.0.1', protocol: 'udp', port: 40001, type: 'host' }],
    dtlsParameters: { role: 'auto', fingerprints: [{ algorithm: 'sha-1', value: SHA256.slice(0, 59) }, { algorithm: 'sha-256', value: SHA256 }] },
    sctpParameters: { port: 5000, OS: 1024, MIS: 1024, maxMessageSize: 262144 },
  });
  for (const line of ['a=mid:data', 'a=ice-lite', 'a=ice-ufrag:uf', `a=fingerprint:sha-256 ${SHA256}`, 'a=candidate:f 1 udp 100 127.0.0.1 40001 typ host', 'a=setup:passive', 'a=sctp-port:5000']) {
    assert.ok(sdp.includes(`${line}\r\n`), line);
  }
});

schemas.run();

const bin = suite('webrtc: worker binary');

bin('the runtime looks for the worker where install-mediasoup.sh caches it', () => {
  const scripted = execFileSync('bash', ['scripts/install-mediasoup.sh', '--print-path'], { encoding: 'utf8' }).trim();
  assert.is(cachedWorkerPath(), scripted);
  // the key follows the Debian libraries: another set of versions is another cache entry
  assert.match(scripted, /mediasoup-worker-3\.12\.16-[0-9a-f]{16}$/);
});

bin('MEDIASOUP_WORKER_BIN wins when it is executable, and a wrong one is not silently replaced', () => {
  assert.is(resolveWorkerBin({ ...process.env, MEDIASOUP_WORKER_BIN: '/bin/true' }), '/bin/true');
  assert.is(resolveWorkerBin({ ...process.env, MEDIASOUP_WORKER_BIN: '/nonexistent/mediasoup-worker' }), undefined);
});

bin.run();

async function predictRoundTrip(peer: RtcPeer, id: number): Promise<PredictionMessage> {
  const pose = { device: 'head' as const, time: 1000 * id, position: [0, 1.6, id] as [number, number, number], orientation: [0, 0, 0, 1] as [number, number, number, number] };
  const answer = peer.next();
  assert.ok(peer.poses.sendMessageBinary(encode({ t: 'predict', id, horizonMs: 20, poses: [pose] })));
  const msg = decode(await answer);
  assert.is(msg.t, 'prediction');
  return msg as PredictionMessage;
}

interface Ctx {
  pool?: WorkerPool;
  peers: RtcPeer[];
}
const pool = suite<Ctx>('webrtc: worker pool with a real worker and a node-datachannel peer', { peers: [] });
pool.after.each(async (ctx) => {
  for (const peer of ctx.peers) peer.close();
  ctx.peers = [];
  const pids = ctx.pool?.workers.map((w) => w.pid) ?? [];
  ctx.pool?.close();
  ctx.pool = undefined;
  // worker processes exit (and are reaped) a moment after close(); no test leaves one behind
  await waitFor(() => pids.every((pid) => !processAlive(pid)), 'the workers to exit', 10_000);
});

pool('a predict message makes the round trip over unreliable data channels through the router', async (ctx) => {
  ctx.pool = await WorkerPool.create({ workers: 1 });
  const session = testSession(ctx.pool, 's1');
  const peer = await connectPeer(session);
  ctx.peers.push(peer);
  for (let id = 1; id <= 20; id++) {
    const prediction = await predictRoundTrip(peer, id);
    assert.is(prediction.id, id);
    assert.equal(prediction.pose.position, [0, 1.6, id]);
  }
  // over the channel's message size: refused (the session answers on its socket instead), not thrown
  assert.is(session.signalling.send('predictions', new Uint8Array(ctx.pool.options.maxMessageSize + 1)), false);
  assert.is((await predictRoundTrip(peer, 21)).id, 21);
  assert.equal(ctx.pool.workers.map((w) => w.transports), [1]);
});

pool('fuzzed signalling gets coded errors and the worker keeps serving', async (ctx) => {
  ctx.pool = await WorkerPool.create({ workers: 1 });
  const { pid } = ctx.pool.workers[0]!;
  const victim = await ctx.pool.createTransport('fuzzed');
  for (const dtls of BAD_DTLS) {
    await victim.connect(dtls).then(
      () => assert.unreachable(`connect(${JSON.stringify(dtls)?.slice(0, 60)}) should fail`),
      (err: { code?: string }) => assert.ok(CODES.has(err.code!), `code ${err.code}`),
    );
  }
  for (const stream of BAD_STREAMS) {
    await victim.produceData('poses', stream).then(
      () => assert.unreachable(`produceData(${JSON.stringify(stream)}) should fail`),
      (err: { code?: string }) => assert.is(err.code, ErrorCode.BAD_MESSAGE),
    );
  }
  for (const channel of ['predictions', '', 'x'.repeat(10_000), 7, null]) {
    await victim.produceData(channel, { streamId: 600 }).then(
      () => assert.unreachable('unknown channel'),
      (err: { code?: string }) => assert.is(err.code, ErrorCode.BAD_MESSAGE),
    );
  }
  // well-formed but refused by mediasoup: the same stream twice, connecting twice
  await victim.produceData('poses', { streamId: 600 });
  await victim.produceData('poses', { streamId: 601 }).then(
    () => assert.unreachable('a second poses channel'),
    (err: { code?: string }) => assert.is(err.code, ErrorCode.BAD_REQUEST),
  );
  await victim.connect(goodDtls);
  await victim.connect(goodDtls).then(
    () => assert.unreachable('connect twice'),
    (err: { code?: string }) => assert.is(err.code, ErrorCode.BAD_REQUEST),
  );
  // the same worker still serves a real peer
  assert.equal(ctx.pool.workers.map((w) => w.pid), [pid]);
  const peer = await connectPeer(testSession(ctx.pool, 'after-fuzz'));
  ctx.peers.push(peer);
  assert.is((await predictRoundTrip(peer, 7)).id, 7);
  assert.equal(ctx.pool.workers.map((w) => w.pid), [pid]);
});

pool('a worker killed mid-session: the pool reports its sessions, they get rtcLost, reopen on a live worker and get answers again', async (ctx) => {
  ctx.pool = await WorkerPool.create({ workers: 2, respawnDelayMs: 10 });
  const p = ctx.pool;
  const ids = ['a', 'b', 'c', 'd'];
  const sessions = ids.map((id) => testSession(p, id));
  const first = await connectPeer(sessions[0]!);
  ctx.peers.push(first);
  assert.is((await predictRoundTrip(first, 1)).id, 1);
  for (const session of sessions.slice(1)) await session.request({ t: 'rtcOpen' });
  const victimPid = sessions[0]!.signalling.transport!.workerPid;
  const onVictim = sessions.filter((s) => s.signalling.transport!.workerPid === victimPid);
  assert.is(onVictim.length, 2, 'least-loaded placement spreads sessions');
  const died = withTimeout(new Promise<[number, string[]]>((resolve) => p.once('workerdied', (pid, ids) => resolve([pid, ids]))), 'workerdied');
  const started = withTimeout(new Promise<number>((resolve) => p.once('workerstarted', resolve)), 'a replacement worker', 15_000);
  process.kill(victimPid, 'SIGKILL');
  const [pid, sessionIds] = await died;
  assert.is(pid, victimPid);
  assert.equal(sessionIds.sort(), onVictim.map((s) => ids[sessions.indexOf(s)]!).sort());
  for (const session of sessions) {
    const lost = session.notices.filter((n) => n.t === 'rtcLost');
    if (onVictim.includes(session)) {
      assert.is(lost.length, 1);
      assert.is(lost[0]!.t === 'rtcLost' && lost[0]!.code, ErrorCode.TRANSPORT_LOST);
      assert.is(session.signalling.transport, undefined);
    } else {
      assert.is(lost.length, 0, 'the other worker\u2019s sessions are untouched');
      assert.ok(!session.signalling.transport!.closed);
    }
  }
  // the client opens a new transport (a new peer connection) and the session answers again
  first.close();
  const again = await connectPeer(sessions[0]!);
  ctx.peers.push(again);
  assert.is.not(sessions[0]!.signalling.transport!.workerPid, victimPid);
  assert.is((await predictRoundTrip(again, 2)).id, 2);
  assert.is.not(await started, victimPid);
  await waitFor(() => p.workers.length === 2, 'two workers again');
});

pool('signalling refuses out-of-order, edge-only and malformed requests with codes, and rate-limits opens', async (ctx) => {
  ctx.pool = await WorkerPool.create({ workers: 1 });
  const session = testSession(ctx.pool, 'rude');
  const refused = async (message: Record<string, unknown>, code: string) => {
    await session.request(message).then(
      () => assert.unreachable(`${JSON.stringify(message).slice(0, 60)} should fail`),
      (err: { code?: string }) => assert.is(err.code, code, JSON.stringify(message).slice(0, 60)),
    );
  };
  await refused({ t: 'rtcConnect', dtlsParameters: goodDtls }, ErrorCode.BAD_REQUEST);
  await refused({ t: 'rtcLost', code: 'INTERNAL', reason: 'x' }, ErrorCode.BAD_MESSAGE);
  await refused({ t: 'rtcConnect', dtlsParameters: BAD_DTLS[12] }, ErrorCode.BAD_MESSAGE);
  assert.throws(() => validateRtc({ t: 'rtcOpen', id: 'one' }), (err: { code?: string }) => err.code === ErrorCode.BAD_MESSAGE);
  for (let i = 0; i < 3; i++) assert.is((await session.request({ t: 'rtcOpen' })).t, 'rtcTransport');
  await refused({ t: 'rtcOpen' }, ErrorCode.RATE_LIMITED);
  assert.equal(ctx.pool.workers.map((w) => w.transports), [1], 'each open replaced the previous transport');
});

pool('with its only worker dead, a new transport waits for the replacement', async (ctx) => {
  ctx.pool = await WorkerPool.create({ workers: 1, respawnDelayMs: 10 });
  const p = ctx.pool;
  const { pid } = p.workers[0]!;
  const died = withTimeout(new Promise<void>((resolve) => p.once('workerdied', () => resolve())), 'workerdied');
  process.kill(pid, 'SIGKILL');
  await died;
  const session = testSession(p, 'patient');
  const peer = await connectPeer(session);
  ctx.peers.push(peer);
  assert.is.not(session.signalling.transport!.workerPid, pid);
  assert.is((await predictRoundTrip(peer, 9)).id, 9);
});

pool('a DTLS handshake against the wrong fingerprint fails: the session gets rtcLost, and a full worker is BUSY', async (ctx) => {
  ctx.pool = await WorkerPool.create({ workers: 1, maxTransportsPerWorker: 1 });
  const session = testSession(ctx.pool, 'impostor');
  // well-formed, but not the client's certificate: mediasoup must refuse the handshake
  await connectPeer(session, { dtlsParameters: () => goodDtls }).then(
    (peer) => {
      peer.close();
      assert.unreachable('the channels must not open');
    },
    () => {}, // wherever the client was when the handshake failed
  );
  const lost = await waitFor(() => session.notices.find((n) => n.t === 'rtcLost'), 'rtcLost after the failed handshake', 10_000);
  assert.is(lost?.t === 'rtcLost' && lost.code, ErrorCode.TRANSPORT_LOST);
  assert.is(session.signalling.transport, undefined);
  await session.request({ t: 'rtcOpen' });
  await testSession(ctx.pool, 'one-too-many').request({ t: 'rtcOpen' }).then(
    () => assert.unreachable('the worker is full'),
    (err: { code?: string }) => assert.is(err.code, ErrorCode.BUSY),
  );
});

pool('port range, announced IP and DTLS certificate options reach the worker', async (ctx) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edge-offload-dtls-'));
  try {
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=edge-offload-test', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const expected = execFileSync('openssl', ['x509', '-in', cert, '-noout', '-fingerprint', '-sha256'], { encoding: 'utf8' }).trim().split('=')[1];
    ctx.pool = await WorkerPool.create({
      workers: 1,
      rtcMinPort: 47000,
      rtcMaxPort: 47100,
      listenIps: [{ ip: '127.0.0.1', announcedIp: '203.0.113.7' }],
      enableTcp: false,
      dtlsCertificateFile: cert,
      dtlsPrivateKeyFile: key,
    });
    const session = testSession(ctx.pool, 'configured');
    const answer = await session.request({ t: 'rtcOpen' });
    if (answer.t !== 'rtcTransport') throw new Error(`rtcOpen answered ${answer.t}`);
    assert.is(answer.iceCandidates.length, 1);
    const [candidate] = answer.iceCandidates;
    assert.is(candidate!.ip, '203.0.113.7');
    assert.is(candidate!.protocol, 'udp');
    assert.ok(candidate!.port >= 47000 && candidate!.port <= 47100, `port ${candidate!.port}`);
    assert.is(answer.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256')!.value, expected);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

pool('data channels through the UDP network emulator: every round trip pays the emulated delay both ways', async (ctx) => {
  ctx.pool = await WorkerPool.create({ workers: 1, enableTcp: false });
  let proxy: UdpNetemProxy | undefined;
  try {
    const peer = await connectPeer(testSession(ctx.pool, 'far'), {
      // the peer reaches the worker only through the emulator, as a client on a real link would
      candidates: async ([edge]) => {
        proxy = await startUdpNetemProxy({ target: { host: edge!.ip, port: edge!.port }, delayMs: 10 });
        return [{ ...edge!, port: proxy.port }];
      },
    });
    ctx.peers.push(peer);
    for (let id = 1; id <= 5; id++) {
      const t0 = performance.now();
      assert.is((await predictRoundTrip(peer, id)).id, id);
      // a lower bound only: load can add delay, never remove it
      assert.ok(performance.now() - t0 >= 2 * 10 - 1, `round trip ${(performance.now() - t0).toFixed(1)} ms`);
    }
    assert.ok(proxy!.stats.datagramsUp >= 5 && proxy!.stats.datagramsDown >= 5);
  } finally {
    await proxy?.close();
  }
});

pool.run();
