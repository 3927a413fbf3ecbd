/**
 * RTP forwarders of the mix (rtp_forward / stop_rtp_forward / listforwarders) on an in-process Gateway
 * with the real media plane: WebRTC participants (our client stack, SRTP over UDP on 127.0.0.1) send
 * Opus tones, and bare UDP sockets on 127.0.0.1 receive what the forwarders send.
 *
 * - the full mix (Opus, given ssrc/ptype) carries both talkers' tones, with continuous sequence numbers
 *   and timestamps; an SRTP forwarder's packets decrypt with the key given; a group forwarder (PCMU)
 *   carries only its group's talker;
 * - stop_rtp_forward stops one forwarder, the others go on; listforwarders' shape;
 * - the empty-room rule: nothing without participants unless always_on (silence then), and the mixer
 *   clock stops again when the last always_on forwarder goes;
 * - room destroy removes the forwarders (no more packets, no more listed);
 * - a destination that fails every send (broadcast address without SO_BROADCAST) harms nobody;
 * - auth: the room secret, and lock_rtp_forward with an admin_key; request errors.
 *
 * Real time on a shared machine: the audio scenario gets up to 3 attempts (withAttempts in net.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createOpusDecoder } from '../../../src/codecs/opus.js';
import { g711Decode } from '../../../src/codecs/g711.js';
import { SrtpContext } from '../../../src/media/srtp/context.js';
import { goertzelAmplitude, joinParticipant, makeAbWorld, sleep, ToneSender, waitFor, withAttempts, type AbParticipant, type AbWorld, UdpSink } from './net.js';

const ROOM = 66;
const JCFG = `general: {\n}\nroom-${ROOM}: {\n\tdescription = "fwd"\n\tsecret = "s"\n\tsampling_rate = 16000\n\tgroups = ["g1", "g2"]\n}\nroom-67: {\n\tsecret = "s"\n\tsampling_rate = 16000\n}\n`;
const KEY = Buffer.from(Array.from({ length: 30 }, (_, i) => i * 7 + 1)).toString('base64');

/** Decode Opus RTP (12-byte headers, in arrival order) to 16 kHz PCM, first 100 ms skipped. */
function decodeOpus(pkts: Buffer[]): Int16Array {
  const dec = createOpusDecoder(16000, 1);
  const parts = pkts.map((b) => dec.decode(b.subarray(12)));
  dec.destroy();
  return concat(parts).subarray(1600);
}

function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, a) => n + a.length, 0));
  let o = 0;
  for (const a of parts) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}

async function req(w: AbWorld, who: { session: number; handle: number }, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const r = await w.message(who.session, who.handle, body);
  return (r.plugindata?.data ?? { janus: r.janus, error: (r as { error?: unknown }).error }) as Record<string, unknown>;
}

