/**
 * Admin `handle_info` of a live EchoTest PeerConnection, the real Janus 1.1.2 against Portunus: the
 * same client (our own PeerConnection over real UDP, audio + video + data channel, media flowing)
 * on each, then the two `info` objects compared recursively: every key Janus sends must be there
 * with the same JSON type; values that describe the negotiation and the connection's state must be
 * equal; ids, addresses, ports, fingerprints, SSRCs, timestamps and traffic counters are compared
 * by type, and checked for their format / order / growth on both sides. Each rule says why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startMediaGateway, type GatewayKind } from '../helpers/media-server.js';
import { startLiveEcho } from '../helpers/live-echo.js';
import type { JsonObject } from '../helpers/janus-client.js';
import { diffValues, type Rule } from '../helpers/shape-diff.js';

const step = 'handle_info';

const RULES: Rule[] = [
  // Portunus-only figures, under keys Janus does not use.
  { step, path: '**.portunus', mode: 'ignore', why: 'Portunus-only: datagram counters, PLI/FIR, REMB, per-medium direction word' },
  { step, path: 'webrtc.errors', mode: 'ignore', why: 'Portunus-only: receive-path drop counters' },
  // Ids and times: server-assigned, checked separately (ids equal the handle's, times in order).
  { step, path: 'queued-packets', mode: 'type', why: "length of Janus's per-handle outgoing queue at that instant (ours: 0, we send synchronously)" },
  { step, path: 'session_id', mode: 'type', why: 'server-assigned id (checked against the live session)' },
  { step, path: 'handle_id', mode: 'type', why: 'server-assigned id (checked against the live handle)' },
  { step, path: 'session_last_activity', mode: 'type', why: 'monotonic µs timestamp (order checked)' },
  { step, path: 'created', mode: 'type', why: 'monotonic µs timestamp (order checked)' },
  { step, path: 'current_time', mode: 'type', why: 'monotonic µs timestamp (order checked)' },
  { step, path: 'agent-created', mode: 'type', why: 'monotonic µs timestamp (order checked)' },
  { step, path: 'agent-started', mode: 'type', why: 'monotonic µs timestamp (order checked)' },
  { step, path: 'webrtc.ice.gathered', mode: 'type', why: 'monotonic µs timestamp (order checked)' },
  { step, path: 'webrtc.ice.connected', mode: 'type', why: 'monotonic µs timestamp (order checked)' },
  { step, path: 'webrtc.dtls.handshake-started', mode: 'type', why: 'monotonic µs timestamp (order checked)' },
  { step, path: 'webrtc.dtls.connected', mode: 'type', why: 'monotonic µs timestamp (order checked)' },
  // Each server answers with its own SDP; the client offers are two separate PeerConnections.
  { step, path: 'sdps.local', mode: 'type', why: "each server's own answer (ports, credentials, fingerprint)" },
  { step, path: 'sdps.remote', mode: 'type', why: "the client's offer (its own credentials and port on each run)" },
  // Addresses, ports, priorities and foundations: formats checked separately.
  { step, path: 'webrtc.ice.local-candidates', mode: 'type', why: 'ports and foundations differ (format checked)' },
  { step, path: 'webrtc.ice.remote-candidates', mode: 'type', why: 'Janus lists a candidate once from the SDP and once as it pairs it; ours once (format checked)' },
  { step, path: 'webrtc.ice.selected-pair', mode: 'type', why: 'ports differ (format checked)' },
  { step, path: 'webrtc.dtls.fingerprint', mode: 'type', why: 'each server has its own certificate (format checked)' },
  { step, path: 'webrtc.dtls.remote-fingerprint', mode: 'type', why: "the client's certificate (format checked)" },
  { step, path: 'webrtc.dtls.retransmissions', mode: 'type', why: 'handshake retransmissions depend on timing' },
  { step, path: 'webrtc.dtls.stats.**', mode: 'type', why: 'traffic counters; Janus 1.1.2 counts its data-channel traffic in and out the other way round' },
  { step, path: 'webrtc.media.*.ssrc.*', mode: 'type', why: 'random SSRCs (the peer SSRCs are checked against the client)' },
  { step, path: 'webrtc.media.*.stats.**', mode: 'type', why: 'traffic counters (growth checked)' },
  { step, path: 'webrtc.media.*.nack-queue-ms', mode: 'type', why: 'Janus 0 until its own RTT estimate; ours 2 x RTT within [min_nack_queue, 5 s]' },
  { step, path: 'webrtc.media.*.rtcp.main.*', mode: 'type', why: 'RTT, loss, jitter and link quality are runtime figures' },
  { step, path: 'webrtc.media.*.rtcp.main.base', mode: 'exact', why: 'the clock rate must agree' },
  // Deliberate difference (README "Where Portunus differs from Janus").
  { step, path: 'flags.has-audio', mode: 'type', why: 'Janus 1.1.2 never sets these 0.x flags (always false); Portunus says whether audio is negotiated' },
  { step, path: 'flags.has-video', mode: 'type', why: 'Janus 1.1.2 never sets these 0.x flags (always false); Portunus says whether video is negotiated' },
];

interface Run {
  kind: GatewayKind;
  session: number;
  handle: number;
  first: JsonObject;
  second: JsonObject;
  clientSsrc: Record<string, number>;
}

type Obj = Record<string, unknown>;
const o = (v: unknown): Obj => v as Obj;
const get = (v: unknown, path: string): unknown => path.split('.').reduce<unknown>((x, k) => (x === undefined || x === null ? undefined : o(x)[k]), v);

async function observe(kind: GatewayKind): Promise<Run> {
  const gw = await startMediaGateway(kind, ['echotest']);
  try {
    const live = await startLiveEcho(gw);
    try {
      // Both ways of media for a while (RTCP reports exchanged), then two reads 1.5 s apart.
      await new Promise((r) => setTimeout(r, 2500));
      const first = await live.handleInfo();
      await new Promise((r) => setTimeout(r, 1500));
      const second = await live.handleInfo();
      const media = o(live.peer.info().webrtc).media as Record<string, { ssrc: { ssrc: number } }>;
      const clientSsrc = { '0': media['0']!.ssrc.ssrc, '1': media['1']!.ssrc.ssrc };
      return { kind, session: live.session, handle: live.handle, first, second, clientSsrc };
    } finally {
      await live.stop();
    }
  } catch (err) {
    throw new Error(`${kind}: ${err instanceof Error ? err.message : String(err)}\n${gw.log().slice(-3000)}`);
  } finally {
    await gw.stop();
  }
}

const CANDIDATE = /^\S+ 1 udp \d+ \d+\.\d+\.\d+\.\d+ \d+ typ (host|srflx|prflx|relay)( .*)?$/;
const PAIR = /^\d+\.\d+\.\d+\.\d+:\d+ \[(host|srflx|prflx|relay),udp\] <-> \d+\.\d+\.\d+\.\d+:\d+ \[(host|srflx|prflx|relay),udp\]$/;
const FINGERPRINT = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/;

/** What must hold on both sides, whatever the masked values are. */
function checkLive(r: Run): void {
  const i = r.second;
  const w = (p: string) => get(i, p);
  const who = r.kind;
  assert.equal(i.session_id, r.session, `${who}: session_id`);
  assert.equal(i.handle_id, r.handle, `${who}: handle_id`);
  assert.equal(w('webrtc.ice.state'), 'ready', `${who}: ICE state`);
  assert.equal(w('webrtc.dtls.dtls-state'), 'connected', `${who}: DTLS state`);
  for (const c of [...(w('webrtc.ice.local-candidates') as string[]), ...(w('webrtc.ice.remote-candidates') as string[])]) assert.match(c, CANDIDATE, `${who}: candidate`);
  assert.match(w('webrtc.ice.selected-pair') as string, PAIR, `${who}: selected-pair`);
  assert.match(w('webrtc.dtls.fingerprint') as string, FINGERPRINT, `${who}: fingerprint`);
  assert.match(w('webrtc.dtls.remote-fingerprint') as string, FINGERPRINT, `${who}: remote-fingerprint`);
  // The peer SSRCs are the client's own.
  assert.equal(w('webrtc.media.0.ssrc.ssrc-peer'), r.clientSsrc['0'], `${who}: audio ssrc-peer`);
  assert.equal(w('webrtc.media.1.ssrc.ssrc-peer'), r.clientSsrc['1'], `${who}: video ssrc-peer`);
  // Monotonic µs, in the order things happen, all on the clock of current_time.
  const order = ['created', 'agent-created', 'webrtc.ice.gathered', 'webrtc.ice.connected', 'webrtc.dtls.handshake-started', 'webrtc.dtls.connected', 'current_time'];
  const times = order.map((p) => w(p) as number);
  for (let k = 1; k < times.length; k++) assert.ok(times[k]! >= times[k - 1]!, `${who}: ${order[k]} ${times[k]} before ${order[k - 1]} ${times[k - 1]}`);
  assert.ok((w('agent-started') as number) >= (w('agent-created') as number), `${who}: agent-started before agent-created`);
  assert.ok((w('current_time') as number) - (w('created') as number) < 60_000_000, `${who}: created more than a minute before now: not the same clock`);
  // Media flows both ways, and the counters move between the two reads.
  for (const [mid, what] of [['0', 'audio'], ['1', 'video']] as const) {
    for (const dir of ['in', 'out'] as const) {
      const a = get(r.first, `webrtc.media.${mid}.stats.${dir}.bytes`) as number;
      const b = w(`webrtc.media.${mid}.stats.${dir}.bytes`) as number;
      assert.ok(a > 0 && b > a, `${who}: ${what} bytes ${dir} ${a} -> ${b}`);
      assert.ok((w(`webrtc.media.${mid}.stats.${dir}.bytes_lastsec`) as number) > 0, `${who}: ${what} bytes_lastsec ${dir}`);
    }
  }
}

test('Admin handle_info of a live EchoTest PeerConnection: Janus 1.1.2 layout, key sets, types and state values agree', { timeout: 180_000 }, async () => {
  // One gateway at a time: both use the media configs folder's rtp_port_range.
  const janus = await observe('janus');
  const portunus = await observe('portunus');
  if (process.env.HANDLE_INFO_DUMP) console.log(JSON.stringify({ janus: janus.second, portunus: portunus.second }, null, 1));

  checkLive(janus);
  checkLive(portunus);

  const diffs = diffValues(step, janus.second, portunus.second, RULES);
  assert.deepEqual(diffs, [], `handle_info differs from Janus 1.1.2:\n${diffs.join('\n')}`);

  // The deliberate difference: the 0.x has-audio/has-video flags are true here, false in Janus 1.1.2.
  assert.equal(get(portunus.second, 'flags.has-audio'), true);
  assert.equal(get(portunus.second, 'flags.has-video'), true);
  // The old 0.x layout is gone.
  assert.equal(portunus.second.streams, undefined);
});
