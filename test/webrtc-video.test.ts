/**
 * The edge's H.264 video track with a real mediasoup worker, a real ffmpeg and a node-datachannel
 * peer connected to the session's transport: the pipeline's signalling, the RTP timestamp each
 * frame went out with (the pose side channel's key), encoder restarts (timestamps still increasing
 * through RtpRelay; its rewriting is test/webrtc-video-relay.test.ts), encoder death reported as
 * rtcVideoLost, ffmpeg missing answered VIDEO_UNAVAILABLE. Decoding is the Chromium test's job
 * (test/webrtc-video-browser.test.ts): Node has no H.264 decoder.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decode, encode, ErrorCode, VIDEO_CODEC, type PredictionMessage } from '../protocol/index.js';
import { videoOfferSdp } from '../protocol/webrtcSdp.js';
import { validate } from '../protocol/codec.js';
import { WorkerPool } from '../edge-server/webrtc/WorkerPool.js';
import { BitrateController } from '../edge-server/webrtc/video/BitrateController.js';
import { resolveVideoOptions } from '../edge-server/webrtc/video/videoOptions.js';
import { ffmpegArgs } from '../edge-server/webrtc/video/H264Encoder.js';
import { connectPeer, testSession, type RtcPeer, type TestSession } from './support/rtcPeer.js';
import { EdgeServer } from '../edge-server/index.js';
import type { RenderEngine } from '../edge-server/engines.js';
import type { VideoOptions } from '../edge-server/webrtc/video/videoOptions.js';
import { connect, type Frame, type Session } from '../client-sdk/node.js';
import { VideoFramePoses, type VideoFrameMetadataLike } from '../client-sdk/session/VideoFramePoses.js';
import { EventEmitter } from 'node:events';
import { countingPeers } from '../bench/lib/countingPeers.js';
import { waitFor, withTimeout } from './support/wait.js';
import { processAlive } from '../bench/lib/processAlive.js';

interface Ctx {
  pool?: WorkerPool;
  peers: RtcPeer[];
}

const unit = suite('webrtc video: options, SDP, rate decisions');

unit('rtcConsumeVideo and its answer are schema-checked like every message', () => {
  assert.equal(validate({ t: 'rtcConsumeVideo', id: 3 }), { t: 'rtcConsumeVideo', id: 3 });
  for (const bad of [{ t: 'rtcVideo', id: 1, mid: 'v', payloadType: 300, ssrc: 1, cname: 'c', fmtp: '', rtcpFeedback: [], headerExtensions: [] }, { t: 'rtcConsumeVideo' }]) {
    assert.throws(() => validate(bad), (err: { code?: string }) => err.code === ErrorCode.BAD_MESSAGE, JSON.stringify(bad));
  }
});

unit('the video offer bundles the data section and a send-only H.264 section with the consumer ids', () => {
  const sdp = videoOfferSdp(
    {
      transportId: 't',
      iceParameters: { usernameFragment: 'uf', password: 'pw', iceLite: true },
      iceCandidates: [{ foundation: 'f', priority: 100, ip: '127.0.0.1', protocol: 'udp', port: 40001, type: 'host' }],
      dtlsParameters: { role: 'auto', fingerprints: [{ algorithm: 'sha-256', value: Array(32).fill('AB').join(':') }] },
      sctpParameters: { port: 5000, OS: 1024, MIS: 1024, maxMessageSize: 262144 },
    },
    '0',
    { mid: 'video', payloadType: 100, ssrc: 42, cname: 'cn', fmtp: 'packetization-mode=1', rtcpFeedback: [{ type: 'nack', parameter: 'pli' }], headerExtensions: [{ uri: 'urn:x', id: 5 }] },
  );
  for (const line of ['a=group:BUNDLE 0 video', 'm=application 7 UDP/DTLS/SCTP webrtc-datachannel', 'm=video 7 UDP/TLS/RTP/SAVPF 100', 'a=sendonly', 'a=rtpmap:100 H264/90000', 'a=fmtp:100 packetization-mode=1', 'a=rtcp-fb:100 nack pli', 'a=extmap:5 urn:x', 'a=ssrc:42 cname:cn']) {
    assert.ok(sdp.includes(`${line}\r\n`), line);
  }
  assert.ok(sdp.indexOf('m=application') < sdp.indexOf('m=video'), 'sections keep the order of the first negotiation');
});

unit('ffmpeg runs libx264 at the asked preset, zerolatency, Main profile without B-frames, at the asked GOP, rate and RTP sequence', () => {
  const args = ffmpegArgs({ ffmpeg: 'ffmpeg', encoder: 'libx264', preset: 'superfast', width: 64, height: 32, fps: 30, bitrate: 1_000_000, gop: 15, rtpHost: '127.0.0.1', rtpPort: 40000, payloadType: 101, ssrc: 7, firstSeq: 99, packetSize: 1200 }).join(' ');
  for (const part of ['-c:v libx264', '-preset superfast', '-tune zerolatency', '-profile:v main', '-bf 0', '-g 15', '-b:v 1000000', '-s 64x32', '-ssrc 7', '-seq 99', 'rtp://127.0.0.1:40000']) assert.ok(args.includes(part), part);
});

unit('rate decisions: down at once on a low estimate or loss, up slowly and by half at most, within bounds', () => {
  const o = resolveVideoOptions({ minBitrate: 500_000, maxBitrate: 8_000_000, bitrateHeadroom: 0.8, downRateIntervalMs: 1000, upRateIntervalMs: 4000 });
  assert.equal(BitrateController.decide(o, 4_000_000, { availableOutgoingBitrate: 2_000_000 }, 1000)?.bitrate, 1_600_000);
  assert.is(BitrateController.decide(o, 4_000_000, { availableOutgoingBitrate: 2_000_000 }, 999), undefined, 'not twice within the down interval');
  assert.is(BitrateController.decide(o, 4_000_000, { availableOutgoingBitrate: 4_800_000 }, 10_000), undefined, 'a small change is no restart');
  assert.equal(BitrateController.decide(o, 4_000_000, { availableOutgoingBitrate: 20_000_000 }, 4000)?.bitrate, 6_000_000);
  assert.is(BitrateController.decide(o, 4_000_000, { availableOutgoingBitrate: 20_000_000 }, 3999), undefined);
  assert.is(BitrateController.decide(o, 4_000_000, { availableOutgoingBitrate: 20_000_000 }, 4000, 8000), undefined, 'a backed-off up interval holds the rate');
  assert.equal(BitrateController.decide(o, 4_000_000, { availableOutgoingBitrate: 20_000_000 }, 8000, 8000)?.bitrate, 6_000_000);
  // each change down doubles the wait before a change up, to 8× at most; each change up halves it, to 1× at least
  let wait = o.upRateIntervalMs;
  for (let i = 0; i < 5; i++) wait = BitrateController.upIntervalAfter(o, wait, true);
  assert.is(wait, 32_000);
  assert.is((wait = BitrateController.upIntervalAfter(o, wait, false)), 16_000);
  for (let i = 0; i < 5; i++) wait = BitrateController.upIntervalAfter(o, wait, false);
  assert.is(wait, 4000);
  assert.equal(BitrateController.decide(o, 4_000_000, { availableOutgoingBitrate: 10_000_000, fractionLost: 0.2 }, 1000)?.bitrate, 3_200_000);
  assert.equal(BitrateController.decide(o, 600_000, { availableOutgoingBitrate: 10_000 }, 1000)?.bitrate, 500_000);
  assert.throws(() => resolveVideoOptions({ fps: 0 }), TypeError);
  assert.is(resolveVideoOptions().preset, 'superfast');
  assert.throws(() => resolveVideoOptions({ preset: 'placebo' as never }), TypeError);
  assert.is(resolveVideoOptions().rtpStamp, 'taken');
  assert.throws(() => resolveVideoOptions({ rtpStamp: 'wallclock' as never }), TypeError);
});

unit.run();

const video = suite<Ctx>('webrtc video: H.264 track with a real worker and ffmpeg', { peers: [] });
video.after.each(async (ctx) => {
  for (const peer of ctx.peers) peer.close();
  ctx.peers = [];
  const pids = ctx.pool?.workers.map((w) => w.pid) ?? [];
  ctx.pool?.close();
  ctx.pool = undefined;
  // no test leaves a worker (or through it an encoder) behind
  await waitFor(() => pids.every((pid) => !processAlive(pid)), 'the workers to exit');
});

async function open(ctx: Ctx, options: Parameters<typeof WorkerPool.create>[0] = {}): Promise<{ session: TestSession; peer: RtcPeer }> {
  ctx.pool = await WorkerPool.create({ workers: 1, ...options });
  const session = testSession(ctx.pool, 'video-1');
  const peer = await connectPeer(session);
  ctx.peers.push(peer);
  return { session, peer };
}

/** A solid frame of one grey level (content does not matter to the timestamp bookkeeping). */
const frame = (width: number, height: number, level: number) => new Uint8Array(width * height * 4).fill(level);

