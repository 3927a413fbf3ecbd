/**
 * A server whose stdout is a pipe nobody reads keeps answering requests and forwarding media.
 *
 * The real server process at debug_level 7 with its stdout a pipe the test stops reading (the pipe and
 * the reader's buffer fill, as under a stuck `docker logs` consumer), a small log queue per thread
 * (PORTUNUS_LOG_QUEUE_BYTES) so that the bound is reached quickly, an EchoTest PeerConnection (our own
 * client over real UDP/DTLS/SRTP) on a media worker. While stdout is full: hundreds of requests that
 * each log lines, every one answered in time; the echo keeps coming back; lines past the bound are
 * dropped and counted in /metrics. When the test reads again: every line is whole JSON, and one
 * warning says how many lines were dropped. (Before log-output.ts, pino's sync destination retried the
 * full pipe forever: the first request after it filled never got an answer.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { get, pollUntil, postJson, tx, type JsonObject } from '../helpers/janus-client.js';
import { applyAnswer, clientOffer, makeClient, rtpPacket, waitFor, type ClientPeer } from '../media/peer/helpers.js';
import { startServer, type LogLine } from './server.js';

const QUEUE_BYTES = 16 * 1024;

async function metric(port: number, name: string): Promise<Map<string, number>> {
  const text = (await get(`http://127.0.0.1:${port}/metrics`, 20_000)).text;
  const out = new Map<string, number>();
  for (const l of text.split('\n')) {
    if (!l.startsWith(name)) continue;
    const m = /\{([^}]*)\} (\S+)$/.exec(l);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

test('stdout a full pipe nobody reads: requests are answered, media is echoed, lines past the bound are dropped and counted', { timeout: 180_000 }, async () => {
  const s = await startServer(['-d', '7'], { media: '  media_workers = 1', env: { PORTUNUS_LOG_QUEUE_BYTES: String(QUEUE_BYTES) } });
  let client: ClientPeer | null = null;
  let sender: NodeJS.Timeout | null = null;
  let polling = true;
  let keepAlive: Promise<void> = Promise.resolve();
  try {
    await s.ready(60_000);
    const base = s.api;
    // An EchoTest PeerConnection on the media worker, echoing what the client sends.
    client = await makeClient();
    const c = client;
    const session = ((await postJson(base, { janus: 'create', transaction: tx() })).data as JsonObject)['id'] as number;
    const handle = ((await postJson(`${base}/${session}`, { janus: 'attach', plugin: 'janus.plugin.echotest', transaction: tx() })).data as JsonObject)['id'] as number;
    const t = tx();
    const ack = await postJson(`${base}/${session}/${handle}`, { janus: 'message', transaction: t, body: { audio: true, video: true }, jsep: { type: 'offer', sdp: clientOffer(c) } });
    assert.equal(ack['janus'], 'ack', JSON.stringify(ack));
    const evs = await pollUntil(base, session, (e) => e['transaction'] === t && e['janus'] === 'event', 20_000);
    const jsep = evs[evs.length - 1]!['jsep'] as { sdp: string } | undefined;
    assert.ok(jsep, JSON.stringify(evs));
    applyAnswer(c, jsep.sdp);
    await waitFor('client DTLS up', () => c.up, 15_000);
    // Keep the session alive (long polls are requests too: they must be answered while stdout is full).
    keepAlive = (async () => {
      while (polling) await get(`${base}/${session}?maxev=1`, 60_000).catch(() => new Promise((r) => setTimeout(r, 200)));
    })();
    const ssrc = 0x1234abcd;
    let seq = 0;
    sender = setInterval(() => {
      const pkt = rtpPacket(111, seq, seq * 960, ssrc, Buffer.alloc(60, seq & 0xff));
      c.peer.sendRtp('0', pkt, pkt.length);
      seq++;
    }, 20);
    await waitFor('the echo', () => c.rtp.length > 10, 15_000);

    // Nobody reads stdout from now on.
    s.child.stdout!.pause();
    const pausedAt = s.stdout().length;
    // Requests that log (session created / handle attached / destroyed at -d 5+): far more than the
    // pipe, the reader's buffer and the queue hold together.
    let slowest = 0;
    const t0 = performance.now();
    for (let i = 0; i < 600; i++) {
      const t1 = performance.now();
      const sid = ((await postJson(base, { janus: 'create', transaction: tx() }, 10_000)).data as JsonObject)['id'] as number;
      const hid = ((await postJson(`${base}/${sid}`, { janus: 'attach', plugin: 'janus.plugin.echotest', transaction: tx() }, 10_000)).data as JsonObject)['id'] as number;
      await postJson(`${base}/${sid}/${hid}`, { janus: 'detach', transaction: tx() }, 10_000);
      await postJson(`${base}/${sid}`, { janus: 'destroy', transaction: tx() }, 10_000);
      slowest = Math.max(slowest, performance.now() - t1);
    }
    console.log(`# 600 request rounds with stdout full in ${(performance.now() - t0).toFixed(0)} ms, slowest ${slowest.toFixed(0)} ms`);
    assert.equal(s.stdout().length, pausedAt, 'the test did not read stdout meanwhile');

    const dropped = await metric(s.ports.metrics, 'portunus_log_lines_dropped_total');
    const mainDropped = dropped.get('thread="main"') ?? 0;
    assert.ok(mainDropped > 0, `main dropped lines: ${JSON.stringify([...dropped])}`);

    // Media still echoed, stdout still full.
    const before = c.rtp.length;
    await waitFor('the echo goes on', () => c.rtp.length >= before + 50, 15_000);

    // Read again: every line whole JSON, and one warning naming how many were dropped.
    s.child.stdout!.resume();
    const warned = await s.waitLine((l: LogLine) => l.msg === 'log lines dropped: stdout was full' && l['thread'] === 'main', 20_000);
    assert.equal(warned.level, 40);
    assert.ok((warned['dropped'] as number) > 0 && (warned['dropped'] as number) <= mainDropped, JSON.stringify(warned));
    // lines() throws on a line that is not JSON (a torn one).
    const lines = s.lines();
    assert.ok(lines.length > 100);
    polling = false;
    await postJson(`${base}/${session}`, { janus: 'destroy', transaction: tx() });
  } finally {
    polling = false;
    if (sender) clearInterval(sender);
    client?.close();
    await s.stop();
    await keepAlive;
  }
});
