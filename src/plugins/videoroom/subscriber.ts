/**
 * Subscriber handles: anonymous recvonly PeerConnections that can carry streams of many publishers.
 * Janus offers, the client answers with `start`. The m-line table changes immediately on
 * subscribe/unsubscribe/switch/autoupdate (the packet path only forwards on m-lines the peer has
 * negotiated as active, the core drops the rest); when the table no longer matches what was last
 * offered a new offer goes out, or, while one is still waiting for its answer, the change is
 * coalesced into the next offer (`updating`).
 */
import type { LayerChoice } from './auto-layers.js';
import { randomInt } from 'node:crypto';
import type { Jsep } from '../../core/jsep.js';
import type { PluginSession } from '../../core/plugin.js';
import type { VrContext } from './context.js';
import { VrError, VrErrorCode } from './errors.js';
import type { VrId } from './ids.js';
import { missing, Params, type Body } from './params.js';
import type { HandleState, Participant } from './participant.js';
import type { Room } from './room.js';
import { subscriberOffer } from './sdp.js';
import { MAX_LAYERS, type PublishedStream, SubStream } from './streams.js';

type Data = Record<string, unknown>;

/** Minimum interval between keyframe requests to one publisher stream (PLI storms from many subscribers). */
export const PLI_MIN_INTERVAL_MS = 500;

export class Subscriber {
  streams: SubStream[] = [];
  readonly byMid = new Map<string, SubStream>();
  /** An answer to our last offer arrived (`start` with JSEP): media may flow. */
  started = false;
  paused = false;
  /** Our offer waits for its answer. */
  offerPending = false;
  /** The m-line table changed since the last offer. */
  dirty = false;
  closed = false;
  autoupdate = true;
  useMsid = false;
  /** auto_layers: next allocation time, last estimate used, last slow_link event. */
  nextAutoAt = 0;
  autoEstimate = 0;
  lastSlowLinkMs = -Infinity;
  /** auto_layers diagnostics (handle_info): step downs forced by the pacer queue, the last wait read, the last allocation. */
  autoQueueDowns = 0;
  autoQueueMs = 0;
  autoLast: ReadonlyArray<LayerChoice & { line: { mid: string } }> = [];
  owner: Participant | undefined;

  constructor(
    readonly room: Room,
    readonly session: PluginSession,
  ) {}

  get dataLine(): SubStream | undefined {
    return this.streams.find((s) => s.type === 'data');
  }

  private newSsrc(): number {
    for (;;) {
      const s = randomInt(1, 0xffffffff) >>> 0;
      if (!this.streams.some((x) => x.ssrc === s)) return s;
    }
  }

  /** Bind a publisher stream to a (new or recycled) m-line. */
  add(ps: PublishedStream, opts: StreamOptions): SubStream {
    if (ps.type === 'data') {
      let line = this.dataLine;
      if (line === undefined) {
        line = new SubStream(this, 'data', this.streams.length, String(this.streams.length), 0, 0);
        this.push(line);
      }
      if (!line.dataSources.includes(ps)) {
        line.dataSources = [...line.dataSources, ps];
        ps.bind(line);
      }
      this.dirty = true;
      return line;
    }
    // Recycle an m-line the peer already has as inactive, else add one.
    let line = this.streams.find((s) => s.type === ps.type && s.source === null && !s.ready);
    if (line === undefined) {
      line = new SubStream(this, ps.type, this.streams.length, String(this.streams.length), this.newSsrc(), ps.clockRate);
      if (ps.type === 'video') line.rtxSsrc = this.newSsrc();
      this.push(line);
    }
    line.resetSimulcast();
    line.setSource(ps);
    line.send = opts.send ?? true;
    line.crossrefid = opts.crossrefid;
    applyLayerOptions(line, opts);
    this.dirty = true;
    return line;
  }

  private push(line: SubStream): void {
    this.streams.push(line);
    this.byMid.set(line.mid, line);
  }

  /** Stop feeding an m-line (it stays in the SDP as inactive). */
  deactivate(line: SubStream, ps?: PublishedStream): void {
    if (line.type === 'data') {
      const drop = ps === undefined ? line.dataSources : line.dataSources.filter((x) => x === ps);
      for (const d of drop) d.unbind(line);
      line.dataSources = line.dataSources.filter((x) => !drop.includes(x));
    } else line.setSource(null);
    this.dirty = true;
  }

