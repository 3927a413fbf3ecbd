/**
 * janus.plugin.streaming entry point: mountpoints (rtp, rtsp, live/ondemand files) watched by
 * viewers over WebRTC. Sync requests live in management.ts, the viewer flow in viewer.ts, the
 * packet path in fanout.ts fed by the sources (rtp-source.ts, ...).
 */
import { replyOf, RequestQueue } from '../request-queue.js';
import { STREAMING_INFO } from '../catalog.js';
import type { Jsep } from '../../core/jsep.js';
import {
  isMediaRelayHost,
  type Plugin,
  type PluginInitContext,
  type PluginMetrics,
  type PluginResult,
  type PluginSession,
  type RtpStreamInfo,
} from '../../core/plugin.js';
import { UdpPortAllocator } from '../../media/net/port-allocator.js';
import { isRtcp } from '../../media/rtp/header.js';
import { PathPolicy } from '../../security/paths.js';
import { readGeneral, readMountpoints } from './config.js';
import type { StContext } from './context.js';
import { errorData, StError, StErrorCode } from './errors.js';
import { JsonFields } from './fields.js';
import { IdCodec, type MpId } from './ids.js';
import { SYNC_REQUESTS } from './management.js';
import { Mountpoint } from './mountpoint.js';
import { MountpointStore } from './persistence.js';
import { openRtpSource } from './rtp-source.js';
import { openRtspSource } from './rtsp-source.js';
import { openFileSource } from './file-source.js';
import type { MountpointSpec } from './spec.js';
import { configure, endViewer, handleState, kickViewers, mediaUp, pause, start, stop, switchTo, watch, type HandleState } from './viewer.js';

type Data = Record<string, unknown>;

const ASYNC_REQUESTS = new Set(['watch', 'start', 'pause', 'stop', 'configure', 'switch']);

function unknownRequest(name: string): StError {
  return new StError(StErrorCode.INVALID_REQUEST, `Unknown request '${name}'`);
}

export class StreamingPlugin implements Plugin {
  readonly package = STREAMING_INFO.package;
  readonly name = STREAMING_INFO.name;
  readonly author = STREAMING_INFO.author;
  readonly description = STREAMING_INFO.description;
  readonly version = STREAMING_INFO.version;
  readonly versionString = STREAMING_INFO.versionString;

  private ctx: StContext | null = null;
  private clock: () => number = () => performance.now();
  /** Async requests one at a time, in arrival order. */
  private readonly requests = new RequestQueue('janus.plugin.streaming', () => this.ctx?.log ?? null);

  constructor(private readonly paths: PathPolicy | null = null) {}

  async init(init: PluginInitContext): Promise<void> {
    const log = init.log;
    const general = readGeneral(init.config, log);
    const ids = new IdCodec(general.stringIds);
    const media = isMediaRelayHost(init.host) ? init.host : null;
    if (media === null) log.warn('streaming: the host has no media relay: media will not be forwarded');
    const mountpoints = new Map<MpId, Mountpoint>();
    const now = (): number => this.clock();
    const ports = new UdpPortAllocator({ range: general.rtpPortRange });
    const ctx: StContext = {
      general, ids, mountpoints, host: init.host, media, log, now, ports,
      store: new MountpointStore(init.config, log),
      paths: this.paths ?? PathPolicy.fromGateway(init.gateway),
      startMountpoint: (id, spec) => this.startMountpoint(id, spec),
      stopMountpoint: (mp) => {
        kickViewers(ctx, mp);
        mp.destroy();
        if (mountpoints.get(mp.id) === mp) mountpoints.delete(mp.id);
      },
    };
    this.ctx = ctx;
    for (const c of readMountpoints(init.config, ids, log)) {
      const id = c.id ?? ids.random((x) => mountpoints.has(x));
      if (mountpoints.has(id)) {
        log.warn(`streaming: mountpoint '${c.spec.name ?? ''}' at ${c.where}: id ${String(id)} already used; skipped`, { file: c.where, key: 'id' });
        continue;
      }
      try {
        const mp = await this.startMountpoint(id, c.spec);
        mp.permanent = true;
      } catch (err) {
        log.warn(`streaming: mountpoint '${c.spec.name ?? ''}' at ${c.where}: ${(err as Error).message}; skipped`, { file: c.where, key: c.spec.name ?? '' });
      }
    }
    log.info(`streaming: ${mountpoints.size} mountpoint(s) from ${init.config.file}; ports for port=0 from ${general.rtpPortRange}`);
  }

