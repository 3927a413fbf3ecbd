/**
 * Rooms, participants and the per-room media engine: every 20 ms (FrameClock) pull one frame per
 * participant from its jitter buffer, decode (with FEC/PLC for losses), mix (AudioMixer), encode and
 * send each listener its mix-minus as RTP.
 *
 * Shared encoder: a listener that contributed nothing to this frame hears exactly the full mix, so all
 * such listeners whose encoder settings are equal share one Opus encoder (one encode per frame per
 * settings group); each gets the same payload under its own SSRC/sequence/timestamp. A listener that
 * talks (contributed) gets its own encoder for its mix-minus, and keeps it for a 500 ms hangover so a
 * speaker's stream does not flip between encoders at every pause; the own encoder is reset when a
 * listener switches to it, so the decoder at the far end sees a clean start rather than stale state.
 * `sharedEncoder: false` gives every listener its own encoder every frame (Janus's behaviour).
 *
 * RTP forwarders (forwarder.ts) get the same frame after the listeners: the full mix in Opus comes from
 * the shared encoder with the room's default settings (so a non-talking default listener and every
 * full-mix forwarder cost one encode together), group mixes are summed from the participants' slots only
 * when a group forwarder asks for them.
 */
import { createOpusDecoder, createOpusEncoder, type OpusDecoder, type OpusEncoder, type OpusSampleRate } from '../../codecs/opus.js';
import { g711Decode, g711Encode, resampleFrame, type G711Law } from '../../codecs/g711.js';
import type { PluginSession } from '../../core/plugin.js';
import { fault, inject } from '../../core/fault.js';
import type { Logger } from '../../log.js';
import { writeRtpHeader } from '../../media/rtp/header.js';
import { AudioMixer, FrameClock, JitterBuffer, type MixSlot, type Scheduler } from './mixer.js';
import { MixForwarders, type MixSource } from './forwarder.js';
import type { MediaHost } from './media.js';
import type { PlainRtpEndpoint } from './plain-rtp.js';
import { WavRecorder } from './recorder.js';
import type { Announcement } from './announcement.js';
import type { MjrFile } from '../../recording/mjr.js';

export type AbId = string | number;
export type AbCodec = 'opus' | 'pcmu' | 'pcma';

export interface RoomSettings {
  id: AbId;
  description: string;
  secret: string | null;
  pin: string | null;
  isPrivate: boolean;
  samplingRate: number;
  spatialAudio: boolean;
  audiolevelExt: boolean;
  audiolevelEvent: boolean;
  audioActivePackets: number;
  audioLevelAverage: number;
  defaultExpectedLoss: number;
  defaultBitrate: number;
  denoise: boolean;
  record: boolean;
  recordFile: string | null;
  recordDir: string | null;
  mjrs: boolean;
  mjrsDir: string | null;
  allowRtpParticipants: boolean;
  groups: string[];
  /** Tokens allowed to join when `checkTokens`. */
  allowed: Set<string>;
  checkTokens: boolean;
}

export interface EngineOptions {
  scheduler?: Scheduler;
  sharedEncoder?: boolean;
  silenceThreshold?: number;
  /** Jitter buffer prebuffer in packets (2..50). */
  jitterMinPackets?: number;
}

/** Per-handle plugin state (PluginSession.state). */
export class AbSession {
  participant: Participant | null = null;
  /** PeerConnection up (setupMedia). */
  started = false;
  /** The plugin sent the offer (generate_offer): renegotiations must come from us too. */
  pluginOffer = false;
  sdpSessionId = String(Date.now());
  sdpVersion = 1;
  /**
   * On the room's worker: the worker the handle's PeerConnection is on, when not this one (the mix goes
   * there, its RTP comes from there; cross-worker.ts). Null: local.
   */
  home: number | null = null;
  /** On the PeerConnection's worker: the worker of the room the participant is in, when not this one. */
  away: number | null = null;
  constructor(readonly handle: PluginSession) {}
}

const HANGOVER_FRAMES = 25;
/** Opus complexity of encoders the room owns for its forwarders (Janus's DEFAULT_COMPLEXITY). */
const FORWARDER_COMPLEXITY = 4;

