/**
 * The real thing: Portunus with the Streaming plugin, ffmpeg sending VP8 + Opus over RTP to an rtp
 * mountpoint's ports, and viewers with real PeerConnections (ICE, DTLS, SRTP) receiving the media.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { isVp8Keyframe } from '../../../src/codecs/vp8.js';
import { rtpHeaderLength, rtpPayloadType, rtpSeq } from '../../../src/media/rtp/header.js';
import { postJson } from '../../helpers/janus-client.js';
import { startMediaGateway, type MediaGateway } from '../../helpers/media-server.js';
import { startFfmpegRtp, type RtpSender } from '../../helpers/rtp-sender.js';
import { watchMountpoint, type StreamingViewer } from '../../helpers/streaming-viewer.js';

const cleanup: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
});

async function mountpointPorts(gw: MediaGateway, id: number, secret: string): Promise<number[]> {
  const s = ((await postJson(gw.httpUrl, { janus: 'create', transaction: 'c' })).data as { id: number }).id;
  const h = ((await postJson(`${gw.httpUrl}/${s}`, { janus: 'attach', plugin: 'janus.plugin.streaming', transaction: 'a' })).data as { id: number }).id;
  const r = await postJson(`${gw.httpUrl}/${s}/${h}`, { janus: 'message', transaction: 'i', body: { request: 'info', id, secret } });
  await postJson(`${gw.httpUrl}/${s}`, { janus: 'destroy', transaction: 'd' });
  const info = (r.plugindata as { data: { info: { media: Array<{ port: number }> } } }).data.info;
  return info.media.map((m) => m.port);
}

async function until(pred: () => boolean, ms: number, what: string, detail: () => string = () => ''): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} ${detail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const firstVideoIsKeyframe = (v: StreamingViewer): boolean => {
  const first = v.received.find((r) => r.mid === 'v');
  if (first === undefined) return false;
  const off = rtpHeaderLength(first.packet, first.packet.length);
  return isVp8Keyframe(first.packet, off, first.packet.length - off);
};

test('ffmpeg VP8 + Opus over RTP into an rtp mountpoint; two real PeerConnection viewers receive decrypted media starting on a keyframe', { timeout: 120_000 }, async () => {
  const gw = await startMediaGateway('portunus', ['streaming'], {}, { prefix: 'st-ffmpeg' });
  cleanup.push(() => gw.stop());
  // the default configuration has a media worker pool: the plugin (sockets, viewers) runs in one worker
  assert.match(gw.log(), /"plugin":"janus\.plugin\.streaming"[^\n]*plugin runs in the media worker pool/, 'Streaming must run in the worker pool');
  const [audioPort, videoPort] = await mountpointPorts(gw, 1, 'adminpwd');
  assert.ok(audioPort! > 0 && videoPort! > 0);
  const ff = startFfmpegRtp({ audioPort, videoPort, gop: 30 });
  cleanup.push(() => ff.stop());

  const v1 = await watchMountpoint(gw, 1);
  cleanup.push(() => v1.stop());
  assert.ok(v1.events.some((e) => JSON.stringify(e) === JSON.stringify({ streaming: 'event', result: { status: 'preparing' } })));
  await until(() => v1.received.filter((r) => r.mid === 'v').length >= 60 && v1.received.filter((r) => r.mid === 'a').length >= 50, 30_000, 'media at viewer 1', () => `(got ${v1.received.length}; ffmpeg: ${ff.stderr()})`);
  assert.ok(firstVideoIsKeyframe(v1), 'the first video packet a viewer gets starts a keyframe');
  assert.ok(v1.received.filter((r) => r.mid === 'v').every((r) => rtpPayloadType(r.packet) === 100), 'VP8 on its payload type');
  assert.ok(v1.received.filter((r) => r.mid === 'a').every((r) => rtpPayloadType(r.packet) === 111), 'Opus on its payload type');
  const vseq = v1.received.filter((r) => r.mid === 'v').map((r) => rtpSeq(r.packet));
  const gaps = vseq.slice(1).filter((s, i) => ((s - vseq[i]! + 0x10000) & 0xffff) !== 1).length;
  assert.ok(gaps <= 3, `video sequence numbers continuous (${gaps} gaps)`);

  // a second viewer joining mid-stream also starts on a keyframe
  const v2 = await watchMountpoint(gw, 1);
  cleanup.push(() => v2.stop());
  await until(() => v2.received.filter((r) => r.mid === 'v').length >= 30, 30_000, 'media at viewer 2');
  assert.ok(firstVideoIsKeyframe(v2), 'the late viewer starts on a keyframe too');

  // pause and resume on one viewer
  const paused = await v2.request({ request: 'pause' });
  assert.deepEqual((paused.plugindata as { data: unknown }).data, { streaming: 'event', result: { status: 'pausing' } });
  await new Promise((r) => setTimeout(r, 300));
  const n = v2.received.length;
  await new Promise((r) => setTimeout(r, 700));
  assert.ok(v2.received.length - n <= 2, `paused viewer gets (almost) nothing (${v2.received.length - n})`);
  await v2.request({ request: 'start' });
  await until(() => v2.received.length > n + 20, 10_000, 'media after resume');
  const stopped = await v1.request({ request: 'stop' });
  assert.deepEqual((stopped.plugindata as { data: unknown }).data, { streaming: 'event', result: { status: 'stopping' } });
});
