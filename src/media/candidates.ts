/**
 * Local ICE candidates for every PeerConnection of this server: host candidates from the machine's
 * interfaces (nat.ice_enforce_list / ice_ignore_list, media.ipv6), 1:1 NAT advertisement
 * (nat.nat_1_1_mapping, keep_private_host) and server-reflexive candidates through nat.stun_server.
 *
 * Addresses are discovered once at startup, as Janus does. The STUN server is probed once at startup
 * too: when it cannot be resolved or does not answer, that is a warning and srflx gathering is off
 * (never fatal). When it works, each new media socket asks it for its own mapping (short timeout).
 *
 * IPv6 (media.ipv6): Janus takes the first address `stun_server` resolves to, so one family only (and
 * libnice then asks only from the candidates of that family). Here `stun_server` is asked per family:
 * a host name is resolved to an A record for the IPv4 sockets and to an AAAA record for the IPv6 ones
 * (each probed on its own, a family that does not resolve or answer just has no srflx); an IPv4
 * literal serves IPv4 only and an IPv6 literal IPv6 only.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { hostCandidate, localPreference, srflxCandidate, tcpPassiveCandidate, type IceCandidate } from './ice/candidate.js';
import { discoverLocalAddresses, type LocalAddress } from './net/interfaces.js';
import { applyNat11Mapping } from './net/nat.js';
import { stunBinding } from './net/stun-client.js';
import type { Logger } from '../log.js';

export interface CandidateOptions {
  enforceList?: readonly string[];
  ignoreList?: readonly string[];
  ipv6?: boolean;
  ipv6LinkLocal?: boolean;
  nat11Mapping?: readonly string[];
  keepPrivateHost?: boolean;
  stunServer?: string | null;
  stunPort?: number;
  /** Per-socket srflx discovery deadline (ms). Default 1500. */
  stunTimeoutMs?: number;
  /** Injected for tests (os.networkInterfaces() shape). */
  interfaces?: NodeJS.Dict<import('node:os').NetworkInterfaceInfo[]>;
  log?: Logger;
}

/** What one media socket advertises. `base` is the candidate the ICE agent pairs from (never NAT-mapped). */
export interface SocketCandidates {
  base: IceCandidate;
  /** Everything to advertise (SDP / trickle), in priority order; may not include `base` (1:1 NAT). */
  advertised: IceCandidate[];
  /** media.ipv6: the IPv6 socket and the base its candidates pair from (advertised holds them too). */
  v6?: { socket: Socket; base: IceCandidate };
}

/**
 * What another thread needs to advertise the same candidates (a media worker): the discovered addresses
 * and the startup STUN verdict, so the worker neither rediscovers nor probes again.
 */
export interface CandidatesSnapshot {
  opts: Omit<CandidateOptions, 'interfaces' | 'log'>;
  addresses: LocalAddress[];
  addresses6?: LocalAddress[];
  stunUsable: boolean;
  publicIp: string | null;
  stunUsable6?: boolean;
  publicIp6?: string | null;
}

/** fe80::/10 */
function isLinkLocal6(address: string): boolean {
  return /^fe[89ab]/i.test(address);
}

export class LocalCandidates {
  /** IPv4 addresses (the media socket every PeerConnection has, udp4 on 0.0.0.0). */
  readonly addresses: LocalAddress[];
  /**
   * media.ipv6: IPv6 addresses for a second, udp6 socket per PeerConnection: global and ULA ones;
   * link-local ones only with media.ipv6_linklocal or when there is no other IPv6 address.
   */
  readonly addresses6: LocalAddress[];
  /** False when stun_server is unset, unresolvable or silent at startup. */
  stunUsable = false;
  /** The public address the startup probe saw (Admin/info use), or null. */
  publicIp: string | null = null;
  /** The same for IPv6 (media.ipv6 with IPv6 addresses, and a stun_server with an IPv6 address). */
  stunUsable6 = false;
  publicIp6: string | null = null;

