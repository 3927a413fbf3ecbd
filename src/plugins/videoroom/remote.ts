/**
 * One room larger than a worker (issue 12): subscribers of a room on another media worker than the
 * room's. The room's worker stays the authority for the room; each worker with remote subscribers
 * holds a mirror of it (settings and the active publishers' streams: codecs, simulcast, extension
 * ids), against which the ordinary subscriber code (subscriber.ts, forward.ts) runs unchanged.
 *
 * Both halves live in every worker's VideoRoom:
 * - room side: which workers mirror which room, each published stream's key, and per stream the
 *   packet lanes (src/workers/bus.ts) of the workers that have subscribers bound to it (`remoteOut`):
 *   the Forwarder writes each packet once per such worker, as the publisher sent it (a data stream's
 *   messages likewise, lane-data.ts);
 * - mirror side: mirror rooms, mirror publishers (Participant with `remoteFrom` >= 0), and the ring
 *   lane records fed to Forwarder.publisherRtp as if they had come from a local publisher, so layer
 *   selection, rewriting, protection and sending are the local path's (data records: to
 *   Forwarder.relayData, the local path's fan-out).
 *
 * Control (the bus's control lane, VrBusMessage, not per packet): mirror -> room `want` (a stream gained
 * its first or lost its last subscriber here) and `pli` (a keyframe request); room -> mirror `feed` (a
 * publisher is up or renegotiated), `unfeed` (it stopped), `member`/`memberGone` (a participant's
 * private id, mirror-members.ts), `roomGone`. A dead worker on either side: busDown.
 */
import type { PluginSession, RtpStreamInfo } from '../../core/plugin.js';
import type { CodecName } from '../../media/sdp/negotiate.js';
import type { PacketLane, WorkerBus } from '../../workers/bus.js';
import type { VrContext } from './context.js';
import type { VrId } from './ids.js';
import { closeOwnedSubscriptions, dropSubscribers } from './membership.js';
import { hasPrivateId, memberSnaps, MirrorMembers, type MemberSnap } from './mirror-members.js';
import { Participant } from './participant.js';
import { Room } from './room.js';
import type { RoomSettings } from './room-settings.js';
import { PublishedStream, type StreamType } from './streams.js';
import { dropPublisherStreams } from './subscriber.js';
import { DataLaneReader, isDataRecord, type DataRelay } from './lane-data.js';

type Data = Record<string, unknown>;

interface StreamSnap {
  key: number;
  type: StreamType;
  mindex: number;
  mid: string;
  codec: CodecName | undefined;
  pt: number;
  clockRate: number;
  fmtp: Record<string, string>;
  description: string | undefined;
  disabled: boolean;
  send: boolean;
  moderated: boolean;
  rids: string[];
  ridHml: boolean;
  simSsrcs: number[];
  audioLevelExt: number;
  videoOrientExt: number;
  fec: boolean;
  dtx: boolean;
  stereo: boolean;
  h264Profile: string | undefined;
  vp9Profile: string | undefined;
}

interface FeedSnap {
  id: VrId;
  display: string | null;
  metadata: unknown;
  audioCodec: string | undefined;
  videoCodec: string | undefined;
  streams: StreamSnap[];
}

export interface RoomSnap {
  id: VrId;
  settings: RoomSettings;
  feeds: FeedSnap[];
  /** The participants' private ids (mirror-members.ts). */
  members: MemberSnap[];
}

/** VideoRoom's control messages between workers (WorkerBus<VrBusMessage>). */
export type VrBusMessage =
  | { op: 'want'; key: number; on: boolean }
  | { op: 'pli'; key: number }
  | { op: 'feed'; room: VrId; feed: FeedSnap }
  | { op: 'unfeed'; room: VrId; id: VrId }
  | { op: 'roomGone'; room: VrId }
  | { op: 'member'; room: VrId; id: VrId; pvt: number }
  | { op: 'memberGone'; room: VrId; id: VrId; kicked: boolean };

/** The handle of a mirror publisher: it has no client; events to it are dropped by the host. */
const NO_SESSION: PluginSession = { handleId: 0, sessionId: 0, opaqueId: null, token: null, state: undefined, alive: false };

