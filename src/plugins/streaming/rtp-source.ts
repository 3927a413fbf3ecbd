/**
 * The source of an `rtp` mountpoint: one UDP socket per stream (three for a simulcast video
 * stream), bound to the configured port or to one picked from the plugin's rtp_port_range, joined
 * to `mcast` groups, on `iface` when given. An optional RTCP socket per stream learns where the
 * sender's RTCP comes from, so viewers' keyframe requests can be passed upstream as PLIs.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { PluginMediaHost } from '../../core/plugin.js';
import type { Logger } from '../../log.js';
import type { UdpPortAllocator } from '../../media/net/port-allocator.js';
import { isRtp, rtpSsrc } from '../../media/rtp/header.js';
import { deliverData, deliverRtp } from './fanout.js';
import { srtpReceiveContext, srtpSourceKeys } from './srtp-source.js';
import type { MediaSource, Mountpoint, MpStream } from './mountpoint.js';

export interface SourceDeps {
  media: PluginMediaHost | null;
  ports: UdpPortAllocator;
  log: Logger;
  now(): number;
}

function bindExact(port: number, address: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type: address.includes(':') ? 'udp6' : 'udp4', reuseAddr: false });
    const onError = (err: Error): void => {
      s.close();
      reject(err);
    };
    s.once('error', onError);
    s.bind(port, address, () => {
      s.off('error', onError);
      resolve(s);
    });
  });
}

const RECEIVE_BUFFER = 4 << 20;

/** Ask for a large receive buffer; the kernel caps it at net.core.rmem_max. */
export function setBigReceiveBuffer(socket: Socket): void {
  try {
    socket.setRecvBufferSize(RECEIVE_BUFFER);
  } catch {
    // not permitted: keep the default
  }
}

/** `iface` may be an address or an interface name; names are not resolved here (bind to all). */
function bindAddress(iface: string | null): string {
  return iface !== null && /^[0-9.]+$|:/.test(iface) ? iface : '0.0.0.0';
}

class RtpSource implements MediaSource {
  readonly ports: Array<[number, number, number]> = [];
  readonly rtcpPorts: number[] = [];
  private readonly sockets: Socket[] = [];
  private readonly rtcp: Array<{ socket: Socket; peer: RemoteInfo | null } | null> = [];
  private closed = false;

  constructor(
    private readonly mp: Mountpoint,
    private readonly deps: SourceDeps,
  ) {}

  async open(): Promise<void> {
    const keys = srtpSourceKeys(this.mp.spec.srtpsuite, this.mp.spec.srtpcrypto);
    try {
      for (const st of this.mp.streams) {
        const s = st.spec;
        if (keys !== null && s.type !== 'data') st.srtp = srtpReceiveContext(keys);
        const want = s.simulcast && s.type === 'video' ? [s.port, s.port2, s.port3] : [s.port];
        const bound: [number, number, number] = [0, 0, 0];
        for (let sub = 0; sub < want.length; sub++) {
          const socket = await this.bind(want[sub]!, s.iface);
          this.sockets.push(socket);
          bound[sub] = socket.address().port;
          // A 1.5 Mbps source sends frames in bursts; while the event loop is busy relaying to many
          // viewers (or the thread is descheduled on a busy host) the default buffer overflows.
          setBigReceiveBuffer(socket);
          if (s.mcast !== null) {
            try {
              socket.addMembership(s.mcast, s.iface !== null && /^[0-9.]+$/.test(s.iface) ? s.iface : undefined);
            } catch (err) {
              throw new Error(`cannot join multicast group ${s.mcast}: ${(err as Error).message}`);
            }
          }
          this.listen(socket, st, sub);
        }
        this.ports.push(bound);
        if (s.rtcpport !== null) {
          const socket = await this.bind(s.rtcpport, s.iface);
          this.sockets.push(socket);
          this.rtcpPorts.push(socket.address().port);
          const slot = { socket, peer: null as RemoteInfo | null };
          // only the sender's address matters: RTCP from it (SR) tells us where PLIs go; with SRTP
          // only an authenticated SRTCP packet may redirect them
          socket.on('message', (m: Buffer, rinfo) => {
            const srtp = st.srtp;
            if (srtp !== null && srtp.unprotectRtcp(m, m.length) < 0) {
              st.srtpDropped++;
              return;
            }
            slot.peer = rinfo;
          });
          socket.on('error', (err) => this.deps.log.warn(`streaming: ${this.mp.name} RTCP socket: ${err.message}`));
          this.rtcp.push(slot);
        } else {
          this.rtcp.push(null);
          this.rtcpPorts.push(0);
        }
      }
    } catch (err) {
      this.close();
      throw err;
    }
  }

