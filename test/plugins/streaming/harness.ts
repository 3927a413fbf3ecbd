/**
 * Drives StreamingPlugin directly with the VideoRoom tests' recording host (a real PluginHost that
 * records what the plugin pushes and relays), and sends real RTP to the mountpoints' UDP ports.
 */
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Jcfg } from '../../../src/config/jcfg.js';
import { defaultJanusConfig } from '../../../src/config/defaults.js';
import type { Jsep } from '../../../src/core/jsep.js';
import { StreamingPlugin } from '../../../src/plugins/streaming/plugin.js';
import { captureLogger, RecordingHost, TestSession, type Data, type Pushed } from '../videoroom/harness.js';

export { RecordingHost, TestSession, type Data } from '../videoroom/harness.js';

let nextHandle = 1;

export function docFromText(text: string): Jcfg {
  const dir = mkdtempSync(join(tmpdir(), 'portunus-st-'));
  const file = join(dir, 'janus.plugin.streaming.jcfg');
  writeFileSync(file, text);
  return Jcfg.fromText(text, file);
}

export class Harness {
  readonly host = new RecordingHost();
  readonly log = captureLogger();
  readonly plugin = new StreamingPlugin();
  private tx = 0;
  doc!: Jcfg;

  static async start(config: string): Promise<Harness> {
    const h = new Harness();
    h.doc = docFromText(config);
    await h.plugin.init({ config: h.doc, configsFolder: '/tmp', gateway: defaultJanusConfig(), host: h.host, log: h.log });
    return h;
  }

  attach(): TestSession {
    const s = new TestSession(nextHandle++);
    this.plugin.createSession(s);
    return s;
  }

  async sync(s: TestSession, body: Data): Promise<Data> {
    const r = await this.plugin.handleMessage(s, `tx${++this.tx}`, body, null);
    if (r.kind !== 'ok') throw new Error(`expected a sync answer to ${JSON.stringify(body)}, got ${JSON.stringify(r)}`);
    return r.data;
  }

  async asyncFull(s: TestSession, body: Data, jsep: Jsep | null = null): Promise<Pushed> {
    const tx = `tx${++this.tx}`;
    const r = await this.plugin.handleMessage(s, tx, body, jsep);
    if (r.kind !== 'wait') throw new Error(`expected an ack for ${JSON.stringify(body)}, got ${JSON.stringify(r)}`);
    await this.plugin.whenIdle();
    const ev = this.host.events.filter((e) => e.transaction === tx);
    if (ev.length !== 1) throw new Error(`expected one event for ${tx}, got ${ev.length}: ${JSON.stringify(ev)}`);
    return ev[0]!;
  }

  async async(s: TestSession, body: Data, jsep: Jsep | null = null): Promise<Data> {
    return (await this.asyncFull(s, body, jsep)).data;
  }

  /** watch + start with a (plugin-unchecked) answer + PeerConnection up: the handle receives media. */
  async viewer(id: number | string, extra: Data = {}): Promise<TestSession> {
    const s = this.attach();
    const w = await this.asyncFull(s, { request: 'watch', id, ...extra });
    if (w.jsep === undefined) throw new Error(`watch failed: ${JSON.stringify(w.data)}`);
    await this.async(s, { request: 'start' }, { type: 'answer', sdp: 'v=0\r\n' });
    this.plugin.setupMedia(s);
    return s;
  }

  warnings(): string[] {
    return this.log.lines.filter((l) => l.level === 'warn').map((l) => l.msg);
  }

  async stop(): Promise<void> {
    await this.plugin.destroy();
  }
}

/** Ports an rtp mountpoint bound, as `info` with its secret shows them. */
export async function portsOf(h: Harness, id: number | string, secret?: string): Promise<number[]> {
  const s = h.attach();
  const info = (await h.sync(s, { request: 'info', id, ...(secret ? { secret } : {}) })).info as { media: Array<{ port: number }> };
  return info.media.map((m) => m.port);
}

/** An RTP packet: VP8 payload descriptor with S=1 (and a keyframe header when `key`). */
export function vp8Packet(seq: number, ts: number, ssrc: number, opts: { key?: boolean; start?: boolean; marker?: boolean; pt?: number } = {}): Buffer {
  const b = Buffer.alloc(12 + 1 + 10);
  b[0] = 0x80;
  b[1] = (opts.pt ?? 100) | (opts.marker ? 0x80 : 0);
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(ssrc >>> 0, 8);
  b[12] = opts.start === false ? 0x00 : 0x10; // S bit, partition 0
  // VP8 payload header: bit 0 of the first byte is 0 on a keyframe
  b[13] = opts.key ? 0x00 : 0x01;
  return b;
}

export function opusPacket(seq: number, ts: number, ssrc: number): Buffer {
  const b = Buffer.alloc(12 + 20);
  b[0] = 0x80;
  b[1] = 111;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(ssrc >>> 0, 8);
  return b;
}

export class Sender {
  readonly socket: Socket = createSocket('udp4');
  send(port: number, pkt: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(pkt, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  }
  close(): void {
    this.socket.close();
  }
}

export async function until(pred: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
