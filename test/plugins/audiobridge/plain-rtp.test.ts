/**
 * Plain-RTP participants (join with `rtp`): no PeerConnection, unencrypted Opus RTP over a UDP socket
 * the plugin binds per participant. Clients here are bare UDP sockets on 127.0.0.1 that send an
 * Opus-encoded tone to the port of the joined event's `rtp` object and decode what comes back.
 *
 * - three plain-RTP participants hear each other's tones and not their own (Goertzel);
 * - a plain-RTP participant and a WebRTC one (SRTP, our client stack) hear each other;
 * - join errors: room without allow_rtp_participants (489), `rtp` not an object / wrongly typed members (484);
 * - the server sends nothing before the client's first RTP packet, then the participant is `setup`;
 * - garbage datagrams are dropped without harm;
 * - the socket is closed on leave, hangup, kick, room destroy and plugin stop (port bindable again,
 *   file descriptors back to where they were);
 * - the same in a real Portunus process, where AudioBridge runs in a media worker thread.
 *
 * Real time on a shared machine: the audio scenarios get up to 3 attempts (withAttempts in net.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, readdirSync } from 'node:fs';
import { createOpusDecoder, createOpusEncoder, type OpusEncoder, type OpusSampleRate } from '../../../src/codecs/opus.js';
import { WsClient, type JsonObject } from '../../helpers/janus-client.js';
import { startMediaGateway } from '../../helpers/media-server.js';
import { goertzelAmplitude, joinParticipant, makeAbWorld, sleep, toneFrame, ToneSender, waitFor, withAttempts, decodeReceived, type AbWorld } from './net.js';

const ROOM = 88;
const JCFG = (rate = 16000, allow = true): string =>
  `general: {\n}\nroom-${ROOM}: {\n\tdescription = "plain"\n\tsecret = "s"\n\tsampling_rate = ${rate}\n\tallow_rtp_participants = ${allow}\n}\nroom-99: {\n\tsampling_rate = 16000\n}\n`;

/** A plain-RTP endpoint on the client side: one UDP socket that sends a tone and records what it gets. */
class PlainClient {
  readonly received: Buffer[] = [];
  target: { ip: string; port: number; pt: number } | null = null;
  private enc: OpusEncoder | null = null;
  private frame = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly ssrc = (Math.random() * 0x100000000) >>> 0;
  private constructor(readonly sock: Socket) {
    sock.on('message', (m) => this.received.push(m));
  }
  static async open(ip = '127.0.0.1'): Promise<PlainClient> {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, ip, () => r()));
    return new PlainClient(sock);
  }
  get port(): number {
    return this.sock.address().port;
  }
  sendOne(freq: number): void {
    if (!this.target) throw new Error('not joined');
    this.enc ??= createOpusEncoder({ sampleRate: 48000, channels: 1, complexity: 4 });
    const payload = this.enc.encode(toneFrame(freq, 48000, this.frame));
    const pkt = Buffer.alloc(12 + payload.length);
    pkt[0] = 0x80;
    pkt[1] = this.target.pt;
    pkt.writeUInt16BE((5000 + this.frame) & 0xffff, 2);
    pkt.writeUInt32BE((this.frame * 960) >>> 0, 4);
    pkt.writeUInt32BE(this.ssrc, 8);
    payload.copy(pkt, 12);
    this.sock.send(pkt, this.target.port, this.target.ip);
    this.frame++;
  }
  /** Paced at 20 ms from the absolute start time (no drift). */
  start(freq: number): void {
    const t0 = performance.now();
    const tick = (): void => {
      const due = Math.floor((performance.now() - t0) / 20) + 1;
      while (this.frame < due) this.sendOne(freq);
      this.timer = setTimeout(tick, Math.max(1, t0 + this.frame * 20 - performance.now()));
    };
    tick();
  }
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
  close(): void {
    this.stop();
    this.enc?.destroy();
    this.enc = null;
    this.sock.close();
  }
  /** What arrived since `from`, decoded (sorted by sequence number), first 100 ms skipped. */
  decode(rate: OpusSampleRate, from: number): Int16Array {
    const pkts = this.received.slice(from);
    if (pkts.length === 0) return new Int16Array(0);
    const first = pkts[0]!.readUInt16BE(2);
    const sorted = pkts.map((b) => ({ s: (((b.readUInt16BE(2) - first) & 0xffff) << 16) >> 16, b })).sort((a, b) => a.s - b.s);
    const dec = createOpusDecoder(rate, 1);
    const parts = sorted.map(({ b }) => dec.decode(b.subarray(12 + 4 * (b[0]! & 0x0f))));
    dec.destroy();
    const pcm = new Int16Array(parts.reduce((n, a) => n + a.length, 0));
    let o = 0;
    for (const a of parts) {
      pcm.set(a, o);
      o += a.length;
    }
    return pcm.subarray(Math.min(pcm.length, rate / 10));
  }
}

