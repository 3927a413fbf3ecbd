/**
 * What a mountpoint is made of, validated: from a `create` body or a jcfg category (see fields.ts).
 * Both the multistream `media` list and the legacy audio/video/data keys are read; the legacy keys
 * become streams "a", "v", "d" as in Janus.
 */
import { CODECS, type CodecName } from '../../media/sdp/negotiate.js';
import { StError, StErrorCode, missing } from './errors.js';
import { requireString, requireUint, type Fields } from './fields.js';
import { srtpSourceKeys } from './srtp-source.js';

export type MountpointType = 'rtp' | 'live' | 'ondemand' | 'rtsp';
export type StreamKind = 'audio' | 'video' | 'data';

export interface StreamSpec {
  type: StreamKind;
  mid: string;
  label: string;
  msid: string | null;
  /** 0: picked from the plugin's rtp_port_range. */
  port: number;
  /** Simulcast substreams 1 and 2 (0 = picked; only with simulcast). */
  port2: number;
  port3: number;
  rtcpport: number | null;
  mcast: string | null;
  iface: string | null;
  pt: number | null;
  codec: CodecName | null;
  fmtp: string | null;
  simulcast: boolean;
  svc: boolean;
  bufferkf: boolean;
  skew: boolean;
  /** Data streams: text or binary, and whether the last message is kept for new viewers. */
  datatype: 'text' | 'binary';
  buffermsg: boolean;
}

export interface MountpointSpec {
  type: MountpointType;
  name: string | null;
  description: string | null;
  metadata: string | null;
  isPrivate: boolean;
  secret: string | null;
  pin: string | null;
  streams: StreamSpec[];
  /** Created with the legacy audio/video/data keys (the reply then says so, as Janus's does). */
  legacy: boolean;
  filename: string | null;
  url: string | null;
  rtspUser: string | null;
  rtspPwd: string | null;
  rtspReconnectDelay: number;
  rtspFailcheck: boolean;
  /** Portunus only: RTP interleaved on the RTSP connection from the start (else only after a 461 to UDP). */
  rtspInterleaved: boolean;
  collision: number;
  srtpsuite: number | null;
  srtpcrypto: string | null;
  e2ee: boolean;
  playoutdelayExt: boolean;
  /**
   * Portunus only: viewers' simulcast substream / temporal layer chosen within the bandwidth
   * estimate towards them (their offer then carries transport-cc and RTX; auto-layers.ts).
   */
  autoLayers: boolean;
}

const KINDS: ReadonlySet<string> = new Set(['audio', 'video', 'data']);
const TYPES: ReadonlySet<string> = new Set(['rtp', 'live', 'ondemand', 'rtsp']);

function codecOf(name: string | undefined, kind: StreamKind, key: string): CodecName | null {
  if (name === undefined || kind === 'data') return null;
  const c = name.toLowerCase() as CodecName;
  const info = CODECS[c];
  if (info === undefined || info.kind !== kind) throw new StError(StErrorCode.INVALID_ELEMENT, `Unsupported ${kind} codec '${name}' (${key})`);
  return c;
}

function stream(kind: StreamKind, mid: string): StreamSpec {
  return {
    type: kind, mid, label: kind, msid: null, port: 0, port2: 0, port3: 0, rtcpport: null, mcast: null, iface: null,
    pt: null, codec: null, fmtp: null, simulcast: false, svc: false, bufferkf: false, skew: false, datatype: 'text', buffermsg: false,
  };
}

/** One entry of the `media` list. */
function mediaEntry(f: Fields): StreamSpec {
  const type = requireString(f, 'type').toLowerCase();
  if (!KINDS.has(type)) throw new StError(StErrorCode.INVALID_ELEMENT, `Invalid media type '${type}'`);
  const kind = type as StreamKind;
  const s = stream(kind, requireString(f, 'mid'));
  s.label = f.string('label') ?? kind;
  s.msid = f.string('msid') ?? null;
  s.port = requireUint(f, 'port');
  s.rtcpport = f.uint('rtcpport') ?? null;
  s.mcast = f.string('mcast') ?? null;
  s.iface = f.string('iface') ?? null;
  s.pt = f.uint('pt') ?? null;
  s.codec = codecOf(f.string('codec'), kind, 'codec');
  s.fmtp = f.string('fmtp') ?? null;
  s.skew = f.bool('skew') ?? false;
  if (kind === 'video') {
    s.bufferkf = f.bool('bufferkf') ?? false;
    s.simulcast = f.bool('simulcast') ?? false;
    s.svc = f.bool('svc') ?? false;
    s.port2 = f.uint('port2') ?? 0;
    s.port3 = f.uint('port3') ?? 0;
  }
  if (kind === 'data') {
    s.buffermsg = f.bool('buffermsg') ?? false;
    s.datatype = (f.string('datatype') ?? 'text') === 'binary' ? 'binary' : 'text';
  }
  if (kind !== 'data' && (s.pt === null || s.codec === null)) {
    // Janus requires both to describe the m-line it offers.
    if (s.pt === null) throw missing('pt');
    throw missing('codec');
  }
  return s;
}

