// The edge-offload viewer: streams the head pose to the nearest node (found through discovery),
// shows the edge-rendered stereo frames, and warps each one on the GPU to the newest local pose
// right before it is drawn (rotation-only timewarp, client-sdk/reproject.ts's homography).
//
// URL parameters: discovery=URL (required), lat=&lon= (where the user is), size=per-eye pixels
// (256), fov=degrees (90), budget=ms (20), control=PATH (demo endpoints for the kill/restart
// buttons), video=h264 (frames as the node's H.264 WebRTC track instead of JPEG over the session
// socket: the nodes need --webrtc and ffmpeg; JPEG whenever the node has no track).
// `window.viewer` exposes state and a few controls for tests and the console.
import { DiscoveryLocator, FrameStream, openSession, reproject, showVideoTrack, VideoFramePoses } from './edge-offload-client.js';

const params = new URLSearchParams(location.search);
// even: H.264's 4:2:0 frames need even sides (the stereo frame is 2·SIZE × SIZE)
const SIZE = clampInt(params.get('size'), 256, 16, 2048) & ~1;
const FOV = clampInt(params.get('fov'), 90, 20, 150);
const BUDGET_MS = clampInt(params.get('budget'), 20, 1, 10_000);
const WANT_VIDEO = params.get('video') === 'h264';
const EYE_HEIGHT = 1.6;
const $ = (id) => document.getElementById(id);

const state = {
  tier: 'connecting', reason: '', nodeId: null, frames: 0, errors: 0, draws: 0,
  /** Last frame shown: its pose (what it was rendered at), codec and bytes (JPEG; null for H.264). */
  lastFrame: null,
  /** How frames come now: 'jpeg', or 'h264' while the node's video track is open. */
  codec: 'jpeg',
  /** H.264 frames shown (matched to their pose by RTP timestamp). */
  videoFrames: 0,
  /** Orientation the last draw warped to. */
  displayedOrientation: null,
  latencies: [],
  frozen: false,
};
/** Head orientation from drag/keys (radians); WebXR replaces it when a session runs. */
const head = { yaw: 0, pitch: 0, xrOrientation: null };

function clampInt(raw, fallback, min, max) {
  const n = Number(raw);
  return raw !== null && Number.isFinite(n) ? Math.min(max, Math.max(min, Math.round(n))) : fallback;
}

function status(text) {
  $('status').textContent = text;
}

/** Quaternion [x, y, z, w] of yaw about +y then pitch about +x (camera looks down −z). */
function orientationOf(yaw, pitch) {
  const cy = Math.cos(yaw / 2), sy = Math.sin(yaw / 2), cp = Math.cos(pitch / 2), sp = Math.sin(pitch / 2);
  return [cy * sp, sy * cp, -sy * sp, cy * cp];
}

function currentOrientation() {
  return head.xrOrientation ?? orientationOf(head.yaw, head.pitch);
}

function currentPose() {
  return { device: 'head', time: Math.round(performance.now() * 1000), position: [0, EYE_HEIGHT, 0], orientation: currentOrientation() };
}

// ---- input: drag and arrow keys --------------------------------------------------------------
const view = $('view');
view.width = 2 * SIZE;
view.height = SIZE;
let drag = null;
view.addEventListener('pointerdown', (e) => { drag = { x: e.clientX, y: e.clientY }; view.setPointerCapture(e.pointerId); view.focus(); });
view.addEventListener('pointerup', () => { drag = null; });
view.addEventListener('pointermove', (e) => {
  if (!drag) return;
  const radPerPx = (FOV * Math.PI) / 180 / SIZE;
  // dragging the world right turns the head left (+yaw)
  head.yaw += (e.clientX - drag.x) * radPerPx;
  head.pitch = Math.max(-1.4, Math.min(1.4, head.pitch + (e.clientY - drag.y) * radPerPx));
  drag = { x: e.clientX, y: e.clientY };
});
view.addEventListener('keydown', (e) => {
  const step = (3 * Math.PI) / 180;
  const turns = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
  const turn = turns[e.key];
  if (!turn) return;
  head.yaw += turn[0];
  head.pitch = Math.max(-1.4, Math.min(1.4, head.pitch + turn[1]));
  e.preventDefault();
});