  /** Unbind everything (leave, hangup, detach, room destroyed). */
  unbindAll(): void {
    for (const s of this.streams) {
      s.source?.unbind(s);
      for (const d of s.dataSources) d.unbind(s);
      s.source = null;
      s.dataSources = [];
    }
  }

  /** `streams` entries of attached/updated/switched events, in m-line order. */
  streamList(): Data[] {
    return this.streams.map((s) => streamEntry(s));
  }
}

function streamEntry(s: SubStream): Data {
  const o: Data = { type: s.type, active: s.active, mindex: s.mindex, mid: s.mid, ready: s.ready, send: s.send };
  if (s.type === 'data') {
    if (s.dataSources.length > 0) {
      o.sources = s.dataSources.length;
      o.source_ids = s.dataSources.map((d) => d.owner.id);
    }
    return o;
  }
  const src = s.source;
  if (src === null) return o;
  o.feed_id = src.owner.id;
  if (src.owner.display !== null) o.feed_display = src.owner.display;
  if (src.owner.metadata !== undefined) o.feed_metadata = src.owner.metadata;
  o.feed_mid = src.mid;
  if (src.description !== undefined) o.feed_description = src.description;
  if (s.crossrefid !== undefined) o.crossrefid = s.crossrefid;
  if (src.codec !== undefined) o.codec = src.codec;
  if (src.h264Profile !== undefined) o['h264-profile'] = src.h264Profile;
  if (src.vp9Profile !== undefined) o['vp9-profile'] = src.vp9Profile;
  if (src.simulcast) {
    o.simulcast = {
      substream: s.sim.currentSub,
      'substream-target': s.sim.targetSub,
      'temporal-layer': s.sim.currentTemporal,
      'temporal-layer-target': s.sim.targetTemporal,
    };
  }
  return o;
}

// ----------------------------------------------------------------------------- request parsing

export interface StreamOptions {
  send?: boolean;
  substream?: number;
  temporal?: number;
  fallback?: number;
  crossrefid?: string;
}

function layerOptions(p: Params): StreamOptions {
  const o: StreamOptions = {};
  const send = p.bool('send');
  if (send !== undefined) o.send = send;
  const substream = p.posInt('substream');
  if (substream !== undefined) o.substream = substream;
  const temporal = p.posInt('temporal');
  if (temporal !== undefined) o.temporal = temporal;
  const fallback = p.posInt('fallback');
  if (fallback !== undefined) o.fallback = fallback;
  // Accepted for compatibility (VP9 SVC / playout delay are not acted upon yet).
  p.posInt('spatial_layer');
  p.posInt('temporal_layer');
  p.any('min_delay');
  p.any('max_delay');
  return o;
}

/** `explicit`: a `configure` (not a join/subscribe/switch default), which auto_layers then leaves alone. */
function applyLayerOptions(line: SubStream, o: StreamOptions, explicit = false): void {
  if (o.substream !== undefined) line.sim.targetSub = Math.min(o.substream, MAX_LAYERS - 1);
  if (o.temporal !== undefined) line.sim.targetTemporal = Math.min(o.temporal, 2);
  // An explicit choice wins over auto_layers for this m-line (and lifts an automatic pause).
  if (explicit && (o.substream !== undefined || o.temporal !== undefined)) {
    line.explicitLayers = true;
    line.autoPaused = false;
  }
  if (o.fallback !== undefined) line.sim.fallbackUs = o.fallback;
}

function streamItems(p: Params, name: string): Params[] {
  const arr = p.array(name);
  if (arr === undefined) return [];
  return arr.map((item) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      throw new VrError(VrErrorCode.INVALID_ELEMENT, `Invalid element type (${name} should be an array of objects)`);
    }
    return new Params(item as Body);
  });
}

interface Resolved {
  ps: PublishedStream;
  opts: StreamOptions;
}

