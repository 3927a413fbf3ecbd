/**
 * Drives AudioBridgePlugin directly: a real PluginHost + MediaHost that records events and RTP,
 * sessions shaped like the core's, fake time for the mixer clock, RTP/SDP builders.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Jcfg } from '../../../src/config/jcfg.js';
import { defaultJanusConfig } from '../../../src/config/defaults.js';
import type { Jsep } from '../../../src/core/jsep.js';
import type { PluginHost, PluginSession } from '../../../src/core/plugin.js';
import type { Fields, Logger } from '../../../src/log.js';
import { buildExtensionBlock } from '../../../src/media/rtp/extensions.js';
import { AudioBridgePlugin, type AudioBridgeOptions } from '../../../src/plugins/audiobridge/plugin.js';
import type { MediaHost, RtpStreamInfo } from '../../../src/plugins/audiobridge/media.js';
import type { Scheduler } from '../../../src/plugins/audiobridge/mixer.js';

export type Data = Record<string, unknown>;

export interface Pushed {
  handleId: number;
  transaction: string | null;
  data: Data;
  jsep?: Jsep;
}

let nextHandle = 1000;
export class TestSession implements PluginSession {
  state: unknown = undefined;
  alive = true;
  readonly sessionId = 1;
  readonly opaqueId = null;
  readonly token = null;
  readonly handleId = nextHandle++;
}

export class RecordingHost implements PluginHost, MediaHost {
  readonly events: Pushed[] = [];
  readonly closed: Array<{ handleId: number; reason?: string }> = [];
  readonly rtp = new Map<number, Buffer[]>();

  pushEvent(session: PluginSession, transaction: string | null, data: Data, jsep?: Jsep): boolean {
    if (!session.alive) return false;
    this.events.push({ handleId: session.handleId, transaction, data: structuredClone(data), ...(jsep ? { jsep } : {}) });
    return true;
  }
  closePeerConnection(session: PluginSession, reason?: string): void {
    this.closed.push({ handleId: session.handleId, ...(reason !== undefined ? { reason } : {}) });
  }
  endSession(): void {}
  isTokenValidForPlugin(): boolean {
    return true;
  }
  sendRtp(session: PluginSession, _mid: string, packet: Buffer): void {
    let l = this.rtp.get(session.handleId);
    if (!l) this.rtp.set(session.handleId, (l = []));
    l.push(packet);
  }
  unsolicited(s: PluginSession): Data[] {
    return this.events.filter((e) => e.handleId === s.handleId && e.transaction === null).map((e) => e.data);
  }
  clear(): void {
    this.events.length = 0;
  }
}

export function quietLogger(): Logger {
  const nop = (_m: string, _f?: Fields): void => {};
  const l: Logger = { fatal: nop, error: nop, warn: nop, info: nop, verb: nop, huge: nop, debug: nop, enabled: () => false, child: () => l };
  return l;
}

/** Manual time: timers fire only inside advance(). */
export class FakeScheduler implements Scheduler {
  t = 0;
  private seq = 0;
  private timers: Array<{ at: number; id: number; fn: () => void }> = [];
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.push({ at: this.t + Math.max(0, ms), id, fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== h);
  }
  /** Advance time by `ms`, firing due timers in order (a timer may be `late` ms late, to simulate a busy loop). */
  advance(ms: number, late = 0): void {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.at + late > end) break;
      this.timers.shift();
      this.t = Math.max(this.t, next.at + late);
      next.fn();
    }
    this.t = end;
  }
}

export const DEMO_CONFIG = `general: {
}
room-1234: {
	description = "Demo Room"
	secret = "adminpwd"
	sampling_rate = 16000
	record = false
}
`;

export interface Harness {
  plugin: AudioBridgePlugin;
  host: RecordingHost;
  sched: FakeScheduler;
  config: Jcfg;
  dir: string;
  session(): TestSession;
  send(s: TestSession, body: Data, jsep?: Jsep | null): Promise<{ data: Data; jsep?: Jsep; async: boolean }>;
}

let tx = 0;
export async function makeHarness(configText = DEMO_CONFIG, opts: AudioBridgeOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'ab-test-'));
  const file = join(dir, 'janus.plugin.audiobridge.jcfg');
  writeFileSync(file, configText);
  const config = await Jcfg.load(file);
  const host = new RecordingHost();
  const sched = new FakeScheduler();
  const plugin = new AudioBridgePlugin({ scheduler: sched, log: quietLogger(), ...opts });
  await plugin.init({ config, configsFolder: dir, gateway: defaultJanusConfig(), host, log: opts.log ?? quietLogger() });
  const h: Harness = {
    plugin,
    host,
    sched,
    config,
    dir,
    session() {
      const s = new TestSession();
      plugin.createSession(s);
      return s;
    },
    async send(s, body, jsep = null) {
      const t = `t${++tx}`;
      const r = await plugin.handleMessage(s, t, body, jsep);
      if (r.kind === 'ok') return { data: r.data, async: false };
      if (r.kind === 'error') throw new Error(r.reason);
      for (let i = 0; i < 200; i++) {
        const e = host.events.find((x) => x.transaction === t);
        if (e) return { data: e.data, ...(e.jsep ? { jsep: e.jsep } : {}), async: true };
        await new Promise((res) => setImmediate(res));
      }
      throw new Error(`no event for ${JSON.stringify(body)}`);
    },
  };
  return h;
}

