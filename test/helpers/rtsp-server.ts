/**
 * Starts test/helpers/rtsp-server.py: a real RTSP server on GStreamer's RTSP server library
 * (Debian's gir1.2-gst-rtsp-server-1.0 + python3-gi), VP8 + Opus at rtsp://127.0.0.1:<port>/test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './repo.js';
import { freePort } from './server-conf.js';
import { ensureSystemPackage } from './system.js';

/** Debian's multiarch library folder of this machine. */
const LIB = `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;

/** The RTSP server library, its Python bindings and the GStreamer elements of the pipeline (installed when missing and root). */
export function ensureRtspServerPackages(): void {
  ensureSystemPackage('python3-gi', '/usr/lib/python3/dist-packages/gi/__init__.py');
  ensureSystemPackage('gir1.2-gst-rtsp-server-1.0', `${LIB}/girepository-1.0/GstRtspServer-1.0.typelib`);
  ensureSystemPackage('gstreamer1.0-plugins-base', `${LIB}/gstreamer-1.0/libgstopus.so`);
  ensureSystemPackage('gstreamer1.0-plugins-good', `${LIB}/gstreamer-1.0/libgstvpx.so`);
}

export interface RtspServer {
  url: string;
  port: number;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** `tcpOnly`: the server refuses RTP over UDP (461) and only streams interleaved on the RTSP connection. */
export async function startRtspServer(auth: { kind: 'basic' | 'digest'; user: string; password: string } | null = null, port?: number, opts: { tcpOnly?: boolean } = {}): Promise<RtspServer> {
  ensureRtspServerPackages();
  const p = port ?? (await freePort());
  const args = [join(repoRoot(), 'test/helpers/rtsp-server.py'), String(p), auth?.kind ?? 'none', auth?.user ?? '', auth?.password ?? '', opts.tcpOnly ? 'tcp' : ''];
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
