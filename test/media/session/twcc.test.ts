import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildExtensionBlock, readAbsSendTime, readTransportSeq, rtpSeq, rtpSsrc } from '../../../src/media/rtp/index.js';
import { buildNack, parseTransportCc, RtcpType, RtpfbFmt, TransportCcFeedback, TwccStatus } from '../../../src/media/rtcp/index.js';
import { drainRtcp, parts, rtp, session } from './helpers.js';

const LOCAL_V = 0x22220001;
const LOCAL_V_RTX = 0x22220002;
const TWCC = 3;
const ABS = 2;

/** A packet with zeroed abs-send-time and transport-wide elements, as the VideoRoom forwards them. */
function pkt(ssrc: number, seq: number, payload = 1000, withTwcc = true): { b: Buffer; len: number } {
  const ext = buildExtensionBlock(withTwcc ? [{ id: ABS, data: Buffer.alloc(3) }, { id: TWCC, data: Buffer.alloc(2) }] : [{ id: 4, data: Buffer.from('v') }]);
  const b = rtp(ssrc, seq, seq * 3000, { ext, payload });
  return { b, len: 12 + ext.length + payload };
}

function sender(rtx = false) {
  const s = session({ extensions: { transportCc: TWCC, absSendTime: ABS } });
  s.addLocalStream({ mid: 'v', kind: 'video', ssrc: LOCAL_V, clockRate: 90000, ...(rtx ? { rtxSsrc: LOCAL_V_RTX, rtxPt: 97 } : {}) });
  return s;
}

function receiver(period = 100) {
  const s = session({ extensions: { transportCc: TWCC }, twccPeriodMs: period });
  s.addRemoteMid({ mid: 'v', kind: 'video', clockRate: 90000, payloadTypes: [96] });
  s.addRemoteSsrc('v', LOCAL_V);
  return s;
}

function twccIn(bufs: Buffer[]): TransportCcFeedback[] {
  const out: TransportCcFeedback[] = [];
  for (const b of bufs) {
    for (const p of parts(b)) {
      if (p.type !== RtcpType.RTPFB || p.fmt !== RtpfbFmt.TransportCC) continue;
      const fb = new TransportCcFeedback();
      assert.ok(parseTransportCc(b, p.off, p.len, fb));
      out.push(fb);
    }
  }
  return out;
}

test('sender stamps consecutive transport-wide sequence numbers and abs-send-time; packets without the element take none', () => {
  const s = sender();
  const seqs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const p = i === 2 ? pkt(LOCAL_V, 100 + i, 500, false) : pkt(LOCAL_V, 100 + i);
    s.onOutgoingRtp(p.b, p.len, 1000 + i * 10);
    seqs.push(readTransportSeq(p.b, p.len, TWCC));
    if (i !== 2) assert.ok(readAbsSendTime(p.b, p.len, ABS) > 0);
  }
  assert.equal(seqs[2], -1);
  const own = seqs.filter((x) => x >= 0);
  for (let i = 1; i < own.length; i++) assert.equal(own[i], (own[i - 1]! + 1) & 0xffff, `no hole: ${own.join(',')}`);
  // A retransmission is a new packet on the wire: it gets the next number.
  const r = s.onRtcp(buildNack(0x99, LOCAL_V, [101]), 16, 1100);
  assert.equal(r.retransmitCount, 1);
  assert.equal(readTransportSeq(r.retransmitBuffers[0]!, r.retransmitLengths[0]!, TWCC), (own[own.length - 1]! + 1) & 0xffff);
});

test('receiver sends transport-cc feedback at its period, covering every packet once, gaps as lost', () => {
  const tx = sender();
  const rx = receiver(100);
  const seqs: number[] = [];
  for (let i = 0; i < 30; i++) {
    const p = pkt(LOCAL_V, i);
    tx.onOutgoingRtp(p.b, p.len, 1000 + i * 5);
    seqs.push(readTransportSeq(p.b, p.len, TWCC));
    if (i === 7) continue; // lost
    assert.equal(rx.onRtp(p.b, p.len, 1020 + i * 5), 0);
  }
  // nothing before the period is up (the first packet arrived at 1020)
  assert.equal(twccIn(drainRtcp(rx, 1060)).length, 0);
  const fbs = twccIn(drainRtcp(rx, 1125));
  assert.equal(fbs.length, 1);
  const fb = fbs[0]!;
  assert.equal(fb.baseSeq, seqs[0]);
  assert.equal(fb.count, 30);
  assert.equal(fb.status[7], TwccStatus.NotReceived);
  assert.ok(Math.abs(fb.arrivalUs(9) - fb.arrivalUs(8) - 5000) <= 250);
  assert.equal(twccIn(drainRtcp(rx, 1300)).length, 0, 'nothing new, nothing sent');
  assert.equal(rx.getStats().bwe!.twccFeedbacksSent, 1);
});

