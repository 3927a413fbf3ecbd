/**
 * `publish_remotely`, `unpublish_remotely`, `listremotes`: a local publisher sent to a remote
 * VideoRoom's `add_remote_publisher` port (Janus 1.1.2's cascading), as one plain-RTP flow.
 *
 * A "remotization" is a set of RTP forwarders (rtp-forward.ts) marked with its remote_id, all to the
 * same host:port, each stream under Janus's SSRC plan (remote-feed.ts: 1000 + 10 x mindex, + 1 / + 2
 * for simulcast layers, lowest first), with the publisher's own payload types, sequence numbers and
 * timestamps. The first video stream's forwarder gets the `rtcp_port` back-channel: it latches, and a
 * PLI whose media SSRC names any of the remotization's video streams becomes a keyframe request to the
 * publisher. Like Janus, remotization forwarders are absent from listforwarders and stop_rtp_forward.
 *
 * The remotization outlives the publisher's media: forwarders die with the streams (unpublish,
 * renegotiation), and the publisher's next negotiation (publish again, a renegotiation adding streams)
 * recreates them for every remotization (syncRemotizations, called by publishing.ts).
 */
import { checkKey } from './auth.js';
import type { VrContext } from './context.js';
import { noSuchRoom, VrError, VrErrorCode } from './errors.js';
import { missing, Params, type Body } from './params.js';
import type { Participant } from './participant.js';
import { remoteSsrc } from './remote-feed.js';
import { checkLock, hostFamily, randomStreamId, resolve, RtpForwarder } from './rtp-forward.js';
import type { PublishedStream } from './streams.js';

type Data = Record<string, unknown>;

/** One `publish_remotely` of a publisher. */
export interface Remotization {
  remoteId: string;
  host: string;
  port: number;
  rtcpPort: number;
  /** Whether a video forwarder already holds the RTCP back-channel (only one does, as in Janus). */
  rtcpTaken: boolean;
}

function lookup(ctx: VrContext, p: Params, noun: 'feed' | 'publisher'): Participant {
  const roomId = ctx.ids.require(p.body.room, 'room');
  const pubId = ctx.ids.require(p.body.publisher_id, 'publisher_id');
  const room = ctx.rooms.get(roomId);
  if (room === undefined) throw noSuchRoom(roomId);
  checkKey(p, 'secret', room.settings.secret);
  const me = room.participants.get(pubId);
  if (me === undefined) throw new VrError(VrErrorCode.NO_SUCH_FEED, `No such ${noun} (${pubId})`);
  return me;
}

export async function publishRemotely(ctx: VrContext, body: Body): Promise<Data> {
  const p = new Params(body);
  // Janus's order: the request's parameters, room, publisher_id, admin_key, port, family, host.
  p.string('secret');
  const remoteId = p.requireString('remote_id');
  const host = p.requireString('host');
  p.string('host_family');
  const port = p.posInt('port');
  if (port === undefined) throw missing('port');
  const rtcpPort = p.posInt('rtcp_port') ?? 0;
  ctx.ids.require(body.room, 'room');
  ctx.ids.require(body.publisher_id, 'publisher_id');
  checkLock(ctx, p);
  if ((port & 0xffff) === 0) throw new VrError(VrErrorCode.INVALID_ELEMENT, 'Invalid element (port must be a non-zero positive integer)');
  const family = hostFamily(p);
  const resolved = await resolve(host, family);
  const me = lookup(ctx, p, 'feed');
  if (me.remoteFeed !== null) throw new VrError(VrErrorCode.INVALID_ELEMENT, 'Only local publishers can be remotized');
  if (me.remotizations.has(remoteId)) throw new VrError(VrErrorCode.ID_EXISTS, `Remotization already exists (${remoteId})`);
  const r: Remotization = { remoteId, host: resolved, port: port & 0xffff, rtcpPort: rtcpPort & 0xffff, rtcpTaken: false };
  me.remotizations.set(remoteId, r);
  await forwardStreams(ctx, me, r, me.media.streams);
  return { videoroom: 'success', room: me.room.id, id: me.id, remote_id: remoteId };
}

