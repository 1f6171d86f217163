/**
 * The page `bench webrtc-video` drives in Chromium: `window.runVideo(...)` opens a session (WebRTC
 * for h264, ws for jpeg) whose ICE candidates are rewritten to netem UDP proxies the bench starts
 * (`window.proxyFor`, exposed by playwright), uploads the scene, then asks for one frame per tick
 * of `fps` (never two in flight, as FrameStream does) with the head turning, and records when each
 * frame was asked and when it was shown.
 */
export interface PageRun {
  error?: string;
  startedAt: number;
  endedAt: number;
  wallMs: number;
  records: PageRecord[];
  /**
   * H.264: Chromium's inbound-rtp video stats (getStats) after the warm-up frames and at the end:
   * jitter buffer delay per emitted frame, its target, frames dropped, keyframes, NACKs, PLIs.
   */
  receiver?: { afterWarmup?: ReceiverStats; end?: ReceiverStats };
}

export interface ReceiverStats {
  jitterBufferDelay?: number;
  jitterBufferEmittedCount?: number;
  jitterBufferTargetDelay?: number;
  jitterBufferMinimumDelay?: number;
  framesDecoded?: number;
  framesDropped?: number;
  keyFramesDecoded?: number;
  nackCount?: number;
  pliCount?: number;
  firCount?: number;
  packetsLost?: number;
  totalInterFrameDelay?: number;
  totalProcessingDelay?: number;
  jitter?: number;
}

/**
 * One frame's way, page clock (performance.now()) except `timings` (node-side durations):
 * asked → answered (the `frame` answer; for H.264 sent once its packets reached the router) →
 * received (H.264: the frame's last packet, requestVideoFrameCallback's receiveTime) → decoded
 * (H.264: + processingDuration; JPEG: createImageBitmap resolved) → shown (handed to the
 * compositor: H.264 requestVideoFrameCallback's presentationTime, JPEG the animation frame after drawImage).
 */
export interface PageRecord {
  i: number;
  sentAt: number;
  answeredAt?: number;
  receivedAt?: number;
  decodedAt?: number;
  shownAt?: number;
  /** H.264: when requestVideoFrameCallback ran for the frame (a frame or more after shownAt). */
  callbackAt?: number;
  timings?: { queueMs: number; renderMs: number; readbackMs: number; encodeMs: number };
  error?: string;
}

