/** Truncated, mutated and garbage SDPs: the parser either returns a model or throws SdpError; nothing else. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSdp, writeSdp, SdpError, extractRemoteTransport, describeMedia } from '../../../src/media/sdp/index.js';
import { ALL_FIXTURES, CHROME_OFFER } from './fixtures.js';
import { prng as rng } from '../../helpers/prng.js';


/** Parse; on success the result must round-trip and feed the downstream helpers without a non-SDP error. */
function tryParse(text: string): 'ok' | 'error' {
  let d;
  try {
    d = parseSdp(text);
  } catch (e) {
    assert.ok(e instanceof SdpError, `non-SdpError for ${JSON.stringify(text.slice(0, 200))}: ${String(e)}`);
    return 'error';
  }
  assert.deepEqual(parseSdp(writeSdp(d)), d);
  describeMedia(d);
  try {
    extractRemoteTransport(d, { type: 'offer' });
  } catch (e) {
    assert.ok(e instanceof SdpError, `extract threw non-SdpError: ${String(e)}`);
  }
  return 'ok';
}

test('every truncation of every fixture parses or fails with SdpError', () => {
  let ok = 0;
  let failed = 0;
  for (const sdp of Object.values(ALL_FIXTURES)) {
    for (let i = 0; i <= sdp.length; i += 3) {
      if (tryParse(sdp.slice(0, i)) === 'ok') ok++;
      else failed++;
    }
  }
  assert.ok(ok > 0 && failed > 0, `both outcomes seen (ok ${ok}, failed ${failed})`);
});

test('random byte mutations parse or fail with SdpError', () => {
  const r = rng(1234);
  const alphabet = ' :=/;,~*\r\n\t0123456789abcAZ-_.\u0000\u00ff\u{1F600}';
  for (let n = 0; n < 1500; n++) {
    const chars = [...CHROME_OFFER];
    const edits = 1 + Math.floor(r() * 8);
    for (let k = 0; k < edits; k++) {
      const pos = Math.floor(r() * chars.length);
      const op = r();
      const ch = [...alphabet][Math.floor(r() * [...alphabet].length)]!;
      if (op < 0.4) chars[pos] = ch;
      else if (op < 0.7) chars.splice(pos, 1);
      else chars.splice(pos, 0, ch);
    }
    tryParse(chars.join(''));
  }
});

test('random line shuffles and duplications parse or fail with SdpError', () => {
  const r = rng(99);
  const lines = CHROME_OFFER.split('\r\n');
  for (let n = 0; n < 500; n++) {
    const copy = [...lines];
    for (let k = 0; k < 4; k++) {
      const i = Math.floor(r() * copy.length);
      const j = Math.floor(r() * copy.length);
      if (r() < 0.5) [copy[i], copy[j]] = [copy[j]!, copy[i]!];
      else copy.splice(j, 0, copy[i]!);
    }
    tryParse(copy.join('\r\n'));
  }
});

test('pure garbage and pathological inputs', () => {
  const r = rng(7);
  for (let n = 0; n < 300; n++) {
    const len = Math.floor(r() * 400);
    let s = '';
    for (let i = 0; i < len; i++) s += String.fromCharCode(Math.floor(r() * 128));
    assert.equal(tryParse(s), 'error');
  }
  assert.equal(tryParse('v=0'), 'error');
  assert.equal(tryParse('\r\n\r\n\r\n'), 'error');
  assert.equal(tryParse('=\r\n'), 'error');
  // Big but bounded inputs finish quickly.
  const start = Date.now();
  assert.equal(tryParse('v=0\r\na=' + 'x'.repeat(900_000)), 'error');
  const many = 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n' + 'a=ssrc:1 cname:x\r\n'.repeat(40_000);
  assert.equal(tryParse(many), 'ok');
  assert.ok(Date.now() - start < 5000, 'linear time');
});