  private bind(port: number, iface: string | null): Promise<Socket> {
    const address = bindAddress(iface);
    return port === 0 ? this.deps.ports.allocate(address).then((a) => a.socket) : bindExact(port, address);
  }

  private listen(socket: Socket, st: MpStream, sub: number): void {
    const deps = this.deps;
    const collision = this.mp.spec.collision;
    socket.on('error', (err) => deps.log.warn(`streaming: ${this.mp.name} socket: ${err.message}`));
    socket.on('message', (msg: Buffer) => {
      const media = deps.media;
      if (this.closed || media === null) return;
      try {
        const now = deps.now();
        if (st.spec.type === 'data') {
          deliverData(media, st, msg, msg.length, now);
          return;
        }
        if (!isRtp(msg, msg.length)) return;
        let len = msg.length;
        const srtp = st.srtp;
        if (srtp !== null) {
          // decrypted in place: the datagram's buffer is ours alone
          len = srtp.unprotectRtp(msg, len);
          if (len < 0) {
            if (st.srtpDropped++ === 0) deps.log.warn(`streaming: ${this.mp.name} dropping SRTP packets that fail to unprotect (wrong key or suite?)`);
            return;
          }
        }
        const ssrc = rtpSsrc(msg);
        if (ssrc !== st.ssrc[sub]) {
          // another sender on the same port: ignored unless the current one has been quiet for `collision` ms
          if (collision > 0 && st.ssrc[sub] !== 0 && now - st.ssrcSeen[sub]! < collision) return;
          st.ssrc[sub] = ssrc;
        }
        st.ssrcSeen[sub] = now;
        deliverRtp(media, st, sub, msg, len, now);
      } catch (err) {
        deps.log.error(`streaming: ${this.mp.name} packet path failure: ${(err as Error)?.stack ?? String(err)}`);
      }
    });
  }

  requestKeyframe(index: number): void {
    const slot = this.rtcp[index];
    const st = this.mp.streams[index];
    if (slot == null || slot.peer === null || st === undefined) return;
    const pli = Buffer.alloc(12);
    pli[0] = 0x81;
    pli[1] = 206;
    pli.writeUInt16BE(2, 2);
    pli.writeUInt32BE(1, 4);
    pli.writeUInt32BE(st.ssrc[0]! >>> 0, 8);
    if (st.srtp !== null) {
      const out = Buffer.alloc(12 + st.srtp.rtcpOverhead);
      pli.copy(out);
      const n = st.srtp.protectRtcp(out, 12);
      slot.socket.send(out, 0, n, slot.peer.port, slot.peer.address);
      return;
    }
    slot.socket.send(pli, slot.peer.port, slot.peer.address);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.sockets) {
      try {
        s.close();
      } catch {
        // already closed
      }
    }
  }
}

/** Bind every socket of an rtp mountpoint; rejects (nothing left bound) when a port is taken. */
export async function openRtpSource(mp: Mountpoint, deps: SourceDeps): Promise<MediaSource> {
  const src = new RtpSource(mp, deps);
  await src.open();
  return src;
}
