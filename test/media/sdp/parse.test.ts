import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSdp, writeSdp, SdpParseError, SdpError, makeFmtp, emptySession, emptyMediaSection } from '../../../src/media/sdp/index.js';
import { ALL_FIXTURES, CHROME_OFFER, CHROME_SUBSCRIBER_ANSWER, FIREFOX_OFFER, JANUS_ANSWER } from './fixtures.js';

test('Chrome offer: session level', () => {
  const d = parseSdp(CHROME_OFFER);
  assert.equal(d.version, 0);
  assert.deepEqual(d.origin, {
    username: '-', sessionId: '4611731400430051336', sessionVersion: '2', netType: 'IN', addrType: 'IP4', address: '127.0.0.1',
  });
  assert.equal(d.name, '-');
  assert.deepEqual(d.timing, { start: 0, stop: 0 });
  assert.deepEqual(d.groups, [{ semantics: 'BUNDLE', mids: ['0', '1', '2'] }]);
  assert.deepEqual(d.msidSemantic, { semantic: 'WMS', ids: ['5yHvIwAFnWtXShuiC7fVCbDkgRAeprTFi3vH'] });
  assert.equal(d.extmapAllowMixed, true);
  assert.equal(d.iceLite, false);
  assert.deepEqual(d.attributes, []);
  assert.equal(d.media.length, 3);
  assert.deepEqual(d.media.map((m) => [m.kind, m.mid, m.direction]), [['audio', '0', 'sendrecv'], ['video', '1', 'sendonly'], ['application', '2', undefined]]);
});