/** Largest packet the Forwarder takes (forward.ts MAX_PACKET). */
const MAX_PACKET = 1500;

/** Keyframe requests after stale lane records: at most one per mirror stream per this many ms. */
export const STALE_PLI_INTERVAL_MS = 1000;

interface Mirror {
  from: number;
  room: Room;
  members: MirrorMembers;
}

export class RemoteRooms {
  // ---- room side
  private nextKey = 1;
  /** key -> a stream of a publisher of ours. */
  private readonly keyed = new Map<number, PublishedStream>();
  /** room -> the workers mirroring it. */
  private readonly mirroredBy = new Map<VrId, Set<number>>();
  /** key -> the workers with subscribers bound to it. */
  private readonly wants = new Map<number, Set<number>>();
  // ---- mirror side
  readonly mirrors = new Map<VrId, Mirror>();
  /** from -> key -> mirror stream. */
  private readonly mirrorStreams = new Map<number, Map<number, PublishedStream>>();
  private readonly scratch = Buffer.allocUnsafe(MAX_PACKET + 64);
  private readonly dataIn: DataLaneReader;
  /** Records that came over a ring / were written to rings (diagnostics, bench). */
  received = 0;
  /** Keyframe requests sent because lane records went stale (tests, diagnostics). */
  stalePlis = 0;

  constructor(
    private readonly ctx: VrContext,
    private readonly bus: WorkerBus<VrBusMessage>,
    /** The Forwarder's entry points (set once the Forwarder exists). */
    private readonly path: {
      rtp(me: Participant, info: RtpStreamInfo, buf: Buffer, len: number): void;
      keyframe(ps: PublishedStream): void;
      /** A data-channel message of a mirror stream for its subscribers here (Forwarder.relayData). */
      data: DataRelay;
    },
  ) {
    this.dataIn = new DataLaneReader(path.data);
  }

  /** How many other workers mirror room `id` (they hold subscribers of it: the cluster counts them as members). */
  mirrorCount(id: VrId): number {
    return this.mirroredBy.get(id)?.size ?? 0;
  }

  /** The mirror of a room that lives on another worker (subscriber joins only). */
  mirrorRoom(id: VrId): Room | undefined {
    return this.mirrors.get(id)?.room;
  }

  /** The private ids of a mirror room's participants; undefined when `room` is no (current) mirror. */
  mirrorMembers(room: Room): MirrorMembers | undefined {
    const m = this.mirrors.get(room.id);
    return m !== undefined && m.room === room ? m.members : undefined;
  }

  // ------------------------------------------------------------------ room side: state to the mirrors

  private keyOf(ps: PublishedStream): number {
    if (ps.remoteKey === 0) {
      ps.remoteKey = this.nextKey++;
      this.keyed.set(ps.remoteKey, ps);
    }
    return ps.remoteKey;
  }

  private feedSnap(me: Participant): FeedSnap {
    return {
      id: me.id,
      display: me.display,
      metadata: me.metadata,
      audioCodec: me.media.audioCodec,
      videoCodec: me.media.videoCodec,
      // Data streams too: their messages cross on the same lanes (lane-data.ts).
      streams: me.media.streams.map((s) => ({
        key: this.keyOf(s),
        type: s.type,
        mindex: s.mindex,
        mid: s.mid,
        codec: s.codec,
        pt: s.pt,
        clockRate: s.clockRate,
        fmtp: s.fmtp,
        description: s.description,
        disabled: s.disabled,
        send: s.send,
        moderated: s.moderated,
        rids: s.rids,
        ridHml: s.ridHml,
        simSsrcs: s.simSsrcs,
        audioLevelExt: s.audioLevelExt,
        videoOrientExt: s.videoOrientExt,
        fec: s.fec,
        dtx: s.dtx,
        stereo: s.stereo,
        h264Profile: s.h264Profile,
        vp9Profile: s.vp9Profile,
      })),
    };
  }

  private toMirrors(room: Room, msg: VrBusMessage): void {
    const ws = this.mirroredBy.get(room.id);
    if (ws === undefined) return;
    for (const w of ws) this.bus.send(w, msg);
  }

