import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseSdp, writeSdp, buildAnswer, buildOffer, mergeTransport, mergeTransportSdp, extractRemoteTransport,
  candidateAddress, defaultCandidate, isValidFingerprint, SdpValidationError, SdpParseError, SdpError, type LocalTransport,
} from '../../../src/media/sdp/index.js';
import { CHROME_OFFER, CHROME_SUBSCRIBER_ANSWER, FIREFOX_OFFER, JANUS_ANSWER } from './fixtures.js';

const FP = 'D2:B9:31:8F:DF:24:D8:0E:ED:D2:EF:25:9E:AF:6F:B8:34:AE:53:9C:E6:F3:8F:F2:64:15:FA:E8:7F:53:2D:38';
const LOCAL: LocalTransport = {
  iceUfrag: '8f3a',
  icePwd: '0bc4a2f19d7e6a5b3c2d1e0f',
  iceLite: true,
  fingerprint: FP,
  setup: 'active',
  candidates: [
    'candidate:1 1 tcp 1518280447 203.0.113.5 9 typ host tcptype passive',
    'candidate:2 1 udp 2015363327 203.0.113.5 20022 typ host',
    'a=candidate:3 1 udp 2015363583 2001:db8::5 20024 typ host',
  ],
  endOfCandidates: true,
};

function pluginAnswer(): ReturnType<typeof buildAnswer>['description'] {
  const offer = parseSdp(CHROME_OFFER);
  return buildAnswer(offer, (m) => ({ codecs: m.kind === 'audio' ? ['opus'] : ['h265'], direction: 'recvonly' })).description;
}

test('mergeTransport: ice-lite, per m-line credentials, fingerprint, setup, rtcp-mux, candidates, default candidate', () => {
  const plugin = pluginAnswer(); // video rejected (no h265 offered)
  const before = structuredClone(plugin);
  const d = mergeTransport(plugin, LOCAL);
  assert.deepEqual(plugin, before, 'input not modified');
  assert.equal(d.iceLite, true);
  assert.deepEqual(d.groups, [{ semantics: 'BUNDLE', mids: ['0', '2'] }]);
  const [a, v, dc] = d.media as [typeof d.media[0], typeof d.media[0], typeof d.media[0]];
  for (const m of [a, dc]) {
    assert.equal(m.iceUfrag, '8f3a');
    assert.equal(m.icePwd, '0bc4a2f19d7e6a5b3c2d1e0f');
    assert.deepEqual(m.iceOptions, ['trickle']);
    assert.deepEqual(m.fingerprints, [{ hash: 'sha-256', value: FP }]);
    assert.equal(m.setup, 'active');
    assert.equal(m.port, 20022);
    assert.deepEqual(m.connection, { netType: 'IN', addrType: 'IP4', address: '203.0.113.5' });
  }
  assert.equal(a.rtcpMux, true);
  assert.equal(dc.rtcpMux, false, 'no rtcp-mux on the SCTP m-line');
  assert.equal(a.candidates.length, 3);
  assert.equal(a.candidates[2], 'candidate:3 1 udp 2015363583 2001:db8::5 20024 typ host', 'a= prefix normalised');
  assert.equal(a.endOfCandidates, true);
  assert.deepEqual(dc.candidates, [], 'candidates only on the BUNDLE tag by default');
  assert.equal(dc.endOfCandidates, false);
  // rejected m-line: port 0, no transport attributes
  assert.equal(v.port, 0);
  assert.equal(v.mid, '1');
  assert.equal(v.iceUfrag, undefined);
  assert.deepEqual(v.fingerprints, []);
  assert.deepEqual(v.candidates, []);
  const text = writeSdp(d);
  assert.match(text, /^v=0\r\no=[^\r]+\r\ns=-\r\nt=0 0\r\na=ice-lite\r\na=group:BUNDLE 0 2\r\n/);
  assert.match(text, /\r\nm=audio 20022 UDP\/TLS\/RTP\/SAVPF 111\r\nc=IN IP4 203\.0\.113\.5\r\na=ice-ufrag:8f3a\r\n/);
  assert.match(text, /\r\na=candidate:2 1 udp 2015363327 203\.0\.113\.5 20022 typ host\r\n/);
  assert.match(text, /\r\nm=video 0 UDP\/TLS\/RTP\/SAVPF 96\r\nc=IN IP4 0\.0\.0\.0\r\na=mid:1\r\na=inactive\r\n/);
  // What we produce passes our own remote validation (as the browser's would).
  const back = extractRemoteTransport(text, { type: 'answer' });
  assert.deepEqual([back.iceUfrag, back.setup, back.iceLite, back.trickle, back.endOfCandidates], ['8f3a', 'active', true, true, true]);
});

