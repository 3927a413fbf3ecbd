/** Per-handle VideoCall state. */
import type { PluginSession } from '../../core/plugin.js';
import type { MjrFile } from '../../recording/mjr.js';
import type { CallerSimulcast } from './sdp.js';
import { Inbound, type CallSide } from './relay.js';

export class VcSession implements CallSide {
  username: string | null = null;
  peer: VcSession | null = null;
  /** In a call or being called (Janus's `incall`): set on both sides by `call`. */
  incall = false;
  hasAudio = false;
  hasVideo = false;
  hasData = false;
  audioActive = true;
  videoActive = true;
  audioCodec: string | null = null;
  videoCodec: string | null = null;
  bitrate = 0;
  peerBitrate = 0;
  slowlinkCount = 0;
  simulcast = false;
  estimate = 0;
  rembCap = 0;
  bweNextAt = 0;
  bwePeak = 0;
  lastSlowLinkMs = -Infinity;
  /** The caller's offer and its simulcast rids, kept until the callee answers. */
  callerOffer: string | null = null;
  callerSimulcast: CallerSimulcast[] = [];
  /** Our PeerConnection is up (setupMedia) and not hung up since. */
  mediaUp = false;
  dataReady = false;
  hangingUp = false;
  destroyed = false;
  readonly inbound = new Inbound();
  recorders: { audio: MjrFile | null; video: MjrFile | null; data: MjrFile | null } = { audio: null, video: null, data: null };

  constructor(readonly session: PluginSession) {}

  /** Back to "registered, not in a call" (Janus's reset in hangup_media). */
  resetMedia(): void {
    this.hasAudio = false;
    this.hasVideo = false;
    this.hasData = false;
    this.audioActive = true;
    this.videoActive = true;
    this.audioCodec = null;
    this.videoCodec = null;
    this.bitrate = 0;
    this.peerBitrate = 0;
    this.simulcast = false;
    this.estimate = 0;
    this.rembCap = 0;
    this.bweNextAt = 0;
    this.bwePeak = 0;
    this.lastSlowLinkMs = -Infinity;
    this.callerOffer = null;
    this.callerSimulcast = [];
    this.dataReady = false;
    this.inbound.reset();
  }
}