export class Participant {
  room: Room | null = null;
  id: AbId = 0;
  display: string | null = null;
  admin = false;
  muted = false;
  suspended = false;
  pausedEvents = false;
  volume = 100;
  spatialPosition = 50;
  bitrate = 0;
  complexity = 4;
  expectedLoss = 0;
  fec = false;
  group = 0;
  codec: AbCodec = 'opus';
  /** Negotiated payload type (-1 until negotiated). */
  pt = -1;
  mid = '0';
  extmapId = 0;
  dBovLevel = 0;
  talking = false;
  activePackets = 0;
  dBovSum = 0;
  userActivePackets = 0;
  userLevelAverage = 0;
  resetDecoder = false;
  // media
  jitter!: JitterBuffer;
  decoder: OpusDecoder | null = null;
  private encoder: OpusEncoder | null = null;
  private encoderRate = 0;
  private encoderChannels = 0;
  decodedOnce = false;
  slot!: MixSlot;
  usingOwn = false;
  hangover = 0;
  /** The SSRC of the mix we send (in the SDP); carried along when the participant moves to another worker. */
  ssrc = (Math.random() * 0x100000000) >>> 0;
  seq = Math.floor(Math.random() * 0x8000);
  ts = (Math.random() * 0x100000000) >>> 0;
  firstPacket = true;
  /** Packets sent (diagnostics/tests). */
  sent = 0;
  /** Plain-RTP participant (joined with `rtp`): its socket, in place of a PeerConnection. */
  plain: PlainRtpEndpoint | null = null;
  /** The .mjr recording of what this participant sends (room `mjrs`, or `record` in join/configure). */
  mjr: MjrFile | null = null;
  /** `record: true` in join/configure: record even when the room does not. */
  recordWanted = false;
  /** `filename` of join/configure: the recording is `<filename>-audio.mjr`. */
  recordBase: string | null = null;

  constructor(readonly session: AbSession) {}

  /** Close the .mjr recording (flushed asynchronously; failures are the file's to report). */
  closeMjr(): void {
    const f = this.mjr;
    this.mjr = null;
    f?.close().catch(() => undefined);
  }

  closePlainRtp(): void {
    this.plain?.close();
    this.plain = null;
  }

  /** Fresh decoder/jitter state for (re)joining a room at `rate`. Throws OpusError. */
  setupCodecs(room: Room): void {
    const frameTs = this.codec === 'opus' ? 960 : 160;
    this.jitter = new JitterBuffer({ frameTs, minPackets: room.engineOptions.jitterMinPackets ?? 2 });
    this.slot = room.mixer.newSlot();
    if (this.codec === 'opus') {
      if (!this.decoder || this.decoder.sampleRate !== room.settings.samplingRate) {
        this.decoder?.destroy();
        this.decoder = createOpusDecoder(room.settings.samplingRate as OpusSampleRate, 1);
      }
    }
    this.decodedOnce = false;
    this.usingOwn = false;
    this.hangover = 0;
  }

  /** The participant's own encoder (created on first use, recreated when the room format changed). */
  ownEncoder(rate: number, channels: 1 | 2): OpusEncoder {
    if (!this.encoder || this.encoderRate !== rate || this.encoderChannels !== channels) {
      this.encoder?.destroy();
      this.encoder = createOpusEncoder({
        sampleRate: rate as OpusSampleRate,
        channels,
        complexity: this.complexity,
        bitrate: this.bitrate,
        fec: this.fec,
        expectedLoss: this.expectedLoss,
      });
      this.encoderRate = rate;
      this.encoderChannels = channels;
    }
    return this.encoder;
  }

  /** Apply changed encoder settings to an existing own encoder. */
  updateEncoder(): void {
    if (!this.encoder) return;
    this.encoder.setComplexity(this.complexity);
    this.encoder.setBitrate(this.bitrate);
    this.encoder.setFec(this.fec);
    this.encoder.setExpectedLoss(this.expectedLoss);
  }

  /** Key of the encoder settings; listeners with equal keys can share an encoder. */
  encoderKey(): string {
    return `${this.bitrate}|${this.complexity}|${this.fec && this.expectedLoss > 0 ? this.expectedLoss : 0}`;
  }

