/**
 * The RTSP client's parsing of what a server sends (src/plugins/streaming/rtsp-reader.ts,
 * rtsp-describe.ts): the control-connection reader never throws, cut anywhere it gives the same
 * responses and interleaved frames as whole, stays within its buffer bound, stops on a lying
 * Content-Length and reads a trickled message in linear time; a DESCRIBE body (GStreamer's, mutated,
 * or generated) gives a stream description with a payload type 0-127 or an SdpError /
 * RtspDescribeError; a Session header gives a timeout a timer can hold and an id a request line can carry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fc, check, chunked, cutPoints, boundedHeap, mutated, mutatedLines, mutatedText, rawBytes, typedOnly, withinTime, REPLAYING } from './harness.js';
import { RtspReader, type RtspResponse } from '../../src/plugins/streaming/rtsp-reader.js';
import { describedStream, MAX_SESSION_TIMEOUT_S, parseSessionHeader, resolveControl, RtspDescribeError } from '../../src/plugins/streaming/rtsp-describe.js';
import { parseSdp, SdpError } from '../../src/media/sdp/index.js';

const MAX = 4096;

type Out = { kind: 'r'; status: number; reason: string; headers: [string, string][]; body: string } | { kind: 'i'; channel: number; data: number[] };

function reader(): { r: RtspReader; out: Out[] } {
  const out: Out[] = [];
  const r = new RtspReader(MAX, {
    response: (x: RtspResponse) => out.push({ kind: 'r', status: x.status, reason: x.reason, headers: [...x.headers], body: x.body }),
    interleaved: (channel, data) => out.push({ kind: 'i', channel, data: [...data] }),
  });
  return { r, out };
}

const headerName = fc.constantFrom('CSeq', 'Session', 'Content-Base', 'Content-Type', 'Transport', 'Public', 'WWW-Authenticate', 'Range', 'RTP-Info', 'X-Odd');
const headerValue = fc.oneof(fc.stringMatching(/^[ -~]{0,30}$/), fc.constantFrom('', ' ', '12345678;timeout=60', 'Digest realm="x", nonce="y"'));

/** One well-formed server message: a response (maybe with a body) or an interleaved frame. */
const message: fc.Arbitrary<Buffer> = fc.oneof(
  fc
    .record({ status: fc.integer({ min: 100, max: 999 }), reason: fc.stringMatching(/^[ -~]{0,12}$/), headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 5 }), body: fc.stringMatching(/^[ -~\r\n]{0,200}$/) })
    .map((m) => {
      const body = Buffer.from(m.body, 'utf8');
      const head = [`RTSP/1.0 ${m.status} ${m.reason}`, ...m.headers.map(([k, v]) => `${k}: ${v}`), ...(body.length > 0 ? [`Content-Length: ${body.length}`] : [])].join('\r\n');
      return Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'latin1'), body]);
    }),
  fc.record({ channel: fc.integer({ min: 0, max: 255 }), data: fc.uint8Array({ maxLength: 300 }) }).map((f) => Buffer.concat([Buffer.from([0x24, f.channel, f.data.length >> 8, f.data.length & 0xff]), f.data])),
  fc.constant(Buffer.from('ANNOUNCE rtsp://x/ RTSP/1.0\r\nCSeq: 9\r\n\r\n')),
);
const stream = fc.array(message, { minLength: 1, maxLength: 6 }).map((ms) => Buffer.concat(ms));
const cuts = cutPoints(12);


test('RTSP reader: well-formed messages cut anywhere come out as from one chunk', async () => {
  await boundedHeap(16 << 20, () => {
    check('rtsp-reader-chunking', [stream, cuts], (s, at) => {
      const whole = reader();
      assert.equal(whole.r.push(Buffer.from(s)), null);
      const parts = reader();
      for (const c of chunked(s, at)) assert.equal(parts.r.push(c), null);
      assert.deepEqual(parts.out, whole.out);
      assert.equal(parts.r.pending, 0, 'nothing left over after whole messages');
    }, 100);
  });
});

