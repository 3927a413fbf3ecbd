/**
 * /metrics: values move when a session, a handle, a room and a PeerConnection appear (and counters
 * survive the PeerConnection going away); the listener's path, methods and optional secret.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JanusMessage } from '../../src/core/messages.js';
import type { Plugin, PluginResult, PluginSession } from '../../src/core/plugin.js';
import { addPeer, zeroTotals, type Totals } from '../../src/metrics/media.js';
import type { Peer } from '../../src/media/peer.js';
import { createMetrics, type Metrics } from '../../src/metrics/registry.js';
import { EchoTestPlugin } from '../../src/plugins/echotest/plugin.js';
import { VideoRoomPlugin } from '../../src/plugins/videoroom/plugin.js';
import { MetricsServer } from '../../src/transports/metrics.js';
import { applyAnswer, clientOffer, makeClient, makeWorld, rtpPacket, waitFor, type World } from '../media/peer/helpers.js';

/** `name{a="1",b="2"}` -> value, labels in the order prom-client writes them. */
function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

async function read(m: Metrics): Promise<(key: string) => number> {
  const map = parseExposition(await m.scrape());
  return (key: string) => {
    const v = map.get(key);
    assert.ok(v !== undefined, `no sample ${key}; have:\n${[...map.keys()].filter((k) => k.startsWith('portunus_')).join('\n')}`);
    return v;
  };
}