  /** A local publisher is up, or renegotiated: mirrors (re)build it. */
  feedChanged(me: Participant): void {
    if (me.remoteFrom >= 0 || !me.media.active) return;
    // Streams a renegotiation removed stop crossing.
    for (const [key, ps] of this.keyed) if (ps.owner === me && !me.media.streams.includes(ps)) this.forget(key, ps);
    this.toMirrors(me.room, { op: 'feed', room: me.room.id, feed: this.feedSnap(me) });
  }

  /** A local publisher stopped (unpublish, leave, hangup, kick, destroy). */
  feedGone(me: Participant, streams: readonly PublishedStream[]): void {
    if (me.remoteFrom >= 0) return;
    for (const ps of streams) if (ps.remoteKey !== 0) this.forget(ps.remoteKey, ps);
    this.toMirrors(me.room, { op: 'unfeed', room: me.room.id, id: me.id });
  }

  /** A participant joined a room of ours: mirrors learn its private id before it is told it (mirror-members.ts). */
  memberJoined(p: Participant): void {
    if (hasPrivateId(p)) this.toMirrors(p.room, { op: 'member', room: p.room.id, id: p.id, pvt: p.privateId });
  }

  /** A participant left a room of ours (not destroyed: roomGone says that). */
  memberGone(p: Participant, kicked: boolean): void {
    if (hasPrivateId(p)) this.toMirrors(p.room, { op: 'memberGone', room: p.room.id, id: p.id, kicked });
  }

  roomGone(room: Room): void {
    this.toMirrors(room, { op: 'roomGone', room: room.id });
    this.mirroredBy.delete(room.id);
  }

  private forget(key: number, ps: PublishedStream): void {
    this.keyed.delete(key);
    this.wants.delete(key);
    ps.remoteOut = [];
    ps.remoteKey = 0;
  }

  private refreshOut(key: number): void {
    const ps = this.keyed.get(key);
    if (ps === undefined) return;
    const out: PacketLane[] = [];
    for (const w of this.wants.get(key) ?? []) {
      const p = this.bus.lane(w);
      if (p !== null) out.push(p);
    }
    ps.remoteOut = out;
  }

  // ------------------------------------------------------------------ set-up calls from main

  busCall(op: string, args: Data): unknown {
    if (op === 'mirrorOut') {
      // Room side: worker `to` mirrors this room from now on; here is the room as it is.
      const id = this.ctx.ids.require(args.room, 'room');
      const room = this.ctx.rooms.get(id);
      if (room === undefined || typeof args.to !== 'number') return null;
      let ws = this.mirroredBy.get(id);
      if (ws === undefined) this.mirroredBy.set(id, (ws = new Set()));
      ws.add(args.to);
      return { id: room.id, settings: room.settings, feeds: room.activePublishers().map((p) => this.feedSnap(p)), members: memberSnaps(room) } satisfies RoomSnap;
    }
    if (op === 'mirrorIn') {
      const from = args.from as number;
      const snap = args.snapshot as RoomSnap;
      const old = this.mirrors.get(snap.id);
      if (old !== undefined) this.dropMirror(old, false);
      const room = new Room(snap.id, snap.settings);
      const members = new MirrorMembers(room, NO_SESSION);
      for (const [id, pvt] of snap.members) members.set(id, pvt);
      this.mirrors.set(snap.id, { from, room, members });
      for (const f of snap.feeds) this.upsertFeed(from, room, f);
      return { ok: true };
    }
    throw new Error(`unknown cross-worker call ${op}`);
  }

  // ------------------------------------------------------------------ control messages

