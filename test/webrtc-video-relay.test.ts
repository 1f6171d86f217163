/**
 * RtpRelay on real loopback UDP sockets: a sender standing in for two ffmpeg processes one after
 * the other, the relay, and a receiver standing in for the PlainTransport. The relay's clock is
 * the test's own (explicit), so the timestamps it writes are exact.
 */
import { createSocket, type Socket } from 'node:dgram';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RtpRelay } from '../edge-server/webrtc/video/RtpRelay.js';
import { waitFor } from './support/wait.js';

const PT = 101;
const SSRC = 0xdeadbeef;

interface Received {
  seq: number;
  ts: number;
  ssrc: number;
  marker: boolean;
  pt: number;
  payload: string;
}

interface Ctx {
  relay: RtpRelay;
  sender: Socket;
  receiver: Socket;
  got: Received[];
  now: number;
}

const relay = suite<Ctx>('webrtc video: RtpRelay (continuous RTP across encoder restarts)', {} as Ctx);

function bound(): Promise<Socket> {
  const socket = createSocket('udp4');
  return new Promise((resolve) => socket.bind(0, '127.0.0.1', () => resolve(socket)));
}

relay.before.each(async (ctx) => {
  ctx.got = [];
  ctx.now = 1000;
  ctx.receiver = await bound();
  ctx.receiver.on('message', (m) =>
    ctx.got.push({ seq: m.readUInt16BE(2), ts: m.readUInt32BE(4), ssrc: m.readUInt32BE(8), marker: (m[1]! & 0x80) !== 0, pt: m[1]! & 0x7f, payload: m.subarray(12).toString() }),
  );
  ctx.sender = await bound();
  ctx.relay = await RtpRelay.start({ target: { host: '127.0.0.1', port: ctx.receiver.address().port }, ssrc: SSRC, payloadType: PT, maxPacketBytes: 200, clock: () => ctx.now });
});

relay.after.each((ctx) => {
  ctx.relay.close();
  ctx.sender.close();
  ctx.receiver.close();
});

/** An RTP packet as ffmpeg writes it (version 2, no CSRCs or extension). */
function rtp(seq: number, ts: number, ssrc: number, payload: string, marker = false, pt = PT): Buffer {
  const header = Buffer.alloc(12);
  header[0] = 0x80;
  header[1] = (marker ? 0x80 : 0) | pt;
  header.writeUInt16BE(seq, 2);
  header.writeUInt32BE(ts, 4);
  header.writeUInt32BE(ssrc, 8);
  return Buffer.concat([header, Buffer.from(payload)]);
}

function send(ctx: Ctx, packet: Buffer): void {
  ctx.sender.send(packet, ctx.relay.port, '127.0.0.1');
}

const seqStep = (a: number, b: number) => (b - a + 0x10000) % 0x10000;
const tsStep = (a: number, b: number) => (b - a + 2 ** 32) % 2 ** 32;

relay('an encoder restart continues the sequence, keeps one SSRC, and stamps frames from the clock when they were taken', async (ctx) => {
  // encoder 1: two frames of two packets each, its own SSRC, sequence and timestamp base
  ctx.relay.source(111);
  ctx.relay.frame(1000);
  ctx.relay.frame(1040);
  send(ctx, rtp(65534, 5000, 111, 'a1'));
  send(ctx, rtp(65535, 5000, 111, 'a2', true));
  send(ctx, rtp(0, 8000, 111, 'b1'));
  send(ctx, rtp(1, 8000, 111, 'b2', true));
  await waitFor(() => ctx.got.length === 4, 'the first encoder\'s packets');
  // encoder 2 starts 300 ms later with a sequence and timestamp base of its own (as ffmpeg does)
  ctx.relay.source(222);
  ctx.relay.frame(1340);
  ctx.relay.frame(1373);
  send(ctx, rtp(40000, 123_456_789, 222, 'c1', true));
  send(ctx, rtp(40001, 123_459_789, 222, 'd1'));
  send(ctx, rtp(40002, 123_459_789, 222, 'd2', true));
  await waitFor(() => ctx.got.length === 7, 'the second encoder\'s packets');

  const got = ctx.got;
  assert.equal(got.map((p) => p.payload), ['a1', 'a2', 'b1', 'b2', 'c1', 'd1', 'd2']);
  assert.ok(got.every((p) => p.ssrc === SSRC && p.pt === PT), 'one SSRC and the payload type for the whole track');
  assert.equal(got.map((p) => p.marker), [false, true, false, true, true, false, true], 'marker bits kept');
  for (let i = 1; i < got.length; i++) assert.is(seqStep(got[i - 1]!.seq, got[i]!.seq), 1, `packet ${i} follows packet ${i - 1} (no gap, no jump at the restart)`);
  // packets of one frame share its timestamp; frames are 90 ticks a ms apart by when they were taken
  assert.is(got[0]!.ts, got[1]!.ts);
  assert.is(got[5]!.ts, got[6]!.ts);
  assert.equal([tsStep(got[1]!.ts, got[2]!.ts), tsStep(got[3]!.ts, got[4]!.ts), tsStep(got[4]!.ts, got[5]!.ts)], [40 * 90, 300 * 90, 33 * 90]);
  assert.equal(ctx.relay.stats.frames, 4);
});