test('mergeTransport options: no candidates, IPv6 default, all media, no trickle, actpass offers from text', () => {
  const offer = writeSdp(buildOffer([{ kind: 'audio', mid: 'a', codec: { name: 'opus', pt: 111 } }, { kind: 'application', mid: 'd' }]));
  const none = mergeTransport(offer, { ...LOCAL, iceLite: false, candidates: [], endOfCandidates: false, setup: 'actpass' });
  assert.equal(none.iceLite, false);
  assert.deepEqual(none.media.map((m) => [m.port, m.connection?.address, m.setup]), [[9, '0.0.0.0', 'actpass'], [9, '0.0.0.0', 'actpass']]);
  const v6 = mergeTransport(offer, { ...LOCAL, candidates: ['candidate:9 1 udp 1 fe80::1 5000 typ host'], candidatesOnAllMedia: true, trickle: false });
  assert.deepEqual(v6.media.map((m) => [m.port, m.connection]), [[5000, { netType: 'IN', addrType: 'IP6', address: 'fe80::1' }], [5000, { netType: 'IN', addrType: 'IP6', address: 'fe80::1' }]]);
  assert.deepEqual(v6.media.map((m) => m.candidates.length), [1, 1]);
  assert.deepEqual(v6.media.map((m) => m.endOfCandidates), [true, true]);
  assert.equal(v6.media[0]!.iceOptions, undefined);
  const text = mergeTransportSdp(offer, LOCAL);
  assert.equal(typeof text, 'string');
  assert.ok(text.includes('a=ice-lite\r\n'));
  // Stale transport attributes a plugin copied from elsewhere are replaced, not duplicated.
  const stale = parseSdp(JANUS_ANSWER);
  const merged = mergeTransport(stale, { ...LOCAL, iceUfrag: 'new1', candidates: [] });
  assert.deepEqual(merged.media.map((m) => m.iceUfrag), ['new1', 'new1']);
  assert.deepEqual(merged.media.map((m) => m.candidates.length), [0, 0]);
  assert.equal(writeSdp(merged).match(/a=fingerprint/g)?.length, 2);
  // m-lines without mid get one so BUNDLE can name them.
  const nomid = parseSdp('v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n');
  const named = mergeTransport(nomid, LOCAL);
  assert.deepEqual(named.media.map((m) => m.mid), ['0_', '0']);
  assert.deepEqual(named.groups[0]!.mids, ['0_', '0']);
});

test('mergeTransport rejects unusable local transport', () => {
  const d = pluginAnswer();
  assert.throws(() => mergeTransport(d, { ...LOCAL, fingerprint: 'nope' }), SdpValidationError);
  assert.throws(() => mergeTransport(d, { ...LOCAL, fingerprint: FP.slice(3) }), SdpValidationError);
  assert.throws(() => mergeTransport(d, { ...LOCAL, iceUfrag: '' }), SdpValidationError);
  assert.throws(() => mergeTransport(d, { ...LOCAL, icePwd: 'a b' }), SdpValidationError);
  assert.throws(() => mergeTransport('v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n', LOCAL), (e) => e instanceof SdpValidationError && e.janusCode === 465);
  assert.throws(() => mergeTransport('garbage', LOCAL), SdpParseError);
});