test('forwarders of the mix over real UDP: full mix (Opus, SRTP) has both tones, a group mix (PCMU) only its group; stop, list, destroy', { timeout: 180_000 }, async () => {
  await withAttempts('rtp forwarders', 3, async () => {
    const w = await makeAbWorld(JCFG);
    const sinks = await Promise.all([UdpSink.open(), UdpSink.open(), UdpSink.open()]);
    const [full, srtp, group] = sinks as [UdpSink, UdpSink, UdpSink];
    const ps: AbParticipant[] = [];
    const senders: ToneSender[] = [];
    try {
      const admin = await w.attach();
      const fwd = { request: 'rtp_forward', room: ROOM, secret: 's', host: '127.0.0.1' };
      const a = await req(w, admin, { ...fwd, port: full.port, ssrc: 0xdeadbeef, ptype: 101 });
      assert.equal(a['audiobridge'], 'success', JSON.stringify(a));
      assert.deepEqual(Object.keys(a), ['audiobridge', 'room', 'stream_id', 'host', 'port']);
      assert.equal(a['host'], '127.0.0.1');
      assert.equal(a['port'], full.port);
      const b = await req(w, admin, { ...fwd, port: srtp.port, srtp_suite: 80, srtp_crypto: KEY });
      const g = await req(w, admin, { ...fwd, port: group.port, codec: 'pcmu', group: 'g1' });
      assert.equal(g['group'], 'g1');
      const ids = [a['stream_id'], b['stream_id'], g['stream_id']];
      assert.ok(ids.every((x) => typeof x === 'number' && x > 0) && new Set(ids).size === 3, `three distinct stream ids: ${ids.join(', ')}`);

      // Not always_on and nobody in the room: nothing is sent.
      await sleep(200);
      assert.equal(full.packets.length + srtp.packets.length + group.packets.length, 0, 'no packets into an empty room');

      ps.push(await joinParticipant(w, ROOM, 'A', { group: 'g1' }));
      ps.push(await joinParticipant(w, ROOM, 'B', { group: 'g2' }));
      senders.push(new ToneSender(ps[0]!, 440), new ToneSender(ps[1]!, 660));
      senders.forEach((s) => s.start());
      await sleep(800);
      const mark = sinks.map((s) => s.packets.length);
      await sleep(1500);

      // Full mix, plain RTP: given SSRC and payload type, both tones, continuous numbering.
      const fp = full.packets.slice(mark[0]);
      assert.ok(fp.length >= 25, `full-mix forwarder sent packets (${fp.length})`);
      assert.ok(fp.every((p) => p[0]! >> 6 === 2 && p.readUInt32BE(8) === 0xdeadbeef && (p[1]! & 0x7f) === 101), 'version 2, ssrc 0xdeadbeef, pt 101');
      const fc = full.continuity(mark[0]!, 960);
      assert.ok(fc.seqGaps === 0 && fc.tsGaps === 0, `sequence numbers and timestamps advance by one frame: ${JSON.stringify(fc)}`);
      const pcm = decodeOpus(fp);
      const a440 = goertzelAmplitude(pcm, 16000, 440);
      const a660 = goertzelAmplitude(pcm, 16000, 660);
      console.log(`# full mix: 440 Hz ${a440.toFixed(0)}, 660 Hz ${a660.toFixed(0)}`);
      assert.ok(a440 > 1500 && a660 > 1500, `the full mix has both tones (sent at 6000): 440 Hz ${a440.toFixed(0)}, 660 Hz ${a660.toFixed(0)}`);

      // SRTP: the stream id is the SSRC, the default payload type 100, and it decrypts with the key.
      const ctx = new SrtpContext('AES_CM_128_HMAC_SHA1_80', Buffer.from(KEY, 'base64').subarray(0, 16), Buffer.from(KEY, 'base64').subarray(16, 30));
      const dec: Buffer[] = [];
      for (const p of srtp.packets.slice(mark[1])) {
        const c = Buffer.from(p);
        const n = ctx.unprotectRtp(c, c.length);
        assert.ok(n > 12, `SRTP packet authenticates (${n})`);
        dec.push(c.subarray(0, n));
      }
      assert.ok(dec.length >= 25, `SRTP forwarder sent packets (${dec.length})`);
      assert.ok(dec.every((p) => p.readUInt32BE(8) === b['stream_id'] && (p[1]! & 0x7f) === 100), 'SSRC = stream_id, pt 100');
      const spcm = decodeOpus(dec);
      assert.ok(goertzelAmplitude(spcm, 16000, 440) > 1500 && goertzelAmplitude(spcm, 16000, 660) > 1500, 'the SRTP full mix has both tones');

      // Group g1 in PCMU: A's 440 Hz only, payload type 0, 160 bytes, timestamps by 160.
      const gp = group.packets.slice(mark[2]);
      assert.ok(gp.length >= 25 && gp.every((p) => (p[1]! & 0x7f) === 0 && p.length === 172), `PCMU packets (pt 0, 160-byte payload): ${gp.length}`);
      const gc = group.continuity(mark[2]!, 160);
      assert.ok(gc.seqGaps === 0 && gc.tsGaps === 0, `group stream continuous: ${JSON.stringify(gc)}`);
      const gpcm = concat(gp.map((p) => g711Decode('pcmu', p.subarray(12)))).subarray(800);
      const g440 = goertzelAmplitude(gpcm, 8000, 440);
      const g660 = goertzelAmplitude(gpcm, 8000, 660);
      console.log(`# group g1 (pcmu): 440 Hz ${g440.toFixed(0)}, 660 Hz ${g660.toFixed(0)}`);
      assert.ok(g440 > 1500 && g660 < 0.05 * g440, `group g1 carries A (440 Hz) and not B (660 Hz): ${g440.toFixed(0)} / ${g660.toFixed(0)}`);

      // listforwarders: Janus's shape.
      const list = await req(w, admin, { request: 'listforwarders', room: ROOM, secret: 's' });
      assert.equal(list['audiobridge'], 'forwarders');
      const byId = new Map((list['rtp_forwarders'] as Array<Record<string, unknown>>).map((f) => [f['stream_id'], f]));
      assert.deepEqual(byId.get(a['stream_id']), { stream_id: a['stream_id'], ip: '127.0.0.1', port: full.port, ssrc: 0xdeadbeef, codec: 'opus', ptype: 101, always_on: false });
      assert.deepEqual(byId.get(b['stream_id']), { stream_id: b['stream_id'], ip: '127.0.0.1', port: srtp.port, ssrc: b['stream_id'], codec: 'opus', ptype: 100, srtp: true, always_on: false });
      assert.deepEqual(byId.get(g['stream_id']), { stream_id: g['stream_id'], group: 'g1', ip: '127.0.0.1', port: group.port, ssrc: g['stream_id'], codec: 'pcmu', ptype: 0, always_on: false });

      // stop_rtp_forward: that one stops, the others go on.
      const stop = await req(w, admin, { request: 'stop_rtp_forward', room: ROOM, secret: 's', stream_id: a['stream_id'] });
      assert.deepEqual(stop, { audiobridge: 'success', room: ROOM, stream_id: a['stream_id'] });
      await sleep(100);
      const afterStop = sinks.map((s) => s.packets.length);
      await sleep(400);
      assert.equal(full.packets.length, afterStop[0], 'the stopped forwarder sends nothing more');
      assert.ok(srtp.packets.length - afterStop[1]! >= 10 && group.packets.length - afterStop[2]! >= 10, 'the other forwarders go on');
      const list2 = await req(w, admin, { request: 'listforwarders', room: ROOM, secret: 's' });
      assert.deepEqual((list2['rtp_forwarders'] as Array<Record<string, unknown>>).map((f) => f['stream_id']).sort(), [b['stream_id'], g['stream_id']].sort());

      // Room destroy: forwarders gone with it.
      const d = await req(w, admin, { request: 'destroy', room: ROOM, secret: 's' });
      assert.equal(d['audiobridge'], 'destroyed');
      await sleep(100);
      const afterDestroy = sinks.map((s) => s.packets.length);
      await sleep(300);
      assert.deepEqual(sinks.map((s) => s.packets.length), afterDestroy, 'nothing is forwarded after the room is destroyed');
      assert.equal((await req(w, admin, { request: 'listforwarders', room: ROOM, secret: 's' }))['error_code'], 485);
      assert.equal(w.plugin.getRoom(ROOM), undefined);
    } finally {
      senders.forEach((s) => s.stop());
      ps.forEach((p) => p.client.close());
      sinks.forEach((s) => s.close());
      await w.stop();
    }
  });
});

