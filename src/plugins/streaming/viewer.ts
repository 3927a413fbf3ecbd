/**
 * A viewer: one handle watching one mountpoint. Janus's flow: `watch` → our offer (`preparing`),
 * `start` with the answer (`starting`), PeerConnection up (`started`); `pause`/`start` without
 * JSEP, `configure` per stream, `switch` to another rtp mountpoint on the same PeerConnection,
 * `stop` (or hangup) ends it.
 */
import type { Jsep } from '../../core/jsep.js';
import type { PluginSession } from '../../core/plugin.js';
import { event, type StContext } from './context.js';
import { StError, StErrorCode, noSuchMountpoint } from './errors.js';
import { sendBufferedKeyframe } from './fanout.js';
import type { Fields } from './fields.js';
import { checkSecret, lookup } from './management.js';
import type { Mountpoint } from './mountpoint.js';
import { viewerOffer } from './sdp.js';
import { ViewerAutoLayers } from './auto-layers.js';
import { ViewerStream } from './viewer-stream.js';

type Data = Record<string, unknown>;

export class Viewer {
  streams: ViewerStream[] = [];
  /** The answer to our offer arrived (`start` with JSEP). */
  answered = false;
  started = false;
  paused = false;
  pcUp = false;

  constructor(
    readonly session: PluginSession,
    public mp: Mountpoint,
  ) {}

  /** Recompute which slots may send (after any state change). */
  refresh(): void {
    const on = this.started && !this.paused && this.pcUp && this.mp.enabled;
    for (const v of this.streams) v.active = on;
  }

  attach(): void {
    this.mp.viewerSessions.add(this);
    for (const v of this.streams) v.stream.addViewer(v);
  }

  detach(): void {
    this.mp.viewerSessions.delete(this);
    for (const v of this.streams) {
      v.active = false;
      v.stream.removeViewer(v);
      this.mp.source?.viewerGone?.(v);
    }
  }
}

export type HandleState = { kind: 'idle' } | { kind: 'viewer'; viewer: Viewer };

export function handleState(session: PluginSession): HandleState {
  return (session.state as HandleState | undefined) ?? { kind: 'idle' };
}

const status = (s: string): Data => ({ streaming: 'event', result: { status: s } });

/** Which streams a `watch` asks for: the `media` mid list, or the deprecated offer_audio/video/data. */
function chosenStreams(mp: Mountpoint, f: Fields): Mountpoint['streams'] {
  const media = f.raw('media');
  if (Array.isArray(media) && media.length > 0) {
    const mids = new Set(media.filter((m): m is string => typeof m === 'string'));
    return mp.streams.filter((s) => mids.has(s.spec.mid));
  }
  const offer = { audio: f.bool('offer_audio') ?? true, video: f.bool('offer_video') ?? true, data: f.bool('offer_data') ?? true };
  return mp.streams.filter((s) => offer[s.spec.type]);
}

export function watch(ctx: StContext, session: PluginSession, f: Fields, transaction: string): { data: Data; jsep?: Jsep } {
  const id = ctx.ids.require(f.raw('id'));
  f.string('pin');
  f.bool('restart');
  const mp = ctx.mountpoints.get(id);
  const state = handleState(session);
  if (state.kind === 'viewer') {
    const v = state.viewer;
    if (v.mp === mp && f.bool('restart') === true) {
      // ICE restart: the same m-lines again; the answer comes with `start`
      v.answered = false;
      return { data: status('preparing'), jsep: { ...viewerOffer(v.streams, mp.id, v.streams[0]?.auto != null), restart: true } };
    }
    throw new StError(StErrorCode.INVALID_STATE, `Already watching mountpoint ${String(v.mp.id)}`);
  }
  if (mp === undefined || !mp.enabled) throw noSuchMountpoint(id);
  checkSecret(mp.pin, f, 'pin');
  const chosen = chosenStreams(mp, f);
  if (chosen.length === 0) throw new StError(StErrorCode.INVALID_ELEMENT, 'No media to watch');
  if (ctx.media === null) throw new StError(StErrorCode.UNKNOWN_ERROR, 'No media plane');
  const viewer = new Viewer(session, mp);
  viewer.streams = chosen.map((st) => withLayerEvents(ctx, new ViewerStream(session, st, st.spec.mid)));
  if (mp.spec.autoLayers) {
    const auto = new ViewerAutoLayers(
      session,
      () => viewer.streams,
      (estimate) => event(ctx, session, null, { streaming: 'slow_link', id: viewer.mp.id, 'current-bitrate': Math.round(estimate) }),
    );
    for (const s of viewer.streams) {
      s.auto = auto;
      if (s.stream.spec.type === 'video') s.rtxSsrc = (Math.floor(Math.random() * 0xfffffff0) + 1) >>> 0;
    }
  }
  const jsep = viewerOffer(viewer.streams, mp.id, mp.spec.autoLayers);
  viewer.attach();
  session.state = { kind: 'viewer', viewer } satisfies HandleState;
  void transaction;
  return { data: status('preparing'), jsep };
}

