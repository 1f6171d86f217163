/**
 * Video survives failover, in headless Chromium: a page on an edge (renderer, mediasoup worker,
 * ffmpeg) shows the node's H.264 track in a <video> and matches its frames to their poses
 * (VideoFramePoses); the edge goes away; the session moves to its cloud standby, the SDK opens the
 * cloud's track by itself and hands it over (`videotrack`), and the same <video> and matcher keep
 * showing frames, now rendered by the cloud. A cloud that sends no video (no ffmpeg) is said with
 * `videolost` VIDEO_UNAVAILABLE instead, and JPEG frames keep coming from it through render().
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebRtcEngineHost } from '../bench/lib/webrtcRenderEdge.js';
import { openSdkPage } from '../bench/lib/chromium.js';
import { ErrorCode } from '../protocol/index.js';
import { testTimeout } from './support/wait.js';
import type { VideoOptions } from '../edge-server/webrtc/video/videoOptions.js';

const CAMERA = { fovY: 90, ipd: 0.064, width: 160, height: 120 };

interface PageState {
  failed: string[];
  tiers: string[];
  /** Node ids of the frames the <video> showed, matched to their render answers, in order. */
  shown: string[];
  /** Node ids of the JPEG frames render() answered. */
  jpeg: string[];
  videotracks: string[];
  lost: string[];
  standby: boolean;
}

/** The page: openSession on the edge, video on, then one frame asked every 33 ms (h264 while a track is shown, jpeg otherwise). */
function pageScript(edgeUrl: string, cloudUrl: string): string {
  return `
import { openSession, showVideoTrack, StaticLocator, VideoFramePoses } from '/edge-offload-client.js';
const state = window.state = { failed: [], tiers: [], shown: [], jpeg: [], videotracks: [], lost: [], standby: false };
try {
  const locator = new StaticLocator({ edge: [{ id: 'video-edge', url: ${JSON.stringify(edgeUrl)}, tier: 'edge' }], cloud: [{ id: 'video-cloud', url: ${JSON.stringify(cloudUrl)}, tier: 'cloud' }] });
  // the subject is node loss, not latency: a budget no busy loopback misses, and pings patient
  // enough that an edge busy rendering and encoding is not taken for lost (a closed socket is
  // seen at once); with 50 ms pings the session left the edge before the test closed it
  const session = window.session = await openSession({ locator, budgetMs: 2000, pingIntervalMs: 2000, requestTimeoutMs: 30000 });
  state.tiers.push(session.tier);
  session.on('tier', (tier, reason) => state.tiers.push(tier + ':' + reason));
  let codec = 'h264';
  const video = showVideoTrack(await session.openVideo({ timeoutMs: 20000 }));
  const show = (track) => {
    showVideoTrack(track, video);
    codec = 'h264';
  };
  session.on('videotrack', (track, nodeId) => {
    state.videotracks.push(nodeId);
    show(track);
  });
  session.on('videolost', (error) => {
    state.lost.push(error.code);
    codec = 'jpeg';
  });
  // which node answered each render, by pose time: a shown frame is counted for that node
  const answeredBy = new Map();
  const poses = new VideoFramePoses(session, video);
  poses.on('frame', ({ frame }) => state.shown.push(answeredBy.get(frame.pose.time)));
  let i = 0;
  let inFlight = false;
  window.timer = setInterval(() => {
    state.standby = Boolean(session.failover && session.failover.standbyNode);
    if (inFlight) return;
    inFlight = true;
    const time = ++i;
    const yaw = 10 * Math.sin(time * 0.2);
    const pose = { device: 'head', time, position: [0, 1.6, 0], orientation: [0, Math.sin((yaw * Math.PI) / 360), 0, Math.cos((yaw * Math.PI) / 360)] };
    const asked = codec;
    const node = session.nodeId;
    answeredBy.set(time, node);
    session.render({ pose, eye: 'left', camera: ${JSON.stringify(CAMERA)}, codec: asked }).then(
      () => { if (asked === 'jpeg') state.jpeg.push(node); },
      // a frame asked while the session moves, or before the new track is open, fails: not the subject
      () => {},
    ).finally(() => (inFlight = false));
  }, 33);
} catch (error) {
  state.failed.push(String((error && error.stack) || error) + ' code=' + (error && error.code));
}
`;
}

