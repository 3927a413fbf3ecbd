/**
 * janode's VideoRoom wrapper (node_modules/janode/src/plugins/videoroom-plugin.js) drives a whole
 * publish/subscribe cycle against Portunus over WebSocket, with real media underneath: janode
 * does the signalling only, the SDPs come from two Node WebRTC clients built from our media
 * modules (test/media/peer/helpers.ts): ICE, DTLS-SRTP and RTP over UDP on this machine.
 *
 *  bob (publisher, watching)  alice (publisher)                    viewer (subscriber)
 *  joinPublisher              joinPublisher
 *    <- PUB_LIST              publish(offer) -> CONFIGURED + answer
 *                             RTP (VP8 + Opus) ------------------>  joinSubscriber -> SUB_JOINED + offer
 *                                                                   start(answer) -> STARTED, RTP arrives
 *    <- DISPLAY               configure(display)
 *                                                                   pause -> PAUSED, start -> STARTED
 *                                                                   leave -> LEAVING
 *    <- UNPUBLISHED           unpublish -> UNPUBLISHED
 *    <- LEAVING               leave -> LEAVING
 * Every step asserts the event janode emits (or resolves with) and its data.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import Janode, { type JanodeHandle } from 'janode';
import VideoRoomPlugin from 'janode/plugins/videoroom';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPortunus, startPortunusOnFolder } from '../helpers/portunus.js';
import { makeConfigsFolder } from '../helpers/server-conf.js';
import type { RunningServer } from '../helpers/server-process.js';
import { applyAnswer, clientOffer, makeClient, rtpPacket, waitFor, type ClientPeer } from '../media/peer/helpers.js';
import { parseSdp } from '../../src/media/sdp/parse.js';
import { writeSdp } from '../../src/media/sdp/write.js';
import { extractRemoteTransport } from '../../src/media/sdp/jsep.js';
import { buildAnswer, type AnswerOptions } from '../../src/media/sdp/negotiate.js';

Janode.Logger.setLevel('none');

type Feed = number;
interface Jsep {
  type: string;
  sdp: string;
}
interface PubInfo {
  feed: Feed;
  display?: string;
  streams?: { type: string; mid: string; codec?: string }[];
}
/** The parts of janode's VideoRoomHandle this test uses (janode ships no types). */
interface VrHandle extends JanodeHandle {
  feed?: Feed;
  joinPublisher(p: Record<string, unknown>): Promise<{ room: number; feed: Feed; private_id: number; publishers: PubInfo[]; display?: string }>;
  publish(p: { jsep: Jsep; display?: string }): Promise<{ feed: Feed; configured: string; jsep?: Jsep; streams?: { type: string; mid: string; codec?: string }[] }>;
  configure(p: Record<string, unknown>): Promise<{ configured: string }>;
  unpublish(): Promise<{ feed: Feed }>;
  joinSubscriber(p: Record<string, unknown>): Promise<{ room: number; jsep?: Jsep; streams?: { type: string; mid: string; feed_id: Feed; feed_display?: string; codec?: string; active?: boolean }[] }>;
  start(p: { jsep?: Jsep }): Promise<{ started: string }>;
  pause(): Promise<{ paused: string }>;
  leave(): Promise<{ feed?: Feed }>;
}

const ROOM = 9999;
const E = VideoRoomPlugin.EVENT;
const servers: RunningServer[] = [];
const clients: ClientPeer[] = [];
after(async () => {
  for (const c of clients) c.close();
  await Promise.all(servers.map((s) => s.stop()));
});

/** The next `event` the handle emits whose data passes `pred` (rejects after `ms`). */
function next<T = Record<string, unknown>>(h: JanodeHandle, event: string | undefined, pred: (d: T) => boolean = () => true, ms = 5000): Promise<T> {
  assert.ok(event, 'janode exports this event name');
  return new Promise((resolve, reject) => {
    const on = (d: T) => {
      if (!pred(d)) return;
      clearTimeout(timer);
      h.off(event, on);
      resolve(d);
    };
    const timer = setTimeout(() => {
      h.off(event, on);
      reject(new Error(`janode did not emit ${event} within ${ms} ms`));
    }, ms);
    h.on(event, on);
  });
}

/** Answer a VideoRoom subscriber offer from a Node client: recvonly audio/video, data accepted. */
function answerOffer(c: ClientPeer, offerSdp: string): string {
  const offer = parseSdp(offerSdp);
  c.peer.setRemoteDescription(offer, extractRemoteTransport(offer, { type: 'offer' }), 'offer');
  const { description } = buildAnswer(offer, (m): AnswerOptions => {
    if (m.kind === 'audio') return { codecs: ['opus'], direction: 'recvonly', simulcast: false, rtx: false };
    if (m.kind === 'video') return { codecs: ['vp8'], direction: 'recvonly', simulcast: false, rtx: false };
    return {};
  });
  return c.peer.setLocalDescription(writeSdp(description), 'answer');
}