  private async startMountpoint(id: MpId, spec: MountpointSpec): Promise<Mountpoint> {
    const ctx = this.c;
    const mp = new Mountpoint(id, spec, ctx.now());
    if (spec.type === 'rtp') {
      try {
        mp.source = await openRtpSource(mp, { media: ctx.media, ports: ctx.ports, log: ctx.log, now: ctx.now });
      } catch (err) {
        throw new StError(StErrorCode.CANT_CREATE, `Can't create RTP source: ${(err as Error).message}`);
      }
    } else if (spec.type === 'rtsp') {
      try {
        mp.source = await openRtspSource(mp, { media: ctx.media, ports: ctx.ports, log: ctx.log, now: ctx.now });
      } catch (err) {
        throw new StError(StErrorCode.CANT_CREATE, `Can't create RTSP source: ${(err as Error).message}`);
      }
    } else {
      try {
        mp.source = openFileSource(mp, { media: ctx.media, ports: ctx.ports, log: ctx.log, now: ctx.now });
      } catch (err) {
        throw new StError(StErrorCode.CANT_CREATE, `Can't create file source: ${(err as Error).message}`);
      }
    }
    // Sockets were bound while awaiting: another create may have taken the ID meanwhile.
    if (ctx.mountpoints.has(id)) {
      mp.destroy();
      throw new StError(StErrorCode.CANT_CREATE, 'A stream with the provided ID already exists');
    }
    ctx.mountpoints.set(id, mp);
    return mp;
  }

  async destroy(): Promise<void> {
    await this.requests.idle;
    const ctx = this.ctx;
    if (ctx === null) return;
    for (const mp of ctx.mountpoints.values()) mp.destroy();
    ctx.mountpoints.clear();
    this.ctx = null;
  }

  setClock(now: () => number): void {
    this.clock = now;
  }

  whenIdle(): Promise<void> {
    return this.requests.idle;
  }

  mountpoint(id: MpId): Mountpoint | undefined {
    return this.ctx?.mountpoints.get(id);
  }

  private get c(): StContext {
    if (this.ctx === null) throw new Error('streaming plugin used before init');
    return this.ctx;
  }

  createSession(session: PluginSession): void {
    session.state = { kind: 'idle' } satisfies HandleState;
  }

  async handleMessage(session: PluginSession, transaction: string, body: Data, jsep: Jsep | null): Promise<PluginResult> {
    const f = new JsonFields(body);
    let request: string;
    try {
      const r = f.string('request');
      if (r === undefined) throw new StError(StErrorCode.MISSING_ELEMENT, 'Missing mandatory element (request)');
      request = r;
    } catch (err) {
      return { kind: 'ok', data: this.errorOf(err) };
    }
    const sync = SYNC_REQUESTS.get(request);
    if (sync !== undefined) return { kind: 'ok', data: await replyOf(() => sync(this.c, f, session), (e) => this.errorOf(e)) };
    if (!ASYNC_REQUESTS.has(request)) return { kind: 'ok', data: errorData(unknownRequest(request)) };
    this.requests.push(() => this.processAsync(session, transaction, request, f, jsep));
    return { kind: 'wait' };
  }

  async handleAdminMessage(body: Data): Promise<Data> {
    const f = new JsonFields(body);
    let request: string;
    try {
      const r = f.string('request');
      if (r === undefined) throw new StError(StErrorCode.MISSING_ELEMENT, 'Missing mandatory element (request)');
      request = r;
    } catch (err) {
      return this.errorOf(err);
    }
    const sync = SYNC_REQUESTS.get(request);
    if (sync === undefined) return errorData(unknownRequest(request));
    return replyOf(() => sync(this.c, f, null), (e) => this.errorOf(e));
  }

  setupMedia(session: PluginSession): void {
    if (this.ctx !== null) mediaUp(this.ctx, session);
  }