video('rtcConsumeVideo answers the consumer parameters, and each frame resolves with its own RTP timestamp', async (ctx) => {
  const { session } = await open(ctx, { video: { fps: 30 } });
  const answer = await session.request({ t: 'rtcConsumeVideo' });
  assert.is(answer.t, 'rtcVideo');
  if (answer.t !== 'rtcVideo') return;
  assert.is(answer.mid, 'video');
  assert.match(answer.fmtp, `profile-level-id=${VIDEO_CODEC.profileLevelId}`);
  assert.match(answer.fmtp, 'packetization-mode=1');
  assert.ok(answer.headerExtensions.some((h) => h.uri.includes('transport-wide-cc')), 'transport-cc feeds the bandwidth estimate');
  const sender = session.signalling.video!;
  const stamps: number[] = [];
  const pushedAt: number[] = [];
  for (let i = 0; i < 6; i++) {
    pushedAt.push(performance.now());
    stamps.push(await withTimeout(sender.push(frame(64, 48, i * 40), 64, 48), `frame ${i}'s RTP timestamp`));
  }
  const done = performance.now();
  // stamped on the 90 kHz clock when the encoder took each frame (RtpRelay): each frame after the
  // one before, by no more than the time between its push and the next frame's resolving
  for (let i = 1; i < stamps.length; i++) {
    const ticks = (stamps[i]! - stamps[i - 1]! + 2 ** 32) % 2 ** 32;
    const bound = 90 * ((i + 1 < pushedAt.length ? pushedAt[i + 1]! : done) - pushedAt[i - 1]!) + 1;
    assert.ok(ticks > 0 && ticks <= bound, `frame ${i}: ${ticks} ticks after the one before, at most ${bound}`);
  }
  assert.equal(sender.stats, { frames: 6, dropped: 0, restarts: 1 });
  // a second track on the same transport is refused with a code
  const again = await session.request({ t: 'rtcConsumeVideo' }).catch((err: { code?: string }) => err);
  assert.is((again as { code?: string }).code, ErrorCode.BAD_REQUEST);
});

