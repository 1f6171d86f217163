/**
 * Pose → prediction round trip over WebRTC data channels vs over ws, under loss. One edge (a
 * mediasoup worker for the data channels), twelve sessions: {5 ms, 60 ms RTT} × {0, 2, 5 % loss}
 * × {ws, webrtc}, every one behind its own emulated link: the user-space netem TCP proxy for the
 * WebSocket (a lost segment stalls the stream one RTO, 200 ms, as Linux's minimum does) and the
 * netem UDP proxy for the data channels (a lost datagram is gone). A webrtc session's socket goes
 * through a TCP link with the same parameters (signalling, and the re-send of a predict whose
 * datagram was lost). All twelve run at once, round after round, so they share the machine's noise.
 *
 *   npm run bench -- webrtc [--samples 150] [--rounds 2]
 * Writes bench/results/webrtc.json + webrtc.svg. Needs mediasoup (scripts/install-mediasoup.sh).
 */
import { connect, type RtcPeerFactory, type Session } from '../client-sdk/node.js';
import { EdgeServer } from '../edge-server/index.js';
import { WorkerPool } from '../edge-server/webrtc/index.js';
import { intFlag, parseCommandArgs } from '../bin/commands/args.js';
import { startNetemProxy, type NetemProxy } from '../netem/NetemProxy.js';
import { startUdpNetemProxy, type UdpNetemProxy } from '../netem/UdpNetemProxy.js';
import type { PoseSample } from '../protocol/index.js';
import { barChart } from './lib/chart.js';
import { countingPeers } from './lib/countingPeers.js';
import { environment, printEnvironment } from './lib/environment.js';
import { writeResult } from './lib/results.js';
import { summarize } from './lib/stats.js';

const HELP = `Usage: edge-offload bench webrtc [options]

Pose → prediction round trip through Session, over WebRTC data channels (unordered, no
retransmits) vs over ws, at 0 %, 2 % and 5 % loss on a 5 ms and a 60 ms RTT link (netem).

Options:
  --samples N   timed predicts per session per round   [default: 150]
  --rounds N    rounds (all sessions run in each)       [default: 2]
  --warmup N    untimed predicts per session per round  [default: 10]
  -h, --help    show this help

Needs mediasoup (scripts/install-mediasoup.sh). Writes bench/results/webrtc.{json,svg}.`;

const RTTS = [5, 60] as const;
const LOSSES = [0, 0.02, 0.05] as const;
/** A headset's frame period: each session asks at most this often (90 Hz). */
const FRAME_MS = 1000 / 90;

interface Link {
  name: string;
  rttMs: number;
  loss: number;
  kind: 'ws' | 'webrtc';
  session: Session;
  samples: number[];
  /** Answers that arrived on the data channel (webrtc sessions). */
  channelAnswers: () => number;
}

/**
 * node-datachannel peers whose answer SDP points at a UDP netem proxy in front of the edge's ICE
 * candidate (started on first use), and which count the messages on `predictions`.
 */
function peersThroughNetem(link: { delayMs: number; lossRate: number }, proxies: UdpNetemProxy[]): { peers: RtcPeerFactory; received: () => number } {
  return countingPeers(async (sdp) => {
    const match = /^a=candidate:(\S+) 1 udp (\d+) (\S+) (\d+) typ host/m.exec(sdp);
    if (!match) throw new Error('the edge offered no UDP host candidate');
    const proxy = await startUdpNetemProxy({ target: { host: match[3]!, port: Number(match[4]) }, ...link });
    proxies.push(proxy);
    return sdp.replace(match[0], `a=candidate:${match[1]} 1 udp ${match[2]} ${proxy.host} ${proxy.port} typ host`);
  });
}

/** A head moving at 1 m/s along x: sample `i` of a session. */
function headPose(i: number): PoseSample {
  return { device: 'head', time: 1_000_000 + Math.round(i * FRAME_MS * 1000), position: [(i * FRAME_MS) / 1000, 1.6, 0], orientation: [0, 0, 0, 1] };
}

const round2 = (s: ReturnType<typeof summarize>) => ({ n: s.n, p50: +s.p50.toFixed(2), p99: +s.p99.toFixed(2), mean: +s.mean.toFixed(2), max: +s.max.toFixed(2) });