  clearQueues(): void {
    this.jitter?.reset();
  }

  destroyCodecs(): void {
    this.decoder?.destroy();
    this.decoder = null;
    this.encoder?.destroy();
    this.encoder = null;
  }
}

export class Room implements MixSource {
  readonly participants = new Map<AbId, Participant>();
  muted = false;
  destroyed = false;
  /**
   * Whether record_dir/mjrs_dir came from the jcfg (the operator): only then is a missing .mjr folder
   * created. Folders named by create/edit/enable_* must exist (src/security/paths.ts).
   */
  foldersConfigured = false;
  mixer: AudioMixer;
  private readonly clock: FrameClock;
  private readonly shared = new Map<string, OpusEncoder>();
  /** This frame's payloads of the shared encoders, by encoder key (cleared every frame). */
  private readonly sharedPayloads = new Map<string, Buffer>();
  /** RTP forwarders of the mix (rtp_forward). */
  readonly forwarders: MixForwarders;
  /** Group mixes for group forwarders, by 1-based group: 32-bit sums and the clipped frame. */
  private readonly groupSum: Int32Array[] = [];
  private readonly groupMix: Int16Array[] = [];
  private readonly groupMixFrame: number[] = [];
  /** Shared-encoder key of the forwarders' full-mix Opus (the room defaults never change). */
  private forwardKey: string | null = null;
  /** Frames mixed (diagnostics). */
  frames = 0;
  /** The WAV recording of the mix, when `record` is on. */
  recorder: WavRecorder | null = null;
  /** Files being played into the mix (play_file), by file_id. */
  readonly announcements = new Map<string, Announcement>();
  /** Told when an announcement starts (first mixed frame) and when it ends or is stopped. Must not throw. */
  onAnnouncement: ((a: Announcement, event: 'started' | 'stopped') => void) | null = null;
  /** A listener whose PeerConnection is on another worker: its encoded frame goes there (cross-worker.ts). */
  sendAway: ((p: Participant, payload: Buffer) => boolean) | null = null;
  /** The room's clock failed (fault counted and logged): the plugin tears the room down. Null: the clock stops. */
  onFault: ((reason: string) => void) | null = null;

  constructor(
    public settings: RoomSettings,
    readonly engineOptions: EngineOptions,
    private readonly mediaHost: () => MediaHost | null,
    private readonly log: Logger,
  ) {
    this.mixer = new AudioMixer({
      sampleRate: settings.samplingRate,
      stereo: settings.spatialAudio,
      ...(engineOptions.silenceThreshold !== undefined ? { silenceThreshold: engineOptions.silenceThreshold } : {}),
    });
    this.clock = new FrameClock(() => this.tick(), { ...(engineOptions.scheduler ? { scheduler: engineOptions.scheduler } : {}), onError: (err) => this.clockFailed(err) });
    this.forwarders = new MixForwarders(log);
  }

  get sampleRate(): number {
    return this.settings.samplingRate;
  }

  get channels(): 1 | 2 {
    return this.mixer.channels as 1 | 2;
  }

  get samples(): number {
    return this.mixer.samples;
  }

  /**
   * Run the mixer clock while there is someone to mix for: participants, an always_on forwarder
   * (which sends silence into an empty room, as in Janus), or an announcement (which plays to its end
   * in an empty room too, as in Janus). Call after participants, forwarders or announcements change.
   */
  refreshClock(): void {
    const wanted = !this.destroyed && (this.participants.size > 0 || this.forwarders.anyAlwaysOn || this.announcements.size > 0);
    if (wanted && !this.clock.running) this.clock.start();
    else if (!wanted && this.clock.running) this.clock.stop();
  }

  get idString(): string {
    return String(this.settings.id);
  }

  /**
   * The mixer clock's counters (diagnostics/tests): frames produced and skipped since it (re)started, and
   * the time (performance.now() ms) the last produced frame was due (during a tick: the current frame).
   */
  clockInfo(): { running: boolean; produced: number; skipped: number; dueMs: number } {
    return { running: this.clock.running, produced: this.clock.produced, skipped: this.clock.skipped, dueMs: this.clock.dueTime(this.clock.produced) };
  }