// ---- GPU warp: WebGL2, one full-screen triangle, a homography per eye -------------------------
const gl = view.getContext('webgl2', { preserveDrawingBuffer: true, antialias: false });
if (!gl) throw new Error('this browser has no WebGL2; the viewer needs it for reprojection');
const program = linkProgram(gl, `#version 300 es
  void main() {
    vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
  }`, `#version 300 es
  precision highp float;
  uniform sampler2D frame;
  uniform mat3 displayToRender; // display pixel -> rendered pixel, one eye, top-left origin
  uniform vec2 eyeSize;         // per-eye pixels of the display and of the frame
  uniform vec2 frameEyeSize;
  uniform float viewHeight;
  uniform int hasFrame;
  out vec4 color;
  void main() {
    vec2 px = vec2(gl_FragCoord.x, viewHeight - gl_FragCoord.y); // top-left origin, centres at +0.5
    float eye = floor(px.x / eyeSize.x);
    vec2 local = vec2(px.x - eye * eyeSize.x, px.y) * (frameEyeSize / eyeSize);
    vec3 q = displayToRender * vec3(local, 1.0);
    vec2 src = q.xy / q.z;
    if (hasFrame == 0 || q.z <= 0.0 || any(lessThan(src, vec2(0.0))) || any(greaterThanEqual(src, frameEyeSize))) {
      color = vec4(0.0, 0.0, 0.0, 1.0);
      return;
    }
    color = texture(frame, vec2((src.x + eye * frameEyeSize.x) / (2.0 * frameEyeSize.x), src.y / frameEyeSize.y));
  }`);
const uniforms = Object.fromEntries(['frame', 'displayToRender', 'eyeSize', 'frameEyeSize', 'viewHeight', 'hasFrame'].map((n) => [n, gl.getUniformLocation(program, n)]));
const texture = gl.createTexture();
gl.bindTexture(gl.TEXTURE_2D, texture);
for (const [k, v] of [[gl.TEXTURE_MIN_FILTER, gl.LINEAR], [gl.TEXTURE_MAG_FILTER, gl.LINEAR], [gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE], [gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE]]) gl.texParameteri(gl.TEXTURE_2D, k, v);
gl.bindVertexArray(gl.createVertexArray());
/** The frame on the texture: its render orientation and per-eye size. */
let shown = null;

function linkProgram(gl, vs, fs) {
  const p = gl.createProgram();
  for (const [type, source] of [[gl.VERTEX_SHADER, vs], [gl.FRAGMENT_SHADER, fs]]) {
    const s = gl.createShader(type);
    gl.shaderSource(s, source);
    gl.compileShader(s);
    if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s) ?? 'shader compile failed');
    gl.attachShader(p, s);
  }
  gl.linkProgram(p);
  if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(p) ?? 'link failed');
  return p;
}

/** Draws the newest frame warped from its render orientation to `displayOrientation`. */
function draw(displayOrientation, target = null, viewport = [0, 0, view.width, view.height]) {
  gl.bindFramebuffer(gl.FRAMEBUFFER, target);
  gl.viewport(...viewport);
  gl.useProgram(program);
  gl.uniform1i(uniforms.frame, 0);
  gl.uniform1f(uniforms.viewHeight, viewport[3]);
  gl.uniform2f(uniforms.eyeSize, viewport[2] / 2, viewport[3]);
  gl.uniform1i(uniforms.hasFrame, shown ? 1 : 0);
  if (shown) {
    gl.uniform2f(uniforms.frameEyeSize, shown.eyeWidth, shown.height);
    const h = reproject.displayToRenderHomography(shown.orientation, displayOrientation, { fovY: FOV, width: shown.eyeWidth, height: shown.height });
    // row-major → GLSL's column-major
    gl.uniformMatrix3fv(uniforms.displayToRender, true, new Float32Array(h));
  }
  gl.drawArrays(gl.TRIANGLES, 0, 3);
  state.draws++;
  state.displayedOrientation = displayOrientation;
}

