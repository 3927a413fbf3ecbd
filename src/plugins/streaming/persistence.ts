/**
 * `permanent: true`: a mountpoint written to (or removed from) the plugin's jcfg, in the multistream
 * `media = (...)` form whatever form it was created with. A failed save is logged, answered as
 * `permanent: false`, and rolled back in memory so an unrelated later save does not persist it.
 */
import type { CfgGroupValue, CfgValue } from '../../config/types.js';
import type { JcfgDocument } from '../../core/plugin.js';
import type { Logger } from '../../log.js';
import type { Mountpoint } from './mountpoint.js';

function group(items: Record<string, CfgValue>): CfgGroupValue {
  return { kind: 'group', entries: Object.entries(items).map(([name, value]) => ({ name, value })) };
}

export function mountpointToConfig(mp: Mountpoint): Record<string, CfgValue> {
  const s = mp.spec;
  const out: Record<string, CfgValue> = { type: s.type, id: mp.id, description: mp.description };
  if (mp.metadata !== null) out.metadata = mp.metadata;
  if (mp.isPrivate) out.is_private = true;
  if (mp.secret !== null) out.secret = mp.secret;
  if (mp.pin !== null) out.pin = mp.pin;
  if (s.autoLayers) out.auto_layers = true;
  if (s.type === 'rtp') {
    if (s.collision > 0) out.collision = s.collision;
    if (s.e2ee) out.e2ee = true;
    if (s.srtpsuite !== null && s.srtpcrypto !== null) {
      out.srtpsuite = s.srtpsuite;
      out.srtpcrypto = s.srtpcrypto;
    }
    if (s.playoutdelayExt) out.playoutdelay_ext = true;
    out.media = mp.streams.map((st, i) => {
      const m = st.spec;
      const bound = mp.source?.ports[i];
      const e: Record<string, CfgValue> = { type: m.type, mid: m.mid, label: m.label };
      if (m.msid !== null) e.msid = m.msid;
      // the port actually bound, so a sender configured for it still reaches us after a restart
      e.port = bound?.[0] || m.port;
      if (m.rtcpport !== null) e.rtcpport = mp.source?.rtcpPorts?.[i] || m.rtcpport;
      if (m.mcast !== null) e.mcast = m.mcast;
      if (m.iface !== null) e.iface = m.iface;
      if (m.pt !== null) e.pt = m.pt;
      if (m.codec !== null) e.codec = m.codec;
      if (m.fmtp !== null) e.fmtp = m.fmtp;
      if (m.simulcast) {
        e.simulcast = true;
        e.port2 = bound?.[1] || m.port2;
        e.port3 = bound?.[2] || m.port3;
      }
      if (m.bufferkf) e.bufferkf = true;
      if (m.type === 'data') {
        e.datatype = m.datatype;
        if (m.buffermsg) e.buffermsg = true;
      }
      return group(e);
    });
    return out;
  }
  if (s.filename !== null) out.filename = s.filename;
  if (s.url !== null) out.url = s.url;
  if (s.rtspUser !== null) out.rtsp_user = s.rtspUser;
  if (s.rtspPwd !== null) out.rtsp_pwd = s.rtspPwd;
  if (s.type === 'rtsp') {
    out.rtsp_reconnect_delay = s.rtspReconnectDelay;
    if (!s.rtspFailcheck) out.rtsp_failcheck = false;
    if (s.rtspInterleaved) out.rtsp_interleaved = true;
  }
  for (const st of mp.streams) {
    const m = st.spec;
    out[m.type] = true;
    if (m.pt !== null) out[`${m.type}pt`] = m.pt;
    if (m.codec !== null) out[`${m.type}codec`] = m.codec;
    if (m.fmtp !== null) out[`${m.type}fmtp`] = m.fmtp;
  }
  return out;
}

export class MountpointStore {
  constructor(
    private readonly doc: JcfgDocument,
    private readonly log: Logger,
  ) {}

  save(mp: Mountpoint): Promise<boolean> {
    return this.change(mp.name, () => this.doc.setCategory(mp.name, mountpointToConfig(mp)));
  }

  remove(mp: Mountpoint): Promise<boolean> {
    return this.change(mp.name, () => void this.doc.removeCategory(mp.name));
  }

  private async change(name: string, apply: () => void): Promise<boolean> {
    const before = this.doc.category(name);
    try {
      apply();
      await this.doc.save();
      return true;
    } catch (err) {
      this.log.error(`streaming: could not save ${this.doc.file} (${name}): ${(err as Error).message}`);
      if (before === undefined) this.doc.removeCategory(name);
      else this.doc.setCategory(name, before);
      return false;
    }
  }
}