test('always_on: an empty room forwards silence only to always_on forwarders, and its clock stops when they go', { timeout: 60_000 }, async () => {
  const w = await makeAbWorld(JCFG);
  const [s1, s2] = await Promise.all([UdpSink.open(), UdpSink.open()]);
  try {
    const admin = await w.attach();
    const room = w.plugin.getRoom(67)!;
    const plain = await req(w, admin, { request: 'rtp_forward', room: 67, secret: 's', host: '127.0.0.1', port: s1.port });
    assert.equal(room.clockInfo().running, false, 'a forwarder that is not always_on does not wake an empty room');
    const on = await req(w, admin, { request: 'rtp_forward', room: 67, secret: 's', host: '127.0.0.1', port: s2.port, codec: 'pcma', always_on: true });
    assert.equal(room.clockInfo().running, true, 'an always_on forwarder runs the mixer clock');
    await waitFor('silence from the always_on forwarder', () => s2.packets.length >= 20, 3000);
    assert.equal(s1.packets.length, 0, 'the other forwarder stays quiet in the empty room');
    // A-law silence (0xd5), payload type 8 by default, continuous.
    assert.ok(s2.packets.every((p) => (p[1]! & 0x7f) === 8 && p.subarray(12).every((x) => x === 0xd5)), 'pt 8, A-law silence');
    const c = s2.continuity(0, 160);
    assert.ok(c.seqGaps === 0 && c.tsGaps === 0, `continuous: ${JSON.stringify(c)}`);
    const list = await req(w, admin, { request: 'listforwarders', room: 67, secret: 's' });
    const flags = (list['rtp_forwarders'] as Array<Record<string, unknown>>).map((f) => [f['stream_id'], f['always_on']]);
    assert.deepEqual(new Map(flags as Array<[unknown, unknown]>), new Map([[plain['stream_id'], false], [on['stream_id'], true]]));
    await req(w, admin, { request: 'stop_rtp_forward', room: 67, secret: 's', stream_id: on['stream_id'] });
    assert.equal(room.clockInfo().running, false, 'the clock stops with the last always_on forwarder');
    // An unknown stream_id is not an error (as in Janus).
    assert.equal((await req(w, admin, { request: 'stop_rtp_forward', room: 67, secret: 's', stream_id: 12345 }))['audiobridge'], 'success');
  } finally {
    s1.close();
    s2.close();
    await w.stop();
  }
});

