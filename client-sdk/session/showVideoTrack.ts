/**
 * Puts a WebRTC video track (`session.openVideo()`, or a `videotrack` event's after failover) in
 * a `<video>` and starts it: the one place the SDK, its benches and its browser tests do this.
 *
 *   const video = showVideoTrack(await session.openVideo());
 *   session.on('videotrack', (track) => showVideoTrack(track, video));
 *   new VideoFramePoses(session, video).on('frame', ({ frame }) => …);
 *
 * Muted, because browsers start media without a user gesture only when it is muted (the track has
 * no audio anyway); inline, because iOS Safari would otherwise play it full screen. An element not
 * in the document is appended to `parent` (default `document.body`): Chromium presents frames
 * (and runs requestVideoFrameCallback) for elements in a document; an app that draws the frames
 * itself hides it with CSS (opacity 0), not `display: none`. Browser-only.
 */
export function showVideoTrack(track: MediaStreamTrack, video?: HTMLVideoElement, parent?: HTMLElement): HTMLVideoElement {
  const element = video ?? document.createElement('video');
  element.muted = true;
  element.playsInline = true;
  element.srcObject = new MediaStream([track]);
  if (!element.isConnected) (parent ?? document.body).append(element);
  // a muted inline video is always allowed to play; should a browser refuse anyway, say why
  element.play().catch((error: Error) => console.warn(`edge-offload: the video track does not play (${error.name}: ${error.message})`));
  return element;
}