/** Janus tells a simulcast viewer which substream it now gets (streamingtest.html shows its buttons from it). */
function withLayerEvents(ctx: StContext, v: ViewerStream): ViewerStream {
  v.onLayer = (x) => {
    if (x.stream.spec.simulcast) event(ctx, x.session, null, { streaming: 'event', result: { mid: x.mid, substream: x.substream, temporal: x.targetTemporal } });
  };
  return v;
}

export function start(session: PluginSession, jsep: Jsep | null): Data {
  const state = handleState(session);
  if (state.kind !== 'viewer') throw new StError(StErrorCode.NO_SUCH_MOUNTPOINT, "Can't start: no mountpoint set");
  const v = state.viewer;
  if (jsep !== null) {
    if (jsep.type !== 'answer') throw new StError(StErrorCode.INVALID_SDP, 'Invalid SDP type (expected answer)');
    v.answered = true;
  }
  v.started = true;
  v.paused = false;
  v.refresh();
  return status('starting');
}

export function pause(session: PluginSession): Data {
  const state = handleState(session);
  if (state.kind !== 'viewer') throw new StError(StErrorCode.NO_SUCH_MOUNTPOINT, "Can't start: no mountpoint set");
  state.viewer.paused = true;
  state.viewer.refresh();
  return status('pausing');
}

/**
 * `stop`: Janus ignores it (no event) unless the PeerConnection is up; then `stopping` goes out
 * first and the hangup follows (the caller closes the PeerConnection after pushing the reply).
 */
export function stop(session: PluginSession): Data | null {
  const state = handleState(session);
  if (state.kind !== 'viewer' || !state.viewer.pcUp) return null;
  endViewer(session);
  return status('stopping');
}

export function configure(session: PluginSession, f: Fields): Data {
  const state = handleState(session);
  if (state.kind !== 'viewer') throw new StError(StErrorCode.NO_SUCH_MOUNTPOINT, "Can't configure: not on a mountpoint");
  const v = state.viewer;
  const mid = f.string('mid');
  const send = f.bool('send');
  const substream = f.uint('substream');
  const temporal = f.uint('temporal');
  f.uint('fallback');
  f.uint('spatial_layer');
  f.uint('temporal_layer');
  const targets = mid !== undefined ? v.streams.filter((s) => s.mid === mid) : v.streams;
  // deprecated per-kind switches ("audio": true/false as strings or booleans)
  for (const kind of ['audio', 'video', 'data'] as const) {
    const raw = f.raw(kind);
    if (raw === undefined) continue;
    const on = raw === true || raw === 'true';
    for (const s of v.streams) if (s.stream.spec.type === kind) s.send = on;
  }
  for (const s of targets) {
    if (send !== undefined) {
      if (send && !s.send) s.resync();
      s.send = send;
    }
    if (s.stream.spec.type !== 'video') continue;
    if (substream !== undefined && s.stream.spec.simulcast) s.targetSubstream = Math.min(2, substream);
    if (temporal !== undefined) s.targetTemporal = Math.min(2, temporal);
    if (s.auto !== null && (substream !== undefined || temporal !== undefined)) {
      // An explicit choice wins over auto_layers for this stream (and lifts an automatic pause).
      s.explicitLayers = true;
      if (s.autoPaused) {
        s.autoPaused = false;
        s.resync();
      }
    }
  }
  return { streaming: 'event', result: { event: 'configured' } };
}

