import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeMedia, EXT } from '../../../src/media/sdp/negotiate.js';
import { parseSdp } from '../../../src/media/sdp/parse.js';
import { CHROME_OFFER, CHROME_OFFER_SIMULCAST } from './fixtures.js';
import { Harness, vrError } from './harness.js';
import { MEDIA_ROOMS, publish, pubJoin } from './media-helpers.js';


test('publish: Chrome offer answered with the room codecs and extensions, configured reply as Janus', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const s = h.attach();
  const { configured, answer } = await publish(h, s, '9999', 'alice', { up: false });
  assert.deepEqual(configured, {
    videoroom: 'event',
    room: '9999',
    configured: 'ok',
    audio_codec: 'opus',
    video_codec: 'vp8',
    streams: [
      { type: 'audio', mindex: 0, mid: '0', codec: 'opus', fec: true },
      { type: 'video', mindex: 1, mid: '1', codec: 'vp8' },
    ],
  });
  assert.equal(answer.type, 'answer');
  const d = parseSdp(answer.sdp);
  assert.equal(d.name, 'VideoRoom 9999');
  assert.deepEqual(d.groups, [{ semantics: 'BUNDLE', mids: ['0', '1'] }]);
  const [a, v] = describeMedia(d);
  assert.equal(a!.direction, 'recvonly');
  assert.equal(a!.pt, 111);
  assert.deepEqual(d.media[0]!.formats, ['111']);
  assert.equal(d.media[0]!.fmtps[0]!.raw, 'useinbandfec=1', 'minptime dropped, FEC per opus_fec');
  assert.deepEqual(a!.extmapIds, { [EXT.audioLevel]: 1, [EXT.mid]: 4 });
  assert.equal(v!.direction, 'recvonly');
  assert.deepEqual(d.media[1]!.formats, ['96'], 'VP8 only, no RTX (the core does not repair from RTX)');
  // rid/repaired-rid are kept even without simulcast, as Janus does (Chrome may start simulcast later).
  // As Janus 1.1.2 answers this offer: transport-cc (extension and feedback) on video only, no abs-send-time.
  assert.deepEqual(v!.extmapIds, { [EXT.videoOrientation]: 13, [EXT.transportWideCc]: 3, [EXT.playoutDelay]: 5, [EXT.mid]: 4, [EXT.rid]: 10, [EXT.repairedRid]: 11 });
  assert.deepEqual(d.media[1]!.rtcpFbs.map((f) => `${f.type}${f.subtype ? ' ' + f.subtype : ''}`).sort(), ['ccm fir', 'goog-remb', 'nack', 'nack pli', 'transport-cc']);
  assert.equal(d.media[0]!.rtcpFbs.length, 0);
  assert.equal(d.media[1]!.rids.length, 0, 'no simulcast offered, none answered');
  // Not announced before the PeerConnection is up.
  assert.deepEqual(h.host.unsolicited(s), []);
});

test('publish: videocodec override picks from the room list; H.264 keeps its profile', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const s = h.attach();
  const { configured, answer } = await publish(h, s, 'multi', 'p', { body: { videocodec: 'h264' } });
  assert.equal(configured.video_codec, 'h264');
  const v = describeMedia(parseSdp(answer.sdp))[1]!;
  assert.equal(v.codec, 'h264');
  assert.equal(v.fmtp?.params['packetization-mode'], '1');
  assert.deepEqual((configured.streams as unknown[])[1], { type: 'video', mindex: 1, mid: '1', codec: 'h264', h264_profile: v.fmtp?.params['profile-level-id'] });
  // A codec the room does not allow is ignored: the room's own order applies.
  const s2 = h.attach();
  const h2 = await Harness.start(MEDIA_ROOMS);
  const r = await publish(h2, s2, 'multi', 'q', { body: { videocodec: 'av1' } });
  assert.equal(r.configured.video_codec, 'vp8');
});