type Joined = Record<string, unknown> & { rtp?: { ip: string; port: number; payload_type: number } };

async function joinPlain(w: AbWorld, c: PlainClient, display: string, rtp: Record<string, unknown> = {}, room = ROOM): Promise<{ session: number; handle: number; data: Joined }> {
  const { session, handle } = await w.attach();
  const ev = await w.message(session, handle, { request: 'join', room, display, rtp: { ip: '127.0.0.1', port: c.port, payload_type: 111, ...rtp } });
  const data = (ev.plugindata?.data ?? {}) as Joined;
  if (data.rtp) c.target = { ip: data.rtp.ip, port: data.rtp.port, pt: data.rtp.payload_type };
  return { session, handle, data };
}

const openFds = (): number => (existsSync('/proc/self/fd') ? readdirSync('/proc/self/fd').length : 0);

/** Whether a UDP port on 127.0.0.1 can be bound (nobody holds it any more), retried for a moment. */
async function portFree(port: number, waitMs = 500): Promise<boolean> {
  const end = Date.now() + waitMs;
  for (;;) {
    if (await canBind(port)) return true;
    if (Date.now() > end) return false;
    await sleep(20);
  }
}

async function canBind(port: number): Promise<boolean> {
  const s = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, '127.0.0.1', () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    try {
      s.close();
    } catch {
      /* not bound */
    }
  }
}

const TONES = [440, 660, 880] as const;
const fmt = (a: number[]): string => a.map((x, i) => `${TONES[i]} Hz: ${x.toFixed(0)}`).join(', ');

