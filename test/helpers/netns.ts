/**
 * An impaired link for browser tests: a network namespace joined to this machine by a veth pair
 * (10.77.<n>.1 here, 10.77.<n>.2 inside), a Chromium launcher that runs inside it, and knobs to
 * shape what this machine sends into it: `tc tbf` caps the rate and builds queueing delay (this
 * kernel has no netem), `iptables -m statistic --mode random` inside the namespace drops packets;
 * shapeUplink() caps what the namespace sends instead (a publisher's uplink).
 * Needs root and iproute2/iptables; netnsUnavailable() says why not, so tests can skip cleanly.
 */
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, type BrowserHandle } from './browser.js';
import { postJson } from './janus-client.js';
import { startMediaGateway, type DemoPlugin, type MediaGateway } from './media-server.js';

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
    // NETNS_TAG (a few letters): names that say whose they are on a shared machine (interface names: 15 chars at most).
    const tag = process.env['NETNS_TAG'] ? `${process.env['NETNS_TAG'].slice(0, 5)}${process.pid % 1000}` : `${process.pid % 100000}`;
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
   * secure (it is not 127.0.0.1). `extra` flags are added at the end. `alsoExclude`: more addresses the
   * host-resolver rule must leave alone (Chromium's ICE-TCP sockets connect through the host resolver,
   * so a TCP candidate's address the rule maps to ~NOTFOUND fails with ERR_NAME_NOT_RESOLVED).
   */
  chromiumArgs(origin: string, extra: string[] = [], alsoExclude: string[] = []): string[] {
    const exclude = [this.hostIp, ...alsoExclude.flatMap((h) => (h.includes(':') ? [h, `[${h}]`] : [h]))].map((h) => `, EXCLUDE ${h}`).join('');
    return [
      ...CHROMIUM_ARGS.map((a) => (a.startsWith('--host-resolver-rules=') ? `${a}${exclude}` : a)),
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

// ------------------------------------------------------------------ reach tests (issue 14)

/** Options of startReachLab: what the namespace may send, and the Portunus the page talks to. */
export interface ReachLabOptions {
  /** Chromium binary to wrap (ImpairedLink.chromium); '/bin/false' when only Firefox runs inside. */
  chromiumBinary: string;
  /** Plugins of the gateway (startMediaGateway). */
  plugins: DemoPlugin[];
  prefix: string;
  /** IPv6 addresses on the veth pair too: <prefix>::1 here, ::2 inside, and an IPv6 default route inside. */
  ipv6?: boolean;
  /** Their /64 prefix (default the ULA fd00:77:<n>). */
  ipv6Prefix?: string;
  /**
   * What the namespace may not send (iptables/ip6tables OUTPUT inside it):
   * - 'udp': no UDP at all (both families): only ICE-TCP can work;
   * - 'udp4': no IPv4 UDP (IPv6 UDP passes);
   * - 'ipv4-media': no UDP at all, and IPv4 carries only the page and the signalling (TCP to the page's
   *   and the gateway's WebSocket port, and replies on connections made from outside, e.g. Firefox's
   *   BiDi forwarder): ICE-TCP must use IPv6.
   */
  drop: 'udp' | 'udp4' | 'ipv4-media';
  /** janus.jcfg: nat.ice_tcp = true. */
  iceTcp?: boolean;
  /** janus.jcfg: media.ipv6 = true. */
  mediaIpv6?: boolean;
  /** janus.jcfg: media.single_port on a port free on both families and for TCP. */
  singlePort?: boolean;
  /** Janus-flavoured jcfg edits after ours. */
  jcfg?: (text: string) => string;
}

/** A namespace joined by a veth pair, its firewall rules, and a Portunus advertising only the veth. */
export interface ReachLab {
  link: ImpairedLink;
  gw: MediaGateway;
  /** ipv6: the host's and the namespace's ULA addresses ('' without). */
  hostIp6: string;
  nsIp6: string;
  /** single_port's number (0 without). */
  port: number;
  /** The page's port on the veth's host address (serve pages there: pageHost / launchFirefox's pagePort). */
  pagePort: number;
  /** The gateway's WebSocket URL on the veth's host address (what a page inside can reach). */
  wsUrl: string;
  /** Headless Chromium inside the namespace, pages served on the veth address. */
  launchChromium(): Promise<BrowserHandle>;
  /** Portunus's selected pair (Admin handle_info `webrtc.ice.selected-pair`) of every handle with one. */
  gatewayPairs(): Promise<string[]>;
  close(): Promise<void>;
}

function listenPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** A port free right now for UDP on both families and for TCP (bound and released). */
export async function freeMediaPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const s4 = createSocket('udp4');
    const p = await new Promise<number>((r) => s4.bind(0, () => r(s4.address().port)));
    const s6 = createSocket({ type: 'udp6', ipv6Only: true });
    const ok6 = await new Promise<boolean>((r) => {
      s6.once('error', () => r(false));
      s6.bind(p, () => r(true));
    });
    const okTcp = ok6 && (await new Promise<boolean>((r) => {
      const t = createServer();
      t.once('error', () => r(false));
      t.listen(p, '::', () => t.close(() => r(true)));
    }));
    s4.close();
    try {
      s6.close();
    } catch {
      /* never bound */
    }
    if (okTcp) return p;
  }
  throw new Error('no port free for UDP (both families) and TCP');
}

/** Portunus's selected pair of every handle that has one (Admin API list_sessions, list_handles, handle_info). */
export async function gatewayPairs(gw: MediaGateway): Promise<string[]> {
  const out: string[] = [];
  const sessions = (await postJson(gw.adminUrl, { janus: 'list_sessions', transaction: 's', admin_secret: gw.adminSecret })) as unknown as { sessions?: number[] };
  for (const s of sessions.sessions ?? []) {
    const hs = (await postJson(`${gw.adminUrl}/${s}`, { janus: 'list_handles', transaction: 'h', admin_secret: gw.adminSecret })) as unknown as { handles?: number[] };
    for (const h of hs.handles ?? []) {
      const info = (await postJson(`${gw.adminUrl}/${s}/${h}`, { janus: 'handle_info', transaction: 'i', admin_secret: gw.adminSecret })) as unknown as { info?: { webrtc?: { ice?: { 'selected-pair'?: string } } } };
      const sp = info.info?.webrtc?.ice?.['selected-pair'];
      if (sp) out.push(sp);
    }
  }
  return out;
}

/**
 * The setup the network-reach browser tests share (ICE-TCP, IPv6, in Chromium and Firefox): the
 * namespace and veth (ImpairedLink), optional ULA addresses, the firewall rules inside, and Portunus
 * with ice_enforce_list = the veth's host side (so it advertises only what the namespace can reach).
 */
export async function startReachLab(opts: ReachLabOptions): Promise<ReachLab> {
  const link = new ImpairedLink(opts.chromiumBinary);
  let gw: MediaGateway | undefined;
  try {
    const n = link.hostIp.split('.')[2];
    const prefix6 = opts.ipv6Prefix ?? `fd00:77:${n}`;
    const hostIp6 = opts.ipv6 ? `${prefix6}::1` : '';
    const nsIp6 = opts.ipv6 ? `${prefix6}::2` : '';
    const inNs = (cmd: string, ...args: string[]) => run('ip', ['netns', 'exec', link.ns, cmd, ...args]);
    if (opts.ipv6) {
      run('ip', ['-6', 'addr', 'add', `${hostIp6}/64`, 'dev', link.hostIf, 'nodad']);
      inNs('ip', '-6', 'addr', 'add', `${nsIp6}/64`, 'dev', link.nsIf, 'nodad');
      inNs('ip', '-6', 'route', 'add', 'default', 'via', hostIp6);
    }
    const port = opts.singlePort ? await freeMediaPort() : 0;
    const pagePort = await listenPort(link.hostIp);
    gw = await startMediaGateway('portunus', opts.plugins, {}, {
      prefix: opts.prefix,
      janusJcfg: (t) => {
        let u = t.replace(/ice_enforce_list = "[^"]*"/, `ice_enforce_list = "${link.hostIf}"${opts.iceTcp ? '\n  ice_tcp = true' : ''}`);
        const media = [opts.mediaIpv6 ? 'ipv6 = true' : '', opts.singlePort ? `single_port = ${port}` : ''].filter((l) => l !== '');
        if (media.length > 0) u = u.replace('media: {', `media: {\n  ${media.join('\n  ')}`);
        return opts.jcfg ? opts.jcfg(u) : u;
      },
    });
    const wsUrl = gw.wsUrl.replace('127.0.0.1', link.hostIp);
    if (opts.drop === 'udp' || opts.drop === 'ipv4-media') {
      inNs('iptables', '-A', 'OUTPUT', '-p', 'udp', '-j', 'DROP');
      inNs('ip6tables', '-A', 'OUTPUT', '-p', 'udp', '-j', 'DROP');
    } else inNs('iptables', '-A', 'OUTPUT', '-p', 'udp', '-j', 'DROP');
    if (opts.drop === 'ipv4-media') {
      const wsPort = new URL(wsUrl).port;
      inNs('iptables', '-A', 'OUTPUT', '-o', 'lo', '-j', 'ACCEPT');
      inNs('iptables', '-A', 'OUTPUT', '-p', 'tcp', '-m', 'multiport', '--dports', `${pagePort},${wsPort}`, '-j', 'ACCEPT');
      inNs('iptables', '-A', 'OUTPUT', '-m', 'conntrack', '--ctstate', 'ESTABLISHED', '-j', 'ACCEPT');
      inNs('iptables', '-A', 'OUTPUT', '-j', 'DROP');
    }
    const g = gw;
    return {
      link,
      gw: g,
      hostIp6,
      nsIp6,
      port,
      pagePort,
      wsUrl,
      launchChromium: async () => {
        const args = link.chromiumArgs(`http://${link.hostIp}:${pagePort}`, [], hostIp6 !== '' ? [hostIp6] : []);
        const browser = await chromium.launch({ executablePath: link.chromium, headless: true, args, timeout: 30_000 });
        return { browser, blocked: [], pageHost: { address: link.hostIp, port: pagePort }, close: async () => void (await browser.close().catch(() => undefined)) };
      },
      gatewayPairs: () => gatewayPairs(g),
      close: async () => {
        await g.stop().catch(() => undefined);
        link.remove();
      },
    };
  } catch (e) {
    await gw?.stop().catch(() => undefined);
    link.remove();
    throw e;
  }
}
