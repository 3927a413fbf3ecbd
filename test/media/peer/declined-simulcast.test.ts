/**
 * Firefox's simulcast offer to the EchoTest (found with test/browser/firefox-echotest.test.ts): the video
 * m-line carries `a=rid:h/m/l send`, `a=simulcast:send h;m;l` and one a=ssrc per layer. The EchoTest
 * answers without a=simulcast, which declines the layers, so Firefox sends one plain stream on its
 * first SSRC. The gateway used to expect the offer's rid layers anyway and dropped that video; now only
 * the rids our own SDP accepted count. Real UDP, our own client Peer, the Janus API.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JanusMessage } from '../../../src/core/messages.js';
import { parseSdp } from '../../../src/media/sdp/parse.js';
import { applyAnswer, clientOffer, makeClient, makeWorld, rtpPacket, waitFor } from './helpers.js';

type Ev = JanusMessage & { jsep?: { type: string; sdp: string } };

test('EchoTest declines rid simulcast: the plain stream on the first signalled SSRC is echoed', { timeout: 20_000 }, async () => {
  const w = await makeWorld();
  const c = await makeClient();
  try {
    const [s, h] = await w.attachEcho();
    const firefoxLike = ['a=rid:h send', 'a=rid:m send', 'a=rid:l send', 'a=simulcast:send h;m;l', 'a=ssrc:1111 cname:{ff}', 'a=ssrc:2222 cname:{ff}', 'a=ssrc:3333 cname:{ff}'];
    const offer = clientOffer(c).replace(/a=mid:1\r\n/, `a=mid:1\r\n${firefoxLike.join('\r\n')}\r\n`);
    assert.match(offer, /a=simulcast:send h;m;l/);
    await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: 'sim', body: { audio: true, video: true }, jsep: { type: 'offer', sdp: offer } });
    const ev = await waitFor('the answer', () => (w.client.events as Ev[]).find((e) => e.transaction === 'sim' && e.jsep));
    const video = parseSdp(ev.jsep!.sdp).media.find((m) => m.mid === '1')!;
    assert.equal(video.rids.length, 0, 'the EchoTest answers without rid layers (simulcast declined)');
    applyAnswer(c, ev.jsep!.sdp);
    await waitFor('client DTLS up', () => c.up);
    for (let i = 0; i < 10; i++) c.peer.sendRtp('1', rtpPacket(96, 500 + i, 3000 * i, 1111, Buffer.from(`ff-${i}`)), 12 + 7);
    const echoed = await waitFor('echoed video from the declined-simulcast stream', () => {
      const v = c.rtp.filter((p) => p.stream.mid === '1');
      return v.length >= 10 ? v : undefined;
    });
    assert.ok(echoed[0]!.bytes.subarray(12).toString().startsWith('ff-0'), 'the first echoed packet carries the first payload');
  } finally {
    c.close();
    await w.stop();
  }
});