test('three plain-RTP participants: joined carries rtp {ip, port, payload_type}; each hears the other two tones and not its own', { timeout: 120_000 }, async () => {
  await withAttempts('plain-RTP mix-minus', 3, async () => {
    const w = await makeAbWorld(JCFG());
    const cs: PlainClient[] = [];
    try {
      const joins = [];
      for (let i = 0; i < 3; i++) {
        const c = await PlainClient.open();
        cs.push(c);
        joins.push(await joinPlain(w, c, `p${i}`));
      }
      for (const j of joins) {
        assert.equal(j.data['audiobridge'], 'joined');
        assert.equal(j.data.rtp?.ip, '127.0.0.1');
        assert.equal(typeof j.data.rtp?.port, 'number');
        assert.equal(j.data.rtp?.payload_type, 111);
        assert.deepEqual(Object.keys(j.data.rtp ?? {}).sort(), ['ip', 'payload_type', 'port']);
      }
      assert.equal(new Set(joins.map((j) => j.data.rtp!.port)).size, 3, 'a port per participant');
      // Nothing is sent to a participant before it sent something itself.
      await sleep(300);
      assert.equal(cs[0]!.received.length, 0, 'no mix before the first packet from the client');
      const lp0 = await w.req({ janus: 'message', session_id: joins[0]!.session, handle_id: joins[0]!.handle, body: { request: 'listparticipants', room: ROOM } });
      const before = ((lp0['plugindata'] as JsonObject)['data'] as JsonObject)['participants'] as JsonObject[];
      assert.ok(before.every((p) => p['setup'] === false), 'not set up before any packet');

      cs.forEach((c, i) => c.start(TONES[i]!));
      await sleep(800);
      const mark = cs.map((c) => c.received.length);
      await sleep(1500);
      for (let i = 0; i < 3; i++) {
        const pcm = cs[i]!.decode(16000, mark[i]!);
        const h = TONES.map((f) => goertzelAmplitude(pcm, 16000, f));
        console.log(`# plain p${i} heard ${fmt(h)} (${pcm.length} samples)`);
        assert.ok(pcm.length >= 8000, `p${i} received at least half a second (${pcm.length} samples)`);
        const others = [0, 1, 2].filter((k) => k !== i);
        for (const o of others) assert.ok(h[o]! > 1500, `p${i} hears ${TONES[o]} Hz: ${fmt(h)}`);
        assert.ok(h[i]! < 0.03 * Math.min(...others.map((o) => h[o]!)), `p${i} does not hear itself: ${fmt(h)}`);
      }
      // The mix arrives as RTP with the payload type from the join and one SSRC per participant.
      const r = cs[0]!.received.slice(mark[0]);
      assert.ok(r.every((b) => (b[1]! & 0x7f) === 111));
      assert.equal(new Set(r.map((b) => b.readUInt32BE(8))).size, 1);
      const lp = await w.req({ janus: 'message', session_id: joins[0]!.session, handle_id: joins[0]!.handle, body: { request: 'listparticipants', room: ROOM } });
      const list = ((lp['plugindata'] as JsonObject)['data'] as JsonObject)['participants'] as JsonObject[];
      assert.equal(list.length, 3);
      assert.ok(list.every((p) => p['setup'] === true), 'set up once packets flow');
    } finally {
      cs.forEach((c) => c.close());
      await w.stop();
    }
  });
});

test('a plain-RTP participant and a WebRTC participant hear each other', { timeout: 120_000 }, async () => {
  await withAttempts('plain + WebRTC mix', 3, async () => {
    const w = await makeAbWorld(JCFG());
    const c = await PlainClient.open();
    let sender: ToneSender | null = null;
    let web: Awaited<ReturnType<typeof joinParticipant>> | null = null;
    try {
      const j = await joinPlain(w, c, 'plain');
      assert.ok(j.data.rtp);
      web = await joinParticipant(w, ROOM, 'web');
      sender = new ToneSender(web, 660);
      sender.start();
      c.start(440);
      await sleep(800);
      const markPlain = c.received.length;
      const markWeb = web.client.rtp.length;
      await sleep(1500);
      const plainPcm = c.decode(16000, markPlain);
      const webPcm = decodeReceived(web.client, 16000, markWeb).subarray(1600);
      const hp = [goertzelAmplitude(plainPcm, 16000, 440), goertzelAmplitude(plainPcm, 16000, 660)];
      const hw = [goertzelAmplitude(webPcm, 16000, 440), goertzelAmplitude(webPcm, 16000, 660)];
      console.log(`# plain heard 440: ${hp[0]!.toFixed(0)}, 660: ${hp[1]!.toFixed(0)}; web heard 440: ${hw[0]!.toFixed(0)}, 660: ${hw[1]!.toFixed(0)}`);
      assert.ok(hp[1]! > 1500 && hp[0]! < 0.03 * hp[1]!, 'the plain-RTP participant hears the WebRTC one only');
      assert.ok(hw[0]! > 1500 && hw[1]! < 0.03 * hw[0]!, 'the WebRTC participant hears the plain-RTP one only');
    } finally {
      sender?.stop();
      web?.client.close();
      c.close();
      await w.stop();
    }
  });
});