  private constructor(
    private readonly opts: CandidateOptions,
    addresses?: LocalAddress[],
    addresses6?: LocalAddress[],
  ) {
    const discover = (ipv6: boolean): LocalAddress[] =>
      discoverLocalAddresses({
        enforceList: opts.enforceList ?? [],
        ignoreList: opts.ignoreList ?? [],
        ipv6,
        ipv6LinkLocal: ipv6,
        ...(opts.interfaces ? { interfaces: opts.interfaces } : {}),
      });
    this.addresses = addresses ?? discover(false).filter((a) => a.family === 4);
    if (addresses6) this.addresses6 = addresses6;
    else if (!opts.ipv6) this.addresses6 = [];
    else {
      const all = discover(true).filter((a) => a.family === 6);
      const routable = all.filter((a) => !isLinkLocal6(a.address));
      // A link-local address needs the interface with every send; only worth it when nothing else exists.
      this.addresses6 = opts.ipv6LinkLocal || routable.length === 0 ? all : routable;
    }
  }

  /** Discovers the interfaces and probes the STUN server (never throws for STUN problems). */
  static async create(opts: CandidateOptions = {}): Promise<LocalCandidates> {
    const lc = new LocalCandidates(opts);
    if (lc.addresses.length === 0) opts.log?.warn('no usable IPv4 address for ICE host candidates (check ice_enforce_list / ice_ignore_list)');
    if (opts.stunServer) await lc.probeStun();
    return lc;
  }

  snapshot(): CandidatesSnapshot {
    const { interfaces: _i, log: _l, ...opts } = this.opts;
    return { opts, addresses: this.addresses.map((a) => ({ ...a })), addresses6: this.addresses6.map((a) => ({ ...a })), stunUsable: this.stunUsable, publicIp: this.publicIp, stunUsable6: this.stunUsable6, publicIp6: this.publicIp6 };
  }

  static restore(snap: CandidatesSnapshot, log?: Logger): LocalCandidates {
    const lc = new LocalCandidates({ ...snap.opts, ...(log ? { log } : {}) }, snap.addresses, snap.addresses6 ?? []);
    lc.stunUsable = snap.stunUsable;
    lc.publicIp = snap.publicIp;
    lc.stunUsable6 = snap.stunUsable6 ?? false;
    lc.publicIp6 = snap.publicIp6 ?? null;
    return lc;
  }

  /** The families stun_server can serve here: a literal its own, a name both (where we have addresses). */
  private stunFamilies(): Array<4 | 6> {
    const server = this.opts.stunServer;
    if (!server) return [];
    const lit = isIP(server);
    const out: Array<4 | 6> = [];
    if (lit !== 6 && this.addresses.length > 0) out.push(4);
    if (lit !== 4 && this.addresses6.length > 0) out.push(6);
    return out;
  }

  private async probeStun(): Promise<void> {
    const families = this.stunFamilies();
    if (families.length === 0) {
      this.opts.log?.warn('stun_server cannot serve any media address family, no server-reflexive candidates', { stun_server: this.opts.stunServer, ipv6: this.addresses6.length > 0 });
      return;
    }
    await Promise.all(families.map((f) => this.probeStunFamily(f)));
  }

