import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseSdp, writeSdp, pickCodec, parseCodecList, answerDirection, answerMediaSection, buildAnswer, buildOffer,
  describeMedia, allowedExtensions, extmapsFor, EXT, offerMediaSection, SdpNegotiationError, type Direction,
} from '../../../src/media/sdp/index.js';
import { CHROME_OFFER, FIREFOX_OFFER, CHROME_SUBSCRIBER_ANSWER } from './fixtures.js';

const chrome = parseSdp(CHROME_OFFER);
const firefox = parseSdp(FIREFOX_OFFER);
const [cAudio, cVideo, cData] = chrome.media as [typeof chrome.media[0], typeof chrome.media[0], typeof chrome.media[0]];

test('pickCodec audio: preference order, static payload types', () => {
  const opus = pickCodec(cAudio, ['opus', 'pcmu'])!;
  assert.equal(opus.name, 'opus');
  assert.equal(opus.pt, 111);
  assert.deepEqual(opus.rtpmap, { pt: 111, codec: 'opus', clock: 48000, channels: 2 });
  assert.deepEqual(opus.fmtp?.params, { minptime: '10', useinbandfec: '1' });
  assert.deepEqual(opus.rtcpFbs, [{ pt: 111, type: 'transport-cc' }]);
  assert.equal(opus.rtx, undefined);
  assert.equal(pickCodec(cAudio, ['pcma', 'opus'])!.pt, 8);
  assert.equal(pickCodec(cAudio, ['g722'])!.pt, 9);
  assert.equal(pickCodec(cAudio, ['isac16'] as const), undefined);
  assert.equal(pickCodec(cAudio, ['isac16', 'pcmu'])!.pt, 0);
  assert.equal(pickCodec(cAudio, []), undefined);
  // Firefox writes G722/8000/1 and the static PCMU/PCMA without relying on the table.
  assert.equal(pickCodec(firefox.media[0]!, ['g722'])!.pt, 9);
  // A static pt without rtpmap still resolves.
  const bare = parseSdp('v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 8 0\r\n').media[0]!;
  const pcmu = pickCodec(bare, ['pcmu'])!;
  assert.deepEqual([pcmu.pt, pcmu.rtpmap.codec, pcmu.rtpmap.clock], [0, 'PCMU', 8000]);
});

test('pickCodec video: rtx, vp9 profile, h264 profile and packetization-mode, av1', () => {
  const vp8 = pickCodec(cVideo, ['vp8', 'h264'])!;
  assert.deepEqual([vp8.name, vp8.pt, vp8.rtx?.pt, vp8.rtx?.fmtp.params['apt']], ['vp8', 96, 97, '96']);
  assert.equal(vp8.rtcpFbs.length, 5);
  assert.equal(pickCodec(cVideo, ['vp9'])!.pt, 98, 'profile 0 preferred by default');
  const vp9p2 = pickCodec(cVideo, ['vp9'], { vp9Profile: '2' })!;
  assert.deepEqual([vp9p2.pt, vp9p2.rtx?.pt], [100, 101]);
  assert.equal(pickCodec(cVideo, [{ name: 'vp9', profile: '2' }])!.pt, 100);
  assert.equal(pickCodec(cVideo, ['vp9'], { vp9Profile: '1' }), undefined);
  assert.equal(pickCodec(cVideo, ['h264'])!.pt, 102, 'first packetization-mode=1');
  assert.equal(pickCodec(cVideo, ['h264'], { h264Profile: '42e01f' })!.pt, 106);
  assert.equal(pickCodec(cVideo, [{ name: 'h264', profile: '42E01F' }])!.pt, 106, 'case-insensitive');
  assert.equal(pickCodec(cVideo, ['h264'], { h264Profile: '42e01f', h264PacketizationMode: 0 })!.pt, 108);
  assert.equal(pickCodec(cVideo, ['h264'], { h264PacketizationMode: 0 })!.pt, 104);
  assert.equal(pickCodec(cVideo, ['h264'], { h264Profile: '640028' })!.pt, 112, 'same profile, other level');
  assert.equal(pickCodec(cVideo, ['h264'], { h264Profile: '4d001f' }), undefined);
  assert.deepEqual(pickCodec(cVideo, ['h265', 'av1'])!.rtx?.pt, 36);
  // Firefox: H264 126 is mode 1, 97 is mode 0 (absent).
  assert.equal(pickCodec(firefox.media[1]!, ['h264'])!.pt, 126);
  assert.equal(pickCodec(firefox.media[1]!, ['h264'], { h264PacketizationMode: 0 })!.pt, 97);
  assert.equal(pickCodec(firefox.media[1]!, ['h264'])!.rtx?.pt, 127);
});