// ---- HUD -----------------------------------------------------------------------------------
const chart = $('chart').getContext('2d');
let fpsWindow = { start: performance.now(), frames: 0 };
let lastPoseToPhoton = null;
function hud(session) {
  const tierEl = $('tier');
  tierEl.dataset.tier = state.tier;
  tierEl.textContent = state.reason ? `${state.tier} (${state.reason})` : state.tier;
  $('node').textContent = state.nodeId ?? '–';
  $('codec').textContent = state.codec === 'h264' ? 'H.264 video track (WebRTC)' : 'JPEG (session socket)';
  const rtt = session?.rtt();
  $('rtt').textContent = rtt && rtt.count > 0 ? `${rtt.p50.toFixed(1)} / ${rtt.p99.toFixed(1)} ms` : '–';
  $('m2p').textContent = lastPoseToPhoton === null ? '–' : `${lastPoseToPhoton.toFixed(1)} ms rendered, ~1 display frame after warp`;
  $('pose').textContent = `${((head.yaw * 180) / Math.PI).toFixed(1)}°, ${((head.pitch * 180) / Math.PI).toFixed(1)}°`;
  const now = performance.now();
  if (now - fpsWindow.start >= 1000) {
    $('fps').textContent = ((fpsWindow.frames * 1000) / (now - fpsWindow.start)).toFixed(1);
    fpsWindow = { start: now, frames: 0 };
  }
  const { width, height } = chart.canvas;
  chart.clearRect(0, 0, width, height);
  const values = state.latencies;
  const top = Math.max(50, ...values);
  chart.strokeStyle = '#555';
  chart.beginPath();
  const y20 = height - (20 / top) * height; // the 20 ms motion-to-photon budget
  chart.moveTo(0, y20);
  chart.lineTo(width, y20);
  chart.stroke();
  chart.strokeStyle = state.tier === 'edge' ? '#6c6' : '#fc6';
  chart.beginPath();
  values.forEach((v, i) => chart[i ? 'lineTo' : 'moveTo']((i / 119) * width, height - (v / top) * height));
  chart.stroke();
  chart.fillStyle = '#aaa';
  chart.fillText(`frame latency, ms (max ${top.toFixed(0)}; line = 20)`, 4, 10);
}

// ---- session, frames, loop --------------------------------------------------------------------
async function main() {
  const discovery = params.get('discovery');
  if (!discovery) throw new Error('add ?discovery=https://your-discovery:7070 to the URL');
  const lat = Number(params.get('lat')), lon = Number(params.get('lon'));
  const locator = new DiscoveryLocator({ url: discovery, ...(params.has('lat') && params.has('lon') ? { location: { lat, lon } } : {}) });
  const session = await openSession({ locator, budgetMs: BUDGET_MS });
  state.tier = session.tier;
  state.nodeId = session.nodeId ?? null;
  session.on('tier', (tier, reason) => {
    state.tier = tier;
    state.reason = reason;
    state.nodeId = session.nodeId ?? null;
  });
  // each request asks for the codec of the moment: h264 while a video track shows, jpeg otherwise
  const stream = new FrameStream((request) => session.render({ ...request, codec: state.codec }), { camera: { fovY: FOV, ipd: 0.064, width: SIZE, height: SIZE }, eye: 'both' });
  /** Puts a shown frame (an ImageBitmap or the <video>) on the warp's texture. */
  const upload = (frame, image, width, height, latencyMs) => {
    state.frames++;
    fpsWindow.frames++;
    state.nodeId = session.nodeId ?? state.nodeId;
    state.latencies.push(latencyMs);
    if (state.latencies.length > 120) state.latencies.shift();
    state.lastFrame = { pose: frame.pose, codec: frame.codec, width, height, data: frame.codec === 'jpeg' ? frame.data : null };
    gl.bindTexture(gl.TEXTURE_2D, texture);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, image);
    shown = { orientation: frame.pose.orientation, eyeWidth: width / 2, height, poseTimeMs: frame.pose.time / 1000 };
  };
  stream.on('frame', async (frame, timing) => {
    // an H.264 answer carries the pose and RTP timestamp; its picture comes on the track (below)
    if (frame.codec !== 'jpeg') return;
    const bitmap = await createImageBitmap(new Blob([frame.data], { type: 'image/jpeg' }));
    upload(frame, bitmap, frame.width, frame.height, timing.latencyMs);
    bitmap.close();
  });
  stream.on('error', (error) => {
    state.errors++;
    // the track is gone (failover to a node without video, or the new node's track not open yet): jpeg until a `videotrack`
    if (error.code === 'VIDEO_UNAVAILABLE') state.codec = 'jpeg';
    status(`frame failed: ${error.code ?? ''} ${error.message}`);
  });
  if (WANT_VIDEO) await startVideo(session, upload);
  window.viewer.session = session;
  window.viewer.stream = stream;

  const tick = () => {
    const pose = currentPose();
    session.sendPose(pose);
    if (!state.frozen) stream.update(pose);
    // the newest local pose, at display time: the warp makes up for the frame's age
    draw(pose.orientation);
    if (shown) lastPoseToPhoton = performance.now() - shown.poseTimeMs;
    hud(session);
    if (!xrSession) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  window.viewer.ready = true;
}