test('publish: rid simulcast accepted (recv h;m;l), simulcast flag in the stream list', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const s = h.attach();
  const { configured, answer } = await publish(h, s, '9999', 'sim', { offer: CHROME_OFFER_SIMULCAST });
  assert.deepEqual((configured.streams as unknown[])[1], { type: 'video', mindex: 1, mid: '1', codec: 'vp8', simulcast: true });
  const m = parseSdp(answer.sdp).media[1]!;
  assert.deepEqual(m.rids.map((r) => `${r.id} ${r.direction}`), ['h recv', 'm recv', 'l recv']);
  assert.deepEqual(m.simulcast?.recv?.map((alts) => alts[0]!.rid), ['h', 'm', 'l']);
  const ids = describeMedia(parseSdp(answer.sdp))[1]!.extmapIds;
  assert.equal(ids[EXT.rid], 10);
  assert.equal(ids[EXT.repairedRid], 11);
});

test('setupMedia announces the publisher to the others, REMB at the room bitrate, first keyframe request', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const watcher = h.attach();
  await h.async(watcher, pubJoin('9999', { id: 'w', display: 'w' }));
  const s = h.attach();
  await publish(h, s, '9999', 'alice', { offer: CHROME_OFFER_SIMULCAST });
  assert.deepEqual(h.host.unsolicited(watcher), [
    {
      videoroom: 'event',
      room: '9999',
      publishers: [
        {
          id: 'alice',
          display: 'alice',
          audio_codec: 'opus',
          video_codec: 'vp8',
          streams: [
            { type: 'audio', mindex: 0, mid: '0', codec: 'opus', fec: true },
            { type: 'video', mindex: 1, mid: '1', codec: 'vp8', simulcast: true },
          ],
        },
      ],
    },
  ]);
  assert.deepEqual(h.host.rembs, [{ handleId: s.handleId, bitrate: 1024000 }]);
  assert.deepEqual(h.host.plisTo(s), [null]);
  // A later joiner sees it in `joined`, with the talking flags Janus adds there.
  const late = h.attach();
  const j = await h.async(late, pubJoin('9999'));
  assert.deepEqual(j.publishers, [
    {
      id: 'alice',
      display: 'alice',
      audio_codec: 'opus',
      video_codec: 'vp8',
      streams: [
        { type: 'audio', mindex: 0, mid: '0', codec: 'opus', fec: true, talking: false },
        { type: 'video', mindex: 1, mid: '1', codec: 'vp8', simulcast: true },
      ],
      talking: false,
    },
  ]);
  const lp = await h.sync(late, { request: 'listparticipants', room: '9999' });
  assert.deepEqual((lp.participants as Array<Record<string, unknown>>).find((p) => p.id === 'alice'), { id: 'alice', display: 'alice', publisher: true, talking: false });
});

test('publishers limit (432), already published (434), unpublish (435 when not published)', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const a = h.attach();
  await publish(h, a, 'multi', 'a');
  const b = h.attach();
  await h.async(b, pubJoin('multi', { id: 'b' }));
  const full = await h.async(b, { request: 'publish' }, { type: 'offer', sdp: CHROME_OFFER });
  assert.deepEqual(full, vrError(432, 'Maximum number of publishers (1) already reached'));
  assert.equal(h.host.lastJsep(b), undefined, 'no answer for a refused publish');
  assert.deepEqual(await h.async(a, { request: 'publish' }, { type: 'offer', sdp: CHROME_OFFER }), vrError(434, "Can't publish, already published"));
  assert.deepEqual(await h.async(b, { request: 'unpublish' }), vrError(435, "Can't unpublish, not published"));
  // Unpublish frees the slot; the others are told.
  const ev = await h.async(a, { request: 'unpublish' });
  assert.deepEqual(ev, { videoroom: 'event', room: 'multi', unpublished: 'ok' });
  assert.deepEqual(h.host.unsolicited(b).at(-1), { videoroom: 'event', room: 'multi', unpublished: 'a' });
  assert.deepEqual(h.host.closed.at(-1), { handleId: a.handleId, reason: 'unpublish' });
  const ok = await h.asyncFull(b, { request: 'publish' }, { type: 'offer', sdp: CHROME_OFFER });
  assert.equal(ok.data.configured, 'ok');
});