test('parseCodecList keeps known names of the right kind', () => {
  assert.deepEqual(parseCodecList('opus, PCMU,vp8,bogus,pcma', 'audio'), ['opus', 'pcmu', 'pcma']);
  assert.deepEqual(parseCodecList('vp9,h264,opus', 'video'), ['vp9', 'h264']);
});

test('answerDirection', () => {
  const cases: [Direction, Direction, Direction][] = [
    ['sendrecv', 'sendrecv', 'sendrecv'],
    ['sendonly', 'sendrecv', 'recvonly'],
    ['recvonly', 'sendrecv', 'sendonly'],
    ['inactive', 'sendrecv', 'inactive'],
    ['sendrecv', 'recvonly', 'recvonly'],
    ['sendrecv', 'sendonly', 'sendonly'],
    ['sendonly', 'sendonly', 'inactive'],
    ['recvonly', 'recvonly', 'inactive'],
    ['sendrecv', 'inactive', 'inactive'],
  ];
  for (const [offer, ours, expected] of cases) assert.equal(answerDirection(offer, ours), expected, `${offer}/${ours}`);
});

test('publisher answer for a simulcast video m-line', () => {
  const r = answerMediaSection(cVideo, {
    codecs: ['vp8'],
    direction: 'recvonly',
    extensions: allowedExtensions('video', { playoutDelay: false }),
  });
  assert.equal(r.rejected, false);
  const m = r.section;
  assert.equal(m.mid, '1');
  assert.equal(m.direction, 'recvonly');
  assert.deepEqual(m.formats, ['96', '97']);
  assert.deepEqual(m.rtpmaps.map((x) => x.codec), ['VP8', 'rtx']);
  assert.deepEqual(m.fmtps, [{ pt: 97, params: { apt: '96' }, raw: 'apt=96' }]);
  assert.deepEqual(m.rtcpFbs.map((f) => `${f.type}${f.subtype ? ' ' + f.subtype : ''}`), ['goog-remb', 'transport-cc', 'ccm fir', 'nack', 'nack pli']);
  assert.deepEqual(m.extmaps.map((e) => [e.id, e.uri]), [
    [2, EXT.absSendTime], [13, EXT.videoOrientation], [3, EXT.transportWideCc], [4, EXT.mid], [10, EXT.rid], [11, EXT.repairedRid],
  ]);
  assert.deepEqual(m.rids, ['q', 'h', 'f'].map((id) => ({ id, direction: 'recv', payloads: [], params: {} })));
  assert.deepEqual(m.simulcast, { recv: [[{ rid: 'q', paused: false }], [{ rid: 'h', paused: false }], [{ rid: 'f', paused: false }]] });
  assert.equal(m.rtcpMux, true);
  assert.equal(r.codec?.pt, 96);
  assert.equal(r.codec?.rtx?.pt, 97);
});

