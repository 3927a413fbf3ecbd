/**
 * EchoTest plugin without sockets: a recording fake host stands in for the core.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EchoTestPlugin } from '../../../src/plugins/echotest/plugin.js';
import type { Jsep } from '../../../src/core/jsep.js';
import type { PluginHost, PluginMediaHost, PluginSession, RtpStreamInfo } from '../../../src/core/plugin.js';
import { emptyJcfgDocument } from '../../../src/core/empty-jcfg.js';
import { parseSdp } from '../../../src/media/sdp/parse.js';
import { describeMedia, EXT } from '../../../src/media/sdp/negotiate.js';
import { buildPli, buildRemb, rembBitrate } from '../../../src/media/rtcp/feedback.js';
import { buildReceiverReport } from '../../../src/media/rtcp/report.js';
import { log } from '../../../src/log.js';
import { CHROME_OFFER } from './chrome-offer.js';

interface Pushed {
  transaction: string | null;
  data: Record<string, unknown>;
  jsep?: Jsep;
}

function makeHost() {
  const pushed: Pushed[] = [];
  const rtp: Array<{ mid: string; len: number }> = [];
  const rtcp: Array<{ mid: string | null; bytes: Buffer }> = [];
  const data: Array<{ label: string | null; data: string | Buffer }> = [];
  const plis: Array<string | null> = [];
  const rembs: number[] = [];
  const host: PluginHost & PluginMediaHost = {
    pushEvent: (_s, transaction, d, jsep) => {
      pushed.push({ transaction, data: d, ...(jsep ? { jsep } : {}) });
      return true;
    },
    closePeerConnection() {},
    endSession() {},
    isTokenValidForPlugin: () => true,
    relayRtp: (_s, mid, _buf, len) => void rtp.push({ mid, len }),
    relayRtcp: (_s, mid, buf, len) => void rtcp.push({ mid, bytes: Buffer.from(buf.subarray(0, len)) }),
    relayData: (_s, label, d) => void data.push({ label, data: d }),
    sendPli: (_s, mid) => void plis.push(mid),
    sendRemb: (_s, b) => void rembs.push(b),
    sendData: () => {},
    sendRtp: () => {},
  };
  return { host, pushed, rtp, rtcp, data, plis, rembs };
}

function session(): PluginSession {
  return { handleId: 1, sessionId: 2, opaqueId: null, token: null, state: undefined, alive: true };
}

async function setup() {
  const h = makeHost();
  const p = new EchoTestPlugin();
  await p.init({ config: emptyJcfgDocument('/tmp/none.jcfg'), configsFolder: '/tmp', gateway: {} as never, host: h.host, log });
  const s = session();
  p.createSession(s);
  return { ...h, p, s };
}

const tick = () => new Promise((r) => setImmediate(r));

const audio: RtpStreamInfo = { mid: '0', mindex: 0, kind: 'audio', ssrc: 11, substream: 0, rid: undefined };
const video: RtpStreamInfo = { mid: '1', mindex: 1, kind: 'video', ssrc: 22, substream: 0, rid: undefined };

test('identity matches Janus', () => {
  const p = new EchoTestPlugin();
  assert.equal(p.package, 'janus.plugin.echotest');
  assert.equal(p.name, 'JANUS EchoTest plugin');
  assert.equal(p.versionString, '0.0.7');
});

test('a request with a Chrome offer: ack now, then {result:"ok"} with an answer echoing audio, video and data', async () => {
  const { p, s, pushed } = await setup();
  const r = p.handleMessage(s, 'tx1', { audio: true, video: true }, { type: 'offer', sdp: CHROME_OFFER });
  assert.equal(r.kind, 'wait');
  assert.equal(pushed.length, 0, 'nothing before the ack went out');
  await tick();
  assert.equal(pushed.length, 1);
  assert.equal(pushed[0]!.transaction, 'tx1');
  assert.deepEqual(pushed[0]!.data, { echotest: 'event', result: 'ok' });
  const jsep = pushed[0]!.jsep!;
  assert.equal(jsep.type, 'answer');
  const answer = parseSdp(jsep.sdp);
  const info = describeMedia(answer);
  assert.deepEqual(info.map((m) => [m.mid, m.kind, m.direction]), [['0', 'audio', 'sendrecv'], ['1', 'video', 'sendrecv'], ['2', 'application', 'sendrecv']]);
  assert.equal(info[0]!.codec, 'opus');
  assert.equal(info[1]!.codec, 'vp8', "the browser's first video codec");
  assert.equal(info[1]!.rtxPt, undefined, 'no RTX: retransmissions are plain');
  // Extensions: mid everywhere; transport-cc and abs-send-time with the browser's ids (the core sends the feedback).
  assert.ok(info[0]!.extmapIds[EXT.mid] !== undefined && info[0]!.extmapIds[EXT.audioLevel] !== undefined);
  assert.equal(info[1]!.extmapIds[EXT.transportWideCc], 3);
  assert.equal(info[0]!.extmapIds[EXT.absSendTime], 2);
  assert.ok(answer.media[1]!.rtcpFbs.some((f) => f.type === 'nack' && f.subtype === 'pli'));
  assert.ok(answer.media[1]!.rtcpFbs.some((f) => f.type === 'transport-cc'));
  assert.equal(answer.media[2]!.sctpPort, 5000);
  assert.deepEqual(p.querySession(s).video_codec, 'vp8');
});

test('videocodec preference picks the requested codec', async () => {
  const { p, s, pushed } = await setup();
  p.handleMessage(s, 'tx', { videocodec: 'h264', audiocodec: 'pcmu' }, { type: 'offer', sdp: CHROME_OFFER });
  await tick();
  const info = describeMedia(parseSdp(pushed[0]!.jsep!.sdp));
  assert.equal(info[1]!.codec, 'h264');
  assert.equal(info[0]!.codec, 'pcmu');
});

test('invalid element types and record:true answer an error event, no JSEP', async () => {
  const { p, s, pushed } = await setup();
  p.handleMessage(s, 'a', { audio: 'yes' }, null);
  p.handleMessage(s, 'b', { bitrate: -5 }, null);
  p.handleMessage(s, 'c', { record: true }, null);
  p.handleMessage(s, 'd', {}, { type: 'offer', sdp: 'v=0\r\nnonsense' });
  await tick();
  assert.deepEqual(pushed.map((e) => [e.transaction, e.data.error_code, e.data.error, e.jsep]), [
    ['a', 413, 'Invalid element type (audio should be a boolean)', undefined],
    ['b', 413, 'Invalid element type (bitrate should be a positive integer)', undefined],
    ['c', 413, 'Recording is not supported', undefined],
    ['d', 414, pushed[3]!.data.error, undefined],
  ]);
  assert.match(String(pushed[3]!.data.error), /offer/);
});

test('RTP is echoed on the same mid; audio:false / video:false mute each direction', async () => {
  const { p, s, rtp } = await setup();
  const buf = Buffer.alloc(100);
  p.incomingRtp(s, audio, buf, 60);
  p.incomingRtp(s, video, buf, 80);
  assert.deepEqual(rtp, [{ mid: '0', len: 60 }, { mid: '1', len: 80 }]);
  p.handleMessage(s, 't', { audio: false }, null);
  await tick();
  p.incomingRtp(s, audio, buf, 60);
  p.incomingRtp(s, video, buf, 80);
  assert.deepEqual(rtp.slice(2), [{ mid: '1', len: 80 }]);
  p.handleMessage(s, 't', { audio: true, video: false }, null);
  await tick();
  p.incomingRtp(s, audio, buf, 60);
  p.incomingRtp(s, video, buf, 80);
  assert.deepEqual(rtp.slice(3), [{ mid: '0', len: 60 }]);
});

test('bitrate sends a REMB at once and caps the REMB relayed back; PLI is relayed back; reports are not', async () => {
  const { p, s, rtcp, rembs, plis } = await setup();
  p.handleMessage(s, 't', { bitrate: 128000, keyframe: true }, null);
  await tick();
  assert.deepEqual(rembs, [128000]);
  assert.deepEqual(plis, [null]);
  const remb = buildRemb(1, 2_000_000, [22]);
  const rr = buildReceiverReport(1);
  const compound = Buffer.concat([rr, remb]);
  p.incomingRtcp(s, video, compound, compound.length);
  assert.equal(rtcp.length, 1);
  assert.equal(rtcp[0]!.mid, '1');
  const relayed = rtcp[0]!.bytes;
  const br = rembBitrate(relayed, rr.length, remb.length);
  assert.ok(br <= 128000 && br > 120000, `capped REMB ${br}`);
  assert.equal(p.querySession(s)['peer-bitrate'], 2_000_000);
  // A report alone is the core's business: nothing relayed.
  p.incomingRtcp(s, video, rr, rr.length);
  assert.equal(rtcp.length, 1);
  const pli = buildPli(1, 22);
  p.incomingRtcp(s, video, pli, pli.length);
  assert.equal(rtcp.length, 2);
});

test('data: text comes back prefixed like Janus, binary unchanged, on the same label', async () => {
  const { p, s, data } = await setup();
  p.incomingData(s, 'JanusDataChannel', Buffer.from('héllo'), false);
  p.incomingData(s, 'bin', Buffer.from([1, 2, 3]), true);
  assert.deepEqual(data[0], { label: 'JanusDataChannel', data: 'Janus EchoTest here! You wrote: héllo' });
  assert.equal(data[1]!.label, 'bin');
  assert.deepEqual([...(data[1]!.data as Buffer)], [1, 2, 3]);
});

test('hangupMedia pushes {result:"done"} once and resets the settings; media stops until setupMedia', async () => {
  const { p, s, pushed, rtp } = await setup();
  p.handleMessage(s, 't', { audio: false, bitrate: 1000 }, null);
  await tick();
  pushed.length = 0;
  p.hangupMedia(s);
  p.hangupMedia(s);
  assert.deepEqual(pushed, [{ transaction: null, data: { echotest: 'event', result: 'done' } }]);
  const q = p.querySession(s);
  assert.equal(q.audio_active, true);
  assert.equal(q.bitrate, 0);
  p.incomingRtp(s, audio, Buffer.alloc(20), 20);
  assert.equal(rtp.length, 0);
  p.setupMedia(s);
  p.incomingRtp(s, audio, Buffer.alloc(20), 20);
  assert.equal(rtp.length, 1);
});
