/**
 * A publisher's media lifecycle: answering its offer (publish, configure with an offer,
 * joinandconfigure), announcing it once its PeerConnection is up, REMB and keyframe requests,
 * and stopping (unpublish, hangup, leave, kick, room destroyed), which also deactivates every
 * subscriber m-line fed by it.
 */
import type { Jsep } from '../../core/jsep.js';
import { notify, type VrContext } from './context.js';
import { publishedEvent } from './events.js';
import { VrError, VrErrorCode } from './errors.js';
import { Params, type Body } from './params.js';
import type { Participant } from './participant.js';
import { startRecording, stopRecording } from './recording.js';
import { answerPublisher, type PublishRequest } from './sdp.js';
import type { PublishedStream } from './streams.js';
import { dropPublisherStreams } from './subscriber.js';
import { syncRemotizations } from './publish-remotely.js';

type Data = Record<string, unknown>;

/** The bitrate a publisher is told it may send (REMB): its own, capped by the room's. 0: no cap. */
export function effectiveBitrate(me: Participant): number {
  const room = me.room.settings.bitrate;
  const own = me.media.bitrate;
  if (own === 0) return room;
  if (room > 0 && me.room.settings.bitrate_cap && own > room) return room;
  return own;
}

export function sendRemb(ctx: VrContext, me: Participant): void {
  if (!me.media.active) return;
  const b = effectiveBitrate(me);
  if (b > 0) ctx.media?.sendRemb(me.session, b);
}

/** Parse the `descriptions` array ([{mid, description}]). */
export function parseDescriptions(p: Params): Array<{ mid: string; description: string }> | undefined {
  const arr = p.array('descriptions');
  if (arr === undefined) return undefined;
  return arr.map((d) => {
    const dp = new Params((d ?? {}) as Body);
    return { mid: dp.requireString('mid'), description: dp.requireString('description') };
  });
}

/**
 * Answer a publisher's offer (first publish or renegotiation). Returns the answer; the caller sends it
 * with the `configured` reply. Streams that disappear in a renegotiation lose their subscribers.
 */
export function negotiatePublisher(ctx: VrContext, me: Participant, jsep: Jsep, body: Body): Jsep {
  if (jsep.type !== 'offer') throw new VrError(VrErrorCode.INVALID_SDP_TYPE, `Unsupported SDP type '${jsep.type}'`);
  const p = new Params(body);
  const req: PublishRequest = {};
  const a = p.string('audiocodec');
  if (a !== undefined) req.audiocodec = a;
  const v = p.string('videocodec');
  if (v !== undefined) req.videocodec = v;
  const d = parseDescriptions(p);
  if (d !== undefined) req.descriptions = d;
  const renegotiation = me.media.negotiated;
  if (!renegotiation && me.room.publisherCount() >= me.room.settings.publishers) {
    throw new VrError(VrErrorCode.PUBLISHERS_FULL, `Maximum number of publishers (${me.room.settings.publishers}) already reached`);
  }
  const { jsep: answer, streams } = answerPublisher(me, jsep, req, me.media.streams);
  const gone = me.media.streams.filter((s) => !streams.includes(s));
  me.media.negotiated = true;
  me.media.streams = streams;
  me.media.byMid.clear();
  for (const s of streams) me.media.byMid.set(s.mid, s);
  const firstAudio = streams.find((s) => s.type === 'audio' && !s.disabled);
  const firstVideo = streams.find((s) => s.type === 'video' && !s.disabled);
  me.media.audioCodec = firstAudio?.codec;
  me.media.videoCodec = firstVideo?.codec;
  // Disabled streams (rejected) and removed ones stop feeding their subscribers.
  dropPublisherStreams(ctx, [...gone, ...streams.filter((s) => s.disabled && s.subscribers.length > 0)]);
  stopRecording(ctx, [...gone, ...streams.filter((s) => s.disabled)]);
  ctx.rtpfwd.removeStreams(gone);
  // As Janus: a recorded room, or a publisher that asked to record, records from the negotiation on
  // (streams added by a renegotiation get their own files; existing ones keep theirs).
  if (me.room.settings.record || me.recordingActive) {
    me.recordingActive = true;
    startRecording(ctx, me);
  }
  syncRemotizations(ctx, me);
  return answer;
}

/** The `configured` reply to a publish/configure that carried an offer. */
export function configuredReply(me: Participant): Data {
  const o: Data = { videoroom: 'event', room: me.room.id, configured: 'ok' };
  if (me.media.audioCodec !== undefined) o.audio_codec = me.media.audioCodec;
  if (me.media.videoCodec !== undefined) o.video_codec = me.media.videoCodec;
  o.streams = me.media.streams.map((s) => s.entry(false));
  return o;
}

/** The publisher's PeerConnection is up: announce it, cap its bitrate, ask for a first keyframe. */
export function publisherUp(ctx: VrContext, me: Participant): void {
  if (!me.media.negotiated || me.room.destroyed || me.room.participants.get(me.id) !== me) return;
  const first = !me.media.active;
  me.media.active = true;
  // Mirrors first: a client told about this publisher may subscribe on another worker at once.
  ctx.remote?.feedChanged(me);
  if (first) {
    notify(ctx, me.room.others(me), { videoroom: 'event', room: me.room.id, publishers: [me.publisherEntry()] });
    publishedEvent(ctx, me, 'published');
  }
  sendRemb(ctx, me);
  // Recording switched on while this PeerConnection was still coming up (enable_recording) starts now;
  // Janus would wait for the next renegotiation.
  if (me.recordingActive) startRecording(ctx, me);
  ctx.media?.sendPli(me.session, null);
}

/** After a renegotiation of an active publisher: tell the others about the new stream list. */
export function publisherUpdated(ctx: VrContext, me: Participant): void {
  if (!me.media.active) return;
  ctx.remote?.feedChanged(me);
  notify(ctx, me.room.others(me), { videoroom: 'event', room: me.room.id, publishers: [me.publisherEntry()] });
  publishedEvent(ctx, me, 'updated');
}

/**
 * Stop publishing: subscribers lose the streams (autoupdate renegotiates them), the others are told
 * `unpublished` if it had been announced. Returns whether it was announced.
 */
export function stopPublishing(ctx: VrContext, me: Participant, tellOthers: boolean): boolean {
  const wasActive = me.media.active;
  if (!me.media.negotiated && !wasActive) return false;
  const streams: PublishedStream[] = me.media.streams;
  stopRecording(ctx, streams);
  // Forwarders die with the publisher's media, as in Janus.
  ctx.rtpfwd.removeStreams(streams);
  // Janus forgets the filename with the media; recording itself stays wanted for a republish.
  me.recordingBase = null;
  me.media.reset();
  dropPublisherStreams(ctx, streams);
  if (wasActive) ctx.remote?.feedGone(me, streams);
  if (wasActive && tellOthers) notify(ctx, me.room.others(me), { videoroom: 'event', room: me.room.id, unpublished: me.id });
  return wasActive;
}
