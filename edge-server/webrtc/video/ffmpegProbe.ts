/**
 * Finds ffmpeg and the H.264 encoders it was built with, once per process. ffmpeg is an optional
 * system package (scripts/install-ffmpeg.sh): without it the edge does not advertise `video` and
 * sessions keep JPEG frames over ws, told why with VIDEO_UNAVAILABLE.
 */
import { spawn } from 'node:child_process';
import { ErrorCode, RequestError } from '../../../protocol/errors.js';

export interface FfmpegInfo {
  path: string;
  /** Video encoders listed by `ffmpeg -encoders` (listed is not usable: nvenc needs an NVIDIA GPU). */
  encoders: ReadonlySet<string>;
}

const probes = new Map<string, Promise<FfmpegInfo>>();

function run(path: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { stdio: ['ignore', 'pipe', 'ignore'], timeout: timeoutMs });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${path} ${args.join(' ')} exited with ${code}`))));
  });
}

/**
 * Resolves with ffmpeg's path and encoders, or rejects with a RequestError VIDEO_UNAVAILABLE
 * saying what to install. A failed probe is retried on the next call (ffmpeg may be installed later).
 */
export function probeFfmpeg(path = process.env.FFMPEG_PATH || 'ffmpeg', timeoutMs = 10_000): Promise<FfmpegInfo> {
  let probe = probes.get(path);
  if (!probe) {
    probe = run(path, ['-hide_banner', '-encoders'], timeoutMs).then(
      (listing) => {
        const encoders = new Set<string>();
        for (const line of listing.split('\n')) {
          const match = /^\s*V[.A-Z]{5}\s+(\S+)/.exec(line);
          if (match) encoders.add(match[1]!);
        }
        if (!encoders.has('libx264') && !encoders.has('h264_nvenc')) {
          throw new RequestError(ErrorCode.VIDEO_UNAVAILABLE, `${path} has no H.264 encoder (libx264 or h264_nvenc); install Debian's ffmpeg (scripts/install-ffmpeg.sh)`);
        }
        return { path, encoders };
      },
      (err: Error) => {
        throw new RequestError(ErrorCode.VIDEO_UNAVAILABLE, `ffmpeg not found (${err.message}); run 'bash scripts/install-ffmpeg.sh' or set FFMPEG_PATH`);
      },
    );
    probes.set(path, probe);
    probe.catch(() => probes.delete(path));
  }
  return probe;
}