async function waitUntil(what: string, pred: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

type Ev = JanusMessage & { jsep?: { type: string; sdp: string }; plugindata?: { data: Record<string, unknown> } };

/** A plugin with its own metrics() (the exact path, with mixer figures). */
class CountingPlugin implements Plugin {
  readonly package = 'janus.plugin.counting';
  readonly name = 'counting';
  readonly author = 'test';
  readonly description = 'reports metrics()';
  readonly version = 1;
  readonly versionString = '0.0.1';
  rooms = 0;
  init(): void {}
  destroy(): void {}
  createSession(): void {}
  destroySession(): void {}
  handleMessage(_s: PluginSession, _t: string, _b: Record<string, unknown>): PluginResult {
    return { kind: 'ok', data: {} };
  }
  metrics() {
    return { rooms: this.rooms, participants: this.rooms * 3, mixerLagSeconds: 0.004, mixerFramesProduced: 500, mixerFramesSkipped: 2 };
  }
}

/** The totals summed from a peer's rtpStats()/stats snapshots: what Peer.addCounters must add up to. */
function referenceTotals(peer: Peer): Totals {
  const t = zeroTotals();
  const st = peer.rtpStats();
  for (const i of st.inbound) {
    const c = i.kind === 'audio' ? t.audio : t.video;
    c.packetsIn += i.packets;
    c.bytesIn += i.bytes;
    c.lostIn += Math.max(0, i.lost);
    c.nacksOut += i.nacksSent;
    c.plisOut += i.plisSent + i.firsSent;
  }
  for (const o of st.outbound) {
    const c = o.kind === 'audio' ? t.audio : t.video;
    c.packetsOut += o.packets;
    c.bytesOut += o.bytes;
    c.retransmitted += o.retransmitted;
    c.lostOut += Math.max(0, o.remoteLost);
    c.nacksIn += o.nacksReceived;
    c.plisIn += o.plisReceived + o.firsReceived;
  }
  const e = peer.stats;
  t.errors.dropped! += e.dropped;
  t.errors.srtp! += e.srtpErrors;
  t.errors.unknown_ssrc! += e.unknownSsrc;
  t.errors.malformed_rtp! += e.malformedRtp;
  t.errors.malformed_rtcp! += e.rtcpErrors;
  t.errors.dtls! += e.dtlsDropped;
  return t;
}

test('metrics move with sessions, handles, rooms and a PeerConnection; media counters outlive the PeerConnection', { timeout: 30_000 }, async () => {
  const counting = new CountingPlugin();
  const w: World = await makeWorld(undefined, { plugins: [new EchoTestPlugin(), new VideoRoomPlugin(), counting] });
  const m = createMetrics({ gateway: w.gw, media: w.plane, rtpPortsTotal: 10 });
  const c = await makeClient();
  try {
    let v = await read(m);
    assert.equal(v('portunus_sessions'), 0);
    assert.equal(v('portunus_rtp_ports'), 10);
    assert.equal(v('portunus_plugin_rooms{plugin="janus.plugin.videoroom"}'), 0);
    assert.equal(v('portunus_peerconnections{state="connected"}'), 0);
    assert.equal(v('portunus_build_info{version="0.1.0",nodejs="' + process.versions.node + '"}'), 1);
    // process and Node.js metrics (event-loop lag among them) come with the registry
    assert.ok(v('nodejs_eventloop_lag_seconds') >= 0);
    // Sampled every 100 ms (not prom-client's 10 ms): the same event-loop series as before (NaN until
    // the first sample, as prom-client reports an empty histogram; their values are checked below).
    for (const stat of ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99']) assert.ok(!(v(`nodejs_eventloop_lag_${stat}_seconds`) < 0), stat);
    assert.ok(v('process_resident_memory_bytes') > 0);

    // a session and a handle
    const [s, h] = await w.attachEcho();
    v = await read(m);
    assert.equal(v('portunus_sessions'), 1);
    assert.equal(v('portunus_sessions_created_total'), 1);
    assert.equal(v('portunus_handles{plugin="janus.plugin.echotest"}'), 1);
    assert.equal(v('portunus_handles_attached_total{plugin="janus.plugin.echotest"}'), 1);
    assert.equal(v('portunus_transport_clients'), 1);

    // a room (VideoRoom, through its metrics(): private rooms count too) and a participant in it
    const vr = ((await w.req({ janus: 'attach', session_id: s, plugin: 'janus.plugin.videoroom' })).data as { id: number }).id;
    const created = (await w.req({ janus: 'message', session_id: s, handle_id: vr, body: { request: 'create', room: 4242, publishers: 3 } })) as Ev;
    assert.equal(created.plugindata?.data.videoroom, 'created', JSON.stringify(created));
    v = await read(m);
    assert.equal(v('portunus_handles{plugin="janus.plugin.videoroom"}'), 1);
    assert.equal(v('portunus_plugin_rooms{plugin="janus.plugin.videoroom"}'), 1);
    assert.equal(v('portunus_plugin_metrics_source{plugin="janus.plugin.videoroom",source="metrics"}'), 1);
    const hidden = (await w.req({ janus: 'message', session_id: s, handle_id: vr, body: { request: 'create', room: 4343, is_private: true } })) as Ev;
    assert.equal(hidden.plugindata?.data.videoroom, 'created', JSON.stringify(hidden));
    v = await read(m);
    assert.equal(v('portunus_plugin_rooms{plugin="janus.plugin.videoroom"}'), 2, 'a private room is counted');
    await w.req({ janus: 'message', session_id: s, handle_id: vr, transaction: 'join', body: { request: 'join', ptype: 'publisher', room: 4242, display: 'alice' } });
    await waitFor('joined', () => (w.client.events as Ev[]).find((e) => e.transaction === 'join' && e.plugindata?.data.videoroom === 'joined'));
    v = await read(m);
    assert.equal(v('portunus_plugin_participants{plugin="janus.plugin.videoroom"}'), 1);

    // a plugin with its own metrics(): exact figures and the mixer gauges
    counting.rooms = 2;
    v = await read(m);
    assert.equal(v('portunus_plugin_rooms{plugin="janus.plugin.counting"}'), 2);
    assert.equal(v('portunus_plugin_participants{plugin="janus.plugin.counting"}'), 6);
    assert.equal(v('portunus_plugin_metrics_source{plugin="janus.plugin.counting",source="metrics"}'), 1);
    assert.equal(v('portunus_mixer_lag_seconds{plugin="janus.plugin.counting"}'), 0.004);
    assert.equal(v('portunus_mixer_frames_skipped_total{plugin="janus.plugin.counting"}'), 2);

    // a PeerConnection (EchoTest) carrying video, with one packet missing (seq 105)
    const ack = await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: 'neg', body: { audio: true, video: true }, jsep: { type: 'offer', sdp: clientOffer(c) } });
    assert.equal(ack.janus, 'ack');
    const ev = await waitFor('the answer', () => (w.client.events as Ev[]).find((e) => e.transaction === 'neg' && e.jsep));
    applyAnswer(c, ev.jsep!.sdp);
    v = await read(m);
    assert.equal(v('portunus_peerconnections{state="connected"}') + v('portunus_peerconnections{state="connecting"}'), 1);
    await waitFor('webrtcup', () => w.client.events.find((e) => e.janus === 'webrtcup' && e.sender === h));
    await waitFor('client up', () => c.up);
    v = await read(m);
    assert.equal(v('portunus_peerconnections{state="connected"}'), 1);
    assert.equal(v('portunus_peerconnections{state="connecting"}'), 0);
    assert.equal(v('portunus_rtp_ports_in_use'), 1);
    for (let i = 0; i < 20; i++) {
      if (i === 5) continue;
      c.peer.sendRtp('1', rtpPacket(96, 100 + i, 9000 * i, 0x1234, Buffer.from(`frame-${i}`)), 12 + 7 + (i >= 10 ? 1 : 0));
    }
    await waitFor('echoed video', () => c.rtp.filter((p) => p.stream.mid === '1').length >= 19);
    // The per-second walk's shortcut (Peer.addCounters) adds what the rtpStats()/stats snapshots say.
    const peer = w.plane.peerOf(h)!;
    const fast = zeroTotals();
    addPeer(fast, peer);
    assert.deepEqual(fast, referenceTotals(peer));
    assert.ok(fast.video.packetsIn >= 19 && fast.video.packetsOut >= 19 && fast.video.lostIn >= 1, JSON.stringify(fast));
    // The event-loop delay series report the delay beyond the 100 ms sampling interval (Node's histogram
    // holds whole intervals: its min is never below 0.1 s), so a `p99 > 0.05` alert keeps its meaning.
    let lagMin = Infinity;
    await waitUntil('an event-loop delay sample since the last scrape', async () => {
      await new Promise((r) => setTimeout(r, 150)); // each scrape empties the histogram: leave a sampling interval
      return (lagMin = (await read(m))('nodejs_eventloop_lag_min_seconds')) < 1e6;
    }, 10_000);
    assert.ok(lagMin >= 0 && lagMin < 0.1, `nodejs_eventloop_lag_min_seconds ${lagMin}`);
    v = await read(m);
    assert.ok(v('portunus_rtp_packets_total{direction="in",kind="video"}') >= 19);
    assert.ok(v('portunus_rtp_packets_total{direction="out",kind="video"}') >= 19);
    assert.ok(v('portunus_rtp_bytes_total{direction="in",kind="video"}') >= 19 * 19);
    assert.equal(v('portunus_rtp_packets_total{direction="in",kind="audio"}'), 0);
    assert.ok(v('portunus_rtp_lost_packets_total{direction="in",kind="video"}') >= 1, 'seq 105 never arrived');
    await waitUntil('a NACK for seq 105', async () => (await read(m))('portunus_rtcp_nacks_total{direction="out",kind="video"}') >= 1);
    const packetsIn = v('portunus_rtp_packets_total{direction="in",kind="video"}');

    // the PeerConnection goes away: gauges drop, counters keep what it counted
    await w.req({ janus: 'hangup', session_id: s, handle_id: h });
    v = await read(m);
    assert.equal(v('portunus_peerconnections{state="connected"}'), 0);
    await waitUntil('the port back in the range', async () => (await read(m))('portunus_rtp_ports_in_use') === 0);
    assert.ok(v('portunus_rtp_packets_total{direction="in",kind="video"}') >= packetsIn, 'counters never go down');
    assert.ok(v('portunus_rtcp_nacks_total{direction="out",kind="video"}') >= 1);

    // the session ends
    await w.req({ janus: 'destroy', session_id: s });
    v = await read(m);
    assert.equal(v('portunus_sessions'), 0);
    assert.equal(v('portunus_sessions_ended_total{reason="destroyed"}'), 1);
    assert.equal(v('portunus_handles{plugin="janus.plugin.echotest"}'), 0);
    assert.equal(v('portunus_handles_detached_total{plugin="janus.plugin.videoroom"}'), 1);
    assert.equal(v('portunus_plugin_participants{plugin="janus.plugin.videoroom"}'), 0);
  } finally {
    c.close();
    await w.stop();
  }
});