video('a new frame size restarts the encoder; frames keep resolving with timestamps', async (ctx) => {
  const { session } = await open(ctx);
  await session.request({ t: 'rtcConsumeVideo' });
  const sender = session.signalling.video!;
  const before = await sender.push(frame(64, 48, 10), 64, 48);
  const first = sender.encoderPid;
  const stamp = await withTimeout(sender.push(frame(128, 64, 10), 128, 64), 'the resized frame');
  const after = await withTimeout(sender.push(frame(128, 64, 20), 128, 64), 'the frame after it');
  assert.is.not(sender.encoderPid, first);
  assert.is(sender.stats.restarts, 2);
  // the new ffmpeg starts at a timestamp base of its own; the relay keeps the track's increasing
  const step = (a: number, b: number) => (b - a + 2 ** 32) % 2 ** 32;
  assert.ok(step(before, stamp) > 0 && step(before, stamp) < 2 ** 31, `${before} → ${stamp} across the restart`);
  assert.ok(step(stamp, after) > 0 && step(stamp, after) < 2 ** 31, `${stamp} → ${after}`);
  // odd sides cannot be 4:2:0
  await sender.push(frame(63, 48, 0), 63, 48).then(
    () => assert.unreachable('an odd width was taken'),
    (err: { code?: string }) => assert.is(err.code, ErrorCode.BAD_REQUEST),
  );
});