test('the sender turns feedback into an estimate; a congested path lowers it', () => {
  const tx = sender();
  const rx = receiver(100);
  assert.equal(tx.estimateBps, 0, 'unknown before any feedback');
  // 1 Mbit/s offered (1000-byte packets every 8 ms) through a 500 kbit/s path (16 ms per packet).
  let linkFree = 0;
  let now = 0;
  const pending: Array<{ at: number; b: Buffer; len: number }> = [];
  let untrustedFeedback = 0;
  for (let i = 0; i < 1000; i++) {
    now = i * 8;
    const p = pkt(LOCAL_V, i);
    tx.onOutgoingRtp(p.b, p.len, now);
    linkFree = Math.max(now, linkFree) + 16;
    pending.push({ at: linkFree + 20, b: p.b, len: p.len });
    while (pending.length > 0 && pending[0]!.at <= now) {
      const q = pending.shift()!;
      rx.onRtp(q.b, q.len, q.at);
    }
    for (const b of drainRtcp(rx, now)) {
      tx.onRtcp(b, b.length, now + 20);
      // The start value is no estimate: a layer chooser must see nothing until something was measured.
      if (!tx.getStats().bwe!.trusted) {
        untrustedFeedback++;
        assert.equal(tx.estimateBps, 0, 'no estimate before it rests on a measurement');
      }
    }
  }
  assert.ok(untrustedFeedback >= 1, 'the first feedback alone is not trusted');
  const est = tx.estimateBps;
  assert.ok(est > 0 && est < 600_000, `estimate ${est}`);
  const bwe = tx.getStats().bwe!;
  assert.ok(bwe.twccFeedbacksReceived >= 50);
  assert.equal(bwe.estimate, est);
});

test('probing: once feedback arrives, padding goes out paced as RTX copies of the latest video packet, stamped', () => {
  const tx = sender(true);
  const rx = receiver(50);
  let now = 0;
  for (let i = 0; i < 60; i++) {
    now = i * 20;
    const p = pkt(LOCAL_V, 500 + i, 1100);
    tx.onOutgoingRtp(p.b, p.len, now);
    rx.onRtp(p.b, p.len, now + 10);
    for (const b of drainRtcp(rx, now + 10)) tx.onRtcp(b, b.length, now + 15);
  }
  const out = Buffer.alloc(1600);
  const probes: Array<{ at: number; tseq: number }> = [];
  for (let t = now; t < now + 300; t++) {
    let n: number;
    while ((n = tx.pollProbeInto(out, t)) > 0) {
      assert.equal(rtpSsrc(out), LOCAL_V_RTX);
      assert.equal(out.readUInt16BE(12 + 12), 559, 'OSN: the latest packet'); // after the 12-byte extension block
      probes.push({ at: t, tseq: readTransportSeq(out, n, TWCC) });
      assert.ok(rtpSeq(out) >= 0);
    }
  }
  assert.ok(probes.length >= 5, `probe packets: ${probes.length}`);
  for (let i = 1; i < probes.length; i++) assert.equal(probes[i]!.tseq, (probes[i - 1]!.tseq + 1) & 0xffff);
  assert.ok(probes[probes.length - 1]!.at - probes[0]!.at >= 50, 'paced over the cluster, not one burst');
  assert.equal(tx.getStats().bwe!.probePackets, probes.length);
  assert.equal(tx.getStats().bwe!.probes, 1, 'one cluster started, in handle_info');
});

test('probing: a cluster lasts what the estimator sized (bytes, not packets) and small video packets still pad at its rate', () => {
  const tx = sender(true);
  const rx = receiver(50);
  let now = 0;
  // 90p-sized packets: a cluster of copies of them needs many more packets than of full ones.
  for (let i = 0; i < 60; i++) {
    now = i * 20;
    const p = pkt(LOCAL_V, 500 + i, 250);
    tx.onOutgoingRtp(p.b, p.len, now);
    rx.onRtp(p.b, p.len, now + 10);
    for (const b of drainRtcp(rx, now + 10)) tx.onRtcp(b, b.length, now + 15);
  }
  const out = Buffer.alloc(1600);
  let first = -1;
  let last = -1;
  let bytes = 0;
  let target = 0;
  for (let t = now; t < now + 2000; t++) {
    let n: number;
    while ((n = tx.pollProbeInto(out, t)) > 0) {
      if (first < 0) {
        first = t;
        target = tx.estimator!.probeDurationMs;
      }
      last = t;
      bytes += n;
    }
  }
  assert.ok(first >= 0, 'a probe ran');
  const sizedMs = target;
  assert.ok(sizedMs > 100, `sized in bytes, longer than the 100 ms floor at this rate: ${sizedMs}`);
  assert.ok(last - first >= sizedMs * 0.9 && last - first <= sizedMs + 5, `sent over ${last - first} ms of ${sizedMs}`);
  // The 30 kB cluster minus the ~100 kbit/s of video is padding, however small the packets copied.
  assert.ok(bytes >= 22_000 && bytes <= 34_000, `padding bytes: ${bytes} over ${last - first} ms of ${sizedMs}`);
});