  add(p: Participant): void {
    this.participants.set(p.id, p);
    p.room = this;
    this.refreshClock();
  }

  remove(p: Participant): boolean {
    const had = this.participants.get(p.id) === p && this.participants.delete(p.id);
    if (p.room === this) p.room = null;
    // Whatever the way out (leave, hangup, kick, destroy, changeroom), the recording of this room ends.
    p.closeMjr();
    p.talking = false;
    p.activePackets = 0;
    p.dBovSum = 0;
    if (this.participants.size === 0) {
      this.refreshClock();
      // The mix pauses with the clock: make the recording's header count everything written so far.
      try {
        this.recorder?.fixup();
      } catch {
        /* reported by the next write */
      }
    }
    return had;
  }

  /** Start recording the mix to `path` (closing a previous recording). Throws on I/O errors. */
  startRecording(path: string, tmpExt: string | null = null): WavRecorder {
    this.stopRecording();
    this.recorder = new WavRecorder({ path, sampleRate: this.settings.samplingRate, channels: this.mixer.channels as 1 | 2, tmpExt });
    return this.recorder;
  }

  stopRecording(): void {
    const r = this.recorder;
    this.recorder = null;
    try {
      r?.close();
    } catch (err) {
      this.log.error('AudioBridge: closing the recording failed', { room: this.idString, err: String(err) });
    }
  }

  /** Start mixing `a` (its file_id must be free). */
  addAnnouncement(a: Announcement): void {
    this.announcements.set(a.fileId, a);
    this.refreshClock();
  }

  /** Stop and forget an announcement; tells onAnnouncement ('stopped'). False when there is none. */
  stopAnnouncement(fileId: string): boolean {
    const a = this.announcements.get(fileId);
    if (!a) return false;
    this.endAnnouncement(a);
    this.refreshClock();
    return true;
  }

  private endAnnouncement(a: Announcement): void {
    if (this.announcements.get(a.fileId) === a) this.announcements.delete(a.fileId);
    a.destroy();
    this.tellAnnouncement(a, 'stopped');
  }

  private tellAnnouncement(a: Announcement, event: 'started' | 'stopped'): void {
    try {
      this.onAnnouncement?.(a, event);
    } catch (err) {
      this.log.warn('AudioBridge: announcement event failed', { room: this.idString, file_id: a.fileId, err: String(err) });
    }
  }

  destroy(): void {
    this.destroyed = true;
    for (const a of this.announcements.values()) a.destroy();
    this.announcements.clear();
    this.stopRecording();
    this.clock.stop();
    this.forwarders.close();
    for (const e of this.shared.values()) e.destroy();
    this.shared.clear();
  }

  /** Whether `p` contributes to the mix right now. */
  private contributes(p: Participant): boolean {
    return p.session.started && !p.muted && !p.suspended && !(this.muted && !p.admin);
  }

  /** Whether `p` gets a mix this frame: over its PeerConnection (needs the host) or its plain-RTP socket. */
  private receives(p: Participant, host: MediaHost | null): boolean {
    if (!p.session.started || p.suspended || p.pt < 0 || !p.session.handle.alive) return false;
    return p.plain ? p.plain.canSend : host !== null;
  }

  private decode(p: Participant): Int16Array | null {
    const r = p.jitter.pull();
    const rate = this.settings.samplingRate;
    try {
      if (p.codec === 'opus') {
        if (p.resetDecoder && p.decoder) {
          p.decoder.destroy();
          p.decoder = createOpusDecoder(rate as OpusSampleRate, 1);
          p.resetDecoder = false;
          p.decodedOnce = false;
        }
        const d = p.decoder;
        if (!d) return null;
        switch (r.kind) {
          case 'packet':
            p.decodedOnce = true;
            return d.decode(r.payload);
          case 'fec':
            return p.decodedOnce ? d.decode(r.payload, true) : null;
          case 'plc':
            return p.decodedOnce ? d.decode(null) : null;
          default:
            return null;
        }
      }
      if (r.kind !== 'packet') return null;
      const pcm8 = g711Decode(p.codec as G711Law, r.payload);
      return resampleFrame(pcm8, 8000, rate, this.mixer.samples);
    } catch (err) {
      this.log.huge('AudioBridge decode failed', { room: this.idString, id: p.id, err: String(err) });
      return null;
    }
  }