test('join errors: no allow_rtp_participants gives 489, a malformed rtp object 484; G.711 and default payload types', { timeout: 60_000 }, async () => {
  const w = await makeAbWorld(JCFG());
  try {
    const { session, handle } = await w.attach();
    const err = async (body: Record<string, unknown>): Promise<Record<string, unknown>> => (await w.message(session, handle, body)).plugindata?.data ?? {};
    const notAllowed = await err({ request: 'join', room: 99, rtp: { ip: '127.0.0.1', port: 5000 } });
    assert.deepEqual(notAllowed, { audiobridge: 'event', error_code: 489, error: 'Plain RTP participants not allowed in this room' });
    for (const rtp of [[1], 'x', 5, true]) {
      const e = await err({ request: 'join', room: ROOM, rtp });
      assert.deepEqual(e, { audiobridge: 'event', error_code: 484, error: 'Invalid element type (rtp should be an object)' }, JSON.stringify(rtp));
    }
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ ip: 5, port: 5000 }, 'Invalid element type (ip should be a string)'],
      [{ ip: '127.0.0.1', port: '5000' }, 'Invalid element type (port should be a positive integer)'],
      [{ ip: '127.0.0.1', port: -1 }, 'Invalid element type (port should be a positive integer)'],
      [{ ip: '127.0.0.1', port: 70000 }, 'Invalid element (port should be a valid UDP port)'],
      [{ ip: '127.0.0.1', port: 5000, payload_type: 'opus' }, 'Invalid element type (payload_type should be a positive integer)'],
      [{ ip: '127.0.0.1', port: 5000, payload_type: 300 }, 'Invalid element (payload_type should be between 0 and 127)'],
      [{ ip: '127.0.0.1', port: 5000, audiolevel_ext: true }, 'Invalid element type (audiolevel_ext should be a positive integer)'],
      [{ ip: '127.0.0.1', port: 5000, fec: 'yes' }, 'Invalid element type (fec should be a boolean)'],
    ];
    for (const [rtp, msg] of bad) {
      const e = await err({ request: 'join', room: ROOM, rtp });
      assert.deepEqual(e, { audiobridge: 'event', error_code: 484, error: msg }, JSON.stringify(rtp));
    }
    assert.equal(w.plugin.getRoom(ROOM)!.participants.size, 0, 'nobody joined through an error');
    // Defaults: no payload_type gives 100 for Opus; G.711 has its static type; no address = receive only.
    const a = await err({ request: 'join', room: ROOM, rtp: {} });
    assert.equal(a['audiobridge'], 'joined');
    assert.equal((a['rtp'] as Record<string, unknown>)['payload_type'], 100);
    const { session: s2, handle: h2 } = await w.attach();
    const b = (await w.message(s2, h2, { request: 'join', room: ROOM, codec: 'pcmu', rtp: { ip: '127.0.0.1', port: 5000, payload_type: 111 } })).plugindata?.data ?? {};
    assert.equal((b['rtp'] as Record<string, unknown>)['payload_type'], 0);
  } finally {
    await w.stop();
  }
});

