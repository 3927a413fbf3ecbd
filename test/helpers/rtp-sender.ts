/**
 * ffmpeg (Debian's) sending a test pattern as VP8 and a tone as Opus over plain RTP, the way a
 * Streaming plugin `rtp` mountpoint is fed in production. Keyframe every `gop` frames.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { ensureSystemPackage } from './system.js';

export interface RtpSender {
  proc: ChildProcess;
  stderr(): string;
  stop(): Promise<void>;
}

export function startFfmpegRtp(opts: { host?: string; videoPort?: number; audioPort?: number; videoPt?: number; audioPt?: number; gop?: number; bitrate?: string; size?: string; srtp?: { suite: 'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32'; params: string } }): RtpSender {
  const ffmpeg = ensureSystemPackage('ffmpeg', '/usr/bin/ffmpeg');
  const host = opts.host ?? '127.0.0.1';
  const args = ['-hide_banner', '-loglevel', 'warning', '-re'];
  if (opts.videoPort !== undefined) args.push('-f', 'lavfi', '-i', `testsrc=size=${opts.size ?? '320x240'}:rate=30`);
  if (opts.audioPort !== undefined) args.push('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000');
  let input = 0;
  // SRTP senders: ffmpeg's srtp:// protocol with the SDES-style base64 key+salt
  const out = (port: number, query: string): string[] =>
    opts.srtp ? ['-srtp_out_suite', opts.srtp.suite, '-srtp_out_params', opts.srtp.params, `srtp://${host}:${port}${query}`] : [`rtp://${host}:${port}${query}`];
  if (opts.videoPort !== undefined) {
    args.push('-map', `${input++}:v`, '-c:v', 'libvpx', '-b:v', opts.bitrate ?? '300k', '-g', String(opts.gop ?? 30), '-deadline', 'realtime', '-cpu-used', '8',
      '-f', 'rtp', '-payload_type', String(opts.videoPt ?? 100), ...out(opts.videoPort, '?pkt_size=1200'));
  }
  if (opts.audioPort !== undefined) {
    args.push('-map', `${input++}:a`, '-c:a', 'libopus', '-b:a', '48k', '-f', 'rtp', '-payload_type', String(opts.audioPt ?? 111), ...out(opts.audioPort, ''));
  }
  const proc = spawn(ffmpeg, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => {
    if (err.length < 20_000) err += d.toString();
  });
  return {
    proc,
    stderr: () => err,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
        setTimeout(() => proc.kill('SIGKILL'), 3000).unref();
      }),
  };
}