video('an encoder killed mid-session is reported as rtcVideoLost ENCODER_DIED; the data channels keep answering', async (ctx) => {
  const { session, peer } = await open(ctx);
  await session.request({ t: 'rtcConsumeVideo' });
  const sender = session.signalling.video!;
  await sender.push(frame(64, 48, 1), 64, 48);
  const notice = session.nextNotice();
  process.kill(sender.encoderPid!, 'SIGKILL');
  const lost = await withTimeout(notice, 'rtcVideoLost');
  assert.is(lost.t, 'rtcVideoLost');
  assert.is((lost as { code: string }).code, ErrorCode.ENCODER_DIED);
  assert.ok(sender.closed);
  assert.is(session.signalling.video, undefined);
  await sender.push(frame(64, 48, 1), 64, 48).then(
    () => assert.unreachable('a closed track took a frame'),
    (err: { code?: string }) => assert.is(err.code, ErrorCode.CLOSED),
  );
  // the session's WebRTC transport is untouched: a predict still makes the round trip
  const answer = peer.next();
  peer.poses.sendMessageBinary(encode({ t: 'predict', id: 9, horizonMs: 10, poses: [{ device: 'head', time: 1, position: [0, 1, 0], orientation: [0, 0, 0, 1] }] }));
  assert.is((decode(await answer) as PredictionMessage).id, 9);
});

video('without ffmpeg the pool says why and rtcConsumeVideo is answered VIDEO_UNAVAILABLE', async (ctx) => {
  const { session } = await open(ctx, { video: { ffmpegPath: '/nonexistent/ffmpeg' } });
  assert.instance(ctx.pool!.video, Error);
  assert.is((ctx.pool!.video as { code?: string }).code, ErrorCode.VIDEO_UNAVAILABLE);
  const refused = await session.request({ t: 'rtcConsumeVideo' }).catch((err: { code?: string }) => err);
  assert.is((refused as { code?: string }).code, ErrorCode.VIDEO_UNAVAILABLE);
});

video('past video.maxTracks a node answers BUSY, and a closed track frees its place', async (ctx) => {
  const { session } = await open(ctx, { video: { maxTracks: 1 } });
  const other = testSession(ctx.pool!, 'video-2');
  ctx.peers.push(await connectPeer(other));
  assert.is((await session.request({ t: 'rtcConsumeVideo' })).t, 'rtcVideo');
  const refused = await other.request({ t: 'rtcConsumeVideo' }).catch((err: { code?: string }) => err);
  assert.is((refused as { code?: string }).code, ErrorCode.BUSY);
  session.signalling.close();
  assert.is((await other.request({ t: 'rtcConsumeVideo' })).t, 'rtcVideo');
});

video('closing the session transport closes the track and its encoder', async (ctx) => {
  const { session } = await open(ctx);
  await session.request({ t: 'rtcConsumeVideo' });
  const sender = session.signalling.video!;
  await sender.push(frame(64, 48, 1), 64, 48);
  const pid = sender.encoderPid!;
  session.signalling.close();
  assert.ok(sender.closed);
  await waitFor(() => !processAlive(pid), 'ffmpeg to exit');
});

video.run();

const sdk = suite<{ edge?: EdgeServer; session?: Session; pids: number[] }>('webrtc video: the SDK in Node and the pose matcher', { pids: [] });

/** A tiny real renderer: raw frames of one grey level (the video path needs frames, not a scene). */
const greyRenderer: RenderEngine = {
  async render(_sessionId, request) {
    const { width, height } = request.camera;
    return { pose: request.pose, eye: request.eye, codec: request.codec, width, height, data: new Uint8Array(width * height * 4).fill(90), timings: { queueMs: 0, renderMs: 0, readbackMs: 0, encodeMs: 0 } };
  },
  async loadScene() {},
  releaseSession() {},
  describe: () => ({ name: 'grey' }),
  async close() {},
};

sdk.after.each(async (ctx) => {
  ctx.session?.close();
  await ctx.edge?.close({ deadlineMs: 0 });
  const pids = ctx.pids;
  ctx.session = ctx.edge = undefined;
  await waitFor(() => pids.every((pid) => !processAlive(pid)), 'the workers to exit');
});

async function sdkSession(ctx: { edge?: EdgeServer; session?: Session; pids: number[] }, video: VideoOptions = {}): Promise<Session> {
  const pool = await WorkerPool.create({ workers: 1, video });
  ctx.pids = pool.workers.map((w) => w.pid);
  ctx.edge = new EdgeServer({ renderer: greyRenderer, webrtc: pool });
  const { url } = await ctx.edge.listen();
  ctx.session = await connect(url, { pingIntervalMs: 0, transport: 'webrtc', rtcPeers: countingPeers().peers });
  if (ctx.session.transport !== 'webrtc') await ctx.session.waitFor('transport', 10_000);
  return ctx.session;
}