/** Chrome-like audio-only offer (what janus.js sends from audiobridgetest.html), optionally with video. */
export function chromeOffer(opts: { video?: boolean; ssrc?: number; fec?: boolean } = {}): string {
  const ssrc = opts.ssrc ?? 1111;
  const lines = [
    'v=0',
    'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    `a=group:BUNDLE 0${opts.video ? ' 1' : ''}`,
    'a=extmap-allow-mixed',
    'a=msid-semantic: WMS stream1',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126',
    'c=IN IP4 0.0.0.0',
    'a=rtcp:9 IN IP4 0.0.0.0',
    'a=ice-ufrag:Ab1c',
    'a=ice-pwd:abcdefghijklmnopqrstuvwx',
    'a=ice-options:trickle',
    'a=fingerprint:sha-256 11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00',
    'a=setup:actpass',
    'a=mid:0',
    'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
    'a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
    'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
    'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
    'a=sendrecv',
    'a=msid:stream1 track1',
    'a=rtcp-mux',
    'a=rtpmap:111 opus/48000/2',
    'a=rtcp-fb:111 transport-cc',
    `a=fmtp:111 minptime=10;useinbandfec=${opts.fec === false ? 0 : 1}`,
    'a=rtpmap:63 red/48000/2',
    'a=fmtp:63 111/111',
    'a=rtpmap:9 G722/8000',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:13 CN/8000',
    'a=rtpmap:110 telephone-event/48000',
    'a=rtpmap:126 telephone-event/8000',
    `a=ssrc:${ssrc} cname:abcdefgh`,
    `a=ssrc:${ssrc} msid:stream1 track1`,
  ];
  if (opts.video) {
    lines.push(
      'm=video 9 UDP/TLS/RTP/SAVPF 96',
      'c=IN IP4 0.0.0.0',
      'a=ice-ufrag:Ab1c',
      'a=ice-pwd:abcdefghijklmnopqrstuvwx',
      'a=fingerprint:sha-256 11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00',
      'a=setup:actpass',
      'a=mid:1',
      'a=sendrecv',
      'a=rtcp-mux',
      'a=rtpmap:96 VP8/90000',
    );
  }
  return lines.join('\r\n') + '\r\n';
}

/** An RTP packet with an optional RFC 6464 audio level (one-byte extension id `levelId`). */
export function rtpPacket(o: { pt: number; seq: number; ts: number; ssrc: number; payload: Uint8Array; levelId?: number; level?: number }): Buffer {
  const ext = o.levelId ? buildExtensionBlock([{ id: o.levelId, data: Uint8Array.of(0x80 | (o.level ?? 30)) }]) : Buffer.alloc(0);
  const b = Buffer.alloc(12 + ext.length + o.payload.length);
  b[0] = 0x80 | (ext.length ? 0x10 : 0);
  b[1] = o.pt & 0x7f;
  b.writeUInt16BE(o.seq & 0xffff, 2);
  b.writeUInt32BE(o.ts >>> 0, 4);
  b.writeUInt32BE(o.ssrc >>> 0, 8);
  ext.copy(b, 12);
  b.set(o.payload, 12 + ext.length);
  return b;
}

/** Join room + configure with a Chrome offer + setupMedia: a participant ready to send and receive. */
export async function joinWithMedia(h: Harness, room: number | string, display: string, extra: Data = {}): Promise<{ s: TestSession; id: unknown; answer: string }> {
  const s = h.session();
  const j = await h.send(s, { request: 'join', room, display, ...extra });
  if (j.data['audiobridge'] !== 'joined') throw new Error(`join failed: ${JSON.stringify(j.data)}`);
  const c = await h.send(s, { request: 'configure', muted: false }, { type: 'offer', sdp: chromeOffer() });
  if (!c.jsep) throw new Error(`no answer: ${JSON.stringify(c.data)}`);
  h.plugin.setupMedia(s);
  return { s, id: j.data['id'], answer: c.jsep.sdp };
}

/** The stream descriptor the core hands to incomingRtp for an audio m-line. */
export function audioStream(ssrc = 1111, mid = '0'): RtpStreamInfo {
  return { mid, mindex: 0, kind: 'audio', ssrc, substream: 0, rid: undefined };
}
