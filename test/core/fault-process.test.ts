/**
 * Issue 11, as reported: the real server process (`node dist/src/main.js`) gets an EchoTest offer with
 * a port-0 candidate, then the same candidate (and other unusable ones) trickled. It used to exit within
 * seconds (socket.send threw ERR_SOCKET_BAD_PORT from the ICE timer). Now it must still be running 5 s
 * later and still serve; and the trickles are answered as Janus 1.1.2 answers them (the same run
 * against the real Janus: `ack`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { postJson, type JsonObject } from '../helpers/janus-client.js';
import { startMediaGateway, type GatewayKind, type MediaGateway } from '../helpers/media-server.js';
import { startPortunus } from '../helpers/portunus.js';
import { clientOffer, makeClient, sleep, waitFor } from '../media/peer/helpers.js';

const PORT0 = 'candidate:1 1 udp 2130706431 127.0.0.1 0 typ host';
const TRICKLED = [
  PORT0,
  'candidate:2 1 udp 2130706431 127.0.0.1 65536 typ host',
  'candidate:3 1 udp 2130706431 127.0.0.1 -1 typ host',
  'candidate:4 1 udp 2130706431 127.0.0.1 abc typ host',
  'candidate:5 1 udp 2130706431 host.example.com 5000 typ host',
  'candidate:6 1 udp 2130706431 0.0.0.0 5000 typ host',
  'candidate:7 1 udp 2130706431 255.255.255.255 5000 typ host',
  'candidate:8 1 udp 2130706431 224.0.0.1 5000 typ host',
  'candidate:9 1 udp 2130706431 ::1 5000 typ host',
  'candidate:10 1 udp 2130706431 1f6d2c0e-0000-4000-8000-000000000000.local 5000 typ host',
];

interface Outcome {
  offer: string;
  trickles: string[];
  list: string;
  aliveAfter5s: boolean;
  info: string;
  newSession: string;
}

async function run(kind: GatewayKind): Promise<{ outcome: Outcome; srv: MediaGateway }> {
  const srv = await startMediaGateway(kind, ['echotest']);
  const c = await makeClient();
  try {
    const url = srv.httpUrl;
    const s = (await postJson(url, { janus: 'create', transaction: 'c' })).data as JsonObject;
    const sid = s.id as number;
    const h = ((await postJson(`${url}/${sid}`, { janus: 'attach', plugin: 'janus.plugin.echotest', transaction: 'a' })).data as JsonObject).id as number;
    // The offer carries only the port-0 candidate.
    const sdp = clientOffer(c, { stripCandidates: true })
      .split('\r\n')
      .flatMap((l) => (l.startsWith('a=mid:') ? [l, `a=${PORT0}`] : [l]))
      .join('\r\n');
    const offer = await postJson(`${url}/${sid}/${h}`, { janus: 'message', transaction: 'o', body: { audio: true, video: true }, jsep: { type: 'offer', sdp } });
    const trickles: string[] = [];
    for (const cand of TRICKLED) {
      const r = await postJson(`${url}/${sid}/${h}`, { janus: 'trickle', transaction: 't', candidate: { candidate: cand, sdpMid: '0', sdpMLineIndex: 0 } });
      trickles.push(String(r.janus));
    }
    const list = await postJson(`${url}/${sid}/${h}`, { janus: 'trickle', transaction: 'l', candidates: TRICKLED.map((candidate) => ({ candidate, sdpMid: '0', sdpMLineIndex: 0 })) });
    await sleep(5000);
    const aliveAfter5s = srv.alive();
    const infoGet = aliveAfter5s ? await fetch(`${url}/info`).then((r) => r.json() as Promise<JsonObject>).catch(() => ({ janus: 'unreachable' }) as JsonObject) : { janus: 'dead' };
    const fresh = aliveAfter5s ? await postJson(url, { janus: 'create', transaction: 'n' }).catch(() => ({ janus: 'unreachable' }) as JsonObject) : { janus: 'dead' };
    return { outcome: { offer: String(offer.janus), trickles, list: String(list.janus), aliveAfter5s, info: String(infoGet.janus), newSession: String(fresh.janus) }, srv };
  } finally {
    c.close();
  }
}

test('the real process survives an EchoTest offer and trickles with a port-0 candidate, and answers them like Janus 1.1.2', { timeout: 120_000 }, async () => {
  const ours = await run('portunus');
  let log = '';
  try {
    log = ours.srv.log();
  } finally {
    await ours.srv.stop();
  }
  assert.deepEqual(
    ours.outcome,
    { offer: 'ack', trickles: TRICKLED.map(() => 'ack'), list: 'ack', aliveAfter5s: true, info: 'server_info', newSession: 'success' },
    `Portunus log tail:\n${log.slice(-4000)}`,
  );
  assert.doesNotMatch(log, /ERR_SOCKET_BAD_PORT/);
  assert.doesNotMatch(log, /fault contained \(process\)/, 'nothing reached the last-line handler');

  const ref = await run('janus');
  await ref.srv.stop();
  assert.deepEqual(ours.outcome.trickles, ref.outcome.trickles, 'trickle replies as Janus 1.1.2');
  assert.equal(ours.outcome.list, ref.outcome.list);
  assert.equal(ours.outcome.offer, ref.outcome.offer);
  assert.equal(ref.outcome.aliveAfter5s, true);
});

test('the last line: an exception and a rejection nobody catches are logged and counted, and the process keeps serving', { timeout: 60_000 }, async () => {
  // Preloaded into the server process (no seam in the product): once main.ts has installed its last
  // line (the server is up), a timer throws and a promise rejects with nobody to catch either.
  const preload = `data:text/javascript,${encodeURIComponent(
    "const t = setInterval(() => { if (process.listenerCount('uncaughtException') === 0) return; clearInterval(t);" +
      " setTimeout(() => { throw new Error('stray exception'); }, 100); setTimeout(() => { Promise.reject(new Error('stray rejection')); }, 200); }, 50);",
  )}`;
  const srv = await startPortunus({}, { nodeArgs: ['--import', preload] });
  try {
    await waitFor('both reached the last line', () => (srv.log().match(/fault contained \(process\)/g) ?? []).length >= 2, 10_000);
    await sleep(1000);
    assert.equal(srv.alive(), true, `the process exited:\n${srv.log().slice(-3000)}`);
    const info = (await fetch(`${srv.httpUrl}/info`).then((r) => r.json())) as JsonObject;
    assert.equal(info.janus, 'server_info');
    const created = await postJson(srv.httpUrl, { janus: 'create', transaction: 'x' });
    assert.equal(created.janus, 'success');
    const log = srv.log();
    assert.match(log, /"boundary":"process","where":"uncaughtException","err":"Error: stray exception/);
    assert.match(log, /"boundary":"process","where":"unhandledRejection","err":"Error: stray rejection/);
  } finally {
    await srv.stop();
  }
});