test('the metrics listener: its path only, GET/HEAD only, and the admin secret when required', async () => {
  const metrics: Metrics = { registry: null as never, contentType: 'text/plain; version=0.0.4; charset=utf-8', scrape: async () => 'portunus_sessions 3\n' };
  const srv = new MetricsServer({ metrics, port: 0, host: '127.0.0.1', path: '/metrics', secret: 's3cret' });
  await srv.start();
  try {
    const url = srv.url()!;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    assert.equal((await fetch(url)).status, 401);
    assert.equal((await fetch(url, { headers: { Authorization: 'Bearer wrong' } })).status, 401);
    const ok = await fetch(url, { headers: { Authorization: 'Bearer s3cret' } });
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.equal(await ok.text(), 'portunus_sessions 3\n');
    assert.equal((await fetch(`${url}?admin_secret=s3cret`)).status, 200);
    assert.equal((await fetch(url, { headers: { Authorization: `Basic ${Buffer.from('prometheus:s3cret').toString('base64')}` } })).status, 200);
    assert.equal((await fetch(url.replace('/metrics', '/janus/info'))).status, 404);
    assert.equal((await fetch(url, { method: 'POST', body: 'x', headers: { Authorization: 'Bearer s3cret' } })).status, 405);
  } finally {
    await srv.stop();
  }
  const open = new MetricsServer({ metrics, port: 0, secret: null });
  await open.start();
  try {
    assert.equal((await fetch(open.url()!)).status, 200, 'no secret configured: open (on loopback)');
    assert.equal(open.address()!.host, '127.0.0.1', 'loopback by default');
  } finally {
    await open.stop();
  }
});