function findFeed(ctx: VrContext, room: Room, value: unknown): Participant {
  const feedId = ctx.ids.require(value, 'feed');
  const pub = room.participants.get(feedId);
  if (pub === undefined || !pub.media.active) throw new VrError(VrErrorCode.NO_SUCH_FEED, `No such feed (${feedId})`);
  return pub;
}

/** `streams` items of join/subscribe/update: feed (+ mid) to publisher streams; 428 for unknown feeds/mids. */
function resolveSubscriptions(ctx: VrContext, room: Room, items: Params[]): Resolved[] {
  const out: Resolved[] = [];
  for (const it of items) {
    const pub = findFeed(ctx, room, it.body.feed);
    const mid = it.string('mid');
    const crossrefid = it.string('crossrefid');
    const opts = layerOptions(it);
    if (crossrefid !== undefined) opts.crossrefid = crossrefid;
    if (mid !== undefined) {
      const ps = pub.media.byMid.get(mid);
      if (ps === undefined) throw new VrError(VrErrorCode.NO_SUCH_FEED, `No such mid '${mid}' in feed ${pub.id}`);
      if (ps.disabled) continue;
      out.push({ ps, opts });
    } else {
      for (const ps of pub.media.streams) if (!ps.disabled) out.push({ ps, opts });
    }
  }
  return out;
}

// ----------------------------------------------------------------------------- negotiation

/** Ask the sources of these m-lines for keyframes (rate-limited per publisher stream unless `force`). */
export function requestKeyframes(ctx: VrContext, lines: Iterable<SubStream>, force = false): void {
  const now = ctx.now();
  for (const l of lines) {
    const ps = l.source;
    if (ps === null || ps.type !== 'video') continue;
    if (!force && now - ps.lastPliMs < PLI_MIN_INTERVAL_MS) continue;
    ps.lastPliMs = now;
    if (ps.owner.remoteFrom >= 0) ctx.remote?.pli(ps);
    else ctx.media?.sendPli(ps.owner.session, ps.mid);
  }
}

/** Push a new offer for the current table (`updated` event); `transaction` null for unsolicited ones. */
function sendOffer(ctx: VrContext, sub: Subscriber, transaction: string | null, event: 'attached' | 'updated'): boolean {
  const jsep: Jsep = subscriberOffer(sub.streams, sub.room.settings, sub.room.id as string | number, sub.useMsid);
  sub.dirty = false;
  sub.offerPending = true;
  const ok = ctx.host.pushEvent(sub.session, transaction, { videoroom: event, room: sub.room.id, streams: sub.streamList() }, jsep);
  if (!ok) sub.offerPending = false;
  return ok;
}

/**
 * After a change of the table: offer now (reply to `transaction`, or unsolicited), or, while an offer
 * waits for its answer, say `updating` and offer once the answer is in. Returns the reply to push,
 * or null when the reply (with its JSEP) was already pushed.
 */
export function renegotiate(ctx: VrContext, sub: Subscriber, transaction: string | null): Data | null {
  if (sub.closed) return null;
  if (sub.offerPending) {
    if (transaction === null) return null;
    return { videoroom: 'updating', room: sub.room.id };
  }
  if (!sub.dirty) return transaction === null ? null : { videoroom: 'updated', room: sub.room.id };
  sendOffer(ctx, sub, transaction, 'updated');
  return null;
}

/** A publisher stream went away: every m-line fed by it goes inactive; autoupdate subscribers get a new offer. */
export function dropPublisherStreams(ctx: VrContext, streams: readonly PublishedStream[]): void {
  const touched = new Set<Subscriber>();
  for (const ps of streams) {
    for (const line of [...ps.subscribers]) {
      line.owner.deactivate(line, ps);
      touched.add(line.owner);
    }
  }
  for (const sub of touched) if (sub.autoupdate && sub.started) renegotiate(ctx, sub, null);
}

// ----------------------------------------------------------------------------- requests

