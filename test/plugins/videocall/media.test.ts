/**
 * A real call through Portunus: two client PeerConnections (our own media modules over real UDP, as
 * the live-echo helper does) register, call and accept over the Janus HTTP API, then send audio and
 * VP8 video to each other. Asserts that each side receives the other's packets on the right mids with
 * continuous sequence numbers, that a PLI from the callee reaches the caller, that REMB coming back to
 * the caller is capped by its `set` bitrate, and that `hangup` reaches the other side.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readMjrIndex } from '../../../src/recording/mjr-read.js';
import { LocalCandidates } from '../../../src/media/candidates.js';
import { generateCertificate } from '../../../src/media/dtls/certificate.js';
import { UdpPortAllocator } from '../../../src/media/net/port-allocator.js';
import { Peer } from '../../../src/media/peer.js';
import { buildPli, buildRemb, rembBitrate } from '../../../src/media/rtcp/feedback.js';
import { PsfbFmt, RtcpReader, RtcpType } from '../../../src/media/rtcp/header.js';
import { rtpSeq } from '../../../src/media/rtp/header.js';
import { buildAnswer, buildOffer, EXT, extmapsFor } from '../../../src/media/sdp/negotiate.js';
import { extractRemoteTransport } from '../../../src/media/sdp/jsep.js';
import { parseSdp } from '../../../src/media/sdp/parse.js';
import { writeSdp } from '../../../src/media/sdp/write.js';
import { clientPeerConfig } from '../../helpers/client-peer-config.js';
import { longPoll, postJson, type JsonObject } from '../../helpers/janus-client.js';
import { startMediaGateway, type MediaGateway } from '../../helpers/media-server.js';
import { rtpPacket } from '../../media/peer/helpers.js';

const allocator = new UdpPortAllocator({ range: { min: 0, max: 0 } });
const cert = generateCertificate();

function vp8(size: number, key: boolean, pic: number): Buffer {
  const b = Buffer.alloc(size, 0x5a);
  b[0] = 0x90; // X=1, S=1
  b[1] = 0x80; // I: picture id present
  b[2] = 0x80 | ((pic >> 8) & 0x7f);
  b[3] = pic & 0xff;
  b[4] = key ? 0x00 : 0x01;
  if (key) {
    b[7] = 0x9d;
    b[8] = 0x01;
    b[9] = 0x2a;
    b.writeUInt16LE(320, 10);
    b.writeUInt16LE(240, 12);
  }
  return b;
}

interface Client {
  name: string;
  session: number;
  handle: number;
  peer: Peer;
  up: boolean;
  received: Map<string, number[]>;
  plis: number;
  rembs: number[];
  events: JsonObject[];
  timer?: NodeJS.Timeout;
}

async function client(gw: MediaGateway, name: string): Promise<Client> {
  const s = await postJson(gw.httpUrl, { janus: 'create', transaction: 'c' });
  const session = (s.data as { id: number }).id;
  const a = await postJson(`${gw.httpUrl}/${session}`, { janus: 'attach', plugin: 'janus.plugin.videocall', transaction: 'a' });
  const handle = (a.data as { id: number }).id;
  const sock = await allocator.allocate();
  const candidates = await LocalCandidates.create({ enforceList: [gw.address.address] });
  const c: Client = { name, session, handle, peer: undefined as unknown as Peer, up: false, received: new Map(), plis: 0, rembs: [], events: [] };
  const reader = new RtcpReader();
  c.peer = new Peer(0, sock.socket as Socket, sock.port, candidates.hostCandidates(sock.port)!, clientPeerConfig(cert), {
    webrtcUp: () => (c.up = true),
    mediaState: () => {},
    slowLink: () => {},
    iceFailed: () => {},
    closed: () => {},
    localCandidate: () => {},
  });
  c.peer.setSink({
    incomingRtp: (stream, buf) => {
      const l = c.received.get(stream.mid) ?? [];
      l.push(rtpSeq(buf));
      c.received.set(stream.mid, l);
    },
    incomingRtcp: (_stream, buf, len) => {
      const r = reader.reset(buf, len);
      while (r.next()) {
        if (r.type !== RtcpType.PSFB) continue;
        if (r.count === PsfbFmt.PLI || r.count === PsfbFmt.FIR) c.plis++;
        else if (r.count === PsfbFmt.AFB) {
          const br = rembBitrate(buf, r.offset, r.length);
          if (br >= 0) c.rembs.push(br);
        }
      }
    },
    incomingData: () => {},
    dataReady: () => {},
  });
  return c;
}

/** Long-poll the client's session until an event matches (every event is kept: a batch may hold several). */
async function nextEvent(gw: MediaGateway, c: Client, pred: (e: JsonObject) => boolean, ms = 20_000): Promise<JsonObject> {
  const deadline = Date.now() + ms;
  for (;;) {
    const i = c.events.findIndex(pred);
    if (i >= 0) return c.events.splice(i, 1)[0]!;
    if (Date.now() > deadline) throw new Error(`${c.name}: no matching event within ${ms} ms; have ${JSON.stringify(c.events).slice(0, 800)}`);
    const r = await longPoll(gw.httpUrl, c.session, { maxev: 10, timeoutMs: 35_000 });
    for (const e of Array.isArray(r.json) ? r.json : [r.json]) if (e && typeof e === 'object' && !Array.isArray(e) && e['janus'] !== 'keepalive') c.events.push(e as JsonObject);
  }
}