/** The legacy single audio/video/data keys (`audioport`, `videopt`, ...). */
function legacyStreams(f: Fields, type: MountpointType): StreamSpec[] {
  const out: StreamSpec[] = [];
  const rtp = type === 'rtp';
  if (f.bool('audio') === true) {
    const s = stream('audio', 'a');
    if (rtp) {
      s.port = requireUint(f, 'audioport');
      s.rtcpport = f.uint('audiortcpport') ?? null;
      s.mcast = f.string('audiomcast') ?? null;
      s.iface = f.string('audioiface') ?? null;
      s.skew = f.bool('audioskew') ?? false;
    }
    if (rtp || type === 'rtsp') s.pt = rtp ? requireUint(f, 'audiopt') : f.uint('audiopt') ?? null;
    else s.pt = f.uint('audiopt') ?? null;
    s.codec = codecOf(f.string('audiocodec'), 'audio', 'audiocodec');
    s.fmtp = f.string('audiofmtp') ?? null;
    out.push(s);
  }
  if (f.bool('video') === true) {
    const s = stream('video', 'v');
    if (rtp) {
      s.port = requireUint(f, 'videoport');
      s.rtcpport = f.uint('videortcpport') ?? null;
      s.mcast = f.string('videomcast') ?? null;
      s.iface = f.string('videoiface') ?? null;
      s.skew = f.bool('videoskew') ?? false;
      s.simulcast = f.bool('videosimulcast') ?? false;
      s.port2 = f.uint('videoport2') ?? 0;
      s.port3 = f.uint('videoport3') ?? 0;
      s.svc = f.bool('videosvc') ?? false;
    }
    s.pt = rtp ? requireUint(f, 'videopt') : f.uint('videopt') ?? null;
    s.codec = codecOf(f.string('videocodec'), 'video', 'videocodec');
    s.fmtp = f.string('videofmtp') ?? null;
    s.bufferkf = f.bool('videobufferkf') ?? false;
    out.push(s);
  }
  if (rtp && f.bool('data') === true) {
    const s = stream('data', 'd');
    s.port = requireUint(f, 'dataport');
    s.iface = f.string('dataiface') ?? null;
    s.buffermsg = f.bool('databuffermsg') ?? false;
    s.datatype = (f.string('datatype') ?? 'text') === 'binary' ? 'binary' : 'text';
    out.push(s);
  }
  return out;
}

/** Validate a whole mountpoint description; throws StError with Janus's code and text. */
export function readSpec(f: Fields): MountpointSpec {
  const rawType = requireString(f, 'type');
  if (!TYPES.has(rawType)) throw new StError(StErrorCode.INVALID_ELEMENT, `Unknown stream type '${rawType}'...\n`);
  const type = rawType as MountpointType;
  const spec: MountpointSpec = {
    type,
    name: f.string('name') ?? null,
    description: f.string('description') ?? null,
    metadata: f.string('metadata') ?? null,
    isPrivate: f.bool('is_private') ?? false,
    secret: f.string('secret') ?? null,
    pin: f.string('pin') ?? null,
    streams: [],
    legacy: false,
    filename: null,
    url: null,
    rtspUser: null,
    rtspPwd: null,
    rtspReconnectDelay: 5,
    rtspFailcheck: true,
    rtspInterleaved: false,
    collision: 0,
    srtpsuite: null,
    srtpcrypto: null,
    e2ee: false,
    playoutdelayExt: false,
    autoLayers: f.bool('auto_layers') ?? false,
  };
  if (type === 'rtp') {
    spec.collision = f.uint('collision') ?? 0;
    f.uint('threads'); // irrelevant here (one event loop per worker), but type-checked like Janus
    spec.srtpsuite = f.uint('srtpsuite') ?? null;
    spec.srtpcrypto = f.string('srtpcrypto') ?? null;
    srtpSourceKeys(spec.srtpsuite, spec.srtpcrypto); // refuse bad keys before any socket is bound
    spec.e2ee = f.bool('e2ee') ?? false;
    spec.playoutdelayExt = f.bool('playoutdelay_ext') ?? false;
    const media = f.list('media');
    if (media !== undefined && media.length > 0) spec.streams = media.map(mediaEntry);
    else {
      spec.streams = legacyStreams(f, type);
      spec.legacy = true;
    }
    if (spec.streams.length === 0) throw new StError(StErrorCode.CANT_CREATE, "Can't add 'rtp' stream, no audio or video have to be streamed...");
    const mids = new Set<string>();
    for (const s of spec.streams) {
      for (const p of [s.port, s.port2, s.port3, s.rtcpport ?? 0]) {
        if (p > 65535) throw new StError(StErrorCode.CANT_CREATE, `Invalid port ${p} for mid '${s.mid}'`);
      }
      if (mids.has(s.mid)) throw new StError(StErrorCode.CANT_CREATE, `Duplicate mid '${s.mid}'`);
      mids.add(s.mid);
    }
  } else if (type === 'live' || type === 'ondemand') {
    spec.filename = requireString(f, 'filename');
    spec.legacy = true;
    const s = stream('audio', 'a');
    s.pt = f.uint('audiopt') ?? null;
    s.codec = codecOf(f.string('audiocodec'), 'audio', 'audiocodec');
    s.fmtp = f.string('audiofmtp') ?? null;
    if (f.bool('audio') === false) throw new StError(StErrorCode.CANT_CREATE, `Can't add '${type}' stream, no audio to stream...`);
    spec.streams = [s];
  } else {
    spec.url = requireString(f, 'url');
    spec.rtspUser = f.string('rtsp_user') ?? null;
    spec.rtspPwd = f.string('rtsp_pwd') ?? null;
    spec.rtspReconnectDelay = f.uint('rtsp_reconnect_delay') ?? 5;
    spec.rtspFailcheck = f.bool('rtsp_failcheck') ?? true;
    spec.rtspInterleaved = f.bool('rtsp_interleaved') ?? false;
    spec.legacy = true;
    spec.streams = legacyStreams(f, type);
    if (spec.streams.length === 0) throw new StError(StErrorCode.CANT_CREATE, "Can't add 'rtsp' stream, no audio or video have to be streamed...");
  }
  return spec;
}
