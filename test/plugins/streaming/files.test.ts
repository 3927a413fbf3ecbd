/**
 * live / ondemand file mountpoints: an Ogg/Opus file made by ffmpeg, played out in real time; a
 * live mountpoint shares one playout, an on-demand one starts each viewer at the beginning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseOggOpus } from '../../../src/codecs/ogg.js';
import { rtpPayloadType, rtpTimestamp } from '../../../src/media/rtp/header.js';
import { Harness, until } from './harness.js';

function makeOpusFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'st-ogg-')), 'tone.opus');
  const r = spawnSync('/usr/bin/ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=3', '-c:a', 'libopus', '-b:a', '32k', file]);
  assert.equal(r.status, 0, r.stderr?.toString());
  return file;
}

test('live Ogg/Opus file: one shared real-time playout, 20 ms packets with matching timestamps, on payload type 111', { timeout: 30_000 }, async () => {
  const file = makeOpusFile();
  const h = await Harness.start(`general: {\n}\nradio: {\n  type = "live"\n  id = 5\n  filename = "${file}"\n  audio = true\n}\n`);
  try {
    const v1 = await h.viewer(5);
    const t0 = Date.now();
    await until(() => h.host.rtpTo(v1).length >= 50, 5000, '50 packets');
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 700, `real time, not a burst (${elapsed} ms for 50 × 20 ms)`);
    const pkts = h.host.rtpTo(v1);
    assert.ok(pkts.every((p) => rtpPayloadType(p) === 111));
    assert.equal((rtpTimestamp(pkts[10]!) - rtpTimestamp(pkts[9]!) + 2 ** 32) % 2 ** 32, 960, '20 ms at 48 kHz');
    const payloads = parseOggOpus(readFileSync(file)).packets.map((p) => p.toString('hex'));
    assert.ok(payloads.includes(pkts[5]!.subarray(12).toString('hex')), 'payload is an Opus packet of the file');
    // a second viewer joins the same playout (not from the start)
    const v2 = await h.viewer(5);
    await until(() => h.host.rtpTo(v2).length >= 5, 3000, 'second viewer');
    const first2 = h.host.rtpTo(v2)[0]!.subarray(12).toString('hex');
    assert.notEqual(first2, payloads[0], 'live: the second viewer does not restart the file');
    const offer = h.host.lastJsep(v1)!.jsep!.sdp;
    assert.match(offer, /a=rtpmap:111 opus\/48000\/2/);
  } finally {
    await h.stop();
  }
});

test('ondemand: each viewer starts at the beginning of the file', { timeout: 30_000 }, async () => {
  const file = makeOpusFile();
  const h = await Harness.start(`general: {\n}\nmusic: {\n  type = "ondemand"\n  id = 6\n  filename = "${file}"\n  audio = true\n}\n`);
  try {
    const payloads = parseOggOpus(readFileSync(file)).packets.map((p) => p.toString('hex'));
    const v1 = await h.viewer(6);
    await until(() => h.host.rtpTo(v1).length >= 30, 5000, 'viewer 1');
    const v2 = await h.viewer(6);
    await until(() => h.host.rtpTo(v2).length >= 3, 5000, 'viewer 2');
    assert.equal(h.host.rtpTo(v1)[0]!.subarray(12).toString('hex'), payloads[0]);
    assert.equal(h.host.rtpTo(v2)[0]!.subarray(12).toString('hex'), payloads[0], 'on demand: from the start again');
    const s = h.attach();
    assert.deepEqual(await h.sync(s, { request: 'create', type: 'ondemand', id: 7, filename: '/nonexistent.opus' }).then((d) => d.error_code), 456);
  } finally {
    await h.stop();
  }
});
