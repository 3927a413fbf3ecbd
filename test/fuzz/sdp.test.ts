/**
 * SDP as a client offer reaches it (src/media/sdp, src/core/jsep-validate.ts): validateJsep throws
 * only JanusError; parseSdp returns a model or throws SdpError; a parsed model writes back to text
 * that parses to the same model, and feeds describeMedia, extractRemoteTransport (offer and answer),
 * buildAnswer with the option sets the plugins use, and mergeTransport, each failing only with
 * SdpError. Offers are generated from arbitraries (odd ports, candidates, codecs, rids, extmaps,
 * fingerprints) and then mutated at line and byte level; the browser fixtures are mutated too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fc, check, boundedHeap, mutatedLines, mutatedText, typedOnly, withinTime , REPLAYING } from './harness.js';
import {
  buildAnswer, describeMedia, extractRemoteTransport, mergeTransport, parseSdp, SdpError, writeSdp, EXT,
  type AnswerOptions, type SessionDescription,
} from '../../src/media/sdp/index.js';
import { validateJsep } from '../../src/core/jsep-validate.js';
import { JanusError } from '../../src/core/errors.js';
import { ALL_FIXTURES } from '../media/sdp/fixtures.js';

const tokenish = fc.stringMatching(/^[A-Za-z0-9+/=_-]{0,12}$/);
const odd = fc.oneof(tokenish, fc.constantFrom('', ' ', '-1', '0', '65536', '4294967296', '99999999999999999999', 'NaN', ':', '\t', '\u0000', '\u{1F600}'));
const port = fc.oneof(fc.constantFrom('0', '9', '1', '65535', '65536', '-1', '9/2', 'x'), fc.integer({ min: 0, max: 65535 }).map(String));
const address = fc.constantFrom('0.0.0.0', '127.0.0.1', '255.255.255.255', '::', '::1', 'host.local', 'example.com', '1.2.3', '');

const candidate = fc
  .tuple(fc.constantFrom('1', '2', '0'), fc.constantFrom('udp', 'tcp', 'UDP', 'x'), address, port, fc.constantFrom('host', 'srflx', 'relay', 'x'))
  .map(([comp, tr, addr, p, typ]) => `a=candidate:1 ${comp} ${tr} 2122260223 ${addr} ${p} typ ${typ}`);

const attribute = fc.oneof(
  candidate,
  fc.tuple(fc.integer({ min: 0, max: 130 }), fc.constantFrom('opus/48000/2', 'VP8/90000', 'VP9/90000', 'H264/90000', 'rtx/90000', 'red/90000', 'AV1/90000', 'PCMU/8000', 'x', '')).map(([pt, c]) => `a=rtpmap:${pt} ${c}`),
  fc.tuple(fc.integer({ min: 0, max: 130 }), fc.constantFrom('apt=96', 'apt=', 'profile-level-id=42e01f;packetization-mode=1', 'minptime=10;useinbandfec=1', 'profile-id=2', '=;=;', '')).map(([pt, f]) => `a=fmtp:${pt} ${f}`),
  fc.tuple(fc.integer({ min: 0, max: 130 }), fc.constantFrom('nack', 'nack pli', 'ccm fir', 'goog-remb', 'transport-cc', '')).map(([pt, f]) => `a=rtcp-fb:${pt} ${f}`),
  fc.tuple(fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constant(65536)), fc.constantFrom(...Object.values(EXT), 'urn:x', '')).map(([id, uri]) => `a=extmap:${id} ${uri}`),
  fc.tuple(fc.constantFrom('sha-256', 'sha-1', 'md5', ''), fc.constantFrom('AB:CD', '7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08', 'zz', '')).map(([h, v]) => `a=fingerprint:${h} ${v}`),
  fc.constantFrom('a=sendrecv', 'a=sendonly', 'a=recvonly', 'a=inactive', 'a=rtcp-mux', 'a=rtcp-rsize', 'a=setup:actpass', 'a=setup:active', 'a=setup:passive', 'a=setup:bogus', 'a=ice-lite', 'a=end-of-candidates',
    'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx', 'a=ice-ufrag:', 'a=ice-pwd:', 'a=ice-options:trickle', 'a=extmap-allow-mixed', 'a=bundle-only', 'a=msid-semantic: WMS *'),
  fc.tuple(fc.constantFrom('h', 'm', 'l', '', 'a;b'), fc.constantFrom('send', 'recv', 'x')).map(([r, d]) => `a=rid:${r} ${d}`),
  fc.constantFrom('a=simulcast:send h;m;l', 'a=simulcast:recv ~h', 'a=simulcast:send', 'a=simulcast:'),
  fc.tuple(fc.nat(), fc.constantFrom('cname:x', 'msid:a b', '')).map(([ssrc, v]) => `a=ssrc:${ssrc} ${v}`),
  fc.tuple(fc.constantFrom('FID', 'SIM', 'FEC-FR'), fc.array(fc.nat(), { maxLength: 3 })).map(([s, ids]) => `a=ssrc-group:${s} ${ids.join(' ')}`),
  fc.tuple(tokenish).map(([m]) => `a=mid:${m}`),
  fc.tuple(odd, odd).map(([a, b]) => `a=msid:${a} ${b}`),
  fc.tuple(odd).map(([v]) => `a=sctp-port:${v}`),
  fc.tuple(odd).map(([v]) => `a=max-message-size:${v}`),
  fc.tuple(odd, odd).map(([k, v]) => `a=${k}:${v}`),
  fc.tuple(odd).map(([v]) => `b=AS:${v}`),
);

const mediaSection = fc
  .record({
    kind: fc.constantFrom('audio', 'video', 'application', 'text', ''),
    port,
    proto: fc.constantFrom('UDP/TLS/RTP/SAVPF', 'UDP/DTLS/SCTP', 'DTLS/SCTP', 'RTP/AVP', 'x'),
    fmts: fc.array(fc.oneof(fc.integer({ min: 0, max: 130 }).map(String), fc.constantFrom('webrtc-datachannel', '5000', 'x')), { maxLength: 5 }),
    c: fc.option(address),
    attrs: fc.array(attribute, { maxLength: 14 }),
  })
  .map((m) => [`m=${m.kind} ${m.port} ${m.proto} ${m.fmts.join(' ')}`, ...(m.c !== null ? [`c=IN IP4 ${m.c}`] : []), ...m.attrs].join('\r\n'));

const offerText: fc.Arbitrary<string> = fc
  .record({ ver: fc.constantFrom('0', '0', '1'), sess: fc.array(attribute, { maxLength: 4 }), media: fc.array(mediaSection, { maxLength: 4 }), group: fc.array(tokenish, { maxLength: 4 }) })
  .map((r) => [`v=${r.ver}`, 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0', `a=group:BUNDLE ${r.group.join(' ')}`, ...r.sess, ...r.media].join('\r\n') + '\r\n');

const fixtures = fc.constantFrom(...Object.values(ALL_FIXTURES));
const anySdp = fc.oneof(
  { weight: 3, arbitrary: offerText },
  { weight: 2, arbitrary: mutatedLines(offerText) },
  { weight: 3, arbitrary: mutatedLines(fixtures) },
  { weight: 2, arbitrary: mutatedText(fixtures, 4) },
  { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
);

/** What the EchoTest, VideoRoom publisher and a data-only peer ask of buildAnswer. */
const ANSWER_SETS: Array<(kind: string) => AnswerOptions> = [
  (kind) => (kind === 'audio' ? { codecs: ['opus', 'pcmu'], direction: 'sendrecv' } : kind === 'video' ? { codecs: ['vp8', 'h264', 'vp9'], direction: 'sendrecv', rtx: false } : {}),
  (kind) => (kind === 'audio' ? { codecs: ['opus'], direction: 'recvonly' } : kind === 'video' ? { codecs: [{ name: 'h264', profile: '42e01f' }, 'vp9'], direction: 'recvonly', simulcast: true } : {}),
  (kind) => (kind === 'application' ? {} : { accept: false }),
];