/** `edge-offload bench webrtc [options]`; resolves when the results are written. */
export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(argv, { samples: { type: 'string' }, rounds: { type: 'string' }, warmup: { type: 'string' } }, HELP);
  if (!args) return;
  const samples = intFlag(args.values.samples, 'samples', 1, 100_000) ?? 150;
  const rounds = intFlag(args.values.rounds, 'rounds', 1, 100) ?? 2;
  const warmup = intFlag(args.values.warmup, 'warmup', 0, 1000) ?? 10;

  const pool = await WorkerPool.create({ workers: 1, enableTcp: false }).catch((err: Error) => {
    throw new Error(`${err.message}\nRun scripts/install-mediasoup.sh, then the bench again.`);
  });
  const env = environment({ samples, rounds, warmup, rateHz: 90, mediasoup: '3.12.16', peer: 'node-datachannel', network: 'netem/ user-space proxies on loopback (TCP for ws, UDP for WebRTC)' });
  printEnvironment(env);
  const server = new EdgeServer({ nodeId: 'bench-webrtc', webrtc: pool });
  const { url, port } = await server.listen();
  const sessionPath = new URL(url).pathname;
  const tcpProxies: NetemProxy[] = [];
  const udpProxies: UdpNetemProxy[] = [];
  const links: Link[] = [];
  try {
    for (const rttMs of RTTS) {
      for (const loss of LOSSES) {
        const params = { delayMs: rttMs / 2, lossRate: loss };
        for (const kind of ['ws', 'webrtc'] as const) {
          const tcp = await startNetemProxy({ target: { host: '127.0.0.1', port }, ...params });
          tcpProxies.push(tcp);
          const rtc = kind === 'webrtc' ? peersThroughNetem(params, udpProxies) : undefined;
          const session = await connect(tcp.url + sessionPath, {
            requestTimeoutMs: 10_000,
            connectTimeoutMs: 10_000,
            transport: kind,
            ...(rtc ? { rtcPeers: rtc.peers, rtcConnectTimeoutMs: 10_000 } : {}),
          });
          links.push({ name: `${rttMs} ms ${loss * 100} % ${kind}`, rttMs, loss, kind, session, samples: [], channelAnswers: rtc?.received ?? (() => 0) });
        }
      }
    }

    // correctness before timing: every webrtc session is on its data channels, every answer is a
    // constant-velocity extrapolation of the head moving at 1 m/s (20 ms ahead: +2 cm)
    await Promise.all(
      links.map(async (link) => {
        if (link.kind === 'webrtc' && link.session.transport !== 'webrtc') {
          const [kind, why] = await link.session.waitFor('transport', 15_000);
          if (kind !== 'webrtc') throw new Error(`${link.name}: the data channels did not open (${why})`);
        }
        for (let i = 0; i < 3; i++) link.session.sendPose(headPose(i));
        const p = await link.session.predict(20);
        const expected = headPose(2).position[0] + 0.02;
        if (Math.abs(p.pose.position[0] - expected) > 1e-6) throw new Error(`${link.name}: predicted x ${p.pose.position[0]}, expected ${expected}`);
      }),
    );
    console.log('correctness ok: 6 sessions on WebRTC data channels, 6 on ws; predictions match constant velocity');

    let step = 3;
    for (let round = 0; round < rounds; round++) {
      await Promise.all(
        links.map(async (link) => {
          let next = performance.now();
          for (let n = 0; n < warmup + samples; n++) {
            const i = step + n;
            const sentAt = performance.now();
            link.session.sendPose(headPose(i));
            await link.session.predict(20);
            const took = performance.now() - sentAt;
            if (n >= warmup) link.samples.push(took);
            // paced at 90 Hz; a late answer is not made up for with a burst
            next = Math.max(next + FRAME_MS, performance.now());
            await new Promise((resolve) => setTimeout(resolve, next - performance.now()));
          }
        }),
      );
      step += warmup + samples;
      console.log(`round ${round + 1}/${rounds} done`);
    }

    const results = links.map((link) => ({
      link: link.name,
      rttMs: link.rttMs,
      loss: link.loss,
      transport: link.kind,
      roundTripMs: round2(summarize(link.samples)),
      answersOnDataChannel: link.kind === 'webrtc' ? link.channelAnswers() : 0,
    }));
    console.log('\npose → prediction round trip, ms:');
    console.log(['link', 'ws p50', 'ws p99', 'rtc p50', 'rtc p99', 'p99 rtc/ws'].map((h) => h.padEnd(12)).join(''));
    const conditions = RTTS.flatMap((rttMs) => LOSSES.map((loss) => ({ rttMs, loss })));
    const pairs = conditions.map(({ rttMs, loss }) => {
      const ws = results.find((r) => r.rttMs === rttMs && r.loss === loss && r.transport === 'ws')!;
      const rtc = results.find((r) => r.rttMs === rttMs && r.loss === loss && r.transport === 'webrtc')!;
      const ratio = rtc.roundTripMs.p99 / ws.roundTripMs.p99;
      console.log(
        [`${rttMs} ms ${loss * 100} %`, ws.roundTripMs.p50, ws.roundTripMs.p99, rtc.roundTripMs.p50, rtc.roundTripMs.p99, ratio.toFixed(2)]
          .map((c) => String(c).padEnd(12))
          .join(''),
      );
      return { rttMs, loss, ws: ws.roundTripMs, webrtc: rtc.roundTripMs, p99Ratio: +ratio.toFixed(3), answersOnDataChannel: rtc.answersOnDataChannel };
    });
    const acceptance = pairs.filter((p) => p.loss === 0.02).every((p) => p.webrtc.p99 < p.ws.p99);
    console.log(`\nacceptance (2 % loss: p99 over the data channel < p99 over ws, both links): ${acceptance ? 'met' : 'NOT met'}`);
    const categories = pairs.map((p) => `${p.rttMs} ms, ${p.loss * 100} %`);
    const svg = barChart({
      title: 'Pose → prediction round trip: WebRTC data channel vs ws under loss (netem)',
      yLabel: 'ms',
      categories,
      series: [
        { name: 'ws p50', values: pairs.map((p) => p.ws.p50) },
        { name: 'ws p99', values: pairs.map((p) => p.ws.p99) },
        { name: 'WebRTC p50', values: pairs.map((p) => p.webrtc.p50) },
        { name: 'WebRTC p99', values: pairs.map((p) => p.webrtc.p99) },
      ],
    });
    const file = writeResult('webrtc', { env, results: pairs, sessions: results, acceptance }, svg);
    console.log(`wrote ${file}`);
  } finally {
    for (const link of links) link.session.close();
    await server.close({ deadlineMs: 0 });
    await Promise.all([...tcpProxies, ...udpProxies].map((p) => p.close()));
  }
}
