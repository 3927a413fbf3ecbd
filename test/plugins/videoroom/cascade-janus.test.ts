/**
 * VideoRoom cascading between two real gateway processes, both ways, with real PeerConnections (our
 * own client over UDP, DTLS-SRTP) at both ends:
 *
 * - Portunus -> Janus 1.1.2: a publisher in Portunus is `publish_remotely`d into Janus's
 *   `add_remote_publisher`; a subscriber in Janus gets its media.
 * - Janus 1.1.2 -> Portunus: the same the other way round.
 * - Portunus -> Portunus: two Portunus processes (the room and sockets in media workers).
 *
 * Each time the publisher sends only delta frames until a keyframe request arrives from the far
 * side (the subscriber's PLI crossing the remote publisher's RTCP port back to the origin), then a key
 * frame: the subscriber must see that key frame, with continuous sequence numbers.
 * Skipped when Janus is not installed (the Portunus-only case still runs).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { buildAnswer, buildOffer, EXT, extmapsFor } from '../../../src/media/sdp/negotiate.js';
import { extractRemoteTransport } from '../../../src/media/sdp/jsep.js';
import { parseSdp } from '../../../src/media/sdp/parse.js';
import { writeSdp } from '../../../src/media/sdp/write.js';
import { longPoll, postJson, type JsonObject } from '../../helpers/janus-client.js';
import { makeMediaConfigsFolder, pluginJcfg, startMediaGateway, type GatewayKind, type MediaGateway } from '../../helpers/media-server.js';
import { startPortunusOnFolder } from '../../helpers/portunus.js';
import { isVp8KeyPayload, rtcClient, vp8Frame, waitUntil, type RtcClient } from '../../helpers/rtc-client.js';
import { rtpPacket } from '../../media/peer/helpers.js';

const haveJanus = existsSync('/usr/bin/janus');
const gateways: MediaGateway[] = [];
const clients: RtcClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const g of gateways) await g.stop().catch(() => undefined);
});

interface H {
  gw: MediaGateway;
  session: number;
  handle: number;
  events: JsonObject[];
}

async function attach(gw: MediaGateway): Promise<H> {
  const s = await postJson(gw.httpUrl, { janus: 'create', transaction: 'c' });
  const session = (s.data as { id: number }).id;
  const a = await postJson(`${gw.httpUrl}/${session}`, { janus: 'attach', plugin: 'janus.plugin.videoroom', transaction: 'a' });
  return { gw, session, handle: (a.data as { id: number }).id, events: [] };
}

async function nextEvent(h: H, pred: (e: JsonObject) => boolean, ms = 20_000): Promise<JsonObject> {
  const deadline = Date.now() + ms;
  for (;;) {
    const i = h.events.findIndex(pred);
    if (i >= 0) return h.events.splice(i, 1)[0]!;
    if (Date.now() > deadline) throw new Error(`no matching event within ${ms} ms; have ${JSON.stringify(h.events).slice(0, 800)}`);
    const r = await longPoll(h.gw.httpUrl, h.session, { maxev: 10, timeoutMs: 35_000 });
    for (const e of Array.isArray(r.json) ? r.json : [r.json]) if (e && typeof e === 'object' && !Array.isArray(e) && e['janus'] !== 'keepalive') h.events.push(e as JsonObject);
  }
}

async function request(h: H, body: JsonObject, jsep?: JsonObject): Promise<JsonObject> {
  const transaction = `t${Math.random()}`;
  const r = await postJson(`${h.gw.httpUrl}/${h.session}/${h.handle}`, { janus: 'message', transaction, body, ...(jsep ? { jsep } : {}) });
  if (r.janus === 'success') return r;
  return nextEvent(h, (e) => e.transaction === transaction && e.janus === 'event');
}

const data = (e: JsonObject): JsonObject => (e.plugindata as { data: JsonObject }).data;

async function gateway(kind: GatewayKind): Promise<MediaGateway> {
  let gw: MediaGateway;
  if (kind === 'janus') gw = await startMediaGateway(kind, ['videoroom'], { videoroom: pluginJcfg('videoroom') }, { prefix: 'cascade' });
  else {
    // Two Portunus processes with their media workers start slowly on a loaded 2-core machine: a longer wait than the helper's.
    const conf = await makeMediaConfigsFolder('portunus-cascade', ['videoroom']);
    try {
      const srv = await startPortunusOnFolder(conf.dir, conf.ports, conf.serverName, conf.adminSecret, { readyTimeoutMs: 90_000 });
      const stop = srv.stop;
      srv.stop = async () => {
        await stop();
        conf.remove();
      };
      gw = Object.assign(srv, { address: conf.address, rtpPorts: conf.rtpPorts });
    } catch (e) {
      conf.remove();
      throw e;
    }
  }
  gateways.push(gw);
  return gw;
}

/** A client publishing Opus + VP8 in room 1234 of `gw` as `id`; its PeerConnection is up on return. */
async function publisher(gw: MediaGateway, id: number): Promise<RtcClient> {
  const h = await attach(gw);
  const c = await rtcClient(gw);
  clients.push(c);
  const offer = buildOffer([
    { kind: 'audio', mid: '0', direction: 'sendonly', codec: { name: 'opus', pt: 111 }, extensions: extmapsFor([EXT.mid]) },
    { kind: 'video', mid: '1', direction: 'sendonly', codec: { name: 'vp8', pt: 96 }, extensions: extmapsFor([EXT.mid]) },
  ]);
  const sdp = c.peer.setLocalDescription(writeSdp(offer), 'offer');
  const joined = await request(h, { request: 'joinandconfigure', room: 1234, ptype: 'publisher', display: `origin ${id}`, id }, { type: 'offer', sdp });
  assert.equal(data(joined).videoroom, 'joined', JSON.stringify(data(joined)));
  const ans = parseSdp((joined.jsep as { sdp: string }).sdp);
  c.peer.setRemoteDescription(ans, extractRemoteTransport(ans, { type: 'answer' }), 'answer');
  await waitUntil(`the publisher PeerConnection`, () => c.up);
  return c;
}

