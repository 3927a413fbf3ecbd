/**
 * What an RtpSession holds per PeerConnection (issue 12: memory per webinar subscriber). A subscriber's
 * session sends video and receives only RTCP: the receive side of transport-cc (the arrival recorder,
 * 64 kB of rings) must not exist until an RTP packet with a transport-wide number arrives.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { buildExtensionBlock } from '../../../src/media/rtp/index.js';
import type { RtpSession } from '../../../src/media/session/index.js';
import { drainRtcp, rtp, session } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const TWCC = 3;
const N = 40;

function arrayBuffersNow(): number {
  gc();
  gc();
  return process.memoryUsage().arrayBuffers;
}

/** ArrayBuffer bytes per session for N sessions made and driven by `make` (kept alive meanwhile). */
function perSession(make: (i: number) => RtpSession): number {
  const before = arrayBuffersNow();
  const keep: RtpSession[] = [];
  for (let i = 0; i < N; i++) keep.push(make(i));
  const after = arrayBuffersNow();
  assert.equal(keep.length, N);
  return (after - before) / N;
}

function twccPacket(ssrc: number, seq: number): { b: Buffer; len: number } {
  const ext = buildExtensionBlock([{ id: TWCC, data: Buffer.from([seq >> 8, seq & 0xff]) }]);
  return { b: rtp(ssrc, seq, seq * 3000, { ext, payload: 200 }), len: 12 + ext.length + 200 };
}

test('a sending-only session (a subscriber) holds no transport-cc receive recorder; one that receives gets it at its first packet', () => {
  // Subscriber-like: one local video stream, transport-cc negotiated, packets out, RTCP only in.
  const sending = perSession((i) => {
    const s = session({ extensions: { transportCc: TWCC } });
    s.addLocalStream({ mid: 'v', kind: 'video', ssrc: 0x10000 + i, clockRate: 90000 });
    for (let k = 0; k < 5; k++) {
      const p = twccPacket(0x10000 + i, k);
      s.onOutgoingRtp(p.b, p.len, 1000 + k * 33);
    }
    drainRtcp(s, 2000);
    return s;
  });
  // Publisher-like: the same, plus one received RTP packet carrying a transport-wide number.
  const receiving = perSession((i) => {
    const s = session({ extensions: { transportCc: TWCC }, twccPeriodMs: 100 });
    s.addLocalStream({ mid: 'v', kind: 'video', ssrc: 0x20000 + i, clockRate: 90000 });
    for (let k = 0; k < 5; k++) {
      const p = twccPacket(0x20000 + i, k);
      s.onOutgoingRtp(p.b, p.len, 1000 + k * 33);
    }
    s.addRemoteMid({ mid: 'r', kind: 'video', clockRate: 90000, payloadTypes: [96] });
    s.addRemoteSsrc('r', 0x30000 + i);
    const p = twccPacket(0x30000 + i, 7);
    s.onRtp(p.b, p.len, 1500);
    drainRtcp(s, 2000);
    return s;
  });
  // The recorder is 2 x 4096 doubles: a receiving session holds at least ~48 kB more than a sending one.
  assert.ok(receiving - sending >= 48 * 1024, `sending ${Math.round(sending / 1024)} kB vs receiving ${Math.round(receiving / 1024)} kB per session`);
});

test('a subscriber session sending 30 packets/s for 10 s holds a few kB of typed arrays, not a 128 kB transport-cc send history', () => {
  const per = perSession((i) => {
    const s = session({ extensions: { transportCc: TWCC } });
    s.addLocalStream({ mid: 'v', kind: 'video', ssrc: 0x40000 + i, clockRate: 90000 });
    for (let k = 0; k < 300; k++) {
      const p = twccPacket(0x40000 + i, k);
      s.onOutgoingRtp(p.b, p.len, 1000 + k * 33);
    }
    drainRtcp(s, 11_000);
    return s;
  });
  // Before: 8192 x 16 bytes of send history and a 512-entry feedback batch (138 kB) whatever the rate.
  assert.ok(per < 24 * 1024, `${Math.round(per / 1024)} kB per session`);
});