  busMessage(from: number, msg: VrBusMessage): void {
    switch (msg.op) {
      case 'want': {
        const key = msg.key;
        if (!this.keyed.has(key)) return;
        let ws = this.wants.get(key);
        if (ws === undefined) this.wants.set(key, (ws = new Set()));
        if (msg.on === true) ws.add(from);
        else ws.delete(from);
        this.refreshOut(key);
        return;
      }
      case 'pli': {
        const ps = this.keyed.get(msg.key);
        if (ps !== undefined) this.path.keyframe(ps);
        return;
      }
      case 'feed': {
        const m = this.mirrors.get(msg.room);
        if (m !== undefined && m.from === from) this.upsertFeed(from, m.room, msg.feed);
        return;
      }
      case 'unfeed': {
        const m = this.mirrors.get(msg.room);
        if (m !== undefined && m.from === from) this.dropFeed(m, msg.id);
        return;
      }
      case 'roomGone': {
        const m = this.mirrors.get(msg.room);
        if (m !== undefined && m.from === from) this.dropMirror(m, true);
        return;
      }
      case 'member': {
        const m = this.mirrors.get(msg.room);
        if (m !== undefined && m.from === from) m.members.set(msg.id, msg.pvt);
        return;
      }
      case 'memberGone': {
        const m = this.mirrors.get(msg.room);
        if (m === undefined || m.from !== from) return;
        const p = m.members.delete(msg.id);
        // A kicked participant's subscriptions end with it, here too (membership.ts).
        if (p !== undefined && msg.kicked) closeOwnedSubscriptions(this.ctx, m.room, p);
        return;
      }
      default:
        return;
    }
  }

  /** Worker `index` died: rooms mirrored from it lose their publishers; it stops getting ours. */
  busDown(index: number): void {
    for (const m of [...this.mirrors.values()]) if (m.from === index) this.dropMirror(m, false);
    for (const ws of this.mirroredBy.values()) ws.delete(index);
    for (const [key, ws] of this.wants) {
      if (ws.delete(index)) this.refreshOut(key);
    }
  }

  // ------------------------------------------------------------------ mirror side

  private streamsFrom(from: number): Map<number, PublishedStream> {
    let m = this.mirrorStreams.get(from);
    if (m === undefined) this.mirrorStreams.set(from, (m = new Map()));
    return m;
  }

  private upsertFeed(from: number, room: Room, f: FeedSnap): void {
    let p = room.participants.get(f.id);
    if (p === undefined) {
      p = new Participant(f.id, 0, room, NO_SESSION);
      p.remoteFrom = from;
      room.participants.set(f.id, p);
    }
    p.display = f.display;
    p.metadata = f.metadata;
    const media = p.media;
    media.negotiated = true;
    media.active = true;
    media.audioCodec = f.audioCodec;
    media.videoCodec = f.videoCodec;
    const keys = this.streamsFrom(from);
    const next: PublishedStream[] = [];
    for (const s of f.streams) {
      let ps = media.byMid.get(s.mid);
      if (ps === undefined || ps.type !== s.type || ps.remoteKey !== s.key) {
        if (ps !== undefined) this.dropStreams(from, [ps]);
        ps = new PublishedStream(p, s.type, s.mindex, s.mid);
        ps.remoteKey = s.key;
        ps.remoteInfos = [0, 1, 2].map((substream) => ({ mid: s.mid, mindex: s.mindex, kind: s.type === 'audio' ? 'audio' : 'video', ssrc: 0, substream, rid: undefined }) satisfies RtpStreamInfo);
        const key = s.key;
        ps.onSubscribers = (x) => this.bus.send(from, { op: 'want', key, on: x.subscribers.length > 0 });
        keys.set(key, ps);
      }
      ps.mindex = s.mindex;
      ps.codec = s.codec;
      ps.pt = s.pt;
      ps.clockRate = s.clockRate;
      ps.fmtp = s.fmtp;
      ps.description = s.description;
      ps.disabled = s.disabled;
      ps.send = s.send;
      ps.moderated = s.moderated;
      ps.rids = s.rids;
      ps.ridHml = s.ridHml;
      ps.simSsrcs = s.simSsrcs;
      ps.audioLevelExt = s.audioLevelExt;
      ps.videoOrientExt = s.videoOrientExt;
      ps.fec = s.fec;
      ps.dtx = s.dtx;
      ps.stereo = s.stereo;
      ps.h264Profile = s.h264Profile;
      ps.vp9Profile = s.vp9Profile;
      next.push(ps);
    }
    const gone = media.streams.filter((x) => !next.includes(x));
    media.streams = next;
    media.byMid.clear();
    for (const ps of next) media.byMid.set(ps.mid, ps);
    if (gone.length > 0) this.dropStreams(from, gone);
    // A stream already wanted before this snapshot (a renegotiation kept it): tell the room side again.
    for (const ps of next) if (ps.subscribers.length > 0) this.bus.send(from, { op: 'want', key: ps.remoteKey, on: true });
  }