test('a destination whose every send fails (broadcast without SO_BROADCAST) harms neither the mix nor the other forwarders', { timeout: 60_000 }, async () => {
  const w = await makeAbWorld(JCFG);
  const sink = await UdpSink.open();
  try {
    const admin = await w.attach();
    const bad = await req(w, admin, { request: 'rtp_forward', room: 67, secret: 's', host: '255.255.255.255', port: 9, always_on: true });
    assert.equal(bad['audiobridge'], 'success');
    await req(w, admin, { request: 'rtp_forward', room: 67, secret: 's', host: '127.0.0.1', port: sink.port, always_on: true });
    await waitFor('packets to the good destination', () => sink.packets.length >= 30, 3000);
    const c = sink.continuity(0, 960);
    assert.equal(c.seqGaps, 0, 'the good forwarder is unaffected');
    const room = w.plugin.getRoom(67)!;
    const f = room.forwarders.get(bad['stream_id'] as number)!;
    await waitFor('send errors counted', () => f.errors > 0, 2000);
    // Driving a frame by hand: errors stay inside the forwarder.
    assert.doesNotThrow(() => room.tick());
    assert.equal(room.clockInfo().running, true);
  } finally {
    sink.close();
    await w.stop();
  }
});

test('rtp_forward authorization and request errors', { timeout: 60_000 }, async () => {
  const w = await makeAbWorld(`general: {\n\tadmin_key = "k"\n\tlock_rtp_forward = true\n}\nroom-67: {\n\tsecret = "s"\n\tsampling_rate = 16000\n}\n`);
  try {
    const admin = await w.attach();
    const base = { request: 'rtp_forward', room: 67, host: '127.0.0.1', port: 5000 };
    const err = async (body: Record<string, unknown>): Promise<[unknown, unknown]> => {
      const r = await req(w, admin, body);
      return [r['error_code'], r['error']];
    };
    assert.deepEqual(await err({ ...base, secret: 's' }), [483, 'Missing mandatory element (admin_key)']);
    assert.deepEqual(await err({ ...base, secret: 's', admin_key: 'x' }), [489, 'Unauthorized (wrong admin_key)']);
    assert.deepEqual(await err({ ...base, admin_key: 'k' }), [483, 'Missing mandatory element (secret)']);
    assert.deepEqual(await err({ ...base, admin_key: 'k', secret: 'x' }), [489, 'Unauthorized (wrong secret)']);
    assert.deepEqual(await err({ ...base, admin_key: 'k', secret: 's', room: 999 }), [485, 'No such room (999)']);
    assert.deepEqual(await err({ ...base, admin_key: 'k', secret: 's', port: 70000 }), [484, 'Invalid port number (70000)']);
    assert.deepEqual(await err({ ...base, admin_key: 'k', secret: 's', ptype: 128 }), [484, 'Invalid payload type (128)']);
    assert.deepEqual(await err({ ...base, admin_key: 'k', secret: 's', ssrc: 2 ** 32 }), [484, 'Invalid SSRC (4294967296)']);
    assert.deepEqual(await err({ ...base, admin_key: 'k', secret: 's', srtp_suite: 80, srtp_crypto: 'AAAA' }), [484, 'Invalid SRTP crypto (AAAA)']);
    assert.deepEqual(await err({ ...base, admin_key: 'k', secret: 's', host: '::1', host_family: 'ipv4' }), [484, 'Could not resolve address (::1)...']);
    const ok = await req(w, admin, { ...base, admin_key: 'k', secret: 's' });
    assert.equal(ok['audiobridge'], 'success');
    assert.deepEqual(await err({ request: 'stop_rtp_forward', room: 67, secret: 's', stream_id: ok['stream_id'] }), [483, 'Missing mandatory element (admin_key)']);
    assert.deepEqual(await err({ request: 'stop_rtp_forward', room: 67, secret: 's', admin_key: 'k', stream_id: -1 }), [484, 'Invalid element type (stream_id should be a positive integer)']);
    const list = await req(w, admin, { request: 'listforwarders', room: 67, secret: 's' });
    assert.equal((list['rtp_forwarders'] as unknown[]).length, 1, 'listforwarders needs no admin_key, and only the one good forwarder exists');
    // The same over the Admin API (handleAdminMessage).
    const viaAdmin = await w.plugin.handleAdminMessage({ request: 'stop_rtp_forward', room: 67, secret: 's', admin_key: 'k', stream_id: ok['stream_id'] });
    assert.deepEqual(viaAdmin, { audiobridge: 'success', room: 67, stream_id: ok['stream_id'] });
    assert.equal(w.plugin.getRoom(67)!.forwarders.size, 0);
  } finally {
    await w.stop();
  }
});