async function message(gw: MediaGateway, c: Client, body: JsonObject, jsep?: JsonObject): Promise<JsonObject> {
  const transaction = `t${Math.random()}`;
  await postJson(`${gw.httpUrl}/${c.session}/${c.handle}`, { janus: 'message', transaction, body, ...(jsep ? { jsep } : {}) });
  return nextEvent(gw, c, (e) => e.transaction === transaction && e.janus === 'event');
}

const data = (e: JsonObject): JsonObject => (e.plugindata as { data: JsonObject }).data;

function startSending(c: Client, ssrcBase: number): void {
  let n = 0;
  c.timer = setInterval(() => {
    try {
      const a = rtpPacket(111, n, n * 960, ssrcBase + 1, Buffer.alloc(60, 0x33));
      c.peer.sendRtp('0', a, a.length);
      if (n % 2 === 0) {
        const f = n / 2;
        const v = rtpPacket(96 | 0x80, f, f * 3600, ssrcBase + 2, vp8(500, f % 25 === 0, f));
        c.peer.sendRtp('1', v, v.length);
      }
      n++;
    } catch {
      /* closed */
    }
  }, 20);
}

const waitUntil = async (what: string, fn: () => boolean, ms = 20_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

/** Gaps in a received sequence (wrap-aware, reordering ignored). */
function gaps(seqs: number[]): number {
  let g = 0;
  for (let i = 1; i < seqs.length; i++) {
    const d = (seqs[i]! - seqs[i - 1]! + 0x10000) & 0xffff;
    if (d > 1 && d < 0x8000) g += d - 1;
  }
  return g;
}

describe('VideoCall media: two real peers call each other through Portunus', { timeout: 120_000 }, () => {
  let gw: MediaGateway;
  let alice: Client;
  let bob: Client;
  before(async () => {
    gw = await startMediaGateway('portunus', ['videocall'], {}, { prefix: 'vc-media' });
    alice = await client(gw, 'alice');
    bob = await client(gw, 'bob');
  });
  after(async () => {
    for (const c of [alice, bob]) {
      if (!c) continue;
      clearInterval(c.timer);
      c.peer.close();
    }
    await gw?.stop();
  });

  test('register, call, accept: both PeerConnections come up and media flows both ways', async () => {
    assert.equal((data(await message(gw, alice, { request: 'register', username: 'alice' })).result as JsonObject).event, 'registered');
    assert.equal((data(await message(gw, bob, { request: 'register', username: 'bob' })).result as JsonObject).event, 'registered');
    const offer = buildOffer([
      { kind: 'audio', mid: '0', direction: 'sendrecv', codec: { name: 'opus', pt: 111 }, extensions: extmapsFor([EXT.mid, EXT.audioLevel]) },
      { kind: 'video', mid: '1', direction: 'sendrecv', codec: { name: 'vp8', pt: 96 }, extensions: extmapsFor([EXT.mid]) },
    ]);
    const offerSdp = alice.peer.setLocalDescription(writeSdp(offer), 'offer');
    const calling = await message(gw, alice, { request: 'call', username: 'bob' }, { type: 'offer', sdp: offerSdp });
    assert.deepEqual(data(calling), { videocall: 'event', result: { event: 'calling' } });

    const incoming = await nextEvent(gw, bob, (e) => e.jsep !== undefined);
    assert.deepEqual(data(incoming).result, { event: 'incomingcall', username: 'alice' });
    const relayedOffer = parseSdp((incoming.jsep as { sdp: string }).sdp);
    assert.equal(relayedOffer.media.length, 2);
    bob.peer.setRemoteDescription(relayedOffer, extractRemoteTransport(relayedOffer, { type: 'offer' }), 'offer');
    const { description } = buildAnswer(relayedOffer, (m) => ({ codecs: m.kind === 'audio' ? ['opus'] : ['vp8'], direction: 'sendrecv' }));
    const answerSdp = bob.peer.setLocalDescription(writeSdp(description), 'answer');
    const accepted = await message(gw, bob, { request: 'accept' }, { type: 'answer', sdp: answerSdp });
    assert.deepEqual(data(accepted), { videocall: 'event', result: { event: 'accepted' } });

    const acc = await nextEvent(gw, alice, (e) => e.jsep !== undefined);
    assert.deepEqual(data(acc).result, { event: 'accepted', username: 'bob' });
    const answer = parseSdp((acc.jsep as { sdp: string }).sdp);
    alice.peer.setRemoteDescription(answer, extractRemoteTransport(answer, { type: 'answer' }), 'answer');
    await waitUntil('both PeerConnections up', () => alice.up && bob.up);

    startSending(alice, 0x1000);
    startSending(bob, 0x2000);
    await waitUntil('media both ways', () => ['0', '1'].every((mid) => (alice.received.get(mid)?.length ?? 0) > 30 && (bob.received.get(mid)?.length ?? 0) > 30));
    for (const c of [alice, bob]) {
      for (const mid of ['0', '1']) {
        const seqs = c.received.get(mid)!;
        assert.ok(gaps(seqs) <= seqs.length / 10, `${c.name} mid ${mid}: ${gaps(seqs)} sequence gaps in ${seqs.length} packets`);
      }
    }
  });

  test('a PLI from the callee reaches the caller; REMB back to the caller is capped by its bitrate', async () => {
    const set = await message(gw, alice, { request: 'set', bitrate: 128000 });
    assert.deepEqual(data(set), { videocall: 'event', result: { event: 'set' } });
    const plisBefore = alice.plis;
    const rembsBefore = alice.rembs.length;
    // Bob's client says it could take 5 Mbps of Alice's video and asks for a keyframe.
    const bobVideoSsrc = 0x2002;
    for (let i = 0; i < 10; i++) {
      const remb = buildRemb(bobVideoSsrc, 5_000_000, [1]);
      bob.peer.sendRtcp('1', remb, remb.length);
      if (i === 0) {
        const pli = buildPli(bobVideoSsrc, 1);
        bob.peer.sendRtcp('1', pli, pli.length);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await waitUntil('a keyframe request at the caller', () => alice.plis > plisBefore);
    await waitUntil('REMB at the caller', () => alice.rembs.length > rembsBefore);
    const after = alice.rembs.slice(rembsBefore);
    assert.ok(after.every((b) => b <= 128000), `REMBs after set bitrate=128000: ${after.join(',')}`);
  });

  test('set record: what alice sends is recorded to <filename>-audio.mjr / -video.mjr until record=false', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vc-rec-'));
    try {
      const base = join(dir, 'alice');
      assert.deepEqual(data(await message(gw, alice, { request: 'set', record: true, filename: base })), { videocall: 'event', result: { event: 'set' } });
      await new Promise((r) => setTimeout(r, 1500));
      assert.deepEqual(data(await message(gw, alice, { request: 'set', record: false })), { videocall: 'event', result: { event: 'set' } });
      await waitUntil('the recordings', () => existsSync(`${base}-audio.mjr`) && existsSync(`${base}-video.mjr`), 10_000);
      await new Promise((r) => setTimeout(r, 500)); // closed and flushed
      const a = await readMjrIndex(`${base}-audio.mjr`);
      const v = await readMjrIndex(`${base}-video.mjr`);
      assert.equal(a.header.codec, 'opus');
      assert.equal(v.header.codec, 'vp8');
      assert.ok(a.count >= 30 && v.count >= 15, `frames recorded: audio ${a.count}, video ${v.count}`);
      // A filename with '..' is refused: nothing is written.
      const sub = mkdtempSync(join(dir, 'sub-'));
      await message(gw, alice, { request: 'set', record: true, filename: `${sub}/../escape` });
      await message(gw, alice, { request: 'set', record: false });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(existsSync(join(dir, 'escape-audio.mjr')), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('hangup: the other side gets a hangup event and media stops', async () => {
    const h = await message(gw, alice, { request: 'hangup' });
    assert.deepEqual(data(h).result, { event: 'hangup', username: 'alice', reason: 'Explicit hangup' });
    const ev = await nextEvent(gw, bob, (e) => e.janus === 'event' && (data(e).result as JsonObject | undefined)?.event === 'hangup');
    assert.deepEqual(data(ev).result, { event: 'hangup', username: 'alice', reason: 'We did the hangup' });
    // Both server-side PeerConnections are closed: nothing reaches bob any more although alice keeps sending.
    const total = (): number => [...bob.received.values()].reduce((n, l) => n + l.length, 0);
    await new Promise((r) => setTimeout(r, 300));
    const t0 = total();
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(total(), t0, 'no media relayed after the hangup');
    const list = await message(gw, bob, { request: 'list' });
    assert.deepEqual(((data(list).result as JsonObject).list as string[]).sort(), ['alice', 'bob']);
  });
});

/** RTP with a one-byte-header extension block holding a transport-wide sequence number element (id 2) the sender's core fills in. */
function twccPacket(pt: number, seq: number, ts: number, ssrc: number, payload: Buffer): Buffer {
  const b = Buffer.alloc(12 + 4 + 4 + payload.length);
  b[0] = 0x90;
  b[1] = pt;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(ssrc >>> 0, 8);
  b.writeUInt16BE(0xbede, 12);
  b.writeUInt16BE(1, 14);
  b[16] = (2 << 4) | 1;
  payload.copy(b, 20);
  return b;
}

describe('VideoCall with transport-cc: it crosses, and the estimate towards each side caps the other (REMB)', { timeout: 120_000 }, () => {
  let gw: MediaGateway;
  let carol: Client;
  let dave: Client;
  before(async () => {
    gw = await startMediaGateway('portunus', ['videocall'], {}, { prefix: 'vc-twcc' });
    carol = await client(gw, 'carol');
    dave = await client(gw, 'dave');
  });
  after(async () => {
    for (const c of [carol, dave]) {
      if (!c) continue;
      clearInterval(c.timer);
      c.peer.close();
    }
    await gw?.stop();
  });

  test('both legs negotiate transport-cc; handle_info shows the estimate; the caller gets REMB from it', async () => {
    await message(gw, carol, { request: 'register', username: 'carol' });
    await message(gw, dave, { request: 'register', username: 'dave' });
    const ext = extmapsFor([EXT.mid, EXT.transportWideCc]);
    const offer = buildOffer([
      { kind: 'audio', mid: '0', direction: 'sendrecv', codec: { name: 'opus', pt: 111, rtcpFb: ['transport-cc'] }, extensions: ext },
      { kind: 'video', mid: '1', direction: 'sendrecv', codec: { name: 'vp8', pt: 96, rtcpFb: ['nack', 'nack pli', 'transport-cc'] }, extensions: ext },
    ]);
    const offerSdp = carol.peer.setLocalDescription(writeSdp(offer), 'offer');
    await message(gw, carol, { request: 'call', username: 'dave' }, { type: 'offer', sdp: offerSdp });
    const incoming = await nextEvent(gw, dave, (e) => e.jsep !== undefined);
    const relayedSdp = (incoming.jsep as { sdp: string }).sdp;
    assert.match(relayedSdp, /a=extmap:2 http:\/\/www\.ietf\.org\/id\/draft-holmer-rmcat-transport-wide-cc-extensions-01/, 'the relayed offer keeps transport-cc (as Janus)');
    assert.match(relayedSdp, /a=rtcp-fb:96 transport-cc/);
    const relayedOffer = parseSdp(relayedSdp);
    dave.peer.setRemoteDescription(relayedOffer, extractRemoteTransport(relayedOffer, { type: 'offer' }), 'offer');
    const { description } = buildAnswer(relayedOffer, (m) => ({ codecs: m.kind === 'audio' ? ['opus'] : ['vp8'], direction: 'sendrecv', rtcpFb: ['nack', 'nack pli', 'transport-cc'], extensions: [EXT.mid, EXT.transportWideCc] }));
    const answerSdp = dave.peer.setLocalDescription(writeSdp(description), 'answer');
    await message(gw, dave, { request: 'accept' }, { type: 'answer', sdp: answerSdp });
    const acc = await nextEvent(gw, carol, (e) => e.jsep !== undefined);
    const answer = parseSdp((acc.jsep as { sdp: string }).sdp);
    assert.ok(answer.media[1]!.rtcpFbs.some((f) => f.type === 'transport-cc'), 'the answer to the caller keeps transport-cc');
    carol.peer.setRemoteDescription(answer, extractRemoteTransport(answer, { type: 'answer' }), 'answer');
    await waitUntil('both PeerConnections up', () => carol.up && dave.up);

    // Both send audio and ~200 kbit/s of video carrying the transport-wide element.
    for (const [c, base] of [[carol, 0x3000], [dave, 0x4000]] as const) {
      let n = 0;
      c.timer = setInterval(() => {
        try {
          const a = twccPacket(111, n, n * 960, base + 1, Buffer.alloc(60, 0x33));
          c.peer.sendRtp('0', a, a.length);
          const v = twccPacket(96 | (n % 2 ? 0x80 : 0), n, Math.floor(n / 2) * 3600, base + 2, vp8(500, n % 50 === 0, n));
          c.peer.sendRtp('1', v, v.length);
          n++;
        } catch {
          /* closed */
        }
      }, 20);
    }
    const hi = async (c: Client): Promise<JsonObject> => {
      const r = await postJson(`${gw.adminUrl}/${c.session}/${c.handle}`, { janus: 'handle_info', transaction: 'hi', admin_secret: gw.adminSecret });
      return (r as { info: JsonObject }).info;
    };
    let info: JsonObject = {};
    await waitUntil(
      'an estimate towards dave in his handle_info',
      () => {
        void hi(dave).then((i) => (info = i));
        return (((info.plugin_specific as JsonObject | undefined)?.bwe as JsonObject | undefined)?.estimate as number | undefined ?? 0) > 0;
      },
      20_000,
    );
    const bwe = (info.plugin_specific as JsonObject).bwe as { estimate: number; 'peer-remb': number };
    const core = ((info.webrtc as JsonObject).bwe as JsonObject).portunus as { estimate: number; twccFeedbacksReceived: number };
    assert.ok(core.twccFeedbacksReceived > 0, 'dave sends transport-cc feedback to the gateway');
    assert.ok(bwe.estimate > 0 && bwe.estimate <= 3_000_000, JSON.stringify(bwe));
    // Without transport-cc (the first describe) and without `set bitrate` Portunus sends carol no REMB; here it does, from the estimate.
    await waitUntil('REMB at the caller', () => carol.rembs.length > 0);
    assert.ok(carol.rembs.every((b) => b > 0 && b <= 3_000_000), `REMBs at carol: ${carol.rembs.join(',')}`);
    // carol's `bitrate` below the estimate wins.
    await message(gw, carol, { request: 'set', bitrate: 100_000 });
    const from = carol.rembs.length;
    await waitUntil('REMB after set bitrate', () => carol.rembs.length > from + 1);
    assert.ok(carol.rembs.slice(from + 1).every((b) => b <= 100_000), `REMBs after set bitrate=100000: ${carol.rembs.slice(from).join(',')}`);
  });
});
