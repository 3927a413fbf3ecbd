/**
 * Two RtpSessions wired back to back in simulated time: A sends video to B over a lossy link,
 * B's NACKs make A retransmit, and B ends with every packet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rtpSeq, rtpSsrc } from '../../../src/media/rtp/index.js';
import type { RtpSession } from '../../../src/media/session/index.js';
import { rtp, session } from './helpers.js';
import { prng } from '../../helpers/prng.js';

const A_SSRC = 0xa0000001;
const A_RTX = 0xa0000002;

interface InFlight {
  at: number;
  to: 'A' | 'B';
  rtcp: boolean;
  buf: Buffer;
  len: number;
}

export function run(useRtx: boolean, seed: number) {
  const loss = prng(seed);
  const DELAY = 20;
  const LOSS = 0.1;
  const N = 500;

  const a = session({ minNackQueueMs: 1000, random: prng(seed + 1) });
  a.addLocalStream({ mid: '0', kind: 'video', ssrc: A_SSRC, clockRate: 90000, ...(useRtx ? { rtxSsrc: A_RTX, rtxPt: 97 } : {}) });
  const b = session({ random: prng(seed + 2) });
  b.addRemoteMid({ mid: '0', kind: 'video', clockRate: 90000, payloadTypes: [96], rtx: useRtx ? [{ pt: 97, apt: 96 }] : [] });
  if (useRtx) b.addRemoteSsrc('0', A_SSRC, { rtxSsrc: A_RTX });
  // without RTX, B learns A's SSRC from the payload type

  const net: InFlight[] = [];
  const sent = new Map<number, Buffer>();
  const got = new Map<number, Buffer>();
  let dropped = 0;
  let rtxDelivered = 0;
  const rtcpBuf = Buffer.alloc(1500);

  const send = (to: 'A' | 'B', rtcp: boolean, src: Buffer, len: number, now: number, lossy: boolean) => {
    if (lossy && loss() < LOSS) {
      dropped++;
      return;
    }
    const buf = Buffer.alloc(len + 16);
    src.copy(buf, 0, 0, len);
    net.push({ at: now + DELAY, to, rtcp, buf, len });
  };

  const flush = (s: RtpSession, to: 'A' | 'B', now: number) => {
    const t = s.pollTimeout();
    if (!s.hasPendingRtcp && (t === undefined || t > now)) return;
    s.handleTimeout(now);
    let n: number;
    while ((n = s.pollRtcpInto(rtcpBuf, now)) > 0) send(to, true, rtcpBuf, n, now, true);
    while (s.pollEvent());
    // after a full drain nothing is due any more: a timer armed from pollTimeout() never spins
    const next = s.pollTimeout();
    assert.ok(next === undefined || next > now, `pollTimeout ${next} at ${now}`);
    assert.equal(s.hasPendingRtcp, false);
  };

  for (let now = 0; now <= 8000; now++) {
    if (now % 10 === 0 && now / 10 < N) {
      const seq = (65500 + now / 10) & 0xffff; // crosses the wrap
      const p = rtp(A_SSRC, seq, now * 90, { payload: 200 });
      assert.equal(a.onOutgoingRtp(p, 212, now), 0);
      sent.set(seq, Buffer.from(p.subarray(0, 212)));
      // the first and the last few originals always get through: losses before the first packet
      // or after the last one cannot be seen as gaps by any receiver
      send('B', false, p, 212, now, now > 0 && now / 10 < N - 5);
    }
    for (let i = 0; i < net.length; ) {
      const m = net[i]!;
      if (m.at > now) {
        i++;
        continue;
      }
      net.splice(i, 1);
      if (m.to === 'B') {
        if (m.rtcp) {
          b.onRtcp(m.buf, m.len, now);
        } else {
          const idx = b.onRtp(m.buf, m.len, now);
          assert.equal(idx, 0);
          if (b.rtpWasRtx) rtxDelivered++;
          assert.equal(rtpSsrc(m.buf), A_SSRC);
          got.set(rtpSeq(m.buf), Buffer.from(m.buf.subarray(0, b.rtpLength)));
        }
      } else {
        assert.ok(m.rtcp);
        const r = a.onRtcp(m.buf, m.len, now);
        for (let k = 0; k < r.retransmitCount; k++) {
          const rb = r.retransmitBuffers[k]!;
          assert.equal(rtpSsrc(rb), useRtx ? A_RTX : A_SSRC, 'retransmissions carry our own SSRC');
          send('B', false, rb, r.retransmitLengths[k]!, now, true);
        }
      }
    }
    flush(a, 'B', now);
    flush(b, 'A', now);
  }

  return { a, b, sent, got, dropped, rtxDelivered, N };
}

for (const useRtx of [false, true]) {
  test(`back to back with 10% loss${useRtx ? ' and RTX' : ''}: B's NACKs make A retransmit, B ends with no holes`, () => {
    const { a, b, sent, got, dropped, rtxDelivered, N } = run(useRtx, useRtx ? 7 : 3);
    assert.ok(dropped > 40, `the link lost packets (${dropped})`);
    assert.equal(sent.size, N);
    const missing = [...sent.keys()].filter((s) => !got.has(s));
    assert.deepEqual(missing, [], 'no holes');
    for (const [seq, bytes] of sent) assert.deepEqual(got.get(seq), bytes, `packet ${seq} intact`);
    const inb = b.getStats().inbound[0]!;
    assert.equal(inb.lost, 0);
    assert.ok(inb.nacksSent > 0);
    const out = a.getStats().outbound[0]!;
    assert.ok(out.retransmitted >= 50 * 0.5, `retransmitted ${out.retransmitted}`);
    assert.ok(out.nacksReceived > 0);
    assert.equal(out.packets, N);
    // A learnt the RTT (2 × 20 ms) from B's receiver reports
    assert.ok(Math.abs(a.rtt - 40) < 1.5, `rtt ${a.rtt}`);
    if (useRtx) assert.equal(rtxDelivered, inb.rtxPackets);
    assert.ok(!useRtx || rtxDelivered > 0);
  });
}