  private dropStreams(from: number, streams: PublishedStream[]): void {
    const keys = this.mirrorStreams.get(from);
    for (const ps of streams) {
      keys?.delete(ps.remoteKey);
      ps.onSubscribers = null;
    }
    // Subscribers here lose these streams as if their publisher were local (autoupdate offers).
    dropPublisherStreams(this.ctx, streams);
  }

  private dropFeed(m: Mirror, id: VrId): void {
    const p = m.room.participants.get(id);
    if (p === undefined) return;
    const streams = p.media.streams;
    p.media.reset();
    m.room.participants.delete(id);
    this.dropStreams(m.from, streams);
  }

  /** destroyed: the room itself is gone (subscribers get `destroyed`); else only its publishers. */
  private dropMirror(m: Mirror, destroyed: boolean): void {
    for (const id of [...m.room.participants.keys()]) this.dropFeed(m, id);
    if (this.mirrors.get(m.room.id) === m) this.mirrors.delete(m.room.id);
    if (destroyed) {
      m.room.destroyed = true;
      dropSubscribers(this.ctx, m.room);
    }
  }

  // ------------------------------------------------------------------ packets and keyframe requests

  /**
   * One packet-lane record: a packet of a mirror stream, as its publisher sent it (meta: the simulcast
   * layer), or a message of a mirror data stream (lane-data.ts).
   */
  busPacket(from: number, tag: number, meta: number, data: Buffer, offset: number, length: number): void {
    const ps = this.mirrorStreams.get(from)?.get(tag);
    if (ps !== undefined && isDataRecord(meta)) {
      if (ps.type !== 'data') return;
      this.received++;
      this.dataIn.read(ps, meta, data, offset, length);
      return;
    }
    if (ps === undefined || length > MAX_PACKET || ps.remoteInfos === null || ps.type === 'data') return;
    this.received++;
    data.copy(this.scratch, 0, offset, offset + length);
    this.path.rtp(ps.owner, ps.remoteInfos[meta & 3] ?? ps.remoteInfos[0]!, this.scratch, length);
  }

  /**
   * Records of a mirror stream were skipped on the lane from `from` (older than the bus's
   * LANE_MAX_AGE_MS: this worker fell behind). Video: the subscribers' decoders now miss frames that
   * later ones refer to, so they would show a broken or frozen picture until the publisher's next
   * keyframe, seconds away; ask for one now, through the cross-worker PLI the subscribers' own
   * requests take. One per stream per STALE_PLI_INTERVAL_MS however long the backlog lasts (a
   * starved worker skips in every drain; the room's worker limits PLIs per stream too). A PLI names
   * the stream, so every simulcast layer of it gets a keyframe; `meta` (the layer) is not needed.
   * Audio: nothing to repair, the decoder conceals the gap.
   */
  stale(from: number, tag: number): void {
    const ps = this.mirrorStreams.get(from)?.get(tag);
    if (ps === undefined || ps.type !== 'video' || ps.subscribers.length === 0) return;
    const now = this.ctx.now();
    if (now - ps.stalePliMs < STALE_PLI_INTERVAL_MS) return;
    ps.stalePliMs = now;
    // The subscribers' own requests (forward.ts keyframeRequest) need not follow this one at once.
    ps.lastPliMs = now;
    this.stalePlis++;
    this.pli(ps);
  }

  /** A keyframe request for a mirror stream goes to the room's worker (which rate-limits it too). */
  pli(ps: PublishedStream): void {
    const from = ps.owner.remoteFrom;
    if (from >= 0 && ps.remoteKey !== 0) this.bus.send(from, { op: 'pli', key: ps.remoteKey });
  }
}
