/**
 * Drives VideoRoomPlugin directly: a real PluginHost that records what the plugin pushes,
 * sessions shaped like the core's, and a logger that keeps warnings for assertions.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Jcfg } from '../../../src/config/jcfg.js';
import { defaultJanusConfig } from '../../../src/config/defaults.js';
import type { Jsep } from '../../../src/core/jsep.js';
import type { JcfgDocument, PluginHost, PluginMediaHost, PluginSession, RtpStreamInfo } from '../../../src/core/plugin.js';
import type { Fields, Logger } from '../../../src/log.js';
import { VideoRoomPlugin } from '../../../src/plugins/videoroom/plugin.js';

export type Data = Record<string, unknown>;

export interface Pushed {
  handleId: number;
  transaction: string | null;
  data: Data;
  jsep?: Jsep;
}

export class TestSession implements PluginSession {
  state: unknown = undefined;
  alive = true;
  readonly sessionId = 1;
  readonly opaqueId = null;
  readonly token = null;
  constructor(readonly handleId: number) {}
}

export interface RelayedRtp {
  handleId: number;
  mid: string;
  packet: Buffer;
}

/** A real PluginHost (signalling and media relay halves) that records everything the plugin does. */
export class RecordingHost implements PluginHost, PluginMediaHost {
  readonly events: Pushed[] = [];
  readonly closed: Array<{ handleId: number; reason?: string }> = [];
  readonly ended: number[] = [];
  readonly rtp: RelayedRtp[] = [];
  readonly rtcp: Array<{ handleId: number; mid: string | null; packet: Buffer }> = [];
  readonly data: Array<{ handleId: number; label: string | null; data: string | Buffer }> = [];
  readonly plis: Array<{ handleId: number; mid: string | null }> = [];
  readonly rembs: Array<{ handleId: number; bitrate: number }> = [];
  /** Bandwidth estimate the core reports per handle (bps), and the last `wantedBps` asked with. */
  readonly estimates = new Map<number, number>();
  readonly wanted = new Map<number, number>();
  /** Make pushEvent with a JSEP fail (the media plane refusing it). */
  refuseJsep = false;

  relayRtp(session: PluginSession, mid: string, buf: Buffer, len: number): void {
    // Copy, as the core does: the plugin reuses its buffer right after.
    this.rtp.push({ handleId: session.handleId, mid, packet: Buffer.from(buf.subarray(0, len)) });
  }
  relayRtcp(session: PluginSession, mid: string | null, buf: Buffer, len: number): void {
    this.rtcp.push({ handleId: session.handleId, mid, packet: Buffer.from(buf.subarray(0, len)) });
  }
  relayData(session: PluginSession, label: string | null, data: string | Buffer): void {
    this.data.push({ handleId: session.handleId, label, data });
  }
  sendPli(session: PluginSession, mid: string | null): void {
    this.plis.push({ handleId: session.handleId, mid });
  }
  sendRemb(session: PluginSession, bitrate: number): void {
    this.rembs.push({ handleId: session.handleId, bitrate });
  }
  /** How long the core's pacer held packets towards a handle (ms), as sendQueueMs reports it. */
  readonly queueMs = new Map<number, number>();
  sendQueueMs(session: PluginSession): number {
    return this.queueMs.get(session.handleId) ?? 0;
  }
  bandwidthEstimate(session: PluginSession, wantedBps?: number): number {
    if (wantedBps !== undefined) this.wanted.set(session.handleId, wantedBps);
    return this.estimates.get(session.handleId) ?? 0;
  }
  sendData(session: PluginSession, text: string): void {
    this.relayData(session, null, text);
  }
  sendRtp(session: PluginSession, mid: string, packet: Buffer): void {
    this.relayRtp(session, mid, packet, packet.length);
  }

  /** RTP relayed to one handle (optionally one mid). */
  rtpTo(s: PluginSession, mid?: string): Buffer[] {
    return this.rtp.filter((r) => r.handleId === s.handleId && (mid === undefined || r.mid === mid)).map((r) => r.packet);
  }
  plisTo(s: PluginSession): Array<string | null> {
    return this.plis.filter((p) => p.handleId === s.handleId).map((p) => p.mid);
  }

  pushEvent(session: PluginSession, transaction: string | null, data: Data, jsep?: Jsep): boolean {
    if (!session.alive) return false;
    if (jsep && this.refuseJsep) return false;
    this.events.push({ handleId: session.handleId, transaction, data, ...(jsep ? { jsep } : {}) });
    return true;
  }
  closePeerConnection(session: PluginSession, reason?: string): void {
    this.closed.push({ handleId: session.handleId, reason });
  }
  endSession(session: PluginSession): void {
    this.ended.push(session.handleId);
  }
  isTokenValidForPlugin(): boolean {
    return true;
  }

