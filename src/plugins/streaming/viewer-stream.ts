/**
 * One viewer's slot on one mountpoint stream: its outgoing SSRC/sequence/timestamp space (the
 * rewriter), whether it waits for a keyframe, and its simulcast choice.
 */
import type { PluginSession } from '../../core/plugin.js';
import { RtpRewriter } from '../../media/rtp/rewriter.js';
import { CODECS } from '../../media/sdp/negotiate.js';
import type { MpStream } from './mountpoint.js';
import type { ViewerAutoLayers } from './auto-layers.js';

export class ViewerStream {
  /** Our SSRC on the viewer's m-line (the core rewrites to it as well; the rewriter keeps seq/ts continuous). */
  readonly ssrc: number;
  readonly rewriter: RtpRewriter;
  /** Media may flow: PeerConnection up, started, not paused, `send` not turned off. */
  active = false;
  /** `configure` with `send: false` for this mid. */
  send = true;
  /** Video: nothing is sent before a keyframe (a new viewer cannot decode deltas). */
  waitKeyframe: boolean;
  /** Simulcast: the substream being sent (-1 none yet) and the one asked for. */
  substream = -1;
  targetSubstream = 2;
  /** VP8 temporal layer cap (2 = all). */
  targetTemporal = 2;
  /** Told when the simulcast substream changes (the viewer gets Janus's `substream` event); rare, off the per-packet path. */
  onLayer: ((v: ViewerStream) => void) | null = null;
  /** auto_layers: the viewer's automatic choice (shared by its streams), null when the mountpoint has none. */
  auto: ViewerAutoLayers | null = null;
  /** auto_layers: our RTX SSRC on a video m-line (probes and retransmissions), 0 when none. */
  rtxSsrc = 0;
  /** auto_layers: `configure` named a substream/temporal, so the automatic choice leaves this stream alone. */
  explicitLayers = false;
  /** auto_layers: paused because not even the lowest layer fits the estimate. */
  autoPaused = false;
  lastAutoDownMs = -Infinity;
  lastAutoUpMs = -Infinity;
  /** auto_layers: since when the allocation has wanted a step up for this stream without a break (NaN: it does not). */
  autoUpSinceMs = NaN;
  autoUpHoldMs = 0;

  constructor(
    readonly session: PluginSession,
    public stream: MpStream,
    readonly mid: string,
  ) {
    this.ssrc = (Math.floor(Math.random() * 0xfffffff0) + 1) >>> 0;
    const codec = stream.spec.codec;
    this.rewriter = new RtpRewriter({ ssrc: this.ssrc, clockRate: codec !== null ? CODECS[codec].clock : 90000 });
    this.waitKeyframe = stream.spec.type === 'video';
  }

  /** A new source feeds this slot (switch, resume): continue seq/ts and wait for a keyframe again. */
  resync(): void {
    this.rewriter.switchSource();
    this.waitKeyframe = this.stream.spec.type === 'video';
    this.substream = -1;
  }
}