const LOCAL = { iceUfrag: 'ufrg', icePwd: 'a-local-password-1234567', fingerprint: '7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08', setup: 'passive' as const, candidates: ['candidate:1 1 udp 2122260223 127.0.0.1 40000 typ host'], endOfCandidates: true };

/** How deep the generated inputs get (asserted below so the property is not vacuous). */
const reached = { parsed: 0, answered: 0 };

function throughSdpPaths(text: string): void {
  // The JSEP the core validates first (its sanity check of the text), then the media plane's parse.
  typedOnly(() => validateJsep({ type: 'offer', sdp: text, trickle: true }), [JanusError]);
  const d = typedOnly(() => parseSdp(text), [SdpError]);
  if (!d) return;
  reached.parsed++;
  const again = typedOnly(() => parseSdp(writeSdp(d)), []);
  assert.deepEqual(again, d, 'write(parse(x)) parses back to the same model');
  typedOnly(() => describeMedia(d), [SdpError]);
  for (const type of ['offer', 'answer'] as const) typedOnly(() => extractRemoteTransport(d, { type, previous: { iceUfrag: 'old' } }), [SdpError]);
  for (const set of ANSWER_SETS) {
    const a: ReturnType<typeof buildAnswer> | undefined = typedOnly((): ReturnType<typeof buildAnswer> => buildAnswer(d, (m) => set(m.kind)), [SdpError]);
    if (!a) continue;
    assert.equal(a.description.media.length, d.media.length, 'one answer m-line per offered m-line');
    if (a.results.some((r) => !r.rejected)) reached.answered++;
    const merged = typedOnly(() => mergeTransport(a.description as SessionDescription, LOCAL), [SdpError]);
    if (merged) typedOnly(() => parseSdp(writeSdp(merged)), []);
  }
}

test('SDP offers: generated, line-mutated, byte-mutated and raw texts go through every path with SdpError only', async () => {
  await boundedHeap(16 << 20, () => {
    check('sdp paths', [anySdp], (text) => withinTime(2000, () => throughSdpPaths(text)), 1500);
  });
  if (!REPLAYING) assert.ok(reached.parsed > 100 && reached.answered > 20, `inputs reach the parser's model (${reached.parsed}) and accepted answers (${reached.answered})`);
});

test('SDP: size stays bounded (a text at the limit parses or fails quickly)', () => {
  // 1 MiB of attribute lines: the parser must neither throw a non-SdpError nor take long.
  const big = `v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n${'a=x-filler:0123456789\r\n'.repeat(45000)}`;
  withinTime(5000, () => typedOnly(() => throughSdpPaths(big), []));
  withinTime(1000, () => typedOnly(() => parseSdp(big + 'a=x'.repeat(100000)), [SdpError]));
});