relay('a gap inside one encoder\'s stream stays a gap (the receiver NACKs it); timestamps never go back', async (ctx) => {
  ctx.relay.source(7);
  ctx.relay.frame(1000);
  // a frame time older than the last frame's (queued before a restart): still after it on the wire
  ctx.relay.frame(990);
  send(ctx, rtp(10, 0, 7, 'x', true));
  send(ctx, rtp(12, 3000, 7, 'y', true));
  // no frame time queued: the relay's clock at arrival
  ctx.now = 2000;
  send(ctx, rtp(13, 6000, 7, 'z', true));
  await waitFor(() => ctx.got.length === 3, 'three packets');
  assert.equal([seqStep(ctx.got[0]!.seq, ctx.got[1]!.seq), seqStep(ctx.got[1]!.seq, ctx.got[2]!.seq)], [2, 1]);
  assert.equal([tsStep(ctx.got[0]!.ts, ctx.got[1]!.ts), tsStep(ctx.got[1]!.ts, ctx.got[2]!.ts)], [1, 1000 * 90 - 1]);
});

relay('what is not the current encoder\'s RTP is dropped and counted; the stream goes on', async (ctx) => {
  ctx.relay.source(1);
  ctx.relay.frame();
  send(ctx, rtp(1, 100, 1, 'first', true));
  await waitFor(() => ctx.got.length === 1, 'the first packet');
  ctx.relay.source(2);
  send(ctx, rtp(2, 100, 1, 'straggler of the finished encoder', true));
  const badVersion = rtp(3, 200, 2, 'v1');
  badVersion[0] = 0x40;
  send(ctx, badVersion);
  send(ctx, Buffer.from([0x80, PT, 0, 1]));
  const longHeader = rtp(4, 200, 2, 'cc');
  longHeader[0] = 0x8f; // 15 CSRCs announced, none there
  send(ctx, longHeader);
  send(ctx, rtp(5, 200, 2, 'x'.repeat(300)));
  // RTCP (a receiver report, type 201) on the same port
  send(ctx, rtp(6, 200, 2, 'rtcp', false, 201 & 0x7f));
  send(ctx, rtp(7, 200, 2, 'last', true));
  // datagrams from one socket arrive in order: the good one last means the bad ones were judged
  await waitFor(() => ctx.got.length === 2, 'the packet after the bad ones');
  assert.is(ctx.got[1]!.payload, 'last');
  assert.is(seqStep(ctx.got[0]!.seq, ctx.got[1]!.seq), 1);
  assert.equal(ctx.relay.stats.dropped, { malformed: 3, tooBig: 1, payloadType: 1, source: 1, address: 0, stale: 0 });
  assert.is(ctx.relay.stats.forwarded, 2);
});

relay('stamp: sent uses the clock when a frame\'s first packet arrives, fps steps 1/fps; both continue across a restart', async (ctx) => {
  for (const [stamp, expected] of [['sent', [500 * 90, 700 * 90]], ['fps', [3000, 3000]]] as const) {
    const relay = await RtpRelay.start({ target: { host: '127.0.0.1', port: ctx.receiver.address().port }, ssrc: SSRC, payloadType: PT, maxPacketBytes: 200, clock: () => ctx.now, stamp, fps: 30 });
    try {
      ctx.got = [];
      relay.source(1);
      relay.frame(0); // taken long before: 'sent' and 'fps' ignore it
      ctx.now = 1000;
      ctx.sender.send(rtp(1, 0, 1, 'a', true), relay.port, '127.0.0.1');
      await waitFor(() => ctx.got.length === 1, `${stamp}: the first frame`);
      ctx.now = 1500;
      relay.frame(0);
      ctx.sender.send(rtp(2, 3000, 1, 'b', true), relay.port, '127.0.0.1');
      await waitFor(() => ctx.got.length === 2, `${stamp}: the second frame`);
      ctx.now = 2200;
      relay.source(2);
      relay.frame(0);
      ctx.sender.send(rtp(900, 77, 2, 'c', true), relay.port, '127.0.0.1');
      await waitFor(() => ctx.got.length === 3, `${stamp}: the restarted encoder's frame`);
      assert.equal([tsStep(ctx.got[0]!.ts, ctx.got[1]!.ts), tsStep(ctx.got[1]!.ts, ctx.got[2]!.ts)], expected, stamp);
      assert.equal([seqStep(ctx.got[0]!.seq, ctx.got[1]!.seq), seqStep(ctx.got[1]!.seq, ctx.got[2]!.seq)], [1, 1], stamp);
    } finally {
      relay.close();
    }
  }
});

relay('the relay listens on loopback only', (ctx) => {
  assert.is(ctx.relay.host, '127.0.0.1');
});

relay.run();