test('garbage datagrams are dropped and the participant keeps working', { timeout: 60_000 }, async () => {
  const w = await makeAbWorld(JCFG());
  const a = await PlainClient.open();
  const b = await PlainClient.open();
  try {
    const ja = await joinPlain(w, a, 'a');
    await joinPlain(w, b, 'b');
    const target = a.target!;
    const junk = [
      Buffer.alloc(0),
      Buffer.from('garbage'),
      Buffer.from([0x80]),
      Buffer.alloc(11, 0x80),
      Buffer.from([0x80, 200, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]), // RTCP SR
      Buffer.from([0x40, 111, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xf8]), // version 1
      Buffer.from([0x9f, 111, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]), // 15 CSRCs announced, none there
      Buffer.from([0x90, 111, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0xff, 0xff]), // extension longer than the packet
      Buffer.from([0xa0, 111, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xf8, 200]), // padding longer than the packet
      Buffer.from([0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xf8, 1, 2]), // wrong payload type
      Buffer.alloc(1400, 0xff),
    ];
    for (const j of junk) a.sock.send(j, target.port, target.ip);
    for (let i = 0; i < 200; i++) a.sock.send(Buffer.from(Array.from({ length: 12 + (i % 40) }, (_, k) => (k === 0 ? 0x80 : (i * 31 + k * 7) & 0xff))), target.port, target.ip);
    await sleep(200);
    const p = w.plugin.getRoom(ROOM)!.participants.get(ja.data['id'] as number)!;
    assert.ok(p.plain && p.plain.dropped >= 6, `non-RTP datagrams dropped (${p.plain?.dropped})`);
    // Still a working participant: b hears a's tone.
    b.start(660);
    a.start(440);
    await waitFor('b receives the mix', () => b.received.length > 60, 10_000);
    const pcm = b.decode(16000, 20);
    assert.ok(goertzelAmplitude(pcm, 16000, 440) > 1000, 'b hears a after the garbage');
  } finally {
    a.close();
    b.close();
    await w.stop();
  }
});

test('the socket is closed on leave, hangup, kick, room destroy and plugin stop (no leaked fd)', { timeout: 60_000 }, async () => {
  const c = await PlainClient.open();
  const fds0 = openFds();
  const w = await makeAbWorld(JCFG());
  const fdsWorld = openFds();
  try {
    const ports: number[] = [];
    const join = async (name: string): Promise<{ session: number; handle: number; port: number; id: unknown }> => {
      const j = await joinPlain(w, c, name);
      assert.equal(j.data['audiobridge'], 'joined', JSON.stringify(j.data));
      ports.push(j.data.rtp!.port);
      assert.equal(await portFree(j.data.rtp!.port, 0), false, 'the port is held while joined');
      return { ...j, port: j.data.rtp!.port, id: j.data['id'] };
    };
    // leave
    const l = await join('leave');
    const left = await w.message(l.session, l.handle, { request: 'leave' });
    assert.equal(left.plugindata?.data['audiobridge'], 'left');
    assert.ok(await portFree(l.port), 'port free after leave');
    // re-join on the same handle after leaving: a new socket
    const again = await w.message(l.session, l.handle, { request: 'join', room: ROOM, rtp: { ip: '127.0.0.1', port: c.port } });
    assert.equal(again.plugindata?.data['audiobridge'], 'joined');
    const againPort = (again.plugindata?.data['rtp'] as { port: number }).port;
    // hangup
    const h = await join('hangup');
    const hung = await w.message(h.session, h.handle, { request: 'hangup' });
    assert.equal(hung.plugindata?.data['audiobridge'], 'hangingup');
    // kick
    const k = await join('kick');
    const kicked = await w.req({ janus: 'message', session_id: k.session, handle_id: k.handle, body: { request: 'kick', room: ROOM, secret: 's', id: k.id } });
    assert.equal(((kicked['plugindata'] as JsonObject)['data'] as JsonObject)['audiobridge'], 'success');
    // handle detach
    const d = await join('detach');
    await w.req({ janus: 'detach', session_id: d.session, handle_id: d.handle });
    for (const port of [h.port, k.port, d.port]) assert.ok(await portFree(port), `port ${port} free again`);
    assert.equal(await portFree(againPort, 0), false);
    // room destroy
    const x = await join('destroy');
    const destroyed = await w.req({ janus: 'message', session_id: x.session, handle_id: x.handle, body: { request: 'destroy', room: ROOM, secret: 's' } });
    assert.equal(((destroyed['plugindata'] as JsonObject)['data'] as JsonObject)['audiobridge'], 'destroyed');
    assert.ok(await portFree(x.port), 'port free after room destroy');
    assert.ok(await portFree(againPort), 'the re-joined participant went with the room too');
    // plugin stop (gateway stop) with participants still in: a new room with two of them
    const cr = await w.req({ janus: 'message', session_id: x.session, handle_id: x.handle, body: { request: 'create', room: ROOM, allow_rtp_participants: true } });
    assert.equal(((cr['plugindata'] as JsonObject)['data'] as JsonObject)['audiobridge'], 'created');
    const s1 = await join('stop1');
    const s2 = await join('stop2');
    await w.stop();
    for (const port of [s1.port, s2.port]) assert.ok(await portFree(port), `port ${port} free after the plugin stopped`);
    assert.ok(ports.length >= 7);
    await sleep(50);
    const fds = openFds();
    // The world's own sockets (media plane) are gone too; allow a little slack for lazily created fds.
    assert.ok(fds <= fds0 + 2, `file descriptors back to where they were (${fds0} before, ${fdsWorld} with the world, ${fds} after)`);
  } finally {
    c.close();
    await w.stop().catch(() => undefined);
  }
});

