/**
 * Opens a connection's WebRTC video track: waits for its data path (the upgrade runs in the
 * background after `welcome`), then adds the edge's H.264 track to that peer connection.
 * Rejects with a RequestError VIDEO_UNAVAILABLE, saying why, when the node sends no video (no
 * `video` capability: no ffmpeg, no renderer), when the session stayed on ws (ICE failed,
 * `transport: 'ws'`), or when the platform cannot decode it (Node); the app then renders jpeg.
 */
import { ErrorCode, RequestError } from '../../protocol/index.js';
import type { RtcDataPath } from '../transport/RtcDataPath.js';
import type { NodeConnection } from './NodeConnection.js';

function dataPathOf(conn: NodeConnection, timeoutMs: number): Promise<RtcDataPath> {
  if (conn.dataPath) return Promise.resolve(conn.dataPath);
  return new Promise((resolve, reject) => {
    const done = (error?: RequestError) => {
      clearTimeout(timer);
      conn.off('transport', onTransport);
      conn.off('close', onClose);
      if (error) reject(error);
      else resolve(conn.dataPath!);
    };
    const onTransport = (kind: 'ws' | 'webrtc', why: string) =>
      done(kind === 'webrtc' && conn.dataPath ? undefined : new RequestError(ErrorCode.VIDEO_UNAVAILABLE, `no WebRTC connection to ${conn.url} (${why}); render jpeg`));
    const onClose = () => done(new RequestError(ErrorCode.CLOSED, `the connection to ${conn.url} closed`));
    const timer = setTimeout(() => done(new RequestError(ErrorCode.VIDEO_UNAVAILABLE, `no WebRTC connection to ${conn.url} within ${timeoutMs} ms; render jpeg`)), timeoutMs);
    conn.on('transport', onTransport);
    conn.on('close', onClose);
  });
}

export async function openVideo(conn: NodeConnection, timeoutMs: number): Promise<MediaStreamTrack> {
  if (!conn.welcome.caps.includes('video')) {
    throw new RequestError(ErrorCode.VIDEO_UNAVAILABLE, `${conn.url} sends no video (no ffmpeg or no renderer there); render jpeg`);
  }
  const path = await dataPathOf(conn, timeoutMs);
  return path.openVideo(conn, timeoutMs);
}