test('joinandconfigure: joined reply with the answer; publish without JSEP is a plain configure', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const s = h.attach();
  const ev = await h.asyncFull(s, { request: 'joinandconfigure', ptype: 'publisher', room: '9999', id: 'jc', display: 'JC' }, { type: 'offer', sdp: CHROME_OFFER });
  assert.equal(ev.data.videoroom, 'joined');
  assert.equal(ev.data.id, 'jc');
  assert.equal(ev.jsep?.type, 'answer');
  const s2 = h.attach();
  await h.async(s2, pubJoin('9999', { id: 'x' }));
  assert.deepEqual(await h.async(s2, { request: 'publish' }), { videoroom: 'event', room: '9999', configured: 'ok' });
});

test('configure: bitrate capped by the room (bitrate_cap), keyframe and per-stream keyframe, send=false, display broadcast', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const other = h.attach();
  await h.async(other, pubJoin('cap', { id: 'o' }));
  const s = h.attach();
  await publish(h, s, 'cap', 'p');
  assert.deepEqual(h.host.rembs.at(-1), { handleId: s.handleId, bitrate: 256000 });
  h.host.clear();
  assert.deepEqual(await h.async(s, { request: 'configure', bitrate: 2_000_000, keyframe: true, streams: [{ mid: '1', keyframe: true, send: false }], display: 'New' }), {
    videoroom: 'event',
    room: 'cap',
    configured: 'ok',
  });
  assert.deepEqual(h.host.rembs, [{ handleId: s.handleId, bitrate: 256000 }], 'capped at the room bitrate');
  assert.deepEqual(h.host.plisTo(s), ['1', null]);
  assert.deepEqual(h.host.unsolicited(other).at(-1), { videoroom: 'event', id: 'p', display: 'New' });
  await h.async(s, { request: 'configure', bitrate: 100_000 });
  assert.deepEqual(h.host.rembs.at(-1), { handleId: s.handleId, bitrate: 100_000 }, 'below the cap is honoured');
  // Recording itself is covered by recording.test.ts; turning it off when not recording is a plain configure.
  assert.deepEqual(await h.async(s, { request: 'configure', record: false }), { videoroom: 'event', room: 'cap', configured: 'ok' });
});

test('renegotiation (configure with a new offer) keeps the streams and re-announces', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const watcher = h.attach();
  await h.async(watcher, pubJoin('9999', { id: 'w' }));
  const s = h.attach();
  await publish(h, s, '9999', 'p');
  h.host.clear();
  const ev = await h.asyncFull(s, { request: 'configure', descriptions: [{ mid: '1', description: 'camera' }] }, { type: 'offer', sdp: CHROME_OFFER, update: true });
  assert.equal(ev.jsep?.type, 'answer');
  assert.deepEqual((ev.data.streams as unknown[])[1], { type: 'video', mindex: 1, mid: '1', codec: 'vp8', description: 'camera' });
  const pubs = h.host.unsolicited(watcher).at(-1)!.publishers as Array<Record<string, unknown>>;
  assert.equal((pubs[0]!.streams as Array<Record<string, unknown>>)[1]!.description, 'camera');
});

test('hangup of a publisher: unpublished to the others, the participant stays; the refused answer frees the slot', async () => {
  const h = await Harness.start(MEDIA_ROOMS);
  const watcher = h.attach();
  await h.async(watcher, pubJoin('multi', { id: 'w' }));
  const s = h.attach();
  await publish(h, s, 'multi', 'p');
  h.plugin.hangupMedia(s);
  assert.deepEqual(h.host.unsolicited(watcher).at(-1), { videoroom: 'event', room: 'multi', unpublished: 'p' });
  assert.equal(h.plugin.room('multi' as never)!.participants.size, 2);
  // The media plane refusing our answer: nothing is held.
  h.host.refuseJsep = true;
  const ev = await h.asyncFull(watcher, { request: 'publish' }, { type: 'offer', sdp: CHROME_OFFER }).catch(() => null);
  assert.equal(ev, null, 'the refused event is not delivered');
  h.host.refuseJsep = false;
  assert.equal(h.plugin.room('multi' as never)!.publisherCount(), 0);
});
