/**
 * Starts test/helpers/rtsp-server.py: a real RTSP server on GStreamer's RTSP server library
 * (Debian's gir1.2-gst-rtsp-server-1.0 + python3-gi), VP8 + Opus at rtsp://127.0.0.1:<port>/test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './repo.js';
import { freePort } from './server-conf.js';

export interface RtspServer {
  url: string;
  port: number;
  proc: ChildProcess;
  stop(): Promise<void>;
}

export async function startRtspServer(auth: { kind: 'basic' | 'digest'; user: string; password: string } | null = null, port?: number): Promise<RtspServer> {
  const p = port ?? (await freePort());
  const args = [join(repoRoot(), 'test/helpers/rtsp-server.py'), String(p), auth?.kind ?? 'none', auth?.user ?? '', auth?.password ?? ''];
  const proc = spawn('/usr/bin/python3', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`rtsp-server.py did not start: ${out}`)), 15_000);
    const on = (d: Buffer) => {
      out += d.toString();
      if (out.includes('READY')) {
        clearTimeout(timer);
        resolve();
      } else if (out.includes('ERROR') || out.includes('Traceback')) {
        clearTimeout(timer);
        reject(new Error(`rtsp-server.py failed: ${out}`));
      }
    };
    proc.stdout!.on('data', on);
    proc.stderr!.on('data', on);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`rtsp-server.py exited (${code}): ${out}`));
    });
  });
  return {
    url: `rtsp://127.0.0.1:${p}/test`,
    port: p,
    proc,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
        setTimeout(() => proc.kill('SIGKILL'), 3000).unref();
      }),
  };
}