test('extractRemoteTransport: Chrome offer', () => {
  const r = extractRemoteTransport(CHROME_OFFER, { type: 'offer' });
  assert.equal(r.iceUfrag, 'Fh7d');
  assert.equal(r.icePwd, 'mdxGvpAOfHQ9x5bKbUBZEPzH');
  assert.equal(r.fingerprint.hash, 'sha-256');
  assert.match(r.fingerprint.value, /^7B:8B/);
  assert.equal(r.setup, 'actpass');
  assert.equal(r.setupExplicit, true);
  assert.equal(r.trickle, true);
  assert.equal(r.endOfCandidates, false);
  assert.equal(r.iceRestart, false);
  assert.equal(r.iceLite, false);
  assert.deepEqual(r.bundle, ['0', '1', '2']);
  assert.equal(r.transportMid, '0');
  assert.deepEqual(r.candidates, { 0: [], 1: [], 2: [] });
  assert.equal(r.media.length, 3);
});

test('extractRemoteTransport: Firefox offer uses session-level fingerprint and ice-options', () => {
  const r = extractRemoteTransport(FIREFOX_OFFER, { type: 'offer' });
  assert.equal(r.iceUfrag, '58b99ead');
  assert.equal(r.fingerprint.value.slice(0, 5), '1A:2B');
  assert.equal(r.trickle, true);
  assert.deepEqual(r.media.map((m) => m.fingerprints.length), [1, 1, 1]);
});

test('extractRemoteTransport: answers, candidates per mid, end-of-candidates, ICE restart', () => {
  const janus = extractRemoteTransport(JANUS_ANSWER, { type: 'answer' });
  assert.equal(janus.iceLite, true);
  assert.deepEqual(janus.candidates['0'], [
    'candidate:1 1 udp 2015363327 203.0.113.5 20022 typ host',
    'candidate:2 1 udp 2015363583 2001:db8::5 20024 typ host',
  ]);
  assert.equal(janus.candidates['1']!.length, 1);
  assert.equal(janus.allCandidates.length, 3);
  assert.equal(janus.endOfCandidates, true);
  const sub = extractRemoteTransport(CHROME_SUBSCRIBER_ANSWER, { type: 'answer', previous: { iceUfrag: 'wW4S', icePwd: 'Ymk6oSa/V+yE0TU+O82WwSDK' } });
  assert.equal(sub.setup, 'active');
  assert.equal(sub.iceRestart, false);
  const restarted = CHROME_SUBSCRIBER_ANSWER.replaceAll('a=ice-ufrag:wW4S', 'a=ice-ufrag:Zz9q');
  assert.equal(extractRemoteTransport(restarted, { type: 'answer', previous: { iceUfrag: 'wW4S' } }).iceRestart, true);
  const pwdOnly = CHROME_SUBSCRIBER_ANSWER.replaceAll('a=ice-pwd:Ymk6oSa/V+yE0TU+O82WwSDK', 'a=ice-pwd:Ymk6oSa/V+yE0TU+O82WwXXX');
  assert.equal(extractRemoteTransport(pwdOnly, { type: 'answer', previous: { iceUfrag: 'wW4S', icePwd: 'Ymk6oSa/V+yE0TU+O82WwSDK' } }).iceRestart, true);
  // setup missing: defaults per offer/answer
  const noSetup = CHROME_OFFER.replaceAll('a=setup:actpass\r\n', '');
  const ns = extractRemoteTransport(noSetup, { type: 'offer' });
  assert.deepEqual([ns.setup, ns.setupExplicit], ['actpass', false]);
  assert.equal(extractRemoteTransport(noSetup, { type: 'answer' }).setup, 'active');
});

