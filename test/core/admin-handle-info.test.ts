/**
 * Admin handle_info in Janus 1.x's layout (`info.webrtc`), on a live PeerConnection: the gateway
 * with the real media plane and the EchoTest in process, a client PeerConnection of our own media
 * modules over real UDP on 127.0.0.1 (test/media/peer/helpers.ts). The differential test against
 * Janus 1.1.2 is test/e2e/handle-info-differential.test.ts; this one pins the values we can know
 * exactly from the negotiation and the traffic we send.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JanusMessage } from '../../src/core/messages.js';
import { buildOffer, EXT, extmapsFor } from '../../src/media/sdp/negotiate.js';
import { parseSdp } from '../../src/media/sdp/parse.js';
import { writeSdp } from '../../src/media/sdp/write.js';
import { applyAnswer, makeClient, makeWorld, rtpPacket, sleep, waitFor } from '../media/peer/helpers.js';

type Obj = Record<string, unknown>;
type Ev = JanusMessage & { jsep?: { type: string; sdp: string } };

test('handle_info on a live PeerConnection: webrtc.ice/dtls/extensions/bwe/media, flags, times, counters that grow', { timeout: 30_000 }, async () => {
  const w = await makeWorld();
  const c = await makeClient();
  try {
    const [s, h] = await w.attachEcho();
    const info = async (extra: Obj = {}): Promise<Obj> => {
      const r = await w.gw.admin.handle({ janus: 'handle_info', transaction: 'i', admin_secret: 'adm', session_id: s, handle_id: h, ...extra });
      assert.equal(r.janus, 'success', JSON.stringify(r));
      return r.info as Obj;
    };
    // Before any JSEP: no PeerConnection, so no webrtc part.
    const idle = await info();
    assert.equal(idle.webrtc, undefined);
    assert.equal((idle.flags as Obj).negotiated, false);

    const offer = buildOffer([
      { kind: 'audio', mid: '0', direction: 'sendrecv', codec: { name: 'opus', pt: 111 }, extensions: extmapsFor([EXT.mid, EXT.audioLevel, EXT.transportWideCc]) },
      { kind: 'video', mid: '1', direction: 'sendrecv', codec: { name: 'vp8', pt: 96, rtxPt: 97 }, extensions: [{ id: 1, uri: EXT.mid }, { id: 3, uri: EXT.transportWideCc }] },
      { kind: 'application', mid: '2' },
    ]);
    const sdp = c.peer.setLocalDescription(writeSdp(offer), 'offer');
    const offerIds = new Map(parseSdp(sdp).media.flatMap((m) => m.extmaps.map((e) => [e.uri, e.id] as const)));
    await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: 'neg', body: { audio: true, video: true }, jsep: { type: 'offer', sdp } });
    const ev = await waitFor('the answer', () => (w.client.events as Ev[]).find((e) => e.transaction === 'neg' && e.jsep));
    const answer = parseSdp(ev.jsep!.sdp);
    applyAnswer(c, ev.jsep!.sdp);
    await waitFor('client up', () => c.up, 10_000);
    await waitFor('webrtcup', () => w.client.events.find((e) => e.janus === 'webrtcup'), 10_000);

    const send = (n: number, from: number): void => {
      for (let i = from; i < from + n; i++) {
        c.peer.sendRtp('1', rtpPacket(96, i, i * 3000, 0x77, Buffer.alloc(300, i)), 312);
        c.peer.sendRtp('0', rtpPacket(111, i, i * 960, 0x78, Buffer.alloc(50, i)), 62);
      }
    };
    send(20, 0);
    await waitFor('echoed video', () => c.rtp.filter((p) => p.stream.mid === '1').length >= 20);
    const a = await info();
    send(20, 20);
    await waitFor('more echoed video', () => c.rtp.filter((p) => p.stream.mid === '1').length >= 40);
    await sleep(50);
    const b = await info();

    // Top level, Janus's keys in Janus's words.
    assert.equal(b['ice-mode'], 'full');
    assert.equal(b['ice-role'], 'controlled');
    assert.equal((b.sdps as Obj).profile, 'UDP/TLS/RTP/SAVPF');
    assert.equal(b.streams, undefined, 'the 0.x layout is gone');
    const flags = b.flags as Obj;
    for (const f of ['got-offer', 'got-answer', 'negotiated', 'ready', 'trickle', 'data-channels', 'has-audio', 'has-video', 'new-datachan-sdp']) assert.equal(flags[f], true, `flags.${f}`);
    // The EchoTest answers video without RTX (its media policy), so RFC 4588 is not negotiated.
    const answerRtx = answer.media[1]!.rtpmaps.some((r) => r.codec.toLowerCase() === 'rtx');
    assert.equal(flags['rfc4588-rtx'], answerRtx);
    for (const f of ['stopped', 'ice-restart', 'alert', 'cleaning', 'e2ee']) assert.equal(flags[f], false, `flags.${f}`);

    // Times: monotonic µs on one clock, in order.
    const webrtc = b.webrtc as { ice: Obj; dtls: Obj; extensions: Obj; bwe: Obj; media: Record<string, Obj> };
    const order = [b.created, b['agent-created'], webrtc.ice.gathered, webrtc.ice.connected, webrtc.dtls['handshake-started'], webrtc.dtls.connected, b.current_time] as number[];
    for (const t of order) assert.ok(Number.isInteger(t), `a time is not integer µs: ${JSON.stringify(order)}`);
    for (let i = 1; i < order.length; i++) assert.ok(order[i]! >= order[i - 1]!, `times out of order: ${JSON.stringify(order)}`);
    assert.ok((b['agent-started'] as number) >= (b['agent-created'] as number));

    // ICE.
    assert.deepEqual([webrtc.ice.stream_id, webrtc.ice.component_id, webrtc.ice.state], [1, 1, 'ready']);
    const local = webrtc.ice['local-candidates'] as string[];
    assert.ok(local.length > 0 && local.every((x) => / 1 udp \d+ 127\.0\.0\.1 \d+ typ host$/.test(x) && !x.startsWith('candidate:')), JSON.stringify(local));
    assert.match(webrtc.ice['selected-pair'] as string, /^127\.0\.0\.1:\d+ \[host,udp\] <-> 127\.0\.0\.1:\d+ \[host,udp\]$/);

    // DTLS: we answer actpass with active, like Janus.
    const dtls = webrtc.dtls;
    assert.equal(dtls['dtls-role'], 'active');
    assert.equal(dtls['dtls-state'], 'connected');
    assert.equal(dtls.valid, true);
    assert.equal(dtls.ready, true);
    assert.equal(dtls['srtp-profile'], 'SRTP_AES128_CM_SHA1_80');
    assert.equal(dtls['sctp-association'], true);
    assert.equal(dtls['remote-fingerprint-hash'], 'sha-256');
    const fpOf = (d: ReturnType<typeof parseSdp>) => d.fingerprints[0] ?? d.media[0]!.fingerprints[0]!;
    assert.equal(dtls['remote-fingerprint'], fpOf(parseSdp(sdp)).value.toUpperCase(), "the client's fingerprint, without the hash name");
    assert.equal(dtls.fingerprint, fpOf(answer).value.toUpperCase(), 'ours, as in the answer');

    // Extensions and BWE: the ids the client offered, kept in our answer.
    // (transport-cc when the answer kept it; EchoTest does.)
    const answered = new Set(answer.media.flatMap((m) => m.extmaps.map((e) => e.uri)));
    assert.ok(answered.has(EXT.mid) && answered.has(EXT.audioLevel));
    const expected = Object.fromEntries([...offerIds].filter(([uri]) => answered.has(uri)));
    assert.deepEqual(webrtc.extensions, expected);
    const twcc = answered.has(EXT.transportWideCc);
    assert.equal(twcc, true, 'EchoTest answers transport-cc');
    const { portunus: estimate, ...bwe } = webrtc.bwe;
    assert.deepEqual(bwe, { twcc, 'twcc-ext-id': offerIds.get(EXT.transportWideCc) });
    // Portunus only: the send-side estimate state (its counters, whatever the client does with them).
    assert.equal(typeof (estimate as Obj).twccFeedbacksSent, 'number');

    // Media keyed by mindex.
    assert.deepEqual(Object.keys(webrtc.media), ['0', '1', '2']);
    const audio = webrtc.media['0']!;
    const video = webrtc.media['1']!;
    assert.deepEqual([audio.type, audio.mindex, audio.mid, audio.do_nacks], ['audio', 0, '0', false]);
    assert.deepEqual([video.type, video.mindex, video.mid, video.do_nacks], ['video', 1, '1', true]);
    assert.deepEqual(audio.direction, { send: true, recv: true });
    assert.deepEqual(audio.codecs, { pt: 111, codec: 'opus' });
    assert.deepEqual(video.codecs, answerRtx ? { pt: 96, codec: 'vp8', 'rtx-pt': 97 } : { pt: 96, codec: 'vp8' });
    const clientMedia = (c.peer.info().webrtc as { media: Record<string, { ssrc: Obj }> }).media;
    const vssrc = video.ssrc as Obj;
    assert.equal(vssrc['ssrc-peer'], clientMedia['1']!.ssrc.ssrc, "the client's video SSRC");
    assert.equal(vssrc.ssrc, clientMedia['1']!.ssrc['ssrc-peer'], 'our video SSRC, as the client sees it');
    assert.equal(vssrc['ssrc-rtx'], answer.media[1]!.ssrcGroups.find((g) => g.semantics === 'FID')?.ssrcs[1], 'our RTX SSRC from the answer FID group (none without RTX)');
    assert.equal(((video.rtcp as Obj).main as Obj).base, 90000);
    assert.equal(((audio.rtcp as Obj).main as Obj).base, 48000);
    const vin = (video.stats as { in: Obj; out: Obj }).in;
    assert.deepEqual(Object.keys(vin).sort(), ['bytes', 'bytes_lastsec', 'nacks', 'packets', 'retransmissions']);
    assert.deepEqual(Object.keys((audio.stats as { in: Obj }).in).sort(), ['bytes', 'bytes_lastsec', 'packets'], 'no NACK figures on audio, like Janus');
    assert.equal(vin.packets, 40);
    assert.equal(vin.bytes, 40 * 312);
    const before = (a.webrtc as { media: Record<string, { stats: { in: Obj; out: Obj } }> }).media;
    assert.equal(before['1']!.stats.in.packets, 20);
    assert.ok(((video.stats as { out: Obj }).out.packets as number) >= 40);
    assert.ok(((video.stats as { out: Obj }).out.bytes as number) > (before['1']!.stats.out.bytes as number));
    assert.deepEqual(Object.keys(webrtc.media['2']!), ['type', 'mindex', 'mid', 'stats']);
    assert.equal(webrtc.media['2']!.type, 'data');

    // plugin_only: the handle's identity and the plugin's part, nothing else.
    const po = await info({ plugin_only: true });
    assert.deepEqual(Object.keys(po).sort(), ['handle_id', 'plugin', 'plugin_specific', 'session_id', 'session_last_activity', 'session_timeout', 'session_transport']);

    // After a hangup the PeerConnection is gone, and so is the webrtc part.
    await w.req({ janus: 'hangup', session_id: s, handle_id: h });
    await waitFor('peer closed', () => w.plane.peerCount === 0);
    assert.equal((await info()).webrtc, undefined);
  } finally {
    c.close();
    await w.stop();
  }
});