test('answer without transport-cc extension drops transport-cc feedback; rtx and simulcast can be refused', () => {
  const r = answerMediaSection(cVideo, { codecs: ['vp8'], direction: 'recvonly', extensions: [EXT.mid], rtx: false, simulcast: false });
  assert.deepEqual(r.section.formats, ['96']);
  assert.ok(!r.section.rtcpFbs.some((f) => f.type === 'transport-cc'));
  assert.deepEqual(r.section.extmaps.map((e) => e.uri), [EXT.mid]);
  assert.deepEqual(r.section.rids, []);
  assert.equal(r.section.simulcast, undefined);
  assert.equal(r.codec?.rtx, undefined);
});

test('audio answer: audio-level per room flag, fmtp overrides, our stream', () => {
  const on = answerMediaSection(cAudio, { codecs: ['opus'], fmtp: { usedtx: '1', minptime: null },
    send: { ssrc: 1234, cname: 'janus', msid: { stream: 'janus', track: 'janusa' } } });
  assert.equal(on.section.direction, 'sendrecv');
  assert.deepEqual(on.section.fmtps[0]!.params, { useinbandfec: '1', usedtx: '1' });
  assert.equal(on.section.fmtps[0]!.raw, 'useinbandfec=1;usedtx=1');
  assert.ok(on.section.extmaps.some((e) => e.uri === EXT.audioLevel));
  assert.deepEqual(on.section.msids, [{ stream: 'janus', track: 'janusa' }]);
  assert.deepEqual(on.section.ssrcs, [
    { ssrc: 1234, attribute: 'cname', value: 'janus' },
    { ssrc: 1234, attribute: 'msid', value: 'janus janusa' },
  ]);
  const off = answerMediaSection(cAudio, { codecs: ['opus'], direction: 'recvonly', extensions: allowedExtensions('audio', { audioLevel: false }),
    send: { ssrc: 1, cname: 'x' } });
  assert.ok(!off.section.extmaps.some((e) => e.uri === EXT.audioLevel));
  assert.deepEqual(off.section.ssrcs, [], 'no ssrcs when we do not send');
});

test('rejections keep mid and use port 0', () => {
  const r = answerMediaSection(cVideo, { codecs: ['h265'] });
  assert.equal(r.rejected, true);
  assert.equal(r.reason, 'no common codec');
  assert.equal(r.section.port, 0);
  assert.equal(r.section.mid, '1');
  assert.equal(r.section.direction, 'inactive');
  assert.deepEqual(r.section.formats, ['96']);
  const declined = answerMediaSection(cData, { accept: false });
  assert.deepEqual([declined.rejected, declined.section.port, declined.section.kind, declined.section.formats], [true, 0, 'application', ['webrtc-datachannel']]);
  const zero = structuredClone(cAudio);
  zero.port = 0;
  assert.equal(answerMediaSection(zero, { codecs: ['opus'] }).rejected, true);
  zero.bundleOnly = true;
  assert.equal(answerMediaSection(zero, { codecs: ['opus'] }).rejected, false, 'bundle-only port 0 is not a rejection');
  const text = structuredClone(cAudio);
  text.kind = 'text';
  assert.equal(answerMediaSection(text, { codecs: ['opus'] }).rejected, true);
});

test('data channel answers (RFC 8841 and legacy sctpmap)', () => {
  const r = answerMediaSection(cData, {});
  assert.deepEqual([r.section.kind, r.section.protocol, r.section.formats, r.section.sctpPort, r.section.maxMessageSize, r.section.mid],
    ['application', 'UDP/DTLS/SCTP', ['webrtc-datachannel'], 5000, 262144, '2']);
  const legacy = parseSdp('v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=application 9 DTLS/SCTP 5000\r\na=mid:d\r\na=sctpmap:5000 webrtc-datachannel 1024\r\n').media[0]!;
  const lr = answerMediaSection(legacy, {});
  assert.deepEqual(lr.section.formats, ['5000']);
  assert.deepEqual(lr.section.attributes, [{ name: 'sctpmap', value: '5000 webrtc-datachannel 1024' }]);
  assert.equal(lr.section.sctpPort, undefined);
});

