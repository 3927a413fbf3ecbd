/**
 * The real thing with an encrypted source: ffmpeg sends VP8 over SRTP (SDES-style key, both
 * suites) to an rtp mountpoint configured with srtpsuite/srtpcrypto in janus.plugin.streaming.jcfg,
 * and a viewer with a real PeerConnection receives the decrypted video.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isVp8Keyframe } from '../../../src/codecs/vp8.js';
import { rtpHeaderLength, rtpPayloadType } from '../../../src/media/rtp/header.js';
import { postJson } from '../../helpers/janus-client.js';
import { startMediaGateway, type MediaGateway } from '../../helpers/media-server.js';
import { startFfmpegRtp } from '../../helpers/rtp-sender.js';
import { watchMountpoint } from '../../helpers/streaming-viewer.js';

const cleanup: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
});

const KEY80 = randomBytes(30).toString('base64');
const KEY32 = randomBytes(30).toString('base64');
const mountpoint = (name: string, id: number, suite: number, key: string): string =>
  `${name}: {\n  type = "rtp"\n  id = ${id}\n  secret = "adminpwd"\n  srtpsuite = ${suite}\n  srtpcrypto = "${key}"\n  media = (\n    { type = "video", mid = "v", port = 0, pt = 100, codec = "vp8" }\n  )\n}\n`;
const CFG = `general: {\n}\n${mountpoint('srtp80', 80, 80, KEY80)}${mountpoint('srtp32', 32, 32, KEY32)}`;

async function videoPort(gw: MediaGateway, id: number): Promise<number> {
  const s = ((await postJson(gw.httpUrl, { janus: 'create', transaction: 'c' })).data as { id: number }).id;
  const h = ((await postJson(`${gw.httpUrl}/${s}`, { janus: 'attach', plugin: 'janus.plugin.streaming', transaction: 'a' })).data as { id: number }).id;
  const r = await postJson(`${gw.httpUrl}/${s}/${h}`, { janus: 'message', transaction: 'i', body: { request: 'info', id, secret: 'adminpwd' } });
  await postJson(`${gw.httpUrl}/${s}`, { janus: 'destroy', transaction: 'd' });
  return (r.plugindata as { data: { info: { media: Array<{ port: number }> } } }).data.info.media[0]!.port;
}

async function until(pred: () => boolean, ms: number, what: string, detail: () => string = () => ''): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} ${detail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('ffmpeg VP8 over SRTP (_80 and _32) into jcfg SRTP mountpoints; real PeerConnection viewers receive decrypted video', { timeout: 120_000 }, async () => {
  const gw = await startMediaGateway('portunus', ['streaming'], { streaming: CFG }, { prefix: 'st-srtp' });
  cleanup.push(() => gw.stop());
  for (const [id, suite, params] of [[80, 'AES_CM_128_HMAC_SHA1_80', KEY80], [32, 'AES_CM_128_HMAC_SHA1_32', KEY32]] as const) {
    const port = await videoPort(gw, id);
    assert.ok(port > 0);
    const ff = startFfmpegRtp({ videoPort: port, gop: 15, srtp: { suite, params } });
    cleanup.push(() => ff.stop());
    const v = await watchMountpoint(gw, id);
    cleanup.push(() => v.stop());
    await until(() => v.received.filter((r) => r.mid === 'v').length >= 40, 40_000, `decrypted video from the srtp${id} mountpoint`, () => `(got ${v.received.length}; ffmpeg: ${ff.stderr()})`);
    const video = v.received.filter((r) => r.mid === 'v');
    assert.ok(video.every((r) => rtpPayloadType(r.packet) === 100), 'VP8 on its payload type');
    const first = video[0]!.packet;
    const off = rtpHeaderLength(first, first.length);
    assert.ok(isVp8Keyframe(first, off, first.length - off), 'the first packet is a decodable VP8 keyframe: decryption worked');
    await ff.stop();
    await v.stop();
  }
});