/** `join` with ptype subscriber (or the legacy `listener`). Returns null: the reply (with JSEP) was pushed. */
export function joinSubscriber(ctx: VrContext, session: PluginSession, room: Room, body: Body, transaction: string): null {
  const p = new Params(body);
  const useMsid = p.bool('use_msid') ?? false;
  const autoupdate = p.bool('autoupdate') ?? true;
  const pvt = p.posInt('private_id');
  let items = streamItems(p, 'streams');
  if (items.length === 0) {
    if (!p.has('feed')) throw missing('feed');
    // Legacy single-feed form: every stream of `feed` (audio/video/data booleans may exclude kinds).
    items = [new Params({ feed: body.feed, ...(body.substream !== undefined ? { substream: body.substream } : {}), ...(body.temporal !== undefined ? { temporal: body.temporal } : {}) })];
  }
  const owner = pvt !== undefined ? privateIdOwner(ctx, room, pvt) : undefined;
  if (room.settings.require_pvtid && owner === undefined) {
    throw new VrError(VrErrorCode.UNAUTHORIZED, 'Unauthorized (this room requires a valid private_id)');
  }
  let resolved = resolveSubscriptions(ctx, room, items);
  if (!p.has('streams')) {
    const legacy = { audio: p.bool('audio'), video: p.bool('video'), data: p.bool('data') };
    resolved = resolved.filter((r) => legacy[r.ps.type] !== false);
  }
  if (resolved.length === 0) throw new VrError(VrErrorCode.INVALID_ELEMENT, "Can't offer an SDP with no stream");
  const sub = new Subscriber(room, session);
  sub.useMsid = useMsid;
  sub.autoupdate = autoupdate;
  sub.owner = owner;
  for (const r of resolved) sub.add(r.ps, r.opts);
  room.subscribers.add(sub);
  session.state = { kind: 'subscriber', subscriber: sub } satisfies HandleState;
  ctx.log.verb(`videoroom: subscriber handle ${session.handleId} joined room ${room.id} with ${sub.streams.length} m-line(s)`);
  if (!sendOffer(ctx, sub, transaction, 'attached')) {
    // The media plane refused our offer: the handle is no subscriber after all.
    closeSubscriber(sub);
    session.state = { kind: 'idle' } satisfies HandleState;
  }
  return null;
}

/**
 * Whose private id this is. A mirror of a room on another worker has no participants of its own (only
 * stand-ins for its publishers), but the room's private ids as its worker last told them (mirror-members.ts).
 */
function privateIdOwner(ctx: VrContext, room: Room, pvt: number): Participant | undefined {
  const members = ctx.remote?.mirrorMembers(room);
  return members !== undefined ? members.owner(pvt) : room.privateIdOwner(pvt);
}

/** Forget a subscriber (leave, detach, room destroyed). */
export function closeSubscriber(sub: Subscriber): void {
  if (sub.closed) return;
  sub.closed = true;
  sub.unbindAll();
  sub.room.subscribers.delete(sub);
}

function ensureRoom(sub: Subscriber): void {
  if (sub.room.destroyed || sub.closed) throw new VrError(VrErrorCode.NO_SUCH_ROOM, 'No such room');
}

