/**
 * The media plane beyond the happy path, over real UDP on 127.0.0.1 through the Janus API and the
 * EchoTest: ICE restart, slowlink under induced loss, 256 KiB data channel messages within dtls_mtu,
 * RTCP reports (SR/RR) driving per-stream statistics, every socket inside rtp_port_range.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { JanusMessage } from '../../../src/core/messages.js';
import { parseSdp } from '../../../src/media/sdp/parse.js';
import { applyAnswer, clientOffer, makeClient, makeWorld, rtpPacket, sleep, waitFor, type ClientPeer, type World } from './helpers.js';

type Ev = JanusMessage & { jsep?: { type: string; sdp: string }; plugindata?: { data: Record<string, unknown> } };

async function negotiate(w: World, c: ClientPeer, tx = 'neg'): Promise<{ s: number; h: number; answer: string }> {
  const [s, h] = await w.attachEcho();
  await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: tx, body: { audio: true, video: true }, jsep: { type: 'offer', sdp: clientOffer(c) } });
  const ev = await waitFor('the answer event', () => (w.client.events as Ev[]).find((e) => e.transaction === tx && e.jsep));
  applyAnswer(c, ev.jsep!.sdp);
  await waitFor('client DTLS up', () => c.up);
  await waitFor('webrtcup', () => w.client.events.find((e) => e.janus === 'webrtcup' && e.sender === h));
  return { s, h, answer: ev.jsep!.sdp };
}

function inRange(w: World, port: number): boolean {
  const r = w.config.media.rtp_port_range!;
  return port >= r.min && port <= r.max;
}

test('ICE restart through the Janus API: new credentials in the answer, the new checks succeed, media keeps flowing', { timeout: 30_000 }, async () => {
  const w = await makeWorld();
  const c = await makeClient();
  try {
    const { s, h, answer } = await negotiate(w, c);
    const a1 = parseSdp(answer).media[0]!;
    const server = w.plane.peerOf(h)!;
    assert.ok(inRange(w, server.port), `media socket ${server.port} inside rtp_port_range`);
    c.peer.sendRtp('0', rtpPacket(111, 1, 960, 9, Buffer.from('before')), 18);
    await waitFor('echo before the restart', () => c.rtp.find((p) => p.bytes.subarray(12).toString() === 'before'));

    // The client restarts ICE: its offer carries new credentials.
    const oldClient = c.peer.localCredentials;
    c.peer.restartIce();
    const offer = clientOffer(c);
    const om = parseSdp(offer).media[0]!;
    assert.notEqual(om.iceUfrag, oldClient.ufrag);
    await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: 'restart', body: {}, jsep: { type: 'offer', sdp: offer } });
    const ev = await waitFor('the restart answer', () => (w.client.events as Ev[]).find((e) => e.transaction === 'restart' && e.jsep));
    const a2 = parseSdp(ev.jsep!.sdp).media[0]!;
    assert.notEqual(a2.iceUfrag, a1.iceUfrag, 'new ice-ufrag in the answer');
    assert.notEqual(a2.icePwd, a1.icePwd, 'new ice-pwd in the answer');
    assert.equal(a2.port, a1.port, 'same socket');
    assert.deepEqual(a2.fingerprints, a1.fingerprints, 'same DTLS association');
    assert.equal(server.iceRestarted, true);
    assert.deepEqual(server.localCredentials, { ufrag: a2.iceUfrag, pwd: a2.icePwd });
    applyAnswer(c, ev.jsep!.sdp);

    // Fresh connectivity checks with the new credentials succeed on both sides.
    await waitFor('a succeeded pair after the restart (client)', () => c.peer.iceAgent!.getPairs().some((p) => p.state === 'succeeded'), 10_000);
    await waitFor('a succeeded/nominated pair after the restart (server)', () => server.iceAgent!.getPairs().some((p) => p.state === 'succeeded' || p.nominated), 10_000);
    // No new webrtcup: DTLS and SRTP carry on.
    assert.equal(w.client.events.filter((e) => e.janus === 'webrtcup').length, 1);
    c.peer.sendRtp('1', rtpPacket(96, 500, 9000, 0x77, Buffer.from('after')), 17);
    await waitFor('echo after the restart', () => c.rtp.find((p) => p.bytes.subarray(12).toString() === 'after'));
    const info = (await w.gw.admin.handle({ janus: 'handle_info', transaction: 'i', admin_secret: 'adm', session_id: s, handle_id: h })) as JanusMessage & { info: { flags: Record<string, unknown> } };
    assert.equal(info.info.flags['ice-restart'], true);
    assert.equal(w.client.events.filter((e) => e.janus === 'hangup').length, 0);
  } finally {
    c.close();
    await w.stop();
  }
});

test('slowlink: losses above slowlink_threshold on what we receive (uplink:false) and on what we send (uplink:true, from the RRs)', { timeout: 30_000 }, async () => {
  const w = await makeWorld((cfg) => (cfg.media.slowlink_threshold = 4));
  const c = await makeClient();
  try {
    const { h, answer } = await negotiate(w, c);
    const serverVideoSsrc = parseSdp(answer).media[1]!.ssrcs[0]!.ssrc;
    // The echo of every 4th packet never reaches the client (retransmissions included): its RRs report it.
    c.socket.drop = (m) => m.length > 12 && m[0]! >> 6 === 2 && m[1]! < 192 && m.readUInt32BE(8) === serverVideoSsrc && m.readUInt16BE(2) % 4 === 0;
    // The client skips every 4th sequence number: the server sees a gap each time (NACKed, never repaired).
    let seq = 1000;
    const end = Date.now() + 3500;
    while (Date.now() < end) {
      for (let k = 0; k < 5; k++) {
        seq++;
        if (seq % 4 === 0) continue;
        c.peer.sendRtp('1', rtpPacket(96, seq, seq * 900, 0x99, Buffer.from('v')), 13);
      }
      await sleep(20);
    }
    const down = await waitFor('slowlink uplink:false', () => w.client.events.find((e) => e.janus === 'slowlink' && e.sender === h && e.uplink === false), 5000);
    assert.equal(down.mid, '1');
    assert.equal(down.media, 'video');
    assert.ok((down.lost as number) >= 4, `lost ${String(down.lost)}`);
    const up = await waitFor('slowlink uplink:true', () => w.client.events.find((e) => e.janus === 'slowlink' && e.sender === h && e.uplink === true), 5000);
    assert.equal(up.mid, '1');
    assert.ok((up.lost as number) >= 4);
    // EchoTest reacts to losses on what it receives by lowering the REMB, like Janus.
    await waitFor('EchoTest slow_link event', () => (w.client.events as Ev[]).find((e) => (e.plugindata?.data.result as { status?: string } | undefined)?.status === 'slow_link'));
    const server = w.plane.peerOf(h)!;
    const st = server.rtpStats();
    const vin = st.inbound.find((x) => x.mid === '1')!;
    assert.ok(vin.lost > 0 && vin.nacksSent > 0, JSON.stringify(vin));
    const vout = st.outbound.find((x) => x.mid === '1')!;
    assert.ok(vout.remoteLost > 0, 'the client RRs reported losses on our stream');
    assert.ok(st.rembSent > 0, 'REMB cap set by the EchoTest');
  } finally {
    c.close();
    await w.stop();
  }
});

test('no slowlink events with slowlink_threshold 0 (disabled), even under loss', { timeout: 20_000 }, async () => {
  const w = await makeWorld((cfg) => (cfg.media.slowlink_threshold = 0));
  const c = await makeClient();
  try {
    await negotiate(w, c);
    for (let i = 0; i < 150; i++) {
      if (i % 3 !== 0) c.peer.sendRtp('1', rtpPacket(96, 3000 + i, i * 900, 0x99, Buffer.from('v')), 13);
      if (i % 10 === 0) await sleep(20);
    }
    await sleep(2200);
    assert.equal(w.client.events.filter((e) => e.janus === 'slowlink').length, 0);
  } finally {
    c.close();
    await w.stop();
  }
});

test('RTCP: SR/RR both ways give RTT, jitter and remote-loss figures in handle_info; media receiving:false after no_media_timer', { timeout: 20_000 }, async () => {
  const w = await makeWorld((cfg) => (cfg.media.no_media_timer = 1));
  const c = await makeClient();
  try {
    const { s, h } = await negotiate(w, c);
    for (let i = 0; i < 60; i++) {
      c.peer.sendRtp('1', rtpPacket(96, 7000 + i, i * 3000, 0x31, Buffer.alloc(200, i)), 212);
      c.peer.sendRtp('0', rtpPacket(111, 100 + i, i * 960, 0x32, Buffer.alloc(60, i)), 72);
      await sleep(25);
    }
    const server = w.plane.peerOf(h)!;
    await waitFor('RTT from the client RRs', () => server.rtpStats().rttMs > 0, 5000);
    const st = server.rtpStats();
    const vout = st.outbound.find((x) => x.mid === '1')!;
    assert.ok(vout.packets >= 60 && vout.rttMs > 0 && vout.rttMs < 1000, JSON.stringify(vout));
    const vin = st.inbound.find((x) => x.mid === '1')!;
    assert.equal(vin.packets, 60);
    assert.ok(vin.remotePacketsSent > 0, 'the client SR was read');
    const info = (await w.gw.admin.handle({ janus: 'handle_info', transaction: 'i', admin_secret: 'adm', session_id: s, handle_id: h })) as JanusMessage & { info: { webrtc: { media: Record<string, { mid: string; rtcp: { main: Record<string, number> }; stats: { in: { packets: number } } }> } } };
    const video = info.info.webrtc.media['1']!;
    assert.equal(video.mid, '1');
    // Whole milliseconds, as Janus reports it: on loopback the RTT may round to 0.
    assert.ok(Number.isInteger(video.rtcp.main.rtt) && Math.abs(video.rtcp.main.rtt! - server.rtpStats().rttMs) <= 1, JSON.stringify(video.rtcp));
    assert.equal(video.rtcp.main['in-media-link-quality'], 100, 'no loss on loopback');
    assert.equal(video.stats.in.packets, 60);
    // Silence: receiving:false for both m-lines after no_media_timer.
    const off = await waitFor('media receiving:false x2', () => {
      const m = w.client.events.filter((e) => e.janus === 'media' && e.receiving === false);
      return m.length >= 2 ? m : undefined;
    }, 5000);
    assert.deepEqual(off.map((e) => e.mid).sort(), ['0', '1']);
    assert.equal(off[0]!.seconds, 1);
  } finally {
    c.close();
    await w.stop();
  }
});

test('data channel: 256 KiB binary and text messages through the EchoTest, intact and in order; every DTLS datagram <= dtls_mtu', { timeout: 60_000 }, async () => {
  const w = await makeWorld();
  const c = await makeClient();
  let biggestToClient = 0;
  try {
    await negotiate(w, c);
    c.socket.drop = (m) => {
      if (m[0]! >= 20 && m[0]! <= 63 && m.length > biggestToClient) biggestToClient = m.length;
      return false;
    };
    c.peer.sendData('big', 'warm-up');
    await waitFor('warm-up echoed', () => c.data.find((d) => d.label === 'big' && d.text.endsWith('warm-up')), 8000);
    const size = 256 * 1024;
    const bin = Buffer.alloc(size);
    for (let i = 0; i < size; i++) bin[i] = (i * 7 + (i >> 8)) & 0xff;
    const text = 'x'.repeat(size - 40) + 'END';
    const received: Array<{ label: string; data: Buffer; binary: boolean }> = [];
    const sink = (c.peer as unknown as { sink: { incomingData: (l: string, d: Buffer, b: boolean) => void } }).sink;
    const orig = sink.incomingData;
    sink.incomingData = (l, d, b) => {
      received.push({ label: l, data: Buffer.from(d), binary: b });
      orig(l, d, b);
    };
    c.peer.sendData('big', bin);
    c.peer.sendData('big', text);
    c.peer.sendData('big', 'last');
    await waitFor('three echoes', () => (received.length >= 3 ? received : undefined), 40_000);
    assert.equal(received[0]!.binary, true);
    assert.equal(received[0]!.data.length, size);
    assert.equal(createHash('sha256').update(received[0]!.data).digest('hex'), createHash('sha256').update(bin).digest('hex'));
    assert.equal(received[1]!.binary, false);
    assert.equal(received[1]!.data.toString('utf8'), `Janus EchoTest here! You wrote: ${text}`);
    assert.equal(received[2]!.data.toString('utf8'), 'Janus EchoTest here! You wrote: last', 'in order');
    assert.ok(biggestToClient > 1000, `datagrams were large (${biggestToClient})`);
    assert.ok(biggestToClient <= w.config.media.dtls_mtu, `largest DTLS datagram ${biggestToClient} <= dtls_mtu ${w.config.media.dtls_mtu}`);
  } finally {
    c.close();
    await w.stop();
  }
});