/** A client subscribed to `feed` in room 1234 of `gw`; its PeerConnection is up on return. */
async function subscriber(gw: MediaGateway, feed: number): Promise<RtcClient> {
  const h = await attach(gw);
  const v = await rtcClient(gw);
  clients.push(v);
  const att = await request(h, { request: 'join', ptype: 'subscriber', room: 1234, streams: [{ feed }] });
  assert.equal(data(att).videoroom, 'attached', JSON.stringify(data(att)));
  const po = parseSdp((att.jsep as { sdp: string }).sdp);
  v.peer.setRemoteDescription(po, extractRemoteTransport(po, { type: 'offer' }), 'offer');
  const { description } = buildAnswer(po, (m) => ({ codecs: m.kind === 'audio' ? ['opus'] : ['vp8'], direction: 'recvonly' }));
  const answer = v.peer.setLocalDescription(writeSdp(description), 'answer');
  const started = await request(h, { request: 'start', room: 1234 }, { type: 'answer', sdp: answer });
  assert.equal(data(started).started, 'ok', JSON.stringify(data(started)));
  await waitUntil('the subscriber PeerConnection', () => v.up);
  return v;
}

/**
 * origin (publisher `id`) -> remote (add_remote_publisher id `id`): media and keyframe requests checked
 * at the far ends. Returns what the subscriber got, for the caller's report.
 */
async function cascade(origin: MediaGateway, remote: MediaGateway, id: number): Promise<{ video: number; audio: number }> {
  const adm = await attach(remote);
  const add = data(await request(adm, {
    request: 'add_remote_publisher', room: 1234, secret: 'adminpwd', id, display: 'cascaded',
    streams: [{ type: 'audio', mindex: 0, mid: '0', codec: 'opus' }, { type: 'video', mindex: 1, mid: '1', codec: 'vp8' }],
  }));
  assert.equal(add.videoroom, 'success', JSON.stringify(add));
  const pub = await publisher(origin, id);
  const oadm = await attach(origin);
  const pr = data(await request(oadm, { request: 'publish_remotely', room: 1234, secret: 'adminpwd', publisher_id: id, remote_id: 'far', host: '127.0.0.1', port: add.port as number, rtcp_port: add.rtcp_port as number }));
  assert.deepEqual(pr, { videoroom: 'success', room: 1234, id, remote_id: 'far' });
  const sub = await subscriber(remote, id);

  // Delta frames (and audio) until a keyframe request comes back from the far side, then a key frame.
  const plisBefore = pub.plis;
  let seq = 0;
  let keyAt = -1;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const n = seq++;
    const a = rtpPacket(111, n, n * 960, 0x3333, Buffer.alloc(40, 0x11));
    pub.peer.sendRtp('0', a, a.length);
    const key = keyAt < 0 && pub.plis > plisBefore;
    if (key) keyAt = n;
    const v = rtpPacket(96 | 0x80, n, n * 3600, 0x4444, vp8Frame(400, key, n));
    pub.peer.sendRtp('1', v, v.length);
    await new Promise((r) => setTimeout(r, 20));
    if (keyAt >= 0 && n >= keyAt + 25) break;
  }
  assert.ok(keyAt >= 0, `a keyframe request reached the origin publisher (plis ${pub.plis})`);
  await waitUntil('video at the far subscriber', () => (sub.received.get('1')?.seqs.length ?? 0) >= 20, 10_000);
  const rv = sub.received.get('1')!;
  const ra = sub.received.get('0');
  assert.ok(rv.heads.some((h) => isVp8KeyPayload(h)), 'the key frame sent after the PLI reached the far subscriber');
  // Continuity: no sequence number missing between the first and the last. Duplicates are allowed: on a
  // loaded machine a gap upstream makes the origin NACK its publisher, and the retransmission is relayed too.
  const offsets = [...new Set(rv.seqs.map((x) => (x - rv.seqs[0]! + 0x10000) & 0xffff))].sort((a, b) => a - b);
  assert.deepEqual(offsets, offsets.map((_, i) => i), `continuous video sequence numbers: ${rv.seqs.join(',')}`);
  assert.ok((ra?.seqs.length ?? 0) >= 20, `audio at the far subscriber: ${ra?.seqs.length ?? 0}`);
  return { video: rv.seqs.length, audio: ra?.seqs.length ?? 0 };
}

test('Portunus -> Portunus: publish_remotely into another Portunus process; its subscriber decodes from the key frame sent after its PLI', { timeout: 180_000 }, async () => {
  const a = await gateway('portunus');
  const b = await gateway('portunus');
  const got = await cascade(a, b, 7101);
  assert.ok(got.video > 0);
});

test('Portunus -> Janus 1.1.2: Janus\'s remote publisher fed by our publish_remotely', { timeout: 180_000, skip: !haveJanus && 'Janus not installed' }, async () => {
  const p = await gateway('portunus');
  const j = await gateway('janus');
  const got = await cascade(p, j, 7201);
  assert.ok(got.video > 0);
});

test('Janus 1.1.2 -> Portunus: our remote publisher fed by Janus\'s publish_remotely', { timeout: 180_000, skip: !haveJanus && 'Janus not installed' }, async () => {
  const j = await gateway('janus');
  const p = await gateway('portunus');
  const got = await cascade(j, p, 7301);
  assert.ok(got.video > 0);
});
