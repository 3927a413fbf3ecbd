/**
 * SRTP-encrypted rtp sources: the plugin driven directly, real UDP packets protected with the
 * mountpoint's key (and with wrong keys / garbage, which must be dropped and counted).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SrtpContext } from '../../../src/media/srtp/index.js';
import { Harness, opusPacket, portsOf, Sender, until, vp8Packet } from './harness.js';

const err = (code: number, error: string) => ({ streaming: 'event', error_code: code, error });
const KEY = randomBytes(30);
const CRYPTO = KEY.toString('base64');

const CFG = `general: {\n}\nsec: {\n  type = "rtp"\n  id = 7\n  srtpsuite = 80\n  srtpcrypto = "${CRYPTO}"\n  media = (\n    { type = "audio", mid = "a", port = 0, pt = 111, codec = "opus" },\n    { type = "video", mid = "v", port = 0, pt = 100, codec = "vp8" }\n  )\n}\n`;

function protect(ctx: SrtpContext, pkt: Buffer): Buffer {
  const out = Buffer.alloc(pkt.length + ctx.rtpOverhead);
  pkt.copy(out);
  return out.subarray(0, ctx.protectRtp(out, pkt.length));
}

test('srtpsuite/srtpcrypto are validated like Janus: bad suite or key refuses the mountpoint with 456', async () => {
  const h = await Harness.start('general: {\n}\n');
  try {
    const s = h.attach();
    const base = { request: 'create', type: 'rtp', media: [{ type: 'audio', mid: 'a', port: 0, pt: 111, codec: 'opus' }] };
    assert.deepEqual(await h.sync(s, { ...base, srtpsuite: 64, srtpcrypto: CRYPTO }), err(456, "Can't add 'rtp' stream, invalid SRTP suite..."));
    assert.deepEqual(await h.sync(s, { ...base, srtpsuite: 80, srtpcrypto: KEY.subarray(0, 20).toString('base64') }), err(456, "Error creating 'rtp' stream"));
    assert.deepEqual(await h.sync(s, { ...base, srtpsuite: 32, srtpcrypto: 'not base64 at all!' }), err(456, "Error creating 'rtp' stream"));
    assert.equal((await h.sync(s, { ...base, srtpsuite: 'x', srtpcrypto: CRYPTO })).error_code, 454, 'a non-integer suite is an invalid element');
    assert.deepEqual(await h.sync(s, { ...base, srtpsuite: 0 }), err(456, "Can't add 'rtp' stream, invalid SRTP suite..."), 'a bad suite alone is refused too');
    const ok = await h.sync(s, { ...base, id: 9, srtpsuite: 32, srtpcrypto: CRYPTO, permanent: true });
    assert.equal(ok.streaming, 'created');
    assert.equal(ok.permanent, true);
    assert.ok(h.plugin.mountpoint(9)!.streams[0]!.srtp !== null, 'the created mountpoint decrypts');
    const saved = readFileSync(h.doc.file, 'utf8');
    assert.match(saved, /srtpsuite = 32/, 'permanent keeps the suite');
    assert.ok(saved.includes(CRYPTO), 'permanent keeps the key');
  } finally {
    await h.stop();
  }
});

test('SRTP source: packets protected with the key reach viewers decrypted; garbage, wrong-key, plain and replayed packets are dropped and counted', async () => {
  const h = await Harness.start(CFG);
  const tx = new Sender();
  try {
    const mp = h.plugin.mountpoint(7)!;
    const [aPort, vPort] = await portsOf(h, 7);
    const v1 = await h.viewer(7);
    const good = new SrtpContext('AES_CM_128_HMAC_SHA1_80', KEY.subarray(0, 16), KEY.subarray(16, 30));
    const other = randomBytes(30);
    const wrong = new SrtpContext('AES_CM_128_HMAC_SHA1_80', other.subarray(0, 16), other.subarray(16, 30));
    const plainKey = vp8Packet(1, 3000, 0xbbbb, { key: true, marker: true });
    const sentKey = protect(good, plainKey);
    assert.notDeepEqual(sentKey.subarray(12, plainKey.length), plainKey.subarray(12), 'payload encrypted on the wire');
    await tx.send(vPort!, sentKey);
    await tx.send(aPort!, protect(good, opusPacket(1, 960, 0xaaaa)));
    await until(() => h.host.rtpTo(v1, 'v').length === 1 && h.host.rtpTo(v1, 'a').length === 1, 3000, 'decrypted media relayed');
    const got = h.host.rtpTo(v1, 'v')[0]!;
    assert.equal(got.length, plainKey.length, 'tag stripped');
    assert.deepEqual(got.subarray(12), plainKey.subarray(12), 'payload decrypted');

    // every kind of bad packet: none reaches the viewer, each one is counted
    const bad: Array<[number, Buffer]> = [
      [vPort!, protect(wrong, vp8Packet(2, 6000, 0xbbbb, { key: true, marker: true }))],
      [vPort!, vp8Packet(3, 9000, 0xbbbb, { marker: true })], // plain RTP
      [vPort!, sentKey], // replay
      [aPort!, Buffer.concat([Buffer.from([0x80, 111, 0, 9, 0, 0, 0, 1, 0, 0, 0xaa, 0xaa]), randomBytes(60)])], // garbage after a valid header
      [aPort!, Buffer.from([0x80, 111, 0, 10, 0, 0, 0, 1, 0, 0, 0xaa, 0xaa, 1, 2])], // shorter than the tag
    ];
    for (const [port, pkt] of bad) await tx.send(port, pkt);
    const dropped = (): number => mp.streams[0]!.srtpDropped + mp.streams[1]!.srtpDropped;
    await until(() => dropped() === bad.length, 3000, `all ${bad.length} bad packets counted`);
    assert.equal(mp.streams[1]!.srtpDropped, 3);
    assert.equal(mp.streams[0]!.srtpDropped, 2);

    // the stream goes on after the bad packets
    await tx.send(vPort!, protect(good, vp8Packet(2, 6000, 0xbbbb, { marker: true })));
    await until(() => h.host.rtpTo(v1, 'v').length === 2, 3000, 'good packet after bad ones');
    assert.equal(h.host.rtpTo(v1, 'v').length, 2);
    assert.equal(h.host.rtpTo(v1, 'a').length, 1, 'no bad audio relayed');
    assert.ok(h.warnings().some((w) => /SRTP/.test(w)), 'a warning says why packets are dropped');
  } finally {
    tx.close();
    await h.stop();
  }
});

test('SRTP source with rtcpport: only an authenticated SRTCP sender report sets where PLIs go, and the PLI is SRTCP-protected', async () => {
  const probe = new Sender();
  await new Promise<void>((r) => probe.socket.bind(0, '127.0.0.1', () => r()));
  const rtcpPort = probe.socket.address().port;
  probe.close();
  const cfg = `general: {\n}\nsec: {\n  type = "rtp"\n  id = 8\n  srtpsuite = 32\n  srtpcrypto = "${CRYPTO}"\n  media = (\n    { type = "video", mid = "v", port = 0, rtcpport = ${rtcpPort}, pt = 100, codec = "vp8" }\n  )\n}\n`;
  const h = await Harness.start(cfg);
  const sender = new Sender();
  const attacker = new Sender();
  try {
    const mp = h.plugin.mountpoint(8)!;
    const good = new SrtpContext('AES_CM_128_HMAC_SHA1_32', KEY.subarray(0, 16), KEY.subarray(16, 30));
    const other = randomBytes(30);
    const wrong = new SrtpContext('AES_CM_128_HMAC_SHA1_32', other.subarray(0, 16), other.subarray(16, 30));
    const sr = (ctx: SrtpContext): Buffer => {
      const b = Buffer.alloc(28 + ctx.rtcpOverhead);
      b[0] = 0x80;
      b[1] = 200;
      b.writeUInt16BE(6, 2);
      b.writeUInt32BE(0xbbbb, 4);
      return b.subarray(0, ctx.protectRtcp(b, 28));
    };
    const plis: Buffer[] = [];
    sender.socket.on('message', (m) => plis.push(m));
    attacker.socket.on('message', () => plis.push(Buffer.from('attacker')));
    await sender.send(rtcpPort, sr(good));
    await new Promise((r) => setTimeout(r, 100));
    await attacker.send(rtcpPort, sr(wrong));
    await until(() => mp.streams[0]!.srtpDropped === 1, 3000, 'forged SRTCP counted');
    mp.source!.requestKeyframe!(0);
    await until(() => plis.length === 1, 3000, 'PLI upstream');
    const pli = plis[0]!;
    assert.notEqual(pli.toString(), 'attacker', 'the forged report did not redirect PLIs');
    assert.equal(pli.length, 12 + 14, 'PLI + SRTCP index + 80-bit tag');
    const n = good.unprotectRtcp(pli, pli.length);
    assert.equal(n, 12, 'the sender can authenticate and decrypt it');
    assert.equal(pli[1], 206);
    assert.equal(pli[0]! & 0x1f, 1, 'FMT 1: PLI');
  } finally {
    sender.close();
    attacker.close();
    await h.stop();
  }
});
