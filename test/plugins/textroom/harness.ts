/**
 * Drives TextRoomPlugin directly. The host is a real PluginHost + DataChannelHost that records
 * everything the plugin pushes (Janus API events) and sends (data-channel frames); each Client is
 * one handle with a data channel, like a janus.js textroom client.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Jcfg } from '../../../src/config/jcfg.js';
import { defaultJanusConfig } from '../../../src/config/defaults.js';
import type { Jsep } from '../../../src/core/jsep.js';
import type { JcfgDocument, PluginHost, PluginResult, PluginSession } from '../../../src/core/plugin.js';
import type { Fields, Logger } from '../../../src/log.js';
import type { DataChannelHost } from '../../../src/plugins/textroom/media.js';
import { TextRoomPlugin, type TextRoomOptions } from '../../../src/plugins/textroom/plugin.js';

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

export class RecordingHost implements PluginHost, DataChannelHost {
  readonly events: Pushed[] = [];
  /** Raw data-channel frames per handle, in send order. */
  readonly frames = new Map<number, string[]>();
  refuseJsep = false;

  pushEvent(session: PluginSession, transaction: string | null, data: Data, jsep?: Jsep): boolean {
    if (!session.alive) return false;
    if (jsep && this.refuseJsep) return false;
    this.events.push({ handleId: session.handleId, transaction, data, ...(jsep ? { jsep } : {}) });
    return true;
  }
  closePeerConnection(): void {}
  endSession(): void {}
  isTokenValidForPlugin(): boolean {
    return true;
  }
  sendData(session: PluginSession, text: string): void {
    let list = this.frames.get(session.handleId);
    if (!list) this.frames.set(session.handleId, (list = []));
    list.push(text);
  }
}

export interface LogLine {
  level: string;
  msg: string;
}

export function captureLogger(lines: LogLine[] = []): Logger & { lines: LogLine[] } {
  const at = (level: string) => (msg: string, _fields?: Fields) => void lines.push({ level, msg });
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

export const DEMO_JCFG = `general: {
	json = "compact"
}

room-1234: {
	description = "Demo Room"
	secret = "adminpwd"
}
`;

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'portunus-tr-'));
}

export function docFromText(text: string, dir = tempDir()): Jcfg {
  const file = join(dir, 'janus.plugin.textroom.jcfg');
  writeFileSync(file, text);
  return Jcfg.fromText(text, file);
}

let nextHandle = 5000;

export class Harness {
  readonly host = new RecordingHost();
  readonly log = captureLogger();
  readonly plugin: TextRoomPlugin;
  private tx = 0;

  private constructor(opts: TextRoomOptions) {
    this.plugin = new TextRoomPlugin(opts);
  }

  /** `dataChannels: 'init-host'` exercises discovery of sendData on the init host instead. */
  static async start(config: string | JcfgDocument = DEMO_JCFG, opts: TextRoomOptions & { viaInitHost?: boolean } = {}): Promise<Harness> {
    const h = new Harness(opts);
    if (!opts.viaInitHost) h.plugin.attachDataChannels(h.host);
    const doc = typeof config === 'string' ? docFromText(config) : config;
    await h.plugin.init({ config: doc, configsFolder: '/tmp', gateway: defaultJanusConfig(), host: h.host, log: h.log });
    return h;
  }

  nextTx(): string {
    return `t${++this.tx}`;
  }

  client(): Client {
    const s = new TestSession(nextHandle++);
    this.plugin.createSession(s);
    return new Client(this, s);
  }

  /** Janus API `message` on a fresh or given handle. */
  async api(body: Data, session?: PluginSession, jsep: Jsep | null = null): Promise<PluginResult> {
    const s = session ?? new TestSession(nextHandle++);
    if (!session) this.plugin.createSession(s);
    return this.plugin.handleMessage(s, this.nextTx(), body, jsep);
  }

  /** plugindata.data of a synchronous Janus API reply. */
  async apiData(body: Data, session?: PluginSession): Promise<Data> {
    const r = await this.api(body, session);
    if (r.kind !== 'ok') throw new Error(`expected a synchronous reply, got ${JSON.stringify(r)}`);
    return r.data;
  }

  async stop(): Promise<void> {
    await this.plugin.destroy();
  }
}

export class Client {
  /** How many of this handle's frames have been consumed by next()/drain(). */
  private read = 0;

  constructor(
    readonly h: Harness,
    readonly session: TestSession,
  ) {}

  get raw(): string[] {
    return this.h.host.frames.get(this.session.handleId) ?? [];
  }

  get frames(): Data[] {
    return this.raw.map((f) => JSON.parse(f) as Data);
  }

  /** Frames received since the last drain. */
  drain(): Data[] {
    const out = this.frames.slice(this.read);
    this.read = this.raw.length;
    return out;
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.h.plugin.incomingData(this.session, 'JanusDataChannel', data, binary);
  }

  /** Send a request (transaction added when absent) and return the frame answering it, if any (synchronous path). */
  request(body: Data): Data | undefined {
    const transaction = (body.transaction as string | undefined) ?? this.h.nextTx();
    this.sendRaw(JSON.stringify({ ...body, transaction }));
    return this.frames.find((f) => f.transaction === transaction);
  }

  /** Same, for replies that arrive asynchronously (permanent saves). */
  async requestAsync(body: Data, timeoutMs = 2000): Promise<Data> {
    const transaction = this.h.nextTx();
    this.sendRaw(JSON.stringify({ ...body, transaction }));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find((f) => f.transaction === transaction);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no reply to ${JSON.stringify(body)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Join and return the success reply; throws on an error reply so tests fail loudly. */
  join(room: number | string, username: string, extra: Data = {}): Data {
    const r = this.request({ textroom: 'join', room, username, ...extra });
    if (r?.textroom !== 'success') throw new Error(`join failed: ${JSON.stringify(r)}`);
    return r;
  }

  /** Frames without a transaction (events), optionally of one kind. */
  events(kind?: string): Data[] {
    return this.frames.filter((f) => f.transaction === undefined && (kind === undefined || f.textroom === kind));
  }
}
