/**
 * Offline image quality of the two frame paths at the same resolution, against the raw render:
 * SSIM (ffmpeg's `ssim` filter, RGB planes) and bits per second at a frame rate, for JPEG at
 * several qualities (sharp, 4:2:0, as the edge encodes) and H.264 at several bitrates (ffmpeg with
 * the edge's own encoder arguments, H264Encoder.ffmpegArgs, writing an elementary stream instead
 * of RTP), for several libx264 presets, with ffmpeg's CPU time per frame (`-benchmark`: reading the
 * RGBA frame, converting it to YUV 4:2:0 and encoding it, which is what the live encoder does per
 * frame). Then, for each H.264 point, the JPEG bits per second at the same SSIM (interpolated), and
 * for each preset the H.264 bits per second at a given JPEG quality's SSIM (what the product sends).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { ffmpegArgs, type X264Preset } from '../../edge-server/webrtc/video/H264Encoder.js';
import { resolveVideoOptions } from '../../edge-server/webrtc/video/videoOptions.js';

const run = promisify(execFile);

export interface QualityPoint {
  setting: number;
  ssim: number;
  bitsPerSecond: number;
}

export interface H264Point extends QualityPoint {
  preset: X264Preset;
  /** ffmpeg's user + system CPU time per frame, ms (input, RGBA → YUV and encode). */
  cpuMsPerFrame: number;
}

/** Mean SSIM ("All") of `distorted` (raw RGBA frames, or any file ffmpeg reads) against `reference` (raw RGBA). */
async function ssim(distorted: string[], reference: string, width: number, height: number, fps: number): Promise<number> {
  const raw = ['-f', 'rawvideo', '-pix_fmt', 'rgba', '-s', `${width}x${height}`, '-framerate', String(fps)];
  const { stderr } = await run('ffmpeg', ['-hide_banner', '-nostats', ...distorted, ...raw, '-i', reference, '-lavfi', '[0:v]format=gbrp[d];[1:v]format=gbrp[r];[d][r]ssim', '-f', 'null', '-'], { maxBuffer: 1 << 24 });
  const match = / All:([0-9.]+)/.exec(stderr);
  if (!match) throw new Error(`ffmpeg ssim printed no result: ${stderr.slice(-500)}`);
  return Number(match[1]);
}

export async function measureQuality(frames: Uint8Array[], width: number, height: number, fps: number, jpegQualities: number[], h264Bitrates: number[], presets: X264Preset[]) {
  const { gop } = resolveVideoOptions();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edge-offload-video-'));
  try {
    const reference = path.join(dir, 'reference.rgba');
    writeFileSync(reference, Buffer.concat(frames));
    const seconds = frames.length / fps;
    const jpeg: QualityPoint[] = [];
    for (const quality of jpegQualities) {
      let bytes = 0;
      const decoded: Buffer[] = [];
      for (const frame of frames) {
        const data = await sharp(frame, { raw: { width, height, channels: 4 } }).removeAlpha().jpeg({ quality, chromaSubsampling: '4:2:0' }).toBuffer();
        bytes += data.byteLength;
        decoded.push(await sharp(data).ensureAlpha().raw().toBuffer());
      }
      const file = path.join(dir, `jpeg-${quality}.rgba`);
      writeFileSync(file, Buffer.concat(decoded));
      const raw = ['-f', 'rawvideo', '-pix_fmt', 'rgba', '-s', `${width}x${height}`, '-framerate', String(fps), '-i', file];
      jpeg.push({ setting: quality, ssim: await ssim(raw, reference, width, height, fps), bitsPerSecond: (bytes * 8) / seconds });
    }
    const h264: H264Point[] = [];
    for (const preset of presets) for (const bitrate of h264Bitrates) {
      const out = path.join(dir, `h264-${bitrate}.h264`);
      const live = ffmpegArgs({ ffmpeg: 'ffmpeg', encoder: 'libx264', preset, width, height, fps, bitrate, gop, rtpHost: '127.0.0.1', rtpPort: 9, payloadType: 101, ssrc: 1, firstSeq: 0, packetSize: 1200 });
      // the live arguments up to the RTP muxer, reading the reference file instead of stdin
      const args = live.slice(0, live.indexOf('-rtpflags')).map((a) => (a === 'pipe:0' ? reference : a));
      // -benchmark prints its times at the info level
      args[args.indexOf('-loglevel') + 1] = 'info';
      const { stdout, stderr } = await run('ffmpeg', ['-y', '-benchmark', ...args, '-f', 'h264', out]);
      const bench = /utime=([0-9.]+)s stime=([0-9.]+)s/.exec(stdout + stderr);
      if (!bench) throw new Error(`ffmpeg -benchmark printed no times: ${(stdout + stderr).slice(-300)}`);
      const cpuMsPerFrame = ((Number(bench[1]) + Number(bench[2])) * 1000) / frames.length;
      // decoded to raw frames first and compared as the JPEG frames are: frame k against frame k
      // (the elementary stream's own timestamps would pair frames by time, one or two apart)
      const decoded = path.join(dir, `h264-${bitrate}.rgba`);
      await run('ffmpeg', ['-y', '-hide_banner', '-loglevel', 'error', '-i', out, '-f', 'rawvideo', '-pix_fmt', 'rgba', decoded]);
      if (statSync(decoded).size !== frames.length * width * height * 4) throw new Error(`H.264 at ${bitrate} bit/s decoded to ${statSync(decoded).size / (width * height * 4)} frames of ${frames.length}`);
      const raw = ['-f', 'rawvideo', '-pix_fmt', 'rgba', '-s', `${width}x${height}`, '-framerate', String(fps), '-i', decoded];
      h264.push({ preset, cpuMsPerFrame, setting: bitrate, ssim: await ssim(raw, reference, width, height, fps), bitsPerSecond: (statSync(out).size * 8) / seconds });
    }
    return { jpeg, h264, equalQuality: h264.map((point) => ({ ...point, jpegBitsPerSecond: rateAt(jpeg, point.ssim) })) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Bits per second at `target` SSIM, linear between the two points of a sweep around it (undefined outside them). */
export function rateAt(points: QualityPoint[], target: number): number | undefined {
  const sorted = [...points].sort((a, b) => a.ssim - b.ssim);
  for (let i = 1; i < sorted.length; i++) {
    const lo = sorted[i - 1]!;
    const hi = sorted[i]!;
    if (target >= lo.ssim && target <= hi.ssim) {
      const t = hi.ssim === lo.ssim ? 0 : (target - lo.ssim) / (hi.ssim - lo.ssim);
      return lo.bitsPerSecond + t * (hi.bitsPerSecond - lo.bitsPerSecond);
    }
  }
  return undefined;
}