test('without transport-cc negotiated nothing is stamped, no feedback, no estimate', () => {
  const tx = session();
  tx.addLocalStream({ mid: 'v', kind: 'video', ssrc: LOCAL_V, clockRate: 90000 });
  const rx = session();
  rx.addRemoteMid({ mid: 'v', kind: 'video', clockRate: 90000, payloadTypes: [96] });
  rx.addRemoteSsrc('v', LOCAL_V);
  const p = pkt(LOCAL_V, 1);
  tx.onOutgoingRtp(p.b, p.len, 0);
  assert.equal(readTransportSeq(p.b, p.len, TWCC), 0);
  rx.onRtp(p.b, p.len, 10);
  assert.equal(twccIn(drainRtcp(rx, 2000)).length, 0);
  assert.equal(tx.estimateBps, 0);
  assert.equal(tx.pollProbeInto(Buffer.alloc(1500), 100), 0);
});

test('idle: once no media leaves, the estimator asks for no wake-up of its own; it restarts with the media', () => {
  const tx = sender(true);
  const rx = receiver(100);
  let now = 0;
  let seq = 500;
  // A timer loop as the Peer runs one: wake at every deadline the session asks for, exchange RTCP.
  let wakes = 0;
  let ccWakes = 0;
  const out = Buffer.alloc(1600);
  const advance = (until: number, sending: boolean): void => {
    let nextPacket = now;
    while (now < until) {
      const deadline = tx.pollTimeout() ?? Infinity;
      const at = Math.min(deadline, sending ? nextPacket : Infinity, until);
      now = at;
      if (sending && now >= nextPacket) {
        const p = pkt(LOCAL_V, seq++ & 0xffff, 1000);
        tx.onOutgoingRtp(p.b, p.len, now);
        rx.onRtp(p.b, p.len, now + 5);
        nextPacket = now + 20;
      }
      if (now >= deadline) {
        wakes++;
        tx.handleTimeout(now);
        drainRtcp(tx, now);
        while (tx.pollProbeInto(out, now) > 0);
      }
      rx.handleTimeout(now + 5);
      for (const b of drainRtcp(rx, now + 5)) tx.onRtcp(b, b.length, now + 10);
      // The 250 ms estimator check: a deadline 250 ms after the session's time that nothing else explains.
      if (tx.pollTimeout() === now + 250) ccWakes++;
    }
  };
  advance(6000, true);
  assert.ok(tx.getStats().bwe!.twccFeedbacksReceived > 10);
  assert.ok(ccWakes > 5, `the estimator's check runs while media flows: ${ccWakes}`);
  assert.equal(tx.ccParked, false);
  // Media stops: after CC_IDLE_MS the estimator asks for nothing; what wakes the session is the
  // per-second tick and the RTCP reports (about 2 a second), not 4 more a second for the estimator.
  advance(8000, false);
  wakes = 0;
  ccWakes = 0;
  const probesBefore = tx.getStats().bwe!.probePackets;
  advance(28_000, false);
  assert.equal(ccWakes, 0, 'no estimator wake-up once idle');
  assert.ok(wakes <= 45, `wake-ups in 20 s idle: ${wakes} (with the estimator's 250 ms check: 80 more)`);
  assert.equal(tx.ccParked, true);
  assert.equal(tx.getStats().bwe!.probePackets, probesBefore, 'no probe padding into an idle PeerConnection');
  // Media again: the first packet clears the parking (the Peer re-reads pollTimeout then).
  const p = pkt(LOCAL_V, seq++ & 0xffff, 1000);
  tx.onOutgoingRtp(p.b, p.len, now);
  const d = tx.pollTimeout()!;
  assert.equal(tx.ccParked, false);
  assert.ok(d <= now + 250, `the check is back: deadline ${d - now} ms ahead`);
  advance(now + 6000, true);
  assert.ok(tx.getStats().bwe!.probePackets > probesBefore, 'probing resumed with the media');
  // A plugin that wants something sent keeps the estimator running without media (a paused subscriber).
  advance(now + 3000, false);
  assert.equal(tx.ccParked, true);
  tx.setWantedBitrate(500_000, now);
  assert.ok(tx.pollTimeout()! <= now + 250);
  assert.equal(tx.ccParked, false);
});