  hangupMedia(session: PluginSession): void {
    const ctx = this.ctx;
    const v = endViewer(session);
    if (ctx !== null && v !== null && v.pcUp) ctx.host.pushEvent(session, null, { streaming: 'event', result: { status: 'stopped' } });
  }

  destroySession(session: PluginSession): void {
    endViewer(session);
    session.state = { kind: 'idle' } satisfies HandleState;
  }

  metrics(): PluginMetrics {
    let participants = 0;
    for (const mp of this.ctx?.mountpoints.values() ?? []) participants += mp.viewerSessions.size;
    return { rooms: this.ctx?.mountpoints.size ?? 0, participants };
  }

  querySession(session: PluginSession): Data {
    const state = handleState(session);
    if (state.kind !== 'viewer') return { state: 'idle', hangingup: 0, destroyed: 0 };
    const v = state.viewer;
    return {
      state: 'watching',
      mountpoint: v.mp.id,
      mountpoint_name: v.mp.name,
      started: v.started,
      paused: v.paused,
      streams: v.streams.map((s) => ({
        mid: s.mid,
        type: s.stream.spec.type,
        send: s.send,
        ...(s.stream.spec.simulcast ? { substream: s.substream, substream_target: s.targetSubstream, temporal_target: s.targetTemporal } : {}),
      })),
      hangingup: 0,
      destroyed: 0,
    };
  }

  /** A viewer's keyframe request (PLI/FIR) goes upstream when the source can take it. */
  incomingRtcp(session: PluginSession, stream: RtpStreamInfo | null, buf: Buffer, len: number): void {
    const state = session.state as HandleState | undefined;
    if (state === undefined || state.kind !== 'viewer' || !isRtcp(buf, len)) return;
    try {
      let wantsKeyframe = false;
      for (let off = 0; off + 4 <= len; ) {
        const pt = buf[off + 1]!;
        const fmt = buf[off]! & 0x1f;
        if ((pt === 206 && (fmt === 1 || fmt === 4))) wantsKeyframe = true;
        off += (buf.readUInt16BE(off + 2) + 1) * 4;
      }
      if (!wantsKeyframe) return;
      const v = state.viewer;
      const slot = stream === null ? v.streams.find((s) => s.stream.spec.type === 'video') : v.streams.find((s) => s.mid === stream.mid);
      if (slot !== undefined) v.mp.source?.requestKeyframe?.(slot.stream.index);
    } catch (err) {
      this.ctx?.log.error(`streaming: RTCP path failure: ${(err as Error)?.stack ?? String(err)}`);
    }
  }

  private errorOf(err: unknown): Data {
    if (err instanceof StError) return errorData(err);
    this.ctx?.log.error(`streaming: unexpected failure: ${(err as Error)?.stack ?? String(err)}`);
    return errorData(new StError(StErrorCode.UNKNOWN_ERROR, 'Unknown error'));
  }

  private processAsync(session: PluginSession, transaction: string, request: string, f: JsonFields, jsep: Jsep | null): void {
    const ctx = this.ctx;
    if (!session.alive || ctx === null) return;
    let data: Data | null;
    let offer: Jsep | undefined;
    try {
      switch (request) {
        case 'watch': {
          const r = watch(ctx, session, f, transaction);
          data = r.data;
          offer = r.jsep;
          break;
        }
        case 'start':
          data = start(session, jsep);
          break;
        case 'pause':
          data = pause(session);
          break;
        case 'stop':
          data = stop(session);
          if (data !== null) {
            ctx.host.pushEvent(session, transaction, data);
            ctx.host.closePeerConnection(session, 'stop');
            return;
          }
          break;
        case 'configure':
          data = configure(session, f);
          break;
        case 'switch':
          data = switchTo(ctx, session, f);
          break;
        default:
          throw unknownRequest(request);
      }
    } catch (err) {
      data = this.errorOf(err);
    }
    if (data === null) return;
    if (offer !== undefined) {
      // The media plane refused our offer: the handle watches nothing after all.
      if (!ctx.host.pushEvent(session, transaction, data, offer)) endViewer(session);
    } else ctx.host.pushEvent(session, transaction, data);
  }
}
