/**
 * VideoRoom fan-out benchmark, the plugin's share: P publishers × S subscribers (each subscriber
 * receives every publisher's video on one multistream PeerConnection), VP8 packets of ~1100 bytes
 * with Chrome's header extensions pushed through incomingRtp; the host only counts relayRtp calls.
 * Reports CPU µs per forwarded packet, forwards per second of CPU, loss (expected vs relayed) and
 * heap per subscriber m-line.
 *
 *   node dist/bench/videoroom-fanout.js [--publishers 10] [--subscribers 20] [--packets 200000] [--simulcast]
 *
 * The core's own share (SRTP, sockets) is not here: see the gateway benchmark for end-to-end numbers.
 */
import { parseArgs } from 'node:util';
import { Jcfg } from '../src/config/jcfg.js';
import { defaultJanusConfig } from '../src/config/defaults.js';
import type { Jsep } from '../src/core/jsep.js';
import type { PluginHost, PluginMediaHost, PluginSession, RtpStreamInfo } from '../src/core/plugin.js';
import { log as rootLog, setLogLevel, LogLevel } from '../src/log.js';
import { parseSdp } from '../src/media/sdp/parse.js';
import { writeSdp } from '../src/media/sdp/write.js';
import { VideoRoomPlugin } from '../src/plugins/videoroom/plugin.js';
import { CHROME_OFFER, CHROME_OFFER_SIMULCAST } from '../test/plugins/videoroom/fixtures.js';

const { values } = parseArgs({
  options: {
    publishers: { type: 'string', default: '10' },
    subscribers: { type: 'string', default: '20' },
    packets: { type: 'string', default: '200000' },
    simulcast: { type: 'boolean', default: false },
  },
});
const P = Number(values.publishers);
const S = Number(values.subscribers);
const PACKETS = Number(values.packets);

class Session implements PluginSession {
  state: unknown = undefined;
  alive = true;
  readonly sessionId = 1;
  readonly opaqueId = null;
  readonly token = null;
  constructor(readonly handleId: number) {}
}

class CountingHost implements PluginHost, PluginMediaHost {
  relayed = 0;
  bytes = 0;
  lastJsep = new Map<number, Jsep>();
  pushEvent(s: PluginSession, _tx: string | null, _d: Record<string, unknown>, jsep?: Jsep): boolean {
    if (jsep) this.lastJsep.set(s.handleId, jsep);
    return true;
  }
  closePeerConnection(): void {}
  endSession(): void {}
  isTokenValidForPlugin(): boolean {
    return true;
  }
  relayRtp(_s: PluginSession, _mid: string, _buf: Buffer, len: number): void {
    this.relayed++;
    this.bytes += len;
  }
  relayRtcp(): void {}
  relayData(): void {}
  sendPli(): void {}
  sendRemb(): void {}
  sendData(): void {}
  sendRtp(): void {}
}

function answerFor(offer: Jsep): Jsep {
  const d = parseSdp(offer.sdp);
  for (const m of d.media) {
    if (m.direction === 'sendonly') m.direction = 'recvonly';
    m.ssrcs = [];
    m.ssrcGroups = [];
    m.msids = [];
  }
  return { type: 'answer', sdp: writeSdp(d) };
}