  /** Unsolicited events a handle received (transaction null), in order. */
  unsolicited(s: PluginSession): Data[] {
    return this.events.filter((e) => e.handleId === s.handleId && e.transaction === null).map((e) => e.data);
  }
  /** The last event a handle got that carried a JSEP. */
  lastJsep(s: PluginSession): Pushed | undefined {
    return this.events.filter((e) => e.handleId === s.handleId && e.jsep !== undefined).at(-1);
  }
  clear(): void {
    this.events.length = 0;
    this.rtp.length = 0;
    this.rtcp.length = 0;
    this.data.length = 0;
    this.plis.length = 0;
    this.rembs.length = 0;
  }
}

export interface LogLine {
  level: string;
  msg: string;
  fields?: Fields;
}

export function captureLogger(lines: LogLine[] = []): Logger & { lines: LogLine[] } {
  const at = (level: string) => (msg: string, fields?: Fields) => void lines.push({ level, msg, fields });
  const logger = {
    lines,
    fatal: at('fatal'),
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    verb: at('verb'),
    huge: at('huge'),
    debug: at('debug'),
    enabled: () => true,
    child: () => logger,
  };
  return logger;
}

export const SEED_VIDEOROOM_JCFG = `general: {
    string_ids = true
    max_publishers = 6
    admin_key = "videoroom_key"
}

# test room (a logical object in the server's RAM)
room-9999: {
    description = "Test Room"
    secret = "secret"
    publishers = 4
    bitrate = 1024000
    fir_freq = 10
    audiocodec = "opus"
    videocodec = "vp8"
    record = false
    rec_dir = "/tmp"
}
`;

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'portunus-vr-'));
}

/** A jcfg document from text, backed by a fresh temp file (so `permanent` saves have somewhere to go). */
export function docFromText(text: string, dir = tempDir()): Jcfg {
  const file = join(dir, 'janus.plugin.videoroom.jcfg');
  writeFileSync(file, text);
  return Jcfg.fromText(text, file);
}

let nextHandle = 1000;

export class Harness {
  readonly host = new RecordingHost();
  readonly log = captureLogger();
  readonly plugin = new VideoRoomPlugin();
  /** The plugin's clock (ms); tests move it. */
  time = 1_000_000;
  private tx = 0;

  /** `gateway`: janus.jcfg as the core hands it to plugins (e.g. protected_folders). */
  static async start(config: string | JcfgDocument, gateway = defaultJanusConfig()): Promise<Harness> {
    const h = new Harness();
    const doc = typeof config === 'string' ? docFromText(config) : config;
    await h.plugin.init({ config: doc, configsFolder: '/tmp', gateway, host: h.host, log: h.log });
    h.plugin.setClock(() => h.time);
    return h;
  }

  /** An asynchronous request; returns the event pushed with its transaction, JSEP included. */
  async asyncFull(s: TestSession, body: Data, jsep: Jsep | null = null): Promise<Pushed> {
    const tx = `tx${++this.tx}`;
    const r = await this.plugin.handleMessage(s, tx, body, jsep);
    if (r.kind !== 'wait') throw new Error(`expected an ack for ${JSON.stringify(body)}, got ${JSON.stringify(r)}`);
    await this.plugin.whenIdle();
    const ev = this.host.events.filter((e) => e.transaction === tx);
    if (ev.length !== 1) throw new Error(`expected one event for ${tx}, got ${ev.length}: ${JSON.stringify(ev)}`);
    return ev[0]!;
  }

  /** Feed an RTP packet to a handle as the core's packet path would. */
  rtp(s: TestSession, info: RtpStreamInfo, packet: Buffer): void {
    this.plugin.incomingRtp(s, info, packet, packet.length);
  }

  attach(): TestSession {
    const s = new TestSession(nextHandle++);
    this.plugin.createSession(s);
    return s;
  }

  detach(s: TestSession): void {
    this.plugin.destroySession(s);
    s.alive = false;
  }

  /** A synchronous request: asserts the plugin answered `ok` and returns its data. */
  async sync(s: TestSession, body: Data): Promise<Data> {
    const r = await this.plugin.handleMessage(s, `tx${++this.tx}`, body, null);
    if (r.kind !== 'ok') throw new Error(`expected a sync answer to ${JSON.stringify(body)}, got ${JSON.stringify(r)}`);
    return r.data;
  }

  /** An asynchronous request: asserts `wait`, then returns the event pushed with its transaction. */
  async async(s: TestSession, body: Data, jsep: Jsep | null = null): Promise<Data> {
    const tx = `tx${++this.tx}`;
    const r = await this.plugin.handleMessage(s, tx, body, jsep);
    if (r.kind !== 'wait') throw new Error(`expected an ack for ${JSON.stringify(body)}, got ${JSON.stringify(r)}`);
    if (this.host.events.some((e) => e.transaction === tx)) throw new Error('event pushed before handleMessage returned');
    await this.plugin.whenIdle();
    const ev = this.host.events.filter((e) => e.transaction === tx);
    if (ev.length !== 1) throw new Error(`expected one event for ${tx}, got ${ev.length}`);
    return ev[0]!.data;
  }

  warnings(): string[] {
    return this.log.lines.filter((l) => l.level === 'warn').map((l) => l.msg);
  }
}


export function vrError(code: number, error: string): Data {
  return { videoroom: 'event', error_code: code, error };
}
