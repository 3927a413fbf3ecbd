/**
 * media.rtp_port_range for the gateways tests start: each gateway gets a block of its own that no other
 * test process on this machine holds at the same time (a fixed 20000-20100 for everyone ran out as
 * soon as two browser test files, or a test and a bench, ran together).
 *
 * Blocks of 101 ports in 23000-29999: below the kernel's ephemeral ports (32768+, where port-0
 * sockets and freePorts() land), clear of the benches' fixed ranges (20000-22999, 31000-31999) and
 * of the client sockets' 46000+ (datachannel-client.ts). A block is held by a lock file
 * (`<tmpdir>/portunus-rtp-ranges/<min>`, created exclusively, holding the pid); a lock whose process
 * is gone is taken over. A held block is also checked free (every UDP port, and TCP on its first
 * port, which ICE-TCP listens on), so something that does not take locks is stepped around too.
 * The first block tried is derived from the pid, so concurrent processes seldom contend.
 */
import { mkdirSync, openSync, closeSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const RANGE_LOW = 23000;
export const RANGE_HIGH = 29999;
/** As many ports as the old fixed 20000-20100. */
export const BLOCK = 101;
const BLOCKS = Math.floor((RANGE_HIGH - RANGE_LOW + 1) / BLOCK);
const LOCK_DIR = join(tmpdir(), 'portunus-rtp-ranges');

export interface RtpPortRange {
  min: number;
  max: number;
  /** `min-max`, as janus.jcfg writes it. */
  text: string;
  /** Give the block back (idempotent; also done when the process exits). */
  release(): void;
}

const held = new Set<string>();
let exitHook = false;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Take the lock file, or take over a dead process's; false when a live process holds it. */
function lock(file: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let owner = NaN;
      try {
        owner = Number(readFileSync(file, 'utf8'));
      } catch {
        // removed meanwhile: try again
      }
      if (Number.isInteger(owner) && owner > 0 && alive(owner)) return false;
      try {
        unlinkSync(file);
      } catch {
        // someone else took it over first; the exclusive create decides
      }
    }
  }
  return false;
}

function unlock(file: string): void {
  if (!held.delete(file)) return;
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, '0.0.0.0', () => s.close(() => resolve(true)));
  });
}

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '0.0.0.0', () => s.close(() => resolve(true)));
  });
}

async function blockFree(min: number, max: number): Promise<boolean> {
  const checks: Promise<boolean>[] = [tcpFree(min)];
  for (let p = min; p <= max; p++) checks.push(udpFree(p));
  return (await Promise.all(checks)).every(Boolean);
}

/** A block of BLOCK ports that this process alone holds until release() (or exit). */
export async function reserveRtpPortRange(): Promise<RtpPortRange> {
  mkdirSync(LOCK_DIR, { recursive: true });
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const f of [...held]) unlock(f);
    });
  }
  const first = (process.pid * 7) % BLOCKS;
  for (let i = 0; i < BLOCKS; i++) {
    const min = RANGE_LOW + ((first + i) % BLOCKS) * BLOCK;
    const max = min + BLOCK - 1;
    const file = join(LOCK_DIR, String(min));
    if (!lock(file)) continue;
    held.add(file);
    if (!(await blockFree(min, max))) {
      unlock(file);
      continue;
    }
    return { min, max, text: `${min}-${max}`, release: () => unlock(file) };
  }
  throw new Error(`no free block of ${BLOCK} RTP ports in ${RANGE_LOW}-${RANGE_HIGH} (locks in ${LOCK_DIR})`);
}

/** A janus.jcfg text with its `rtp_port_range` replaced. */
export function withRtpPortRange(jcfg: string, range: string): string {
  return jcfg.replace(/rtp_port_range = "[^"]*"/, `rtp_port_range = ${JSON.stringify(range)}`);
}