async function main(): Promise<void> {
  const host = new CountingHost();
  const plugin = new VideoRoomPlugin();
  const text = `general: {\n  string_ids = true\n}\nroom-bench: {\n  publishers = ${P + 1}\n  secret = "s"\n}\n`;
  setLogLevel(LogLevel.warn);
  const log = rootLog;
  await plugin.init({ config: Jcfg.fromText(text, '/tmp/bench-videoroom.jcfg'), configsFolder: '/tmp', gateway: defaultJanusConfig(), host, log });
  let clock = 0;
  plugin.setClock(() => clock);
  let hid = 1;
  let tx = 0;
  const send = async (s: Session, body: Record<string, unknown>, jsep: Jsep | null = null): Promise<void> => {
    await plugin.handleMessage(s, `t${++tx}`, body, jsep);
    await plugin.whenIdle();
  };
  const pubs: Session[] = [];
  for (let i = 0; i < P; i++) {
    const s = new Session(hid++);
    plugin.createSession(s);
    await send(s, { request: 'join', ptype: 'publisher', room: 'bench', id: `p${i}` });
    await send(s, { request: 'publish' }, { type: 'offer', sdp: values.simulcast ? CHROME_OFFER_SIMULCAST : CHROME_OFFER });
    plugin.setupMedia(s);
    pubs.push(s);
  }
  globalThis.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  for (let i = 0; i < S; i++) {
    const s = new Session(hid++);
    plugin.createSession(s);
    await send(s, { request: 'join', ptype: 'subscriber', room: 'bench', streams: pubs.map((_, j) => ({ feed: `p${j}`, mid: '1' })) });
    await send(s, { request: 'start' }, answerFor(host.lastJsep.get(s.handleId)!));
    plugin.setupMedia(s);
  }
  globalThis.gc?.();
  const heapPerSub = (process.memoryUsage().heapUsed - heapBefore) / (S * P);

  // One VP8 stream per publisher (layer 2 when simulcast), Chrome's extensions (mid 4, orientation 13, tcc 3).
  const infos: RtpStreamInfo[] = pubs.map((_, i) => ({ mid: '1', mindex: 1, kind: 'video', ssrc: 1000 + i, substream: 0, rid: values.simulcast ? 'h' : undefined }));
  const packets = pubs.map((_, i) => {
    const b = Buffer.alloc(1100);
    b[0] = 0x90;
    b[1] = 96;
    b.writeUInt32BE(1000 + i, 8);
    // one-byte extension block: mid "1", video orientation, transport-cc (2 bytes) -> 8 bytes
    b.writeUInt16BE(0xbede, 12);
    b.writeUInt16BE(2, 14);
    b.set([0x40, 0x31, 0xd0, 0x00, 0x31, 0x00, 0x07, 0x00], 16);
    // VP8 descriptor at 24: X, S; I with 15-bit picture id; key frame tag
    b.set([0x90, 0x80, 0x80, 0x00, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a], 24);
    return b;
  });
  const expectedPerPacket = S;
  const warm = Math.min(20000, PACKETS / 10);
  const run = (n: number): void => {
    for (let k = 0; k < n; k++) {
      const i = k % P;
      const b = packets[i]!;
      const seq = (b.readUInt16BE(2) + 1) & 0xffff;
      b.writeUInt16BE(seq, 2);
      b.writeUInt32BE((b.readUInt32BE(4) + 3000) >>> 0, 4);
      // delta frames after the first keyframe
      b[28] = seq === 1 ? 0x10 : 0x11;
      if (i === 0) clock += 10;
      plugin.incomingRtp(pubs[i]!, infos[i]!, b, b.length);
    }
  };
  run(warm);
  host.relayed = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  run(PACKETS);
  const wall = Number(process.hrtime.bigint() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuUs = cpu.user + cpu.system;
  const expected = PACKETS * expectedPerPacket;
  const result = {
    publishers: P,
    subscribers: S,
    simulcast: values.simulcast,
    incoming_packets: PACKETS,
    forwarded: host.relayed,
    loss: expected - host.relayed,
    cpu_us_per_forward: +(cpuUs / host.relayed).toFixed(4),
    cpu_us_per_incoming: +(cpuUs / PACKETS).toFixed(3),
    forwards_per_cpu_second: Math.round(host.relayed / (cpuUs / 1e6)),
    wall_ms: +(wall / 1000).toFixed(1),
    heap_bytes_per_subscribed_stream: Math.round(heapPerSub),
  };
  console.log(JSON.stringify(result, null, 2));
  await plugin.destroy();
}

void main();