test('buildAnswer for the whole Chrome offer, written and re-read', () => {
  const { description, results } = buildAnswer(chrome, (m) => ({
    codecs: m.kind === 'audio' ? ['opus'] : ['vp8'],
    direction: 'recvonly',
  }), { origin: { sessionId: '77', address: '203.0.113.5' }, sessionName: 'VideoRoom 1234' });
  assert.equal(results.every((r) => !r.rejected), true);
  assert.deepEqual(description.groups, [{ semantics: 'BUNDLE', mids: ['0', '1', '2'] }]);
  const text = writeSdp(description);
  assert.match(text, /^v=0\r\no=- 77 1 IN IP4 203\.0\.113\.5\r\ns=VideoRoom 1234\r\n/);
  const info = describeMedia(parseSdp(text));
  assert.deepEqual(info.map((i) => [i.mid, i.kind, i.direction, i.pt, i.codec, i.rtxPt]), [
    ['0', 'audio', 'recvonly', 111, 'opus', undefined],
    ['1', 'video', 'recvonly', 96, 'vp8', 97],
    ['2', 'application', 'sendrecv', undefined, undefined, undefined],
  ]);
  assert.deepEqual(info[1]!.rids.map((r) => r.id), ['q', 'h', 'f']);
});

test('subscriber offer: sendonly m-lines with SSRCs, FID group, msid, cname; then the Chrome answer', () => {
  const exts = extmapsFor([EXT.mid, EXT.audioLevel, EXT.transportWideCc]);
  assert.deepEqual(exts.map((e) => e.id), [1, 2, 3]);
  const offer = buildOffer([
    { kind: 'audio', mid: '0', codec: { name: 'opus', pt: 111 }, extensions: exts,
      send: { ssrc: 11111, cname: 'janus', msid: { stream: 'janus', track: 'janusa' } } },
    { kind: 'video', mid: '1', codec: { name: 'vp8', pt: 96, rtxPt: 97 }, extensions: extmapsFor([EXT.mid, EXT.transportWideCc]),
      send: { ssrc: 22222, rtxSsrc: 33333, cname: 'janus', msid: { stream: 'janus', track: 'janusv' } } },
    { kind: 'application', mid: '2' },
  ], { origin: { sessionId: '1' } });
  const text = writeSdp(offer);
  assert.match(text, /\r\na=group:BUNDLE 0 1 2\r\n/);
  assert.match(text, /\r\na=msid-semantic: WMS \*\r\n/);
  assert.match(text, /\r\na=rtpmap:111 opus\/48000\/2\r\na=rtcp-fb:111 transport-cc\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n/);
  assert.match(text, /\r\na=ssrc-group:FID 22222 33333\r\na=ssrc:22222 cname:janus\r\na=ssrc:22222 msid:janus janusv\r\na=ssrc:33333 cname:janus\r\n/);
  assert.match(text, /\r\nm=application 9 UDP\/DTLS\/SCTP webrtc-datachannel\r\na=mid:2\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n/);
  const info = describeMedia(parseSdp(text));
  assert.deepEqual(info[0]!.ssrcs, [11111]);
  assert.deepEqual(info[0]!.direction, 'sendonly');
  assert.deepEqual(info[1]!.fid, [[22222, 33333]]);
  assert.deepEqual(info[1]!.mediaSsrcs, [22222]);
  assert.deepEqual([info[1]!.pt, info[1]!.rtxPt, info[1]!.cname], [96, 97, 'janus']);
  assert.deepEqual(info[1]!.msid, { stream: 'janus', track: 'janusv' });
  assert.deepEqual(info[1]!.extmapIds, { [EXT.mid]: 1, [EXT.transportWideCc]: 2 });
  assert.ok(offer.media[1]!.rtcpFbs.some((f) => f.type === 'transport-cc'));
  // The client's answer maps back onto what we offered.
  const ans = describeMedia(parseSdp(CHROME_SUBSCRIBER_ANSWER));
  assert.deepEqual(ans.map((i) => [i.mid, i.direction, i.pt, i.rtxPt]), [['0', 'recvonly', 111, undefined], ['1', 'recvonly', 96, 97], ['2', 'sendrecv', undefined, undefined]]);
  assert.equal(ans[1]!.extmapIds[EXT.videoOrientation], 12);
});