export function subscriberRequest(ctx: VrContext, sub: Subscriber, request: string, body: Body, jsep: Jsep | null, transaction: string): Data | null {
  ensureRoom(sub);
  const room = sub.room;
  switch (request) {
    case 'join':
      throw new VrError(VrErrorCode.ALREADY_JOINED, 'Already in as a subscriber on this handle');
    case 'start': {
      if (jsep !== null) {
        if (jsep.type !== 'answer') throw new VrError(VrErrorCode.INVALID_SDP_TYPE, `Unsupported SDP type '${jsep.type}'`);
        sub.offerPending = false;
        sub.started = true;
        for (const s of sub.streams) {
          if (s.active && !s.ready) s.waitingKeyframe = true;
          s.ready = s.active;
        }
        sub.paused = false;
        ctx.host.pushEvent(sub.session, transaction, { videoroom: 'event', room: room.id, started: 'ok' });
        requestKeyframes(ctx, sub.streams);
        // Changes that arrived while the offer was out go in a new one now.
        if (sub.dirty) renegotiate(ctx, sub, null);
        return null;
      }
      if (sub.paused) {
        sub.paused = false;
        for (const s of sub.streams) {
          s.rewriter.switchSource();
          s.vp8.switchSource();
          s.waitingKeyframe = true;
        }
        requestKeyframes(ctx, sub.streams);
      }
      return { videoroom: 'event', room: room.id, started: 'ok' };
    }
    case 'pause':
      sub.paused = true;
      return { videoroom: 'event', room: room.id, paused: 'ok' };
    case 'configure': {
      const reply = configureSubscriber(ctx, sub, body);
      if (body.restart !== true) return reply;
      // ICE restart: the same m-lines in a new offer with new ICE credentials; the answer comes with `start`.
      const offer: Jsep = { ...subscriberOffer(sub.streams, sub.room.settings, sub.room.id as string | number, sub.useMsid), restart: true };
      sub.dirty = false;
      sub.offerPending = true;
      if (!ctx.host.pushEvent(sub.session, transaction, reply, offer)) sub.offerPending = false;
      return null;
    }
    case 'subscribe':
    case 'unsubscribe':
    case 'update': {
      if (jsep !== null) throw new VrError(VrErrorCode.INVALID_ELEMENT, `Unexpected JSEP ${jsep.type} in '${request}'`);
      const p = new Params(body);
      let add: Params[] = [];
      let drop: Params[] = [];
      if (request === 'subscribe') {
        if (!p.has('streams')) throw missing('streams');
        add = streamItems(p, 'streams');
      } else if (request === 'unsubscribe') {
        if (!p.has('streams')) throw missing('streams');
        drop = streamItems(p, 'streams');
      } else {
        if (!p.has('subscribe') && !p.has('unsubscribe')) throw missing('subscribe|unsubscribe');
        add = streamItems(p, 'subscribe');
        drop = streamItems(p, 'unsubscribe');
      }
      // Validate everything before changing anything.
      const resolved = resolveSubscriptions(ctx, room, add);
      const removals = drop.map((d) => resolveUnsubscribe(ctx, sub, d));
      for (const r of removals) for (const [line, ps] of r) sub.deactivate(line, ps);
      const added = resolved.map((r) => sub.add(r.ps, r.opts));
      if (sub.started) requestKeyframes(ctx, added);
      return renegotiate(ctx, sub, transaction);
    }
    case 'switch':
      return switchStreams(ctx, sub, body, transaction);
    case 'leave':
      closeSubscriber(sub);
      sub.session.state = { kind: 'gone', room: room.id } satisfies HandleState;
      ctx.host.closePeerConnection(sub.session, 'leave');
      return { videoroom: 'event', room: room.id, left: 'ok' };
    case 'publish':
    case 'joinandconfigure':
    case 'unpublish':
      throw new VrError(VrErrorCode.INVALID_REQUEST, `Invalid request '${request}' on a subscriber handle`);
    default:
      throw new VrError(VrErrorCode.INVALID_REQUEST, `Unknown request '${request}'`);
  }
}

/** An `unsubscribe` item: sub_mid, or feed (+ mid). Returns the (m-line, publisher stream) pairs to drop. */
function resolveUnsubscribe(ctx: VrContext, sub: Subscriber, it: Params): Array<[SubStream, PublishedStream | undefined]> {
  const subMid = it.string('sub_mid');
  if (subMid !== undefined) {
    const line = sub.byMid.get(subMid);
    if (line === undefined) throw new VrError(VrErrorCode.NO_SUCH_FEED, `No such mid '${subMid}' in subscription`);
    return [[line, undefined]];
  }
  if (!it.has('feed')) throw missing('feed');
  const feedId: VrId = ctx.ids.require(it.body.feed, 'feed');
  const mid = it.string('mid');
  const out: Array<[SubStream, PublishedStream | undefined]> = [];
  for (const line of sub.streams) {
    if (line.type === 'data') {
      for (const d of line.dataSources) if (d.owner.id === feedId && (mid === undefined || d.mid === mid)) out.push([line, d]);
    } else if (line.source !== null && line.source.owner.id === feedId && (mid === undefined || line.source.mid === mid)) {
      out.push([line, line.source]);
    }
  }
  return out;
}