  /**
   * Fault boundary of the room's timer: a frame that throws is a bug in this room's state, so this room
   * (not the plugin, not the process) is closed: its participants are told and hung up.
   */
  private clockFailed(err: unknown): void {
    fault(this.log, 'plugin_timer', err, { plugin: 'janus.plugin.audiobridge', room: this.idString, where: 'mixer' });
    this.clock.stop();
    const close = this.onFault;
    this.onFault = null;
    close?.('Room error');
  }

  /** One 20 ms frame. Public for tests and benchmarks (normally driven by the clock). */
  tick(): void {
    if (this.destroyed) return;
    inject('plugin_timer', this.settings.id);
    this.frames++;
    const mixer = this.mixer;
    mixer.begin();
    for (const p of this.participants.values()) {
      if (!p.jitter) continue;
      if (!this.contributes(p)) {
        mixer.skip(p.slot);
        continue;
      }
      const pcm = this.decode(p);
      if (pcm) mixer.add(p.slot, pcm, p.volume, p.spatialPosition);
      else mixer.skip(p.slot);
    }
    if (this.announcements.size > 0) this.mixAnnouncements();
    // An always_on forwarder keeps the clock going in an empty room; the recording pauses as in Janus.
    if (this.recorder && this.participants.size > 0) {
      try {
        this.recorder.write(mixer.fullMix());
      } catch (err) {
        this.log.error('AudioBridge: writing the recording failed, recording stopped', { room: this.idString, err: String(err) });
        this.stopRecording();
      }
    }
    const host = this.mediaHost();
    const useShared = this.engineOptions.sharedEncoder !== false;
    const channels = mixer.channels as 1 | 2;
    const rate = this.settings.samplingRate;
    const sharedPayloads = this.sharedPayloads;
    sharedPayloads.clear();
    for (const p of this.participants.values()) {
      if (!p.jitter || !this.receives(p, host)) continue;
      if (p.slot.contributed) p.hangover = HANGOVER_FRAMES;
      else if (p.hangover > 0) p.hangover--;
      let payload: Buffer;
      try {
        if (p.codec === 'opus') {
          const own = !useShared || p.slot.contributed || p.hangover > 0;
          if (own) {
            const enc = p.ownEncoder(rate, channels);
            if (!p.usingOwn && useShared) enc.reset();
            p.usingOwn = true;
            payload = enc.encode(mixer.mixFor(p.slot));
          } else {
            p.usingOwn = false;
            const key = p.encoderKey();
            let pl = sharedPayloads.get(key);
            if (!pl) {
              pl = this.sharedEncoder(p, key, channels).encode(mixer.fullMix());
              sharedPayloads.set(key, pl);
            }
            payload = pl;
          }
        } else {
          let mono = mixer.mixFor(p.slot);
          if (channels === 2) {
            const m = new Int16Array(mixer.samples);
            for (let i = 0; i < m.length; i++) m[i] = (mono[2 * i]! + mono[2 * i + 1]!) >> 1;
            mono = m;
          }
          payload = g711Encode(p.codec as G711Law, resampleFrame(mono, rate, 8000, 160));
        }
      } catch (err) {
        this.log.warn('AudioBridge encode failed', { room: this.idString, id: p.id, err: String(err) });
        continue;
      }
      if (p.session.home !== null) {
        // Its PeerConnection is on another worker: the encoded frame goes there, which packetizes and sends.
        if (this.sendAway?.(p, payload)) p.sent++;
        continue;
      }
      const pkt = Buffer.allocUnsafe(12 + payload.length);
      p.seq = (p.seq + 1) & 0xffff;
      p.ts = (p.ts + (p.codec === 'opus' ? 960 : 160)) >>> 0;
      writeRtpHeader(pkt, p.pt, p.seq, p.ts, p.ssrc, p.firstPacket);
      p.firstPacket = false;
      pkt.set(payload, 12);
      p.sent++;
      try {
        if (p.plain) p.plain.send(pkt);
        else host!.sendRtp(p.session.handle, p.mid, pkt);
      } catch (err) {
        this.log.warn('AudioBridge sendRtp failed', { room: this.idString, id: p.id, err: String(err) });
      }
    }
    this.forwarders.forward(this, this.participants.size > 0 || this.announcements.size > 0);
  }