test('offer details: data-only, disabled slots, errors', () => {
  const dc = buildOffer([{ kind: 'application', mid: 'd', maxMessageSize: 65536 }]);
  assert.equal(dc.media.length, 1);
  assert.deepEqual(dc.groups, [{ semantics: 'BUNDLE', mids: ['d'] }]);
  assert.equal(dc.media[0]!.maxMessageSize, 65536);
  const disabled = offerMediaSection({ kind: 'video', mid: '3', codec: { name: 'vp8', pt: 96 }, disabled: true, send: { ssrc: 5, cname: 'c' } });
  assert.deepEqual([disabled.port, disabled.direction, disabled.ssrcs.length], [0, 'inactive', 0]);
  const withDisabled = buildOffer([{ kind: 'audio', mid: 'a', codec: { name: 'opus', pt: 111 } }, { kind: 'video', mid: 'v', codec: { name: 'vp8', pt: 96 }, disabled: true }]);
  assert.deepEqual(withDisabled.groups[0]!.mids, ['a']);
  const noRtxPt = offerMediaSection({ kind: 'video', mid: 'x', codec: { name: 'h264', pt: 102 }, send: { ssrc: 5, rtxSsrc: 6, cname: 'c' } });
  assert.deepEqual(noRtxPt.ssrcGroups, [], 'no FID group without an RTX payload type');
  assert.equal(noRtxPt.fmtps[0]!.params['profile-level-id'], '42e01f');
  assert.throws(() => buildOffer([{ kind: 'application', mid: '0' }, { kind: 'application', mid: '0' }]), SdpNegotiationError);
  assert.throws(() => offerMediaSection({ kind: 'audio', mid: '0', codec: { name: 'vp8', pt: 96 } }), SdpNegotiationError);
});

test('describeMedia: Chrome offer and Firefox offer', () => {
  const c = describeMedia(chrome);
  assert.deepEqual([c[0]!.pt, c[0]!.codec, c[0]!.ssrcs, c[0]!.cname], [111, 'opus', [1001211867], 'Lq3x2Z9sdfNb5ATK']);
  assert.equal(c[0]!.extmapIds[EXT.audioLevel], 1);
  assert.deepEqual([c[1]!.pt, c[1]!.rtxPt, c[1]!.direction], [96, 97, 'sendonly']);
  assert.deepEqual(c[1]!.simulcast?.send?.length, 3);
  assert.equal(c[1]!.extmapIds[EXT.rid], 10);
  assert.equal(c[2]!.kind, 'application');
  const f = describeMedia(firefox);
  assert.deepEqual([f[1]!.pt, f[1]!.rtxPt], [120, 124]);
  assert.deepEqual(f[1]!.ssrcs, [3546004397, 2345454]);
  assert.deepEqual(f[1]!.mediaSsrcs, [3546004397]);
  assert.deepEqual(f[1]!.fid, [[3546004397, 2345454]]);
  assert.equal(f[0]!.msid?.stream, '{5a990edd-0568-ac40-8d97-310fc33f3411}');
  // SSRC simulcast (SIM group) as older janus.js/Chrome munging produces.
  const sim = parseSdp('v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=mid:0\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n' +
    'a=ssrc-group:SIM 1 2 3\r\na=ssrc-group:FID 1 4\r\na=ssrc-group:FID 2 5\r\na=ssrc-group:FID 3 6\r\na=ssrc:1 cname:x\r\n');
  const s = describeMedia(sim)[0]!;
  assert.deepEqual(s.sim, [1, 2, 3]);
  assert.deepEqual(s.mediaSsrcs, [1, 2, 3]);
  assert.deepEqual(s.fid, [[1, 4], [2, 5], [3, 6]]);
});