/**
 * ?video=h264: the node's H.264 track in a hidden <video>; each frame the browser presents is
 * matched to the pose it was rendered at (RTP timestamp) and uploaded to the warp's texture.
 */
async function startVideo(session, upload) {
  const video = document.createElement('video');
  // hidden but in the document: Chromium presents frames (and calls back) only for such elements
  video.style.cssText = 'position:absolute;width:1px;height:1px;opacity:0;pointer-events:none';
  const show = (track) => {
    showVideoTrack(track, video);
    state.codec = 'h264';
    status('');
  };
  new VideoFramePoses(session, video).on('frame', ({ frame, metadata, presentedAt }) => {
    state.videoFrames++;
    upload(frame, video, metadata.width, metadata.height, presentedAt - frame.pose.time / 1000);
  });
  session.on('videotrack', (track) => show(track));
  session.on('videolost', (error) => {
    state.codec = 'jpeg';
    status(`video: ${error.code}: ${error.message}; showing JPEG`);
  });
  try {
    show(await session.openVideo({ timeoutMs: 10_000 }));
  } catch (error) {
    status(`video: ${error.code ?? error.name}: ${error.message}; showing JPEG`);
  }
}

// ---- WebXR: the headset's viewer pose drives the stream and the warp -------------------------
let xrSession = null;
async function offerXr() {
  if (!navigator.xr || !(await navigator.xr.isSessionSupported('immersive-vr').catch(() => false))) return;
  const button = $('enter-xr');
  button.hidden = false;
  button.onclick = async () => {
    xrSession = await navigator.xr.requestSession('immersive-vr');
    await gl.makeXRCompatible();
    const layer = new XRWebGLLayer(xrSession, gl);
    xrSession.updateRenderState({ baseLayer: layer });
    const space = await xrSession.requestReferenceSpace('local');
    const onXrFrame = (_t, xrFrame) => {
      const viewerPose = xrFrame.getViewerPose(space);
      if (viewerPose) {
        const o = viewerPose.transform.orientation;
        head.xrOrientation = [o.x, o.y, o.z, o.w];
        const pose = currentPose();
        window.viewer.session?.sendPose(pose);
        window.viewer.stream?.update(pose);
        draw(pose.orientation, layer.framebuffer, [0, 0, layer.framebufferWidth, layer.framebufferHeight]);
      }
      xrSession.requestAnimationFrame(onXrFrame);
    };
    xrSession.requestAnimationFrame(onXrFrame);
    xrSession.addEventListener('end', () => {
      xrSession = null;
      head.xrOrientation = null;
    });
  };
}

// ---- demo controls ------------------------------------------------------------------------------
function demoButtons() {
  const control = params.get('control');
  if (!control) return;
  for (const [id, action] of [['kill-edge', 'kill-edge'], ['start-edge', 'start-edge']]) {
    const button = $(id);
    button.hidden = false;
    button.onclick = async () => {
      button.disabled = true;
      try {
        const res = await fetch(`${control}/${action}`, { method: 'POST' });
        status(res.ok ? '' : `${action}: HTTP ${res.status} ${(await res.text()).trim()}`);
      } finally {
        button.disabled = false;
      }
    };
  }
}

window.viewer = {
  state,
  ready: false,
  session: null,
  /** Sets the head orientation (degrees), as a drag would. */
  setHead(yawDeg, pitchDeg = 0) {
    head.yaw = (yawDeg * Math.PI) / 180;
    head.pitch = (pitchDeg * Math.PI) / 180;
  },
  /** Stops asking for new frames (the last one stays and keeps being warped to the live pose). */
  freeze(on = true) {
    state.frozen = on;
  },
};
demoButtons();
void offerXr();
main().catch((error) => {
  state.tier = 'failed';
  status(`${error.code ?? error.name}: ${error.message}`);
  window.viewer.error = String(error.stack ?? error);
});
