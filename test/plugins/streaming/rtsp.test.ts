/**
 * rtsp mountpoints pulling from a real RTSP server (GStreamer's RTSP server library, VP8 + Opus):
 * DESCRIBE/SETUP/PLAY with Digest and Basic auth, codecs taken from the description, media relayed
 * to a viewer, a wrong password refused, and reconnection after the server goes away and comes back.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rtpPayloadType } from '../../../src/media/rtp/header.js';
import { startRtspServer, type RtspServer } from '../../helpers/rtsp-server.js';
import { Harness, until } from './harness.js';

const servers: RtspServer[] = [];
after(async () => {
  for (const s of servers) await s.stop();
});

const rtspMp = (id: number, url: string, extra: Record<string, unknown> = {}) => ({ request: 'create', type: 'rtsp', id, url, audio: true, video: true, ...extra });

for (const kind of ['digest', 'basic'] as const) {
  test(`rtsp pull with ${kind} auth: codecs from DESCRIBE, VP8 and Opus relayed to a viewer starting on a keyframe`, { timeout: 60_000 }, async () => {
    const srv = await startRtspServer({ kind, user: 'cam', password: 's3cret' });
    servers.push(srv);
    const h = await Harness.start('general: {\n}\n');
    try {
      const s = h.attach();
      const bad = await h.sync(s, rtspMp(1, srv.url, { rtsp_user: 'cam', rtsp_pwd: 'wrong' }));
      assert.equal(bad.error_code, 456, JSON.stringify(bad));
      assert.match(String(bad.error), /401/);
      const created = await h.sync(s, rtspMp(2, srv.url, { rtsp_user: 'cam', rtsp_pwd: 's3cret', videopt: 100 }));
      assert.equal(created.streaming, 'created', JSON.stringify(created));
      const mp = h.plugin.mountpoint(2)!;
      assert.equal(mp.streams[0]!.spec.codec, 'opus');
      assert.equal(mp.streams[1]!.spec.codec, 'vp8');
      assert.equal(mp.streams[1]!.spec.pt, 100, 'configured payload type kept');
      assert.equal(mp.streams[0]!.spec.pt, 97, 'the server payload type when none is configured');
      const v = await h.viewer(2);
      await until(() => h.host.rtpTo(v, 'v').length >= 30 && h.host.rtpTo(v, 'a').length >= 20, 20_000, 'RTSP media at the viewer');
      assert.ok(h.host.rtpTo(v, 'v').every((p) => rtpPayloadType(p) === 100), 'VP8 rewritten to the mountpoint payload type');
      const first = h.host.rtpTo(v, 'v')[0]!;
      assert.equal(first[13]! & 0x01, 0, 'first video packet is a keyframe');
    } finally {
      await h.stop();
    }
  });
}

test('rtsp_reconnect_delay: the server goes away and comes back on the same port, media resumes', { timeout: 90_000 }, async () => {
  let srv = await startRtspServer();
  servers.push(srv);
  const h = await Harness.start('general: {\n}\n');
  try {
    const s = h.attach();
    const created = await h.sync(s, rtspMp(3, srv.url, { rtsp_reconnect_delay: 1 }));
    assert.equal(created.streaming, 'created', JSON.stringify(created));
    const v = await h.viewer(3);
    await until(() => h.host.rtpTo(v, 'a').length >= 20, 20_000, 'media before the outage');
    await srv.stop();
    await new Promise((r) => setTimeout(r, 1500));
    const during = h.host.rtpTo(v, 'a').length;
    srv = await startRtspServer(null, srv.port);
    servers.push(srv);
    await until(() => h.host.rtpTo(v, 'a').length >= during + 20, 30_000, 'media after the server came back');
    assert.ok(h.log.lines.some((l) => /reconnecting to rtsp:/.test(l.msg)), 'the reconnect is logged');
  } finally {
    await h.stop();
  }
});

for (const mode of ['a TCP-only server (461 to UDP, then interleaved)', 'rtsp_interleaved = true'] as const) {
  test(`RTP interleaved on the RTSP connection with ${mode}: VP8 and Opus reach a viewer`, { timeout: 60_000 }, async () => {
    const tcpOnly = mode.startsWith('a TCP');
    const srv = await startRtspServer(null, undefined, { tcpOnly });
    servers.push(srv);
    const h = await Harness.start('general: {\n}\n');
    try {
      const s = h.attach();
      const created = await h.sync(s, rtspMp(7, srv.url, tcpOnly ? {} : { rtsp_interleaved: true }));
      assert.equal(created.streaming, 'created', JSON.stringify(created));
      const v = await h.viewer(7);
      await until(() => h.host.rtpTo(v, 'v').length >= 30 && h.host.rtpTo(v, 'a').length >= 20, 20_000, 'interleaved RTSP media at the viewer');
      assert.ok(h.log.lines.some((l) => /RTP interleaved on the RTSP connection/.test(l.msg)), 'the session is interleaved');
      assert.equal(h.host.rtpTo(v, 'v')[0]![13]! & 0x01, 0, 'first video packet is a keyframe');
    } finally {
      await h.stop();
    }
  });
}
