/**
 * A mountpoint: its settings (what info/list/edit see) and its streams (what viewers are fed from).
 * The source that fills the streams (RTP sockets, an RTSP session, an Ogg file) is attached
 * separately and only calls `Mountpoint.deliver*` on the packet path.
 */
import type { SrtpContext } from '../../media/srtp/index.js';
import { LayerRates } from '../videoroom/layer-rates.js';
import type { MjrFile } from '../../recording/mjr.js';
import type { MpId } from './ids.js';
import type { MountpointSpec, MountpointType, StreamSpec } from './spec.js';
import type { ViewerStream } from './viewer-stream.js';
import type { Viewer } from './viewer.js';

/** A media source of a mountpoint (RTP sockets, RTSP session, file player). */
export interface MediaSource {
  /** Ports actually bound, per stream index: [port, port2, port3] (0 = none). */
  readonly ports: ReadonlyArray<readonly [number, number, number]>;
  /** RTCP port actually bound per stream index (0 = none): `rtcpport = 0` picks one, and senders must learn which. */
  readonly rtcpPorts?: ReadonlyArray<number>;
  close(): void;
  /** A viewer asked for a keyframe on stream `index` (PLI forwarded upstream where possible). */
  requestKeyframe?(index: number): void;
  /** A viewer's PeerConnection is up / it left (on-demand files start a playout per viewer). */
  viewerUp?(v: ViewerStream): void;
  viewerGone?(v: ViewerStream): void;
}

/** One stream of a mountpoint and everything the packet path needs for it. */
export class MpStream {
  /** Monotonic ms of the last packet (creation time before any). */
  lastReceived: number;
  /** Viewers' slots fed by this stream; an array so the packet path iterates without allocating. */
  readonly viewers: ViewerStream[] = [];
  /** The packets of the newest complete keyframe (copies), for viewers that join later. */
  keyframe: Buffer[] = [];
  /** The keyframe being collected: its timestamp (-1 when none) and packets. */
  pendingTs = -1;
  pending: Buffer[] = [];
  /** Last data message (buffermsg). */
  lastMessage: Buffer | null = null;
  /** Current source SSRC per substream (0 before any) and when it last sent, for `collision`. */
  readonly ssrc = [0, 0, 0];
  readonly ssrcSeen = [0, 0, 0];
  packets = 0;
  /** SRTP receive context of an encrypted rtp source (srtpsuite/srtpcrypto), else null. */
  srtp: SrtpContext | null = null;
  /** SRTP/SRTCP packets dropped because they failed authentication, replay or parsing. */
  srtpDropped = 0;
  /** The .mjr this stream is being recorded to (`recording` request), or null. */
  recorder: MjrFile | null = null;
  /**
   * auto_layers video: bytes per substream and VP8 temporal layer (what each choice costs), when
   * each substream last sent, and the buffer each packet is rebuilt into with room for the
   * transport-wide sequence number the core stamps per viewer. Null / unused otherwise.
   */
  readonly rates: LayerRates | null;
  readonly lastLayerMs = [-Infinity, -Infinity, -Infinity];
  readonly scratch: Buffer | null;

  constructor(
    readonly index: number,
    readonly spec: StreamSpec,
    now: number,
    autoLayers = false,
  ) {
    this.lastReceived = now;
    const auto = autoLayers && spec.type === 'video';
    this.rates = auto ? new LayerRates() : null;
    // Not from Node's shared pool: it lives as long as the mountpoint.
    this.scratch = auto ? Buffer.allocUnsafeSlow(1600) : null;
  }

  addViewer(v: ViewerStream): void {
    if (!this.viewers.includes(v)) this.viewers.push(v);
  }

  removeViewer(v: ViewerStream): void {
    const i = this.viewers.indexOf(v);
    if (i >= 0) this.viewers.splice(i, 1);
  }
}

export class Mountpoint {
  name: string;
  description: string;
  metadata: string | null;
  isPrivate: boolean;
  secret: string | null;
  pin: string | null;
  enabled = true;
  readonly streams: MpStream[];
  source: MediaSource | null = null;
  /** Handles watching (any state): their count is `viewers` in info. */
  readonly viewerSessions = new Set<Viewer>();
  /** Whether it is in the jcfg (created with permanent, or read from it). */
  permanent = false;

  constructor(
    readonly id: MpId,
    readonly spec: MountpointSpec,
    now: number,
  ) {
    this.name = spec.name ?? `mp-${String(id)}`;
    this.description = spec.description ?? this.name;
    this.metadata = spec.metadata;
    this.isPrivate = spec.isPrivate;
    this.secret = spec.secret;
    this.pin = spec.pin;
    this.streams = spec.streams.map((s, i) => new MpStream(i, s, now, spec.autoLayers));
  }

  get type(): MountpointType {
    return this.spec.type;
  }

  /** Janus's wording: everything but on-demand files is "live". */
  get typeName(): string {
    return this.spec.type === 'ondemand' ? 'on demand' : 'live';
  }

  streamByMid(mid: string): MpStream | undefined {
    return this.streams.find((s) => s.spec.mid === mid);
  }

  destroy(): void {
    this.source?.close();
    this.source = null;
    for (const s of this.streams) {
      s.viewers.length = 0;
      void s.recorder?.close();
      s.recorder = null;
    }
  }
}