  /** This frame of every announcement into the mix, like a participant who is always talking. */
  private mixAnnouncements(): void {
    let ended = false;
    for (const a of this.announcements.values()) {
      if (!a.started) {
        a.started = true;
        this.tellAnnouncement(a, 'started');
      }
      const pcm = a.nextFrame();
      if (pcm) this.mixer.add(a.slot, pcm);
      else {
        this.mixer.skip(a.slot);
        // Deleting the current entry while iterating a Map is safe.
        this.endAnnouncement(a);
        ended = true;
      }
    }
    if (ended) this.refreshClock();
  }

  private sharedEncoder(p: { complexity: number; bitrate: number; fec: boolean; expectedLoss: number }, key: string, channels: 1 | 2): OpusEncoder {
    let e = this.shared.get(key);
    if (!e) {
      e = createOpusEncoder({
        sampleRate: this.settings.samplingRate as OpusSampleRate,
        channels,
        complexity: p.complexity,
        bitrate: p.bitrate,
        fec: p.fec,
        expectedLoss: p.expectedLoss,
      });
      this.shared.set(key, e);
    }
    return e;
  }

  /** Encoder settings of the forwarders: the room's defaults, as a listener who set nothing would have. */
  opusSettings(): { bitrate: number; complexity: number; fec: boolean; expectedLoss: number } {
    const loss = this.settings.defaultExpectedLoss;
    return { bitrate: this.settings.defaultBitrate, complexity: FORWARDER_COMPLEXITY, fec: loss > 0, expectedLoss: loss };
  }

  /**
   * This frame's full mix in Opus for the forwarders. It comes from the shared encoder with the room's
   * default settings, the one non-talking listeners with default settings use too: one encode per frame
   * serves them all, and the forwarders keep that encoder's stream continuous.
   */
  fullMixOpus(): Buffer {
    let key = this.forwardKey;
    if (key === null) {
      const s = this.opusSettings();
      key = this.forwardKey = `${s.bitrate}|${s.complexity}|${s.fec ? s.expectedLoss : 0}`;
    }
    let pl = this.sharedPayloads.get(key);
    if (!pl) {
      const enc = this.shared.get(key) ?? this.sharedEncoder(this.opusSettings(), key, this.channels);
      pl = enc.encode(this.mixer.fullMix());
      this.sharedPayloads.set(key, pl);
    }
    return pl;
  }

  /** This frame's mix of everyone (0), or of the participants of one group (as Janus's group forwarders). */
  mixOf(group: number): Int16Array {
    if (group <= 0) return this.mixer.fullMix();
    if (this.groupMixFrame[group] === this.frames) return this.groupMix[group]!;
    const len = this.mixer.samples * this.mixer.channels;
    let sum = this.groupSum[group];
    let mix = this.groupMix[group];
    if (!sum || !mix) {
      sum = this.groupSum[group] = new Int32Array(len);
      mix = this.groupMix[group] = new Int16Array(len);
    }
    sum.fill(0);
    for (const p of this.participants.values()) {
      if (p.group !== group || !p.jitter || !p.slot.contributed) continue;
      const c = p.slot.contribution;
      for (let i = 0; i < len; i++) sum[i]! += c[i]!;
    }
    for (const a of this.announcements.values()) {
      if (a.group !== group || !a.slot.contributed) continue;
      const c = a.slot.contribution;
      for (let i = 0; i < len; i++) sum[i]! += c[i]!;
    }
    for (let i = 0; i < len; i++) {
      const v = sum[i]!;
      mix[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
    }
    this.groupMixFrame[group] = this.frames;
    return mix;
  }

  /** Encoders in use (diagnostics/bench): shared ones and participants currently on their own. */
  encoderStats(): { shared: number; own: number } {
    let own = 0;
    for (const p of this.participants.values()) if (p.usingOwn) own++;
    return { shared: this.shared.size, own };
  }
}