test('RTSP reader: mutated and random bytes never throw; the buffer stays bounded; an error is final', async () => {
  await boundedHeap(16 << 20, () => {
    check('rtsp-reader-garbage', [fc.oneof(mutated(stream, 6), rawBytes(600)), cuts], (s, at) => {
      const { r, out } = reader();
      let err: string | null = null;
      for (const c of chunked(s, at)) {
        const e = typedOnly(() => withinTime(500, () => r.push(c)), []);
        if (err !== null) assert.equal(e, err, 'a stopped reader stays stopped');
        err = e ?? null;
        assert.ok(r.pending <= MAX + c.length + 4 + 0xffff, `buffered ${r.pending}`);
      }
      for (const o of out) if (o.kind === 'r') assert.ok(o.status >= 0 && o.status <= 999 && Buffer.byteLength(o.body) <= MAX);
    }, 300);
  });
});

test('RTSP reader: a negative or non-decimal Content-Length stops the reader (regression: it looped forever)', () => {
  for (const cl of ['-5', '-100000', '1e3', '0x10', '12x', '99999999999', '999999999']) {
    const { r, out } = reader();
    const msg = Buffer.from(`RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: ${cl}\r\n\r\nv=0\r\n`);
    assert.equal(withinTime(1000, () => r.push(msg)), cl === '999999999' ? 'oversize' : 'bad-length', cl);
    assert.deepEqual(out, []);
    assert.equal(r.push(Buffer.from('RTSP/1.0 200 OK\r\n\r\n')), r.error, 'later bytes are ignored');
  }
});