/** `switch`: the same PeerConnection, fed by another rtp mountpoint's streams (matched by mid, then by kind). */
export function switchTo(ctx: StContext, session: PluginSession, f: Fields): Data {
  const state = handleState(session);
  if (state.kind !== 'viewer') throw new StError(StErrorCode.NO_SUCH_MOUNTPOINT, "Can't switch: not on a mountpoint");
  const v = state.viewer;
  const target = lookup(ctx, f);
  if (!target.enabled) throw noSuchMountpoint(target.id);
  if (v.mp.spec.type !== 'rtp' || target.spec.type !== 'rtp') throw new StError(StErrorCode.CANT_SWITCH, "Can't switch to this mountpoint, only live RTP mountpoints supported");
  if (target === v.mp) return { streaming: 'event', result: { switched: 'ok', id: target.id } };
  const used = new Set<number>();
  const pairs = v.streams.map((s) => {
    let next = target.streams.find((t) => t.spec.mid === s.mid && t.spec.type === s.stream.spec.type);
    if (next === undefined || used.has(next.index)) next = target.streams.find((t) => !used.has(t.index) && t.spec.type === s.stream.spec.type);
    if (next !== undefined) used.add(next.index);
    return next;
  });
  if (pairs.some((p) => p === undefined)) throw new StError(StErrorCode.CANT_SWITCH, "Can't switch to this mountpoint, different media");
  v.detach();
  v.mp = target;
  v.streams.forEach((s, i) => {
    s.stream = pairs[i]!;
    s.resync();
    s.autoPaused = false;
  });
  v.attach();
  v.refresh();
  if (ctx.media !== null) for (const s of v.streams) if (s.active) sendBufferedKeyframe(ctx.media, s, ctx.now());
  return { streaming: 'event', result: { switched: 'ok', id: target.id } };
}

/** The viewer's PeerConnection is up. */
export function mediaUp(ctx: StContext, session: PluginSession): void {
  const state = handleState(session);
  if (state.kind !== 'viewer') return;
  const v = state.viewer;
  v.pcUp = true;
  v.started = true;
  v.refresh();
  if (ctx.media !== null) {
    const now = ctx.now();
    for (const s of v.streams) {
      v.mp.source?.viewerUp?.(s);
      if (!s.active) continue;
      if (s.stream.spec.type === 'video') sendBufferedKeyframe(ctx.media, s, now);
      const last = s.stream.lastMessage;
      if (s.stream.spec.type === 'data' && last !== null) ctx.media.relayData(session, null, s.stream.spec.datatype === 'text' ? last.toString('utf8') : last);
    }
    for (const s of v.streams) if (s.stream.spec.type === 'video') v.mp.source?.requestKeyframe?.(s.stream.index);
  }
  event(ctx, session, null, status('started'));
}

/** Leave the mountpoint (stop, hangup, detach, kick, destroy). */
export function endViewer(session: PluginSession): Viewer | null {
  const state = handleState(session);
  if (state.kind !== 'viewer') return null;
  state.viewer.detach();
  session.state = { kind: 'idle' } satisfies HandleState;
  return state.viewer;
}

export function notifyViewers(ctx: StContext, mp: Mountpoint, data: Data): void {
  for (const v of mp.viewerSessions) event(ctx, v.session, null, data);
}

/** Every viewer of `mp` is told it stopped and hung up (kick_all, destroy). */
export function kickViewers(ctx: StContext, mp: Mountpoint): void {
  for (const v of [...mp.viewerSessions]) {
    endViewer(v.session);
    event(ctx, v.session, null, status('stopped'));
    ctx.host.closePeerConnection(v.session, 'kicked');
  }
}

export function refreshViewers(mp: Mountpoint): void {
  for (const v of mp.viewerSessions) v.refresh();
}