export function unpublishRemotely(ctx: VrContext, body: Body): Data {
  const p = new Params(body);
  p.string('secret');
  const remoteId = p.requireString('remote_id');
  const me = lookup(ctx, p, 'publisher');
  if (!me.remotizations.delete(remoteId)) throw new VrError(VrErrorCode.NO_SUCH_FEED, `No such remotization (${remoteId})`);
  for (const ps of me.media.streams) for (const f of [...ps.forwarders]) if (f.remoteId === remoteId) ctx.rtpfwd.remove(f);
  return { videoroom: 'success', room: me.room.id, id: me.id };
}

export function listRemotes(ctx: VrContext, body: Body): Data {
  const p = new Params(body);
  const me = lookup(ctx, p, 'publisher');
  const list = [...me.remotizations.values()].map((r) => {
    const o: Data = { remote_id: r.remoteId, host: r.host, port: r.port };
    if (r.rtcpPort > 0) o.rtcp_port = r.rtcpPort;
    return o;
  });
  return { videoroom: 'success', room: me.room.id, id: me.id, list };
}

/**
 * After a negotiation of `me`: every remotization gets forwarders for the streams that have none of
 * its own yet (new streams, or all of them after a republish). Never throws: failures are logged.
 */
export function syncRemotizations(ctx: VrContext, me: Participant): void {
  if (me.remotizations.size === 0) return;
  for (const r of me.remotizations.values()) {
    const missingStreams = me.media.streams.filter((ps) => !ps.forwarders.some((f) => f.remoteId === r.remoteId));
    // The RTCP back-channel went with the streams that held it: the next video forwarder takes it again.
    if (!me.media.streams.some((ps) => ps.forwarders.some((f) => f.remoteId === r.remoteId && f.remoteRtcpPort > 0))) r.rtcpTaken = false;
    forwardStreams(ctx, me, r, missingStreams).catch((err) => ctx.log.warn(`videoroom: publish_remotely ${r.remoteId} of ${me.id}: ${String(err)}`));
  }
}

async function forwardStreams(ctx: VrContext, me: Participant, r: Remotization, streams: readonly PublishedStream[]): Promise<void> {
  const created: RtpForwarder[] = [];
  for (const ps of streams) {
    if (ps.disabled) continue;
    if (ps.type !== 'video') {
      const f = await open(ctx, me, r, ps, 0, 0);
      if (f !== null) created.push(f);
      continue;
    }
    const withRtcp = !r.rtcpTaken && r.rtcpPort > 0;
    if (withRtcp) r.rtcpTaken = true;
    const layers = ps.simulcast ? ps.maxLayer + 1 : 1;
    for (let layer = 0; layer < layers; layer++) {
      const f = await open(ctx, me, r, ps, layer, layer === 0 && withRtcp ? r.rtcpPort : 0);
      if (f !== null) created.push(f);
    }
  }
  // The remote side starts decoding at a keyframe.
  const now = ctx.now();
  for (const ps of new Set(created.map((f) => f.source))) {
    if (ps.type !== 'video' || !me.media.active) continue;
    ps.lastPliMs = now;
    ctx.media?.sendPli(me.session, ps.mid);
  }
}

/** One forwarder of a remotization; null when the socket could not be had or things changed meanwhile. */
async function open(ctx: VrContext, me: Participant, r: Remotization, ps: PublishedStream, layer: number, rtcpPort: number): Promise<RtpForwarder | null> {
  const fwd = ctx.rtpfwd;
  const f = new RtpForwarder(randomStreamId(me), ps, r.host, r.port, { pt: 0, ssrc: remoteSsrc(ps.mindex, layer), substream: layer, simulcast: false, remoteRtcpPort: rtcpPort }, null);
  f.remoteId = r.remoteId;
  try {
    await fwd.socket(f.family);
    if (f.remoteRtcpPort > 0) await fwd.openRtcp(f);
  } catch (err) {
    ctx.log.warn(`videoroom: publish_remotely: no socket for ${r.host}: ${String(err)}`, { room: me.room.id, id: me.id });
    return null;
  }
  // The publisher, its stream or the remotization may have gone while we awaited the sockets.
  if (me.room.participants.get(me.id) !== me || me.media.byMid.get(ps.mid) !== ps || me.remotizations.get(r.remoteId) !== r) {
    fwd.remove(f);
    return null;
  }
  fwd.register(f);
  return f;
}