test('RTSP reader: a body trickled one byte at a time is read in linear time (regression: quadratic copying)', () => {
  const body = 'x'.repeat(200_000);
  const msg = Buffer.from(`RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  const got: RtspResponse[] = [];
  const r = new RtspReader(256 * 1024, { response: (x) => got.push(x), interleaved: () => undefined });
  withinTime(3000, () => {
    for (let i = 0; i < msg.length; i++) assert.equal(r.push(msg.subarray(i, i + 1)), null);
  });
  assert.equal(got.length, 1);
  assert.equal(got[0]!.body.length, body.length);
  // An unterminated head trickled in: refused at the bound, found in linear time too.
  const r2 = new RtspReader(64 * 1024, { response: () => assert.fail(), interleaved: () => undefined });
  let err: string | null = null;
  withinTime(3000, () => {
    for (let i = 0; i < 70_000 && err === null; i++) err = r2.push(Buffer.from('a'));
  });
  assert.equal(err, 'oversize');
});

test('RTSP reader: an interleaved frame handed out keeps its bytes while more data arrives', () => {
  const kept: Buffer[] = [];
  const r = new RtspReader(MAX, { response: () => undefined, interleaved: (_c, d) => kept.push(d) });
  const frameOf = (n: number): Buffer => Buffer.concat([Buffer.from([0x24, 0, 0, 4]), Buffer.alloc(4, n)]);
  // Split so that the reader's own store holds several frames, then keeps growing.
  const all = Buffer.concat(Array.from({ length: 50 }, (_, i) => frameOf(i)));
  for (let i = 0; i < all.length; i += 3) r.push(Buffer.from(all.subarray(i, i + 3)));
  assert.equal(kept.length, 50);
  kept.forEach((d, i) => assert.deepEqual([...d], [i, i, i, i]));
});

/** What GStreamer's RTSP server (test/helpers/rtsp-server.py) describes, VP8 + Opus. */
const GST_DESCRIBE = [
  'v=0', 'o=- 1188340656180883 1 IN IP4 127.0.0.1', 's=Session streamed with GStreamer', 'i=rtsp-server', 't=0 0', 'a=tool:GStreamer', 'a=type:broadcast', 'a=control:*', 'a=range:npt=now-',
  'm=video 0 RTP/AVP 96', 'c=IN IP4 0.0.0.0', 'a=rtpmap:96 VP8/90000', 'a=framerate:30', 'a=control:stream=0', 'a=ts-refclk:local', 'a=mediaclk:sender',
  'm=audio 0 RTP/AVP 97', 'c=IN IP4 0.0.0.0', 'a=rtpmap:97 OPUS/48000/2', 'a=fmtp:97 sprop-stereo=0', 'a=control:stream=1', '',
].join('\r\n');

const describeBody = fc
  .record({
    kind: fc.constantFrom('audio', 'video', 'application'),
    fmts: fc.array(fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.constantFrom('x', '-1', '96.5', '0096', '')), { maxLength: 3 }),
    map: fc.constantFrom('VP8/90000', 'H264/90000', 'opus/48000/2', 'PCMU/8000', 'MP4A-LATM/90000', 'VP8/48000', ''),
    fmtp: fc.constantFrom('', 'packetization-mode=1;profile-level-id=42e01f', 'a;b=;=c'),
    control: fc.constantFrom('trackID=1', 'rtsp://127.0.0.1/x', '*', 'a b\tc', ''),
  })
  .map((m) => ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=x', 't=0 0', `m=${m.kind} 0 RTP/AVP ${m.fmts.join(' ')}`, `a=rtpmap:${m.fmts[0] ?? 96} ${m.map}`, `a=fmtp:${m.fmts[0] ?? 96} ${m.fmtp}`, `a=control:${m.control}`, ''].join('\r\n'));

test('DESCRIBE bodies: a stream description with a payload type 0-127, or SdpError / RtspDescribeError', async () => {
  const seen = { described: 0 };
  await boundedHeap(16 << 20, () => {
    check('rtsp-describe', [fc.oneof(fc.constant(GST_DESCRIBE), mutatedLines(fc.constant(GST_DESCRIBE)), mutatedText(fc.constant(GST_DESCRIBE)), describeBody, mutatedLines(describeBody)), fc.constantFrom('audio', 'video') as fc.Arbitrary<'audio' | 'video'>, fc.constantFrom('rtsp://127.0.0.1:8554/test', 'rtsp://h/a/', 'rtsp://h/x\ny z')], (text, kind, base) => {
      const sdp = typedOnly(() => parseSdp(text), [SdpError]);
      if (sdp === undefined) return;
      const d = typedOnly(() => describedStream(sdp, kind), [RtspDescribeError]);
      if (d === undefined) return;
      seen.described++;
      assert.ok(Number.isInteger(d.pt) && d.pt >= 0 && d.pt <= 127, `pt ${d.pt}`);
      if (d.fmtp !== null) assert.ok(!/[\r\n]/.test(d.fmtp));
      const url = resolveControl(base, d.control);
      assert.ok(!/[\x00-\x20\x7f]/.test(url), `request URL ${JSON.stringify(url)}`);
    }, 300);
  });
  if (!REPLAYING) assert.ok(seen.described > 50, `only ${seen.described} bodies described a stream`);
  // GStreamer's own description reads as the mountpoint expects.
  const sdp = parseSdp(GST_DESCRIBE);
  assert.deepEqual(describedStream(sdp, 'video'), { pt: 96, codec: 'vp8', fmtp: null, control: 'stream=0' });
  assert.deepEqual(describedStream(sdp, 'audio'), { pt: 97, codec: 'opus', fmtp: 'sprop-stereo=0', control: 'stream=1' });
  assert.equal(resolveControl('rtsp://127.0.0.1:8554/test/', 'stream=1'), 'rtsp://127.0.0.1:8554/test/stream=1');
});

test('Session header: the id carries no spaces or control characters, the timeout fits a timer (regression: timeout=1e12 gave a 1 ms keepalive)', () => {
  check('rtsp-session-header', [fc.oneof(fc.string({ maxLength: 60 }), fc.tuple(fc.stringMatching(/^[ -~\n]{0,20}$/), fc.constantFrom('timeout=60', 'timeout = 0', 'timeout=99999999999999999999', 'TIMEOUT=5', 'timeout=', 'x')).map(([a, b]) => `${a};${b}`))], (v) => {
    const { id, timeoutS } = parseSessionHeader(v);
    assert.ok(!/[\x00-\x20\x7f]/.test(id));
    if (timeoutS !== null) {
      assert.ok(Number.isInteger(timeoutS) && timeoutS >= 1 && timeoutS <= MAX_SESSION_TIMEOUT_S);
      assert.ok((timeoutS / 2) * 1000 < 2 ** 31 - 1, 'keepalive interval fits a Node timer');
    }
  }, 300);
  assert.deepEqual(parseSessionHeader(' 12345678;timeout=60'), { id: '12345678', timeoutS: 60 });
  assert.deepEqual(parseSessionHeader('abc;timeout=1000000000000'), { id: 'abc', timeoutS: MAX_SESSION_TIMEOUT_S });
  assert.deepEqual(parseSessionHeader('abc\nEvil: 1'), { id: 'abcEvil:1', timeoutS: null });
});