  private async probeStunFamily(family: 4 | 6): Promise<void> {
    const server = this.opts.stunServer!;
    const port = this.opts.stunPort ?? 3478;
    const socket = createSocket(family === 6 ? { type: 'udp6', ipv6Only: true } : { type: 'udp4' });
    const fam = family === 6 ? { family: 6 } : {};
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, () => resolve());
      });
      const r = await stunBinding(socket, server, port, { timeoutMs: 3000 });
      if (r.ok && r.family === family) {
        if (family === 6) {
          this.stunUsable6 = true;
          this.publicIp6 = r.address;
        } else {
          this.stunUsable = true;
          this.publicIp = r.address;
        }
        this.opts.log?.info('STUN server reachable', { stun_server: `${server}:${port}`, public_ip: r.address, ...fam });
      } else {
        this.opts.log?.warn('STUN server unusable, no server-reflexive candidates', { stun_server: `${server}:${port}`, err: r.ok ? `mapped address of the wrong family (${r.address})` : r.error, ...fam });
      }
    } catch (err) {
      this.opts.log?.warn('STUN probe failed, no server-reflexive candidates', { err: String(err), ...fam });
    } finally {
      try {
        socket.close();
      } catch {
        /* already closed */
      }
    }
  }

  /** Host candidates (and their 1:1 NAT copies) for a socket bound on `port` on every address. */
  hostCandidates(port: number): SocketCandidates | null {
    if (this.addresses.length === 0) return null;
    const hosts = this.addresses.map((a, i) => hostCandidate(a.address, port, { localPreference: localPreference(4, i) }));
    const advertised = applyNat11Mapping(hosts, this.opts.nat11Mapping ?? [], this.opts.keepPrivateHost ?? false);
    return { base: hosts[0]!, advertised };
  }

  /**
   * IPv6 host candidates (1:1 NAT mapped by the IPv6 entries of nat_1_1_mapping) for a udp6 socket on
   * `port`, appended to `into` with that socket as `into.v6`. Their local preference is above IPv4's
   * (RFC 8421: prefer IPv6 when both work).
   */
  addIpv6(into: SocketCandidates, socket: Socket, port: number): void {
    const base = this.ipv6Base(port);
    if (base === null) return;
    into.advertised.push(...this.hostCandidates6(port));
    into.v6 = { socket, base };
  }

  /** The IPv6 host candidates a udp6 socket on `port` advertises (1:1 NAT mapped), in priority order; [] without IPv6. */
  hostCandidates6(port: number): IceCandidate[] {
    const hosts = this.addresses6.map((a, i) => hostCandidate(a.address, port, { localPreference: localPreference(6, i) }));
    return applyNat11Mapping(hosts, this.opts.nat11Mapping ?? [], this.opts.keepPrivateHost ?? false);
  }

  /**
   * Passive ICE-TCP candidates (nat.ice_tcp) for a listener on `port`, one per address in interface
   * order, 1:1 NAT mapped like the UDP ones. Their priorities sit below every UDP candidate's.
   */
  tcpCandidates(port: number): IceCandidate[] {
    const n = this.addresses.length;
    const hosts = this.addresses.map((a, i) => tcpPassiveCandidate(a.address, port, { otherPreference: 0x1fff - Math.min(i, n) * 10 }));
    return applyNat11Mapping(hosts, this.opts.nat11Mapping ?? [], this.opts.keepPrivateHost ?? false);
  }

  /**
   * Passive ICE-TCP candidates on the IPv6 addresses (a dual-stack listener, media.ipv6), with the
   * same preferences as the IPv4 ones (TCP is the fallback either way: below every UDP candidate),
   * 1:1 NAT mapped by the IPv6 entries of nat_1_1_mapping.
   */
  tcpCandidates6(port: number): IceCandidate[] {
    const n = this.addresses6.length;
    const hosts = this.addresses6.map((a, i) => tcpPassiveCandidate(a.address, port, { otherPreference: 0x1fff - Math.min(i, n) * 10 }));
    return applyNat11Mapping(hosts, this.opts.nat11Mapping ?? [], this.opts.keepPrivateHost ?? false);
  }

  /** The IPv6 base a udp6 socket on `port` pairs from (the first IPv6 address), or null without IPv6 addresses. */
  ipv6Base(port: number): IceCandidate | null {
    const a = this.addresses6[0];
    return a === undefined ? null : hostCandidate(a.address, port, { localPreference: localPreference(6, 0) });
  }

  /**
   * The srflx candidate of a bound socket (udp4 or udp6: the server is asked in the socket's family),
   * or null (STUN off or unusable for that family, unanswered, or the same as the host address).
   */
  async srflxFor(socket: Socket, base: IceCandidate): Promise<IceCandidate | null> {
    if (!this.opts.stunServer) return null;
    let family: 4 | 6;
    try {
      family = socket.address().family === 'IPv6' ? 6 : 4;
    } catch {
      return null;
    }
    if (!(family === 6 ? this.stunUsable6 : this.stunUsable)) return null;
    const server = this.opts.stunServer;
    const port = this.opts.stunPort ?? 3478;
    const r = await stunBinding(socket, server, port, { timeoutMs: this.opts.stunTimeoutMs ?? 1500 });
    if (!r.ok || r.family !== family) return null;
    if (r.address === base.address && r.port === base.port) return null;
    return srflxCandidate({ address: r.address, port: r.port }, { address: base.address, port: base.port }, `${server}:${port}`);
  }
}