export function videoPage(): string {
  return `<!doctype html>
<canvas id="c" width="640" height="360"></canvas>
<script type="module">
import { connect, browserPeers, showVideoTrack, VideoFramePoses } from '/edge-offload-client.js';

async function rewrite(sdp) {
  const lines = [];
  for (const line of sdp.split('\\r\\n')) {
    const m = /^a=candidate:(\\S+) 1 udp (\\d+) (\\S+) (\\d+) typ host/.exec(line);
    if (!m) { lines.push(line); continue; }
    const port = await window.proxyFor(m[3], Number(m[4]));
    lines.push(line.replace(m[3] + ' ' + m[4], '127.0.0.1 ' + port));
  }
  return lines.join('\\r\\n');
}

window.runVideo = async (url, codec, glbBase64, camera, frames, warmup, fps) => {
  const wallStart = performance.now();
  try {
    // every peer connection the SDK makes, for getStats
    const pcs = [];
    class TrackedPeerConnection extends RTCPeerConnection {
      constructor(config) { super(config); pcs.push(this); }
    }
    const receiverStats = async () => {
      for (const pc of pcs) {
        for (const s of (await pc.getStats()).values()) {
          if (s.type !== 'inbound-rtp' || s.kind !== 'video') continue;
          const keys = ['jitterBufferDelay', 'jitterBufferEmittedCount', 'jitterBufferTargetDelay', 'jitterBufferMinimumDelay', 'framesDecoded', 'framesDropped', 'keyFramesDecoded', 'nackCount', 'pliCount', 'firCount', 'packetsLost', 'totalInterFrameDelay', 'totalProcessingDelay', 'jitter'];
          return Object.fromEntries(keys.filter((k) => s[k] !== undefined).map((k) => [k, s[k]]));
        }
      }
      return undefined;
    };
    const receiver = {};
    const base = browserPeers(TrackedPeerConnection);
    const rtcPeers = () => {
      const peer = base();
      return { ...peer, answer: async (sdp) => peer.answer(await rewrite(sdp)), receiveVideo: async (sdp, ms) => peer.receiveVideo(await rewrite(sdp), ms) };
    };
    const session = await connect(url, { pingIntervalMs: 0, transport: codec === 'h264' ? 'webrtc' : 'ws', rtcPeers, requestTimeoutMs: 30000, rtcConnectTimeoutMs: 20000 });
    await session.uploadScene('bench', Uint8Array.from(atob(glbBase64), (c) => c.charCodeAt(0)));
    const records = [];
    const byTime = new Map();
    let poses;
    if (codec === 'h264') {
      const video = showVideoTrack(await session.openVideo({ timeoutMs: 20000 }));
      poses = new VideoFramePoses(session, video);
      poses.on('frame', ({ frame, metadata, presentedAt }) => {
        const r = byTime.get(frame.pose.time);
        if (!r || r.shownAt !== undefined) return;
        // shown = handed to the compositor (presentationTime), as the JPEG path's shownAt is (the
        // animation frame after drawImage); the callback itself runs a frame or more after that
        r.shownAt = metadata.presentationTime ?? presentedAt;
        r.callbackAt = presentedAt;
        if (metadata.receiveTime !== undefined) {
          r.receivedAt = metadata.receiveTime;
          if (metadata.processingDuration !== undefined) r.decodedAt = metadata.receiveTime + metadata.processingDuration * 1000;
        }
      });
    }
    const ctx = document.getElementById('c').getContext('2d');
    let inFlight = false;
    let startedAt = 0;
    const period = 1000 / fps;
    let next = performance.now();
    for (let i = 0; i < warmup + frames; ) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())));
      next += period;
      if (inFlight) continue;
      if (i === warmup) {
        startedAt = performance.now();
        if (codec === 'h264') receiver.afterWarmup = await receiverStats();
      }
      const yaw = 20 * Math.sin(i * 0.1);
      const pose = { device: 'head', time: i + 1, position: [0, 1.6, 0], orientation: [0, Math.sin((yaw * Math.PI) / 360), 0, Math.cos((yaw * Math.PI) / 360)] };
      const r = { i, sentAt: performance.now() };
      if (i >= warmup) records.push(r);
      byTime.set(pose.time, r);
      inFlight = true;
      i++;
      session.render({ pose, eye: 'left', camera, codec, scene: 'bench', quality: 80 }).then(async (frame) => {
        r.answeredAt = performance.now();
        r.timings = frame.timings;
        if (codec === 'jpeg') {
          const bitmap = await createImageBitmap(new Blob([frame.data], { type: 'image/jpeg' }));
          r.decodedAt = performance.now();
          ctx.drawImage(bitmap, 0, 0);
          await new Promise((resolve) => requestAnimationFrame(resolve));
          r.shownAt = performance.now();
        }
      }, (error) => (r.error = error.code || String(error))).finally(() => (inFlight = false));
    }
    const endedAt = performance.now();
    // frames still on their way get a moment to show
    await new Promise((resolve) => setTimeout(resolve, 1000));
    if (codec === 'h264') receiver.end = await receiverStats();
    poses?.close();
    session.close();
    return { startedAt, endedAt, wallMs: performance.now() - wallStart, records, receiver };
  } catch (error) {
    return { error: String((error && error.stack) || error) + ' code=' + (error && error.code), startedAt: 0, endedAt: 0, wallMs: 0, records: [] };
  }
};
</script>`;
}
