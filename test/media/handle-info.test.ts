/**
 * media/handle-info.ts on its own (snapshot in, JSON out): the parts of Janus's layout that a live
 * EchoTest never reaches (simulcast layers by rid, RTX both ways, a PeerConnection before DTLS).
 * The live layout is tested in test/core/admin-handle-info.test.ts and against Janus 1.1.2 in
 * test/e2e/handle-info-differential.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildMediaInfo, type PeerSnapshot } from '../../src/media/handle-info.js';
import { EXT } from '../../src/media/sdp/negotiate.js';
import { emptyMediaSection, emptySession } from '../../src/media/sdp/types.js';
import type { InboundStreamStats, OutboundStreamStats } from '../../src/media/session/types.js';

function inbound(substream: number, rid: string, ssrc: number, rtxSsrc: number, packets: number): InboundStreamStats {
  return {
    mid: 'v', kind: 'video', ssrc, rtxSsrc, rid, substream, receiving: true, packets, bytes: packets * 1000, bytesLastSec: 5000,
    rtxPackets: 2, lost: 10, fractionLost: 0, jitter: 900, jitterMs: 10, nackedPackets: 3, nacksSent: 1, plisSent: 0, firsSent: 0,
    remotePacketsSent: 0, remoteBytesSent: 0,
  };
}

function snapshot(): PeerSnapshot {
  const remote = emptySession();
  const rv = emptyMediaSection('video', 'UDP/TLS/RTP/SAVPF', ['96', '97']);
  rv.mid = 'v';
  rv.extmaps = [{ id: 4, uri: EXT.mid }, { id: 10, uri: EXT.rid }, { id: 11, uri: EXT.repairedRid }];
  // Chrome's order: low to high.
  rv.rids = ['q', 'h', 'f'].map((id) => ({ id, direction: 'send' as const, payloads: [], params: {} }));
  rv.msids = [{ stream: 's', track: 't' }];
  remote.media = [rv];
  const local = emptySession();
  const lv = emptyMediaSection('video', 'UDP/TLS/RTP/SAVPF', ['96', '97']);
  lv.mid = 'v';
  lv.extmaps = [{ id: 4, uri: EXT.mid }, { id: 10, uri: EXT.rid }, { id: 11, uri: EXT.repairedRid }];
  local.media = [lv];
  const out: OutboundStreamStats = {
    mid: 'v', kind: 'video', ssrc: 111, rtxSsrc: 112, packets: 100, bytes: 100_000, bytesLastSec: 1000, retransmitted: 1,
    remoteLost: 5, remoteFractionLost: 0, remoteJitterMs: 3, rttMs: 40, nacksReceived: 2, nackedPackets: 2, plisReceived: 0, firsReceived: 0,
  };
  return {
    iceLite: false, controlling: false, iceState: 'connected', agentCreatedAt: 10, agentStartedAt: 11, iceConnectedAt: 12,
    localCandidates: [], remoteCandidates: [], selectedPair: null, up: true, iceRestart: false, wantData: false,
    fingerprint: 'AA', remoteFingerprint: { hash: 'sha-256', value: 'BB' }, dtlsRole: 'server',
    dtls: { state: 'connected', stats: { datagramsIn: 1, datagramsOut: 1, dropped: 0, retransmits: 0, engineErrors: 0 }, appStats: { packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0 }, startedAt: 12, connectedAt: 13 },
    srtpProfileName: 'AEAD_AES_128_GCM', sctp: false,
    lines: [{ mid: 'v', mindex: 0, kind: 'video', send: false, recv: true, localSsrc: 111, localRtxSsrc: 112, clockRate: 90000, pt: 96, codec: 'vp8', nack: true, rtxPt: 97 }],
    session: { rttMs: 40, rembSent: 0, rembReceived: -1, unknownSsrcPackets: 0, malformedRtp: 0, malformedRtcp: 0, inbound: [inbound(2, 'f', 0xf, 0xf1, 30), inbound(0, 'q', 0xa, 0xa1, 10), inbound(1, 'h', 0xb, 0xb1, 20)], outbound: [out] },
    localDesc: local, remoteDesc: remote, minNackQueueMs: 200, errors: {},
  } as PeerSnapshot;
}

test('simulcast by rid with RTX: Janus key names for SSRCs, RTCP layers, nested layer stats, rid-simulcast', () => {
  const info = buildMediaInfo(snapshot());
  const v = (info.webrtc as { media: Record<string, Record<string, unknown>> }).media.v!;
  assert.deepEqual(v.ssrc, {
    ssrc: 111, 'ssrc-rtx': 112,
    'ssrc-peer': 0xa, 'ssrc-peer-sim-1': 0xb, 'ssrc-peer-sim-2': 0xf,
    'ssrc-peer-rtx': 0xa1, 'ssrc-peer-sim-1-rtx': 0xb1, 'ssrc-peer-sim-2-rtx': 0xf1,
  });
  assert.deepEqual(v['rid-simulcast'], { rid: ['f', 'h', 'q'], 'rid-ext-id': 10, 'ridrtx-ext-id': 11, 'rid-order': 'lmh' });
  assert.deepEqual(v.codecs, { pt: 96, 'rtx-pt': 97, codec: 'vp8' });
  assert.deepEqual(v.direction, { send: false, recv: true });
  assert.deepEqual(v.msid, { 'remote-stream': 's', 'remote-track': 't' });
  const rtcp = v.rtcp as Record<string, Record<string, number>>;
  assert.deepEqual(Object.keys(rtcp), ['main', 'sim1', 'sim2']);
  assert.equal(rtcp.main!.rtt, 40);
  assert.equal('rtt' in rtcp.sim1!, false, 'RTT on the main layer only');
  assert.equal(rtcp.main!.lost, 10);
  // 8 of 18 expected were lost before retransmission, 10 of 20 after: in-link below in-media.
  assert.equal(rtcp.main!['in-link-quality'], Math.round((100 * 8) / 20));
  assert.equal(rtcp.main!['in-media-link-quality'], 50);
  const stats = v.stats as { in: Record<string, unknown>; out: Record<string, unknown> };
  assert.deepEqual(stats.in, {
    packets: 10, bytes: 10_000, bytes_lastsec: 5000, nacks: 1, retransmissions: 6,
    'video-simulcast-1': { packets: 20, bytes: 20_000, bytes_lastsec: 5000, nacks: 1 },
    'video-simulcast-2': { packets: 30, bytes: 30_000, bytes_lastsec: 5000, nacks: 1 },
  });
  assert.deepEqual(stats.out, { packets: 100, bytes: 100_000, bytes_lastsec: 1000, nacks: 2 });
  const dtls = (info.webrtc as { dtls: Record<string, unknown> }).dtls;
  assert.equal(dtls['dtls-role'], 'passive');
  assert.equal(dtls['srtp-profile'], 'SRTP_AEAD_AES_128_GCM');
  assert.equal((info.flags as Record<string, unknown>)['rfc4588-rtx'], true);
});

test('before DTLS: state words, no handshake times, srtp-profile none; no agent: no ice-mode/ice-role', () => {
  const s = snapshot();
  s.iceState = 'checking';
  s.up = false;
  s.dtls = { ...s.dtls!, state: 'new', startedAt: -1, connectedAt: -1 };
  s.srtpProfileName = '';
  s.iceConnectedAt = -1;
  const info = buildMediaInfo(s);
  const w = info.webrtc as { ice: Record<string, unknown>; dtls: Record<string, unknown> };
  assert.equal(w.ice.state, 'connecting');
  assert.equal('connected' in w.ice, false);
  assert.deepEqual([w.dtls['dtls-state'], w.dtls['srtp-profile'], w.dtls.valid, w.dtls.ready], ['created', 'none', false, false]);
  assert.equal('handshake-started' in w.dtls, false);
  assert.equal(info['ice-role'], 'controlled');
  s.controlling = null;
  s.agentCreatedAt = s.agentStartedAt = -1;
  const bare = buildMediaInfo(s);
  for (const k of ['ice-mode', 'ice-role', 'agent-created', 'agent-started']) assert.equal(k in bare, false, k);
});