/** A VP8 keyframe-looking payload (descriptor S=1, frame tag key frame, start code, 320x240) of ~1000 bytes. */
function vp8Payload(key: boolean): Buffer {
  const b = Buffer.alloc(1000, 0x55);
  b[0] = 0x10; // payload descriptor: S=1, partition 0
  b[1] = key ? 0x10 : 0x11; // frame tag: bit0 = inter frame, show_frame
  b[2] = 0x02;
  b[3] = 0x00;
  b[4] = 0x9d; b[5] = 0x01; b[6] = 0x2a; // key frame start code
  b.writeUInt16LE(320, 7);
  b.writeUInt16LE(240, 9);
  return b;
}

test('janode VideoRoom against Portunus: join, publish, subscribe/start/pause, display, unpublish, leave with real media', { timeout: 60_000 }, async () => {
  const srv = await startPortunus({ stringIds: false, videoroomAdminKey: 'videoroom_key' });
  servers.push(srv);
  // The default: the pool (one worker per core), VideoRoom in it.
  assert.match(srv.log(), /"plugin":"janus\.plugin\.videoroom"[^\n]*plugin runs in the media worker pool/, 'VideoRoom must have started in the worker pool');
  await scenario(srv);
});

test('the same with one media worker (media_workers = 1)', { timeout: 60_000 }, async () => {
  const srv = await startPortunus({ stringIds: false, videoroomAdminKey: 'videoroom_key', mediaWorkers: 1 });
  servers.push(srv);
  assert.match(srv.log(), /"plugin":"janus\.plugin\.videoroom"[^\n]*"workers":\[0\][^\n]*plugin runs in the media worker pool/, 'VideoRoom must have started in the one worker');
  await scenario(srv);
});

test('the same with everything on the main thread (media_workers = 0)', { timeout: 60_000 }, async () => {
  const srv = await startPortunus({ stringIds: false, videoroomAdminKey: 'videoroom_key', mediaWorkers: 0 });
  servers.push(srv);
  assert.doesNotMatch(srv.log(), /media worker/, 'no media worker may start');
  await scenario(srv);
});