const CAMERA = { fovY: 90, ipd: 0.064, width: 64, height: 48 };
const POSE = { device: 'head' as const, time: 1, position: [0, 1.6, 0] as [number, number, number], orientation: [0, 0, 0, 1] as [number, number, number, number] };

sdk('a Node client keeps frames on ws: openVideo and h264 renders are refused VIDEO_UNAVAILABLE, raw frames still come', async (ctx) => {
  const session = await sdkSession(ctx);
  assert.ok(session.nodeInfo!.caps.includes('video'), 'the node advertises video (WebRTC, ffmpeg and a renderer)');
  await session.openVideo().then(
    () => assert.unreachable('node-datachannel decoded H.264'),
    (err: { code?: string }) => assert.is(err.code, ErrorCode.VIDEO_UNAVAILABLE),
  );
  await session.render({ pose: POSE, camera: CAMERA, eye: 'left', codec: 'h264' }).then(
    () => assert.unreachable('an h264 frame without a track'),
    (err: { code?: string }) => assert.is(err.code, ErrorCode.VIDEO_UNAVAILABLE),
  );
  const frame = await session.render({ pose: POSE, camera: CAMERA, eye: 'left', codec: 'raw' });
  assert.is(frame.data.byteLength, 64 * 48 * 4);
  assert.is(frame.rtpTimestamp, undefined);
});

sdk('a node without ffmpeg does not advertise video, and openVideo says so before any signalling', async (ctx) => {
  const session = await sdkSession(ctx, { ffmpegPath: '/nonexistent/ffmpeg' });
  assert.not.ok(session.nodeInfo!.caps.includes('video'));
  assert.ok(session.nodeInfo!.caps.includes('webrtc'));
  await session.openVideo().then(
    () => assert.unreachable('video from a node without ffmpeg'),
    (err: { code?: string }) => assert.is(err.code, ErrorCode.VIDEO_UNAVAILABLE),
  );
});

/** The browser boundary, faked: a <video> whose presented frames the test announces. */
class FakeVideo {
  callbacks = new Map<number, (now: number, m: VideoFrameMetadataLike) => void>();
  #next = 1;
  requestVideoFrameCallback(cb: (now: number, m: VideoFrameMetadataLike) => void): number {
    this.callbacks.set(this.#next, cb);
    return this.#next++;
  }
  cancelVideoFrameCallback(handle: number): void {
    this.callbacks.delete(handle);
  }
  present(rtpTimestamp: number, now: number): void {
    const pending = [...this.callbacks.values()];
    this.callbacks.clear();
    for (const cb of pending) cb(now, { rtpTimestamp, presentationTime: now, expectedDisplayTime: now + 16, width: 64, height: 48 });
  }
}

sdk('VideoFramePoses pairs answers and presented frames by RTP timestamp whichever comes first, and bounds what waits', () => {
  const frames = new EventEmitter();
  const video = new FakeVideo();
  const matcher = new VideoFramePoses(frames, video, { maxWaiting: 2 });
  const matched: [number, number][] = [];
  matcher.on('frame', ({ frame, presentedAt }) => matched.push([frame.rtpTimestamp!, presentedAt]));
  const answer = (rtpTimestamp: number, time: number): Frame => ({ pose: { ...POSE, time }, eye: 'left', codec: 'h264', width: 64, height: 48, data: new Uint8Array(0), timings: { queueMs: 0, renderMs: 0, readbackMs: 0, encodeMs: 0 }, rtpTimestamp, roundTripMs: 1 });
  frames.emit('frame', answer(3000, 1)); // answer first
  video.present(3000, 10);
  video.present(6000, 20); // frame first
  frames.emit('frame', answer(6000, 2));
  frames.emit('frame', { ...answer(0, 3), codec: 'jpeg', rtpTimestamp: undefined }); // not video: ignored
  assert.equal(matched, [[3000, 10], [6000, 20]]);
  for (const ts of [9000, 12000, 15000]) video.present(ts, ts / 100); // three unanswered, two may wait
  assert.is(matcher.stats.shownWithoutPose, 1);
  frames.emit('frame', answer(15000, 5));
  assert.equal(matched.at(-1), [15000, 150]);
  matcher.close();
  assert.is(video.callbacks.size, 0, 'no frame callback left after close');
});

sdk.run();