async function readState(tab: Awaited<ReturnType<typeof openSdkPage>>['tab']): Promise<PageState> {
  return tab.evaluate(() => (window as unknown as { state: PageState }).state);
}

/** Waits until the page's state passes `check` (or reports a failure), failing loudly after `timeoutMs`. */
async function waitForState(tab: Awaited<ReturnType<typeof openSdkPage>>['tab'], check: string, timeoutMs: number): Promise<PageState> {
  try {
    await tab.waitForFunction(`(() => { const s = window.state; return s && (s.failed.length > 0 || (${check})); })()`, undefined, { timeout: timeoutMs, polling: 100 });
  } catch (err) {
    throw new Error(`the page never reached ${check}: ${JSON.stringify(await readState(tab).catch(() => undefined))} (${String(err)})`);
  }
  const state = await readState(tab);
  assert.equal(state.failed, [], 'the page failed');
  return state;
}

const test = suite('video survives failover in a browser');

/**
 * A video edge and a cloud (with video, or none: `false`), the page streaming from the edge with
 * the cloud standing by; then the edge goes away and `afterLoss` checks what the page does.
 */
async function edgeGoesAway(cloudVideo: VideoOptions | false, afterLoss: (tab: Awaited<ReturnType<typeof openSdkPage>>['tab']) => Promise<void>): Promise<void> {
  const edge = await WebRtcEngineHost.start({}, {}, { nodeId: 'video-edge', tier: 'edge' });
  const cloud = await WebRtcEngineHost.start(cloudVideo, {}, { nodeId: 'video-cloud', tier: 'cloud' }).catch(async (err) => {
    await edge.close();
    throw err;
  });
  let page: Awaited<ReturnType<typeof openSdkPage>> | undefined;
  try {
    page = await openSdkPage(pageScript(edge.url, cloud.url));
    // frames shown from the edge, with the cloud standing by
    await waitForState(page.tab, `s.standby && s.shown.filter((n) => n === 'video-edge').length >= 3`, testTimeout(60_000));
    await edge.close();
    await afterLoss(page.tab);
  } finally {
    await page?.tab.evaluate(() => {
      const w = window as unknown as { timer?: number; session?: { close(): void } };
      clearInterval(w.timer);
      w.session?.close();
    }).catch(() => {});
    await page?.close();
    await Promise.all([edge.close(), cloud.close()]);
  }
}

test('the edge goes away: the same <video> keeps showing frames, now from the cloud, without the app reopening video', () =>
  edgeGoesAway({}, async (tab) => {
    const after = await waitForState(tab, `s.shown.filter((n) => n === 'video-cloud').length >= 3`, testTimeout(60_000));
    assert.ok(after.tiers.includes('cloud:node-lost'), `tiers ${after.tiers.join(', ')}`);
    assert.is(after.videotracks.at(-1), 'video-cloud', `the SDK handed over the cloud track (tracks: ${after.videotracks.join(', ')})`);
    assert.equal(after.lost, [], 'no videolost: the cloud sends video');
    assert.equal(after.jpeg, [], 'the page never had to fall back to jpeg');
  }));

test('a cloud that sends no video: videolost VIDEO_UNAVAILABLE, and JPEG frames keep coming from it through render()', () =>
  edgeGoesAway(false, async (tab) => {
    const after = await waitForState(tab, `s.jpeg.filter((n) => n === 'video-cloud').length >= 3`, testTimeout(60_000));
    assert.ok(after.tiers.includes('cloud:node-lost'), `tiers ${after.tiers.join(', ')}`);
    assert.equal(after.lost, [ErrorCode.VIDEO_UNAVAILABLE]);
    assert.equal(after.videotracks, []);
  }));

test.run();