test('the same with VideoRoom kept on the main thread by its jcfg (media_worker = false) next to the pool', { timeout: 60_000 }, async () => {
  const conf = await makeConfigsFolder('portunus', { stringIds: false, videoroomAdminKey: 'videoroom_key', mediaWorkers: 2 });
  const file = join(conf.dir, 'janus.plugin.videoroom.jcfg');
  const text = readFileSync(file, 'utf8');
  assert.match(text, /general: \{/);
  writeFileSync(file, text.replace('general: {', 'general: {\n\tmedia_worker = false'));
  const srv = await startPortunusOnFolder(conf.dir, conf.ports, conf.serverName, conf.adminSecret);
  const stop = srv.stop;
  srv.stop = async () => {
    await stop();
    conf.remove();
  };
  servers.push(srv);
  assert.doesNotMatch(srv.log(), /plugin runs in the media worker pool/, 'VideoRoom must stay on the main thread');
  await scenario(srv);
});

async function scenario(srv: RunningServer): Promise<void> {
  const connection = await Janode.connect({ is_admin: false, address: { url: srv.wsUrl }, max_retries: 1, retry_time_secs: 1 });
  let sender: NodeJS.Timeout | undefined;
  try {
    const session = await connection.create();
    const bob = await session.attach<VrHandle>(VideoRoomPlugin);
    const alice = await session.attach<VrHandle>(VideoRoomPlugin);
    const viewer = await session.attach<VrHandle>(VideoRoomPlugin);

    // bob joins first and watches the room's events.
    const bobJoined = await bob.joinPublisher({ room: ROOM, display: 'bob' });
    assert.equal(bobJoined.room, ROOM);
    assert.equal(typeof bobJoined.feed, 'number', `bob's feed id: ${JSON.stringify(bobJoined)}`);
    assert.deepEqual(bobJoined.publishers, [], 'nobody publishes yet');

    const aliceJoined = await alice.joinPublisher({ room: ROOM, display: 'alice' });
    assert.equal(typeof aliceJoined.feed, 'number');
    assert.notEqual(aliceJoined.feed, bobJoined.feed);
    assert.equal(typeof aliceJoined.private_id, 'number', 'a private_id for the publisher');
    assert.equal(aliceJoined.display, 'alice');
    const aliceFeed = aliceJoined.feed;

    // alice publishes a real PeerConnection (audio + video + data).
    const pub = await makeClient();
    clients.push(pub);
    const bobSeesAlice = next<{ publishers: PubInfo[] }>(bob, E.VIDEOROOM_PUB_LIST, (d) => d.publishers.some((p) => p.feed === aliceFeed), 10_000);
    const published = await alice.publish({ jsep: { type: 'offer', sdp: clientOffer(pub) } });
    assert.equal(published.configured, 'ok');
    assert.equal(published.feed, aliceFeed);
    assert.equal(published.jsep?.type, 'answer', 'publish answers with a JSEP answer');
    applyAnswer(pub, published.jsep!.sdp);
    assert.deepEqual(published.streams?.map((s) => s.type).sort(), ['audio', 'data', 'video'], `published streams: ${JSON.stringify(published.streams)}`);
    await waitFor('the publisher PeerConnection (ICE + DTLS)', () => pub.up, 10_000);

    const seen = await bobSeesAlice;
    const aliceInfo = seen.publishers.find((p) => p.feed === aliceFeed)!;
    assert.equal(aliceInfo.display, 'alice');
    assert.deepEqual(aliceInfo.streams?.filter((s) => s.type !== 'data').map((s) => `${s.type}/${s.codec}`).sort(), ['audio/opus', 'video/vp8']);

    // RTP from alice: 50 packets/s of VP8 (keyframe every 25) and Opus.
    let seq = 0;
    let ts = 0;
    sender = setInterval(() => {
      seq = (seq + 1) & 0xffff;
      ts = (ts + 1800) >>> 0;
      const v = rtpPacket(96, seq, ts, 0x1111, vp8Payload(seq % 25 === 1));
      v[1] = 0x80 | 96; // marker: one packet per frame
      pub.peer.sendRtp('1', v, v.length);
      const a = rtpPacket(111, seq, (seq * 960) >>> 0, 0x2222, Buffer.alloc(80, 0xfc));
      pub.peer.sendRtp('0', a, a.length);
    }, 20);

    // viewer subscribes to alice through janode; the offer is answered by a second Node client.
    const sub = await makeClient();
    clients.push(sub);
    const attached = await viewer.joinSubscriber({ room: ROOM, streams: [{ feed: aliceFeed }] });
    assert.equal(attached.room, ROOM);
    assert.equal(attached.jsep?.type, 'offer', 'the subscriber gets an offer from the server');
    const media = (attached.streams ?? []).filter((s) => s.type !== 'data');
    assert.deepEqual(media.map((s) => s.type).sort(), ['audio', 'video'], `attached streams: ${JSON.stringify(attached.streams)}`);
    for (const s of media) {
      assert.equal(s.feed_id, aliceFeed, 'each stream names its publisher');
      assert.equal(s.feed_display, 'alice');
    }
    const started = await viewer.start({ jsep: { type: 'answer', sdp: answerOffer(sub, attached.jsep!.sdp) } });
    assert.equal(started.started, 'ok');
    await waitFor('the subscriber PeerConnection (ICE + DTLS)', () => sub.up, 10_000);
    const videoMid = media.find((s) => s.type === 'video')!.mid;
    const audioMid = media.find((s) => s.type === 'audio')!.mid;
    const count = (mid: string) => sub.rtp.filter((r) => r.stream.mid === mid).length;
    await waitFor('alice\'s video and audio at the subscriber', () => count(videoMid) >= 20 && count(audioMid) >= 20, 10_000);
    // Forwarded packets are alice's: the VP8 payload arrives intact (after SRTP both ways).
    const v = sub.rtp.find((r) => r.stream.mid === videoMid)!.bytes;
    const hdr = 12 + (v[0]! & 0x10 ? 4 + 4 * v.readUInt16BE(12 + 2) : 0) + 4 * (v[0]! & 0x0f);
    assert.equal(v.length - hdr, 1000, 'the VP8 payload size is kept');
    assert.equal(v[hdr + 4], 0x9d, 'the VP8 payload is forwarded unchanged');

    // Display change: bob hears about it.
    const bobSeesDisplay = next<{ feed: Feed; display: string }>(bob, E.VIDEOROOM_DISPLAY, (d) => d.feed === aliceFeed);
    const configured = await alice.configure({ display: 'alice (renamed)' });
    assert.equal(configured.configured, 'ok');
    assert.equal((await bobSeesDisplay).display, 'alice (renamed)');

    // pause stops the flow, start (no JSEP) resumes it.
    const paused = await viewer.pause();
    assert.equal(paused.paused, 'ok');
    await new Promise((r) => setTimeout(r, 300));
    const atPause = count(videoMid);
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(count(videoMid) - atPause <= 2, `no video while paused (${count(videoMid) - atPause} packets in 0.5 s)`);
    const resumed = await viewer.start({});
    assert.equal(resumed.started, 'ok');
    const atResume = count(videoMid);
    await waitFor('video again after start', () => count(videoMid) >= atResume + 10, 5000);

    const left = await viewer.leave();
    assert.ok(left, 'the subscriber leave resolves (janode LEAVING)');

    // alice unpublishes, then leaves; bob is told both.
    const bobSeesUnpublished = next<{ feed: Feed }>(bob, E.VIDEOROOM_UNPUBLISHED, (d) => d.feed === aliceFeed);
    const unpublished = await alice.unpublish();
    assert.equal(unpublished.feed, aliceFeed);
    await bobSeesUnpublished;
    const bobSeesLeaving = next<{ feed: Feed }>(bob, E.VIDEOROOM_LEAVING, (d) => d.feed === aliceFeed);
    const aliceLeft = await alice.leave();
    assert.equal(aliceLeft.feed, aliceFeed);
    await bobSeesLeaving;

    clearInterval(sender);
    sender = undefined;
    await bob.leave();
    await session.destroy();
    assert.ok(srv.alive(), 'Portunus still running');
  } finally {
    if (sender) clearInterval(sender);
    await connection.close().catch(() => undefined);
  }
}