test('Chrome offer: audio m-line', () => {
  const a = parseSdp(CHROME_OFFER).media[0]!;
  assert.equal(a.port, 9);
  assert.equal(a.protocol, 'UDP/TLS/RTP/SAVPF');
  assert.deepEqual(a.formats, ['111', '63', '9', '0', '8', '13', '110', '126']);
  assert.deepEqual(a.connection, { netType: 'IN', addrType: 'IP4', address: '0.0.0.0' });
  assert.deepEqual(a.rtcp, { port: 9, connection: { netType: 'IN', addrType: 'IP4', address: '0.0.0.0' } });
  assert.equal(a.iceUfrag, 'Fh7d');
  assert.equal(a.icePwd, 'mdxGvpAOfHQ9x5bKbUBZEPzH');
  assert.deepEqual(a.iceOptions, ['trickle']);
  assert.equal(a.fingerprints[0]!.hash, 'sha-256');
  assert.match(a.fingerprints[0]!.value, /^7B:8B:/);
  assert.equal(a.setup, 'actpass');
  assert.equal(a.rtcpMux, true);
  assert.equal(a.rtcpRsize, true);
  assert.deepEqual(a.rtpmaps[0], { pt: 111, codec: 'opus', clock: 48000, channels: 2 });
  assert.deepEqual(a.rtpmaps[2], { pt: 9, codec: 'G722', clock: 8000 });
  assert.deepEqual(a.fmtps[0], { pt: 111, params: { minptime: '10', useinbandfec: '1' }, raw: 'minptime=10;useinbandfec=1' });
  assert.deepEqual(a.fmtps[1], { pt: 63, params: { '111/111': '' }, raw: '111/111' });
  assert.deepEqual(a.rtcpFbs, [{ pt: 111, type: 'transport-cc' }]);
  assert.deepEqual(a.extmaps[0], { id: 1, uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level' });
  assert.equal(a.extmaps.length, 4);
  assert.deepEqual(a.msids, [{ stream: '5yHvIwAFnWtXShuiC7fVCbDkgRAeprTFi3vH', track: '2f0a3b1c-8d6e-4f5a-9b7c-1d2e3f4a5b6c' }]);
  assert.deepEqual(a.ssrcs, [
    { ssrc: 1001211867, attribute: 'cname', value: 'Lq3x2Z9sdfNb5ATK' },
    { ssrc: 1001211867, attribute: 'msid', value: '5yHvIwAFnWtXShuiC7fVCbDkgRAeprTFi3vH 2f0a3b1c-8d6e-4f5a-9b7c-1d2e3f4a5b6c' },
  ]);
  assert.deepEqual(a.attributes, []);
});

test('Chrome offer: simulcast video and data channel', () => {
  const d = parseSdp(CHROME_OFFER);
  const v = d.media[1]!;
  assert.deepEqual(v.rids, [
    { id: 'q', direction: 'send', payloads: [], params: {} },
    { id: 'h', direction: 'send', payloads: [], params: {} },
    { id: 'f', direction: 'send', payloads: [], params: {} },
  ]);
  assert.deepEqual(v.simulcast, { send: [[{ rid: 'q', paused: false }], [{ rid: 'h', paused: false }], [{ rid: 'f', paused: false }]] });
  assert.deepEqual(v.rtcpFbs.filter((f) => f.pt === 96), [
    { pt: 96, type: 'goog-remb' }, { pt: 96, type: 'transport-cc' }, { pt: 96, type: 'ccm', subtype: 'fir' },
    { pt: 96, type: 'nack' }, { pt: 96, type: 'nack', subtype: 'pli' },
  ]);
  assert.equal(v.fmtps.find((f) => f.pt === 102)!.params['profile-level-id'], '42001f');
  assert.equal(v.extmaps.find((e) => e.uri.endsWith('rtp-stream-id'))!.id, 10);
  const dc = d.media[2]!;
  assert.equal(dc.kind, 'application');
  assert.equal(dc.protocol, 'UDP/DTLS/SCTP');
  assert.deepEqual(dc.formats, ['webrtc-datachannel']);
  assert.equal(dc.sctpPort, 5000);
  assert.equal(dc.maxMessageSize, 262144);
  assert.equal(dc.rtcpMux, false);
});

test('Firefox offer: session-level fingerprint, extmap direction, FID group, canonical fmtp order', () => {
  const d = parseSdp(FIREFOX_OFFER);
  assert.equal(d.fingerprints.length, 1);
  assert.deepEqual(d.iceOptions, ['trickle']);
  assert.deepEqual(d.msidSemantic, { semantic: 'WMS', ids: ['*'] });
  const [a, v, dc] = d.media as [typeof d.media[0], typeof d.media[0], typeof d.media[0]];
  assert.equal(a.fingerprints.length, 0);
  assert.equal(a.iceUfrag, '58b99ead');
  assert.deepEqual(a.extmaps[1], { id: 2, direction: 'recvonly', uri: 'urn:ietf:params:rtp-hdrext:csrc-audio-level' });
  assert.deepEqual(a.rtpmaps[1], { pt: 9, codec: 'G722', clock: 8000, channels: 1 });
  assert.deepEqual(a.fmtps.find((f) => f.pt === 101)!.params, { '0-15': '' });
  assert.deepEqual(v.ssrcGroups, [{ semantics: 'FID', ssrcs: [3546004397, 2345454] }]);
  // fmtp lines were written before the rtpmaps; the model orders them like the rtpmaps.
  assert.deepEqual(v.fmtps.map((f) => f.pt), [120, 124, 121, 125, 126, 127, 97, 98]);
  assert.equal(v.rtcpFbs.length, 20);
  assert.equal(dc.maxMessageSize, 1073741823);
  assert.equal(dc.direction, 'sendrecv');
});

test('Janus answer: ice-lite, candidates, end-of-candidates, simulcast recv', () => {
  const d = parseSdp(JANUS_ANSWER);
  assert.equal(d.iceLite, true);
  assert.equal(d.name, 'VideoRoom 1234');
  const a = d.media[0]!;
  assert.equal(a.port, 20022);
  assert.deepEqual(a.candidates, [
    'candidate:1 1 udp 2015363327 203.0.113.5 20022 typ host',
    'candidate:2 1 udp 2015363583 2001:db8::5 20024 typ host',
  ]);
  assert.equal(a.endOfCandidates, true);
  const v = d.media[1]!;
  assert.deepEqual(v.rids.map((r) => `${r.id}/${r.direction}`), ['q/recv', 'h/recv', 'f/recv']);
  assert.deepEqual(v.simulcast?.recv?.map((s) => s[0]!.rid), ['q', 'h', 'f']);
  assert.equal(v.simulcast?.send, undefined);
});

test('Chrome recvonly subscriber answer', () => {
  const d = parseSdp(CHROME_SUBSCRIBER_ANSWER);
  assert.deepEqual(d.msidSemantic, { semantic: 'WMS', ids: [] });
  assert.deepEqual(d.media.map((m) => m.direction), ['recvonly', 'recvonly', undefined]);
  assert.deepEqual(d.media.map((m) => m.setup), ['active', 'active', 'active']);
  assert.deepEqual(d.media[1]!.formats, ['96', '97']);
});

test('rid restrictions, paused and alternative simulcast streams', () => {
  const sdp = [
    'v=0', 'o=- 1 1 IN IP4 0.0.0.0', 's=-', 't=0 0',
    'm=video 9 UDP/TLS/RTP/SAVPF 96 97',
    'a=mid:v',
    'a=rid:1 send pt=96,97;max-width=1280;max-height=720',
    'a=rid:2 send max-fps=15',
    'a=rid:3 recv',
    'a=simulcast:send 1,~2;3 recv ~4',
    '',
  ].join('\r\n');
  const m = parseSdp(sdp).media[0]!;
  assert.deepEqual(m.rids[0], { id: '1', direction: 'send', payloads: [96, 97], params: { 'max-width': '1280', 'max-height': '720' } });
  assert.deepEqual(m.rids[1], { id: '2', direction: 'send', payloads: [], params: { 'max-fps': '15' } });
  assert.deepEqual(m.simulcast, {
    send: [[{ rid: '1', paused: false }, { rid: '2', paused: true }], [{ rid: '3', paused: false }]],
    recv: [[{ rid: '4', paused: true }]],
  });
  const text = writeSdp(parseSdp(sdp));
  assert.match(text, /\r\na=rid:1 send pt=96,97;max-width=1280;max-height=720\r\n/);
  assert.match(text, /\r\na=simulcast:send 1,~2;3 recv ~4\r\n/);
});

test('unknown attributes and lines are preserved verbatim and in order', () => {
  const sdp = [
    'v=0', 'o=- 1 1 IN IP4 0.0.0.0', 's=-', 'i=session info', 't=0 0', 'a=x-session-thing:1 2 3', 'a=flag-only',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111',
    'a=mid:0',
    'a=x-google-flag:conference',
    'a=rtpmap:111 opus/48000/2',
    'a=ptime:20',
    'a=empty-value:',
    'a=zzz',
    'a=sendrecv:weird',
    '',
  ].join('\r\n');
  const d = parseSdp(sdp);
  assert.deepEqual(d.attributes, [{ name: 'x-session-thing', value: '1 2 3' }, { name: 'flag-only' }]);
  assert.deepEqual(d.extraLines, [{ type: 'i', value: 'session info' }]);
  assert.deepEqual(d.media[0]!.attributes, [
    { name: 'x-google-flag', value: 'conference' },
    { name: 'ptime', value: '20' },
    { name: 'empty-value', value: '' },
    { name: 'zzz' },
    { name: 'sendrecv', value: 'weird' },
  ]);
  const text = writeSdp(d);
  const lines = text.split('\r\n');
  const order = ['a=x-google-flag:conference', 'a=ptime:20', 'a=empty-value:', 'a=zzz', 'a=sendrecv:weird'].map((l) => lines.indexOf(l));
  assert.ok(order.every((i) => i > 0), 'all unknown attributes written');
  assert.deepEqual([...order].sort((x, y) => x - y), order, 'in their original order');
  assert.ok(lines.indexOf('i=session info') < lines.indexOf('t=0 0'));
  assert.deepEqual(parseSdp(text), d);
});

test('round trip: parse(write(parse(x))) == parse(x) and the text is a fixpoint', () => {
  for (const [name, sdp] of Object.entries(ALL_FIXTURES)) {
    const d = parseSdp(sdp);
    const text = writeSdp(d);
    assert.deepEqual(parseSdp(text), d, name);
    assert.equal(writeSdp(parseSdp(text)), text, name);
    assert.ok(text.endsWith('\r\n'), name);
    assert.doesNotMatch(text.replace(/\r\n/g, ''), /[\r\n]/, `${name}: only CRLF line ends`);
  }
});

test('Chrome-shaped fixtures are written back byte for byte', () => {
  // Our attribute order follows Chrome's, so its SDPs survive unchanged.
  assert.equal(writeSdp(parseSdp(CHROME_OFFER)), CHROME_OFFER);
  assert.equal(writeSdp(parseSdp(CHROME_SUBSCRIBER_ANSWER)), CHROME_SUBSCRIBER_ANSWER);
});

test('hand-built model round trips', () => {
  const d = emptySession({ sessionId: '42', address: '10.0.0.1' });
  const m = emptyMediaSection('video', 'UDP/TLS/RTP/SAVPF', ['96', '97']);
  m.mid = 'v0';
  m.direction = 'sendonly';
  m.rtpmaps.push({ pt: 96, codec: 'VP8', clock: 90000 }, { pt: 97, codec: 'rtx', clock: 90000 });
  m.fmtps.push(makeFmtp(97, { apt: '96' }));
  m.rtcpFbs.push({ pt: '*', type: 'nack' }, { pt: 96, type: 'ccm', subtype: 'fir' });
  m.ssrcGroups.push({ semantics: 'SIM', ssrcs: [1, 2, 3] });
  m.bundleOnly = true;
  m.bandwidths.push({ type: 'TIAS', value: 1500000 });
  d.media.push(m);
  const text = writeSdp(d);
  assert.match(text, /\r\na=rtcp-fb:\* nack\r\n/);
  assert.match(text, /\r\nb=TIAS:1500000\r\n/);
  const back = parseSdp(text);
  // The writer puts per-pt rtcp-fb lines before wildcard ones; the model is compared after the same ordering.
  assert.deepEqual(back.media[0]!.rtcpFbs, [{ pt: 96, type: 'ccm', subtype: 'fir' }, { pt: '*', type: 'nack' }]);
  back.media[0]!.rtcpFbs = m.rtcpFbs;
  assert.deepEqual(back, d);
});

test('writer refuses values that would inject lines', () => {
  const d = parseSdp(CHROME_OFFER);
  d.media[0]!.mid = '0\r\na=evil';
  assert.throws(() => writeSdp(d), SdpError);
});

test('LF-only line ends and trailing blank lines are accepted', () => {
  const lf = CHROME_OFFER.replace(/\r\n/g, '\n') + '\n\n';
  assert.deepEqual(parseSdp(lf), parseSdp(CHROME_OFFER));
});

test('fmtp params: __proto__ key is data, not a prototype', () => {
  const sdp = ['v=0', 'o=- 1 1 IN IP4 0.0.0.0', 's=-', 't=0 0', 'm=audio 9 RTP/AVP 0', 'a=fmtp:0 __proto__=x;a=1', ''].join('\r\n');
  const f = parseSdp(sdp).media[0]!.fmtps[0]!;
  assert.equal(Object.getPrototypeOf(f.params), Object.prototype);
  assert.equal(Object.keys(f.params).length, 2);
  assert.equal(f.params['a'], '1');
});

const HEAD = ['v=0', 'o=- 1 1 IN IP4 0.0.0.0', 's=-', 't=0 0'];
const malformed: [string, string[], RegExp][] = [
  ['empty', [], /empty SDP/],
  ['no v=', ['o=- 1 1 IN IP4 0.0.0.0'], /must start with v=/],
  ['bad version', ['v=1'], /version/],
  ['missing o=', ['v=0', 's=-', 't=0 0'], /m= before|missing o=/],
  ['missing t=', ['v=0', 'o=- 1 1 IN IP4 0.0.0.0', 's=-'], /missing t=/],
  ['short o=', ['v=0', 'o=- 1 1 IN IP4', 's=-', 't=0 0'], /o= needs/],
  ['garbage line', [...HEAD, 'hello world'], /type>=<value/],
  ['m= before t=', ['v=0', 'o=- 1 1 IN IP4 0.0.0.0', 's=-', 'm=audio 9 RTP/AVP 0'], /m= before/],
  ['bad port', [...HEAD, 'm=audio 70000 RTP/AVP 0'], /port/],
  ['no formats', [...HEAD, 'm=audio 9 RTP/AVP'], /without formats/],
  ['bad rtpmap', [...HEAD, 'm=audio 9 RTP/AVP 0', 'a=rtpmap:0 PCMU'], /rtpmap/],
  ['pt > 127', [...HEAD, 'm=audio 9 RTP/AVP 0', 'a=rtpmap:300 PCMU/8000'], /payload type/],
  ['bad fingerprint', [...HEAD, 'a=fingerprint:sha-256'], /fingerprint/],
  ['bad setup', [...HEAD, 'm=audio 9 RTP/AVP 0', 'a=setup:sideways'], /setup/],
  ['bad extmap', [...HEAD, 'm=audio 9 RTP/AVP 0', 'a=extmap:x urn:foo'], /extmap/],
  ['bad ssrc', [...HEAD, 'm=audio 9 RTP/AVP 0', 'a=ssrc:99999999999 cname:x'], /ssrc/],
  ['bad rid', [...HEAD, 'm=video 9 RTP/AVP 96', 'a=rid:h sideways'], /rid/],
  ['bad simulcast', [...HEAD, 'm=video 9 RTP/AVP 96', 'a=simulcast:send'], /simulcast/],
  ['empty simulcast rid', [...HEAD, 'm=video 9 RTP/AVP 96', 'a=simulcast:send a;;b'], /empty simulcast rid/],
  ['bad sctp-port', [...HEAD, 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'a=sctp-port:abc'], /sctp-port/],
  ['v= in media', [...HEAD, 'm=audio 9 RTP/AVP 0', 'v=0'], /inside a media/],
  ['attribute without name', [...HEAD, 'a=:x'], /without a name/],
  ['duplicate c=', [...HEAD, 'm=audio 9 RTP/AVP 0', 'c=IN IP4 1.2.3.4', 'c=IN IP4 1.2.3.4'], /duplicate c=/],
  ['empty candidate', [...HEAD, 'm=audio 9 RTP/AVP 0', 'a=candidate:'], /candidate/],
  ['empty ufrag', [...HEAD, 'a=ice-ufrag:'], /ice-ufrag/],
];

for (const [name, lines, reason] of malformed) {
  test(`malformed SDP is a typed error: ${name}`, () => {
    const text = lines.join('\r\n') + (lines.length ? '\r\n' : '');
    assert.throws(() => parseSdp(text), (e: unknown) => {
      assert.ok(e instanceof SdpParseError, `got ${String(e)}`);
      assert.ok(e instanceof SdpError);
      assert.equal(e.janusCode, 465);
      assert.match(e.message, reason);
      return true;
    });
  });
}

test('parse error carries the line number', () => {
  const text = [...HEAD, 'm=audio 9 RTP/AVP 0', 'a=rtpmap:zz'].join('\r\n');
  assert.throws(() => parseSdp(text), (e: unknown) => e instanceof SdpParseError && e.line === 6 && e.text === 'a=rtpmap:zz');
});

test('non-string and oversized input', () => {
  assert.throws(() => parseSdp(undefined as unknown as string), SdpParseError);
  assert.throws(() => parseSdp(CHROME_OFFER, { maxLength: 100 }), SdpParseError);
});