test('in a real Portunus process (AudioBridge in its media worker thread): two plain-RTP participants hear each other', { timeout: 120_000 }, async () => {
  const room = `general: {\n}\nroom-${ROOM}: {\n\tsampling_rate = 16000\n\tallow_rtp_participants = true\n}\n`;
  await withAttempts('plain RTP through the worker', 3, async () => {
    const gw = await startMediaGateway('portunus', ['audiobridge'], { audiobridge: room });
    const ws = await WsClient.connect(gw.wsUrl);
    // Bind where the gateway listens (its machine address): replies come from there.
    const cs = [await PlainClient.open(gw.address.address), await PlainClient.open(gw.address.address)];
    try {
      const session = ((await ws.request({ janus: 'create' }))['data'] as JsonObject)['id'] as number;
      for (let i = 0; i < 2; i++) {
        const handle = ((await ws.request({ janus: 'attach', session_id: session, plugin: 'janus.plugin.audiobridge' }))['data'] as JsonObject)['id'] as number;
        const t = `pj${i}-${Date.now()}`;
        await ws.request({ janus: 'message', session_id: session, handle_id: handle, transaction: t, body: { request: 'join', room: ROOM, rtp: { ip: gw.address.address, port: cs[i]!.port, payload_type: 111 } } });
        const ev = await ws.waitFor((m) => m['transaction'] === t && m['janus'] === 'event', 10_000, `join ${i}`);
        const d = (ev['plugindata'] as JsonObject)['data'] as JsonObject;
        const rtp = d['rtp'] as JsonObject;
        assert.equal(rtp['ip'], gw.address.address, 'the advertised address is the machine address');
        assert.ok((rtp['port'] as number) >= gw.rtpPorts.min && (rtp['port'] as number) <= gw.rtpPorts.max, 'inside media.rtp_port_range');
        cs[i]!.target = { ip: rtp['ip'] as string, port: rtp['port'] as number, pt: 111 };
      }
      cs[0]!.start(440);
      cs[1]!.start(660);
      await sleep(800);
      const mark = cs.map((c) => c.received.length);
      await sleep(1200);
      const h0 = cs[0]!.decode(16000, mark[0]!);
      const h1 = cs[1]!.decode(16000, mark[1]!);
      const a = [goertzelAmplitude(h0, 16000, 440), goertzelAmplitude(h0, 16000, 660)];
      const b = [goertzelAmplitude(h1, 16000, 440), goertzelAmplitude(h1, 16000, 660)];
      console.log(`# worker: p0 heard 440: ${a[0]!.toFixed(0)}, 660: ${a[1]!.toFixed(0)}; p1 heard 440: ${b[0]!.toFixed(0)}, 660: ${b[1]!.toFixed(0)}`);
      assert.ok(a[1]! > 1500 && a[0]! < 0.03 * a[1]!, 'p0 hears p1 only');
      assert.ok(b[0]! > 1500 && b[1]! < 0.03 * b[0]!, 'p1 hears p0 only');
    } finally {
      cs.forEach((c) => c.close());
      await ws.close();
      await gw.stop();
    }
  });
});