test('extractRemoteTransport: BUNDLE tag rejected falls back to the next usable m-line', () => {
  const d = parseSdp(CHROME_OFFER);
  d.media[0]!.port = 0;
  d.media[1]!.iceUfrag = 'vvvv';
  const r = extractRemoteTransport(d, { type: 'offer' });
  assert.equal(r.transportMid, '1');
  assert.equal(r.iceUfrag, 'vvvv');
  assert.deepEqual(Object.keys(r.candidates), ['1', '2']);
  assert.equal(r.media[0]!.rejected, true);
});

const invalid: [string, (s: string) => string, RegExp][] = [
  ['no fingerprint', (s) => s.replace(/a=fingerprint:[^\r]+\r\n/g, ''), /fingerprint/],
  ['no ufrag', (s) => s.replace(/a=ice-ufrag:[^\r]+\r\n/g, ''), /ICE ufrag/],
  ['no pwd on one m-line', (s) => s.replace('a=ice-pwd:mdxGvpAOfHQ9x5bKbUBZEPzH\r\na=ice-options:trickle\r\na=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08\r\na=setup:actpass\r\na=mid:2', 'a=mid:2'), /ICE ufrag\/pwd/],
  ['bad fingerprint value', (s) => s.replaceAll('sha-256 7B:8B', 'sha-256 7B8B'), /no valid DTLS fingerprint/],
  ['unknown hash only', (s) => s.replaceAll('sha-256 7B', 'md5 7B'), /no valid DTLS fingerprint/],
  ['holdconn', (s) => s.replaceAll('a=setup:actpass', 'a=setup:holdconn'), /holdconn/],
  ['all rejected', (s) => s.replace(/^m=(\w+) 9 /gm, 'm=$1 0 '), /every m-line is rejected/],
  ['duplicate mid', (s) => s.replace('a=mid:1', 'a=mid:0'), /duplicate mid/],
  ['no m-lines', (s) => s.slice(0, s.indexOf('m=audio')), /no m-lines/],
];

for (const [name, mutate, reason] of invalid) {
  test(`extractRemoteTransport rejects: ${name}`, () => {
    assert.throws(() => extractRemoteTransport(mutate(CHROME_OFFER), { type: 'offer' }), (e: unknown) => {
      assert.ok(e instanceof SdpValidationError, String(e));
      assert.ok(e instanceof SdpError);
      assert.equal(e.janusCode, 465);
      assert.match(e.message, reason);
      return true;
    });
  });
}

test('extractRemoteTransport rejects an answer with setup actpass', () => {
  assert.throws(() => extractRemoteTransport(CHROME_OFFER, { type: 'answer' }), (e) => e instanceof SdpValidationError && /actpass/.test(e.message) && e.mindex === 0 && e.mid === '0');
});

test('candidate helpers', () => {
  assert.deepEqual(candidateAddress('candidate:842163049 1 udp 1677729535 198.51.100.7 54321 typ srflx raddr 10.0.0.2 rport 54321 generation 0'),
    { component: 1, transport: 'udp', address: '198.51.100.7', port: 54321, type: 'srflx' });
  assert.equal(candidateAddress('candidate:1 1 udp 1 1.2.3.4 99999 typ host'), undefined);
  assert.equal(candidateAddress('garbage'), undefined);
  assert.equal(defaultCandidate(['candidate:1 1 udp 1 abcd-1234.local 5000 typ host', 'candidate:2 2 udp 1 1.2.3.4 5001 typ host', 'candidate:3 1 udp 1 1.2.3.4 5002 typ host'])?.port, 5002);
  assert.equal(defaultCandidate([]), undefined);
  assert.equal(isValidFingerprint({ hash: 'sha-256', value: FP }), true);
  assert.equal(isValidFingerprint({ hash: 'SHA-256', value: FP.toLowerCase() }), true);
  assert.equal(isValidFingerprint({ hash: 'sha-1', value: FP }), false);
});
