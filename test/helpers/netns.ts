/**
 * An impaired link for browser tests: a network namespace joined to this machine by a veth pair
 * (10.77.<n>.1 here, 10.77.<n>.2 inside), a Chromium launcher that runs inside it, and knobs to
 * shape what this machine sends into it: `tc tbf` caps the rate and builds queueing delay (this
 * kernel has no netem), `iptables -m statistic --mode random` inside the namespace drops packets;
 * shapeUplink() caps what the namespace sends instead (a publisher's uplink).
 * Needs root and iproute2/iptables; netnsUnavailable() says why not, so tests can skip cleanly.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM_ARGS } from './browser.js';

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** null when namespaces can be used here, else the reason. */
export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (ip netns, tc, iptables)';
  const probe = `pccprobe${process.pid}`;
  try {
    run('ip', ['netns', 'add', probe]);
    run('ip', ['netns', 'del', probe]);
  } catch (e) {
    return `ip netns unavailable: ${String((e as Error).message).split('\n')[0]}`;
  }
  for (const [cmd, args] of [['tc', ['-V']], ['iptables', ['--version']]] as const) {
    try {
      run(cmd, [...args]);
    } catch {
      return `${cmd} unavailable`;
    }
  }
  return null;
}

export class ImpairedLink {
  readonly ns: string;
  readonly hostIf: string;
  readonly nsIf: string;
  readonly hostIp: string;
  readonly nsIp: string;
  /** A chromium wrapper (executablePath) that starts the browser inside the namespace. */
  readonly chromium: string;
  private readonly dir: string;
  private lossRule: string[] | null = null;

  constructor(chromiumBinary: string) {
    const n = 10 + (process.pid % 200);
    const tag = `${process.pid % 100000}`;
    this.ns = `pcc${tag}`;
    this.hostIf = `vcc${tag}a`;
    this.nsIf = `vcc${tag}b`;
    this.hostIp = `10.77.${n}.1`;
    this.nsIp = `10.77.${n}.2`;
    run('ip', ['netns', 'add', this.ns]);
    try {
      run('ip', ['link', 'add', this.hostIf, 'type', 'veth', 'peer', 'name', this.nsIf]);
      run('ip', ['link', 'set', this.nsIf, 'netns', this.ns]);
      run('ip', ['addr', 'add', `${this.hostIp}/24`, 'dev', this.hostIf]);
      run('ip', ['link', 'set', this.hostIf, 'up']);
      run('ip', ['netns', 'exec', this.ns, 'ip', 'addr', 'add', `${this.nsIp}/24`, 'dev', this.nsIf]);
      run('ip', ['netns', 'exec', this.ns, 'ip', 'link', 'set', this.nsIf, 'up']);
      run('ip', ['netns', 'exec', this.ns, 'ip', 'link', 'set', 'lo', 'up']);
      run('ip', ['netns', 'exec', this.ns, 'ip', 'route', 'add', 'default', 'via', this.hostIp]);
    } catch (e) {
      this.remove();
      throw e;
    }
    this.dir = mkdtempSync(join(tmpdir(), 'portunus-netns-'));
    this.chromium = join(this.dir, 'chromium-in-netns');
    writeFileSync(this.chromium, `#!/bin/sh\nexec ip netns exec ${this.ns} ${chromiumBinary} "$@"\n`);
    chmodSync(this.chromium, 0o755);
  }

  /**
   * Chromium's flags for pages served from this link's host address at `origin` (http://<hostIp>:<port>):
   * the host-resolver rule must leave that address alone, and getUserMedia needs the origin treated as
   * secure (it is not 127.0.0.1). `extra` flags are added at the end.
   */
  chromiumArgs(origin: string, extra: string[] = []): string[] {
    return [
      ...CHROMIUM_ARGS.map((a) => (a.startsWith('--host-resolver-rules=') ? `${a}, EXCLUDE ${this.hostIp}` : a)),
      `--unsafely-treat-insecure-origin-as-secure=${origin}`,
      ...extra,
    ];
  }

  /** Shape what goes into the namespace: rate cap (kbit/s) with a tbf queue, and random loss. */
  impair(rateKbit: number, loss: number): void {
    this.clear();
    run('tc', ['qdisc', 'add', 'dev', this.hostIf, 'root', 'tbf', 'rate', `${rateKbit}kbit`, 'burst', '10kb', 'latency', '100ms']);
    if (loss > 0) {
      this.lossRule = ['INPUT', '-p', 'udp', '-m', 'statistic', '--mode', 'random', '--probability', String(loss), '-j', 'DROP'];
      run('ip', ['netns', 'exec', this.ns, 'iptables', '-A', ...this.lossRule]);
    }
  }

  /** Lift the cap and the loss. */
  clear(): void {
    try {
      run('tc', ['qdisc', 'del', 'dev', this.hostIf, 'root']);
    } catch {
      // no qdisc of ours
    }
    if (this.lossRule !== null) {
      try {
        run('ip', ['netns', 'exec', this.ns, 'iptables', '-D', ...this.lossRule]);
      } catch {
        // already gone
      }
      this.lossRule = null;
    }
  }

  /**
   * Shape what the namespace sends (its uplink): a tbf on the namespace's veth end, the egress a
   * publisher inside sees as its bottleneck. Separate from impair() (the downlink) so both can be used.
   */
  shapeUplink(rateKbit: number): void {
    this.liftUplink();
    run('ip', ['netns', 'exec', this.ns, 'tc', 'qdisc', 'add', 'dev', this.nsIf, 'root', 'tbf', 'rate', `${rateKbit}kbit`, 'burst', '10kb', 'latency', '100ms']);
  }

  liftUplink(): void {
    try {
      run('ip', ['netns', 'exec', this.ns, 'tc', 'qdisc', 'del', 'dev', this.nsIf, 'root']);
    } catch {
      // no qdisc of ours
    }
  }

  /** Packets the uplink tbf sent and dropped since shapeUplink() (zeros when none is installed). */
  uplinkCounters(): { sent: number; dropped: number } {
    const out = run('ip', ['netns', 'exec', this.ns, 'tc', '-s', 'qdisc', 'show', 'dev', this.nsIf]);
    const m = /qdisc tbf[\s\S]*?Sent \d+ bytes (\d+) pkt \(dropped (\d+)/.exec(out);
    return m ? { sent: Number(m[1]), dropped: Number(m[2]) } : { sent: 0, dropped: 0 };
  }

  remove(): void {
    try {
      run('ip', ['link', 'del', this.hostIf]);
    } catch {
      // went with the namespace
    }
    try {
      run('ip', ['netns', 'del', this.ns]);
    } catch {
      // not there
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