function configureSubscriber(ctx: VrContext, sub: Subscriber, body: Body): Data {
  const p = new Params(body);
  const items = streamItems(p, 'streams');
  p.bool('restart');
  p.bool('update');
  const changes: Array<[SubStream[], StreamOptions]> = [];
  if (items.length > 0) {
    for (const it of items) {
      const mid = it.requireString('mid');
      const line = sub.byMid.get(mid);
      if (line === undefined) throw new VrError(VrErrorCode.NO_SUCH_FEED, `No such mid '${mid}' in subscription`);
      changes.push([[line], layerOptions(it)]);
    }
  } else {
    // Legacy form: top-level mid (or every m-line), substream/temporal/send, audio/video booleans.
    const mid = p.string('mid');
    const opts = layerOptions(p);
    const audio = p.bool('audio');
    const video = p.bool('video');
    const lines = mid !== undefined ? sub.streams.filter((s) => s.mid === mid) : sub.streams;
    if (mid !== undefined && lines.length === 0) throw new VrError(VrErrorCode.NO_SUCH_FEED, `No such mid '${mid}' in subscription`);
    changes.push([lines.filter((s) => s.type === 'video' || opts.send !== undefined), opts]);
    if (audio !== undefined) changes.push([sub.streams.filter((s) => s.type === 'audio'), { send: audio }]);
    if (video !== undefined) changes.push([sub.streams.filter((s) => s.type === 'video'), { send: video }]);
  }
  const wantKeyframe: SubStream[] = [];
  for (const [lines, opts] of changes) {
    for (const line of lines) {
      const before = line.sim.targetSub;
      if (opts.send !== undefined) {
        if (opts.send && !line.send) {
          line.rewriter.switchSource();
          line.vp8.switchSource();
          line.waitingKeyframe = true;
          wantKeyframe.push(line);
        }
        line.send = opts.send;
      }
      applyLayerOptions(line, opts, true);
      if (line.sim.targetSub !== before) wantKeyframe.push(line);
    }
  }
  requestKeyframes(ctx, wantKeyframe);
  return { videoroom: 'event', room: sub.room.id, configured: 'ok' };
}

function switchStreams(ctx: VrContext, sub: Subscriber, body: Body, transaction: string): Data | null {
  const p = new Params(body);
  if (!p.has('streams')) throw missing('streams');
  const items = streamItems(p, 'streams');
  const plan: Array<[SubStream, PublishedStream, StreamOptions]> = [];
  for (const it of items) {
    const pub = findFeed(ctx, sub.room, it.body.feed);
    const mid = it.requireString('mid');
    const subMid = it.requireString('sub_mid');
    const ps = pub.media.byMid.get(mid);
    if (ps === undefined || ps.disabled) throw new VrError(VrErrorCode.NO_SUCH_FEED, `No such mid '${mid}' in feed ${pub.id}`);
    const line = sub.byMid.get(subMid);
    if (line === undefined) throw new VrError(VrErrorCode.NO_SUCH_FEED, `No such mid '${subMid}' in subscription`);
    if (line.type !== ps.type || line.type === 'data') {
      throw new VrError(VrErrorCode.INVALID_ELEMENT, `Can't switch: m-line ${subMid} is ${line.type}, stream ${mid} of feed ${pub.id} is ${ps.type}`);
    }
    if (line.codec !== undefined && ps.codec !== line.codec) {
      throw new VrError(VrErrorCode.INVALID_ELEMENT, `Can't switch: m-line ${subMid} uses ${line.codec}, stream ${mid} of feed ${pub.id} uses ${ps.codec}`);
    }
    plan.push([line, ps, layerOptions(it)]);
  }
  let changes = 0;
  let renegotiation = false;
  const switched: SubStream[] = [];
  for (const [line, ps, opts] of plan) {
    if (line.source === ps) continue;
    if (line.source === null) renegotiation = true;
    const pt = line.pt;
    line.resetSimulcast();
    line.setSource(ps);
    // The m-line keeps its negotiated payload type; the packet path rewrites it.
    if (pt >= 0 && !renegotiation) line.pt = pt;
    applyLayerOptions(line, opts);
    switched.push(line);
    changes++;
  }
  if (sub.started) requestKeyframes(ctx, switched);
  const data: Data = { videoroom: 'event', switched: 'ok', room: sub.room.id, changes, streams: sub.streamList() };
  if (renegotiation) {
    sub.dirty = true;
    ctx.host.pushEvent(sub.session, transaction, data);
    renegotiate(ctx, sub, null);
    return null;
  }
  return data;
}
