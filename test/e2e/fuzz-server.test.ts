/**
 * End-to-end fuzz of the real server process (`node dist/src/main.js`): for about a minute a seeded
 * stream of malformed Janus API requests over HTTP and WebSocket (bad JSON, wrong types, unknown ids,
 * bodies under and over the 1 MiB limit, every plugin's requests mutated, JSEP offers with odd SDP,
 * trickles with odd candidates: ports 0, 65536, -1, addresses 0.0.0.0, 255.255.255.255, ::, host
 * names, .local) and garbage datagrams (random, STUN-, DTLS- and RTP-shaped) to the media ports the
 * server advertised in its EchoTest answers. All traffic goes to 127.0.0.1; counts and time are bounded.
 *
 * Asserted: the process stays alive the whole time; every HTTP reply is JSON with a `janus` field
 * (or HTTP 413 with one for an over-limit body), every WebSocket message too, a WebSocket frame the
 * server refuses (invalid UTF-8, over 1 MiB) gets a 454 with its transaction and never closes the
 * socket; after every session is
 * destroyed, list_sessions is empty, the process's fd count is back to its start (+ slack), and the
 * server still answers info and runs a normal EchoTest create/attach/offer.
 *
 * FUZZ_E2E_MS sets the duration (default 55 s; `npm run fuzz` runs it 5 minutes), FUZZ_SEED the seed.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import http from 'node:http';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { fc, mutated, applyMutation } from '../fuzz/harness.js';
import { body, candidateObj, jsep, leaf, oddCandidate, PLUGINS } from '../fuzz/janus-requests.js';
import { makeConfigsFolder, janusJcfg } from '../helpers/server-conf.js';
import { startPortunusOnFolder } from '../helpers/portunus.js';
import type { RunningServer } from '../helpers/server-process.js';
import { CHROME_OFFER } from '../media/sdp/fixtures.js';
import { StunBuilder, StunMessageType } from '../../src/media/stun/index.js';
import { buildRecord, CT_HANDSHAKE, encodeHandshake } from '../../src/media/dtls/record.js';
import { writeRtpHeader } from '../../src/media/rtp/index.js';
import { prng } from '../helpers/prng.js';

const LONG = process.env.FUZZ_LONG === '1';
const DURATION_MS = Number(process.env.FUZZ_E2E_MS ?? (LONG ? 300_000 : 55_000));
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) | 0 : LONG ? (Math.random() * 0x7fffffff) | 0 : 0x5eed;
/** Traffic bounds: requests and datagrams per second, and the biggest body sent. */
const REQUESTS_PER_S = 40;
const DATAGRAMS_PER_S = 300;
const MAX_BODY = 1024 * 1024;

const servers: RunningServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});


/** A stream of values from `arb`, reproducible from the seed. */
function stream<T>(arb: fc.Arbitrary<T>, seed: number): () => T {
  let buf: T[] = [];
  let round = 0;
  return () => {
    if (buf.length === 0) buf = fc.sample(arb, { seed: seed + round++ * 7919, numRuns: 200 });
    return buf.pop()!;
  };
}

interface HttpResult {
  status: number;
  text: string;
  error?: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
function httpRequest(url: string, method: string, data: string | Buffer | null, timeoutMs = 15_000): Promise<HttpResult> {
  return new Promise((resolve) => {
    const headers: Record<string, string | number> = {};
    if (data !== null) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(data);
    }
    const req = http.request(url, { method, agent, headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on('error', (e) => resolve({ status: res.statusCode ?? 0, text: '', error: e.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, text: '', error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end(data ?? undefined);
  });
}

function parseJanus(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v) && typeof (v as Record<string, unknown>).janus === 'string') return v as Record<string, unknown>;
  } catch {
    /* not JSON */
  }
  return undefined;
}

/** Problems seen, by kind, with the first few examples (asserted at the end, all at once). */
class Findings {
  readonly byKind = new Map<string, { count: number; examples: string[] }>();
  add(kind: string, example: string): void {
    const f = this.byKind.get(kind) ?? { count: 0, examples: [] };
    f.count++;
    if (f.examples.length < 3) f.examples.push(example.slice(0, 400));
    this.byKind.set(kind, f);
  }
  report(): string {
    return [...this.byKind].map(([k, v]) => `${k}: ${v.count}x, e.g. ${v.examples.join(' | ')}`).join('\n');
  }
}

const fdCount = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ datagram shapes

const stunDatagram = mutated(
  fc.record({ user: fc.constantFrom('a:b', '', 'x'.repeat(100)), prio: fc.nat(), mi: fc.boolean(), fp: fc.boolean() }).map((r) =>
    new StunBuilder(StunMessageType.BindingRequest).username(r.user).priority(r.prio).useCandidate().build({ ...(r.mi ? { integrityKey: 'pwd' } : {}), fingerprint: r.fp }),
  ),
  3,
);
const dtlsDatagram = mutated(
  fc.tuple(fc.constantFrom(1, 2, 11, 16, 20), fc.uint8Array({ maxLength: 120 }), fc.integer({ min: 0, max: 5 })).map(([t, b, seq]) => buildRecord(CT_HANDSHAKE, 0, seq, encodeHandshake(t, seq, b))),
  3,
);
const rtpDatagram = mutated(
  fc.tuple(fc.integer({ min: 0, max: 127 }), fc.integer({ min: 0, max: 0xffff }), fc.nat(), fc.uint8Array({ maxLength: 200 }), fc.boolean()).map(([pt, seq, ssrc, payload, rtcp]) => {
    const b = Buffer.alloc(12 + payload.length);
    writeRtpHeader(b, rtcp ? 72 + (pt % 8) : pt, seq, 0, ssrc >>> 0, false);
    if (rtcp) b[1] = 200 + (pt % 8);
    b.set(payload, 12);
    return b;
  }),
  3,
);
const datagram = fc.oneof(stunDatagram, dtlsDatagram, rtpDatagram, fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)));

// ------------------------------------------------------------------ the test

test('server process under a minute of malformed API requests and garbage datagrams', { timeout: DURATION_MS + 180_000 }, async (t) => {
  const conf = await makeConfigsFolder('portunus-fuzz');
  // Every plugin on (the helper's default disables all but the VideoRoom), candidates on loopback
  // only, an RTP range of our own.
  const base = 52000 + (process.pid % 40) * 200;
  const jcfg = janusJcfg({}, conf.serverName)
    .replace(/plugins: \{\n {2}disable = "[^"]*"/, 'plugins: {\n  disable = "libjanus_sip.so"')
    .replace('rtp_port_range = "41000-41200"', `rtp_port_range = "${base}-${base + 199}"`)
    .replace('ice_ignore_list = "vmnet"', 'ice_enforce_list = "127.0.0.1"');
  writeFileSync(join(conf.dir, 'janus.jcfg'), jcfg);
  const srv = await startPortunusOnFolder(conf.dir, conf.ports, conf.serverName, conf.adminSecret);
  servers.push(srv);
  t.after(async () => {
    await srv.stop();
    conf.remove();
  });
  const api = srv.httpUrl;
  const admin = async (janus: string, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> => {
    const r = await httpRequest(srv.adminUrl, 'POST', JSON.stringify({ janus, transaction: `a${Math.random()}`, admin_secret: srv.adminSecret, ...extra }));
    const m = parseJanus(r.text);
    assert.ok(m, `admin ${janus}: ${r.status} ${r.text.slice(0, 200)} ${r.error ?? ''}`);
    return m;
  };
  const post = async (path: string, msg: unknown): Promise<Record<string, unknown> | undefined> => parseJanus((await httpRequest(`${api}${path}`, 'POST', JSON.stringify(msg))).text);

  const findings = new Findings();
  const rnd = prng(SEED);
  t.diagnostic(`seed ${SEED} (replay: FUZZ_SEED=${SEED} node test/run.mjs e2e/fuzz-server), ${DURATION_MS} ms`);

  // Baselines, after a warm-up that creates the first PeerConnection (certificates, sockets, codecs).
  const sessions = new Set<number>();
  const handles: Array<{ session: number; handle: number; plugin: string }> = [];
  const mediaPorts = new Set<number>();
  const echoWithOffer = async (): Promise<void> => {
    const s = await post('', { janus: 'create', transaction: 'c' });
    const sid = (s?.data as { id?: number } | undefined)?.id;
    if (typeof sid !== 'number') return;
    sessions.add(sid);
    const a = await post(`/${sid}`, { janus: 'attach', plugin: 'janus.plugin.echotest', transaction: 'a' });
    const hid = (a?.data as { id?: number } | undefined)?.id;
    if (typeof hid !== 'number') return;
    handles.push({ session: sid, handle: hid, plugin: 'janus.plugin.echotest' });
    await post(`/${sid}/${hid}`, { janus: 'message', transaction: 'm', body: { audio: true, video: true }, jsep: { type: 'offer', sdp: CHROME_OFFER } });
    // The answer comes as an event (long poll): its candidates name the media ports to aim at.
    const ev = await httpRequest(`${api}/${sid}?maxev=5`, 'GET', null, 10_000);
    for (const m of ev.text.matchAll(/candidate:\S+ \d+ udp \d+ 127\.0\.0\.1 (\d+) typ host/gi)) mediaPorts.add(Number(m[1]));
  };
  await echoWithOffer();
  assert.ok(mediaPorts.size > 0, 'the EchoTest answer advertises a loopback media port');
  for (const s of sessions) await post(`/${s}`, { janus: 'destroy', transaction: 'd' });
  sessions.clear();
  handles.length = 0;
  await sleep(1000);
  const fd0 = fdCount(srv.pid);
  const list0 = ((await admin('list_sessions')).sessions as unknown[]).length;
  t.diagnostic(`baseline: ${fd0} fds, ${list0} sessions, media ports ${[...mediaPorts].join(',')}`);

  // Clients: UDP sockets for garbage, one WebSocket (reopened when the server closes it).
  const udp: Socket[] = [];
  for (let i = 0; i < 3; i++) {
    const s = createSocket('udp4');
    s.on('error', () => {});
    s.on('message', () => {});
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    udp.push(s);
  }
  let ws: WebSocket | undefined;
  let wsExpectClose: number | undefined;
  let wsClosingByUs = false;
  const wsOpen = async (): Promise<WebSocket> => {
    if (ws && ws.readyState === WebSocket.OPEN) return ws;
    const w = new WebSocket(srv.wsUrl, 'janus-protocol');
    w.on('message', (data, isBinary) => {
      const m = parseJanus(data.toString());
      if (!m) findings.add('ws-reply-not-janus-json', `${isBinary ? 'binary ' : ''}${data.toString().slice(0, 200)}`);
      else if (m.janus === 'success' && typeof (m.data as { id?: unknown } | undefined)?.id === 'number' && m.session_id === undefined) sessions.add((m.data as { id: number }).id);
    });
    w.on('close', (code) => {
      if (!wsClosingByUs && (wsExpectClose === undefined || code !== wsExpectClose)) findings.add('ws-unexpected-close', `code ${code} (expected ${wsExpectClose ?? 'none'})`);
      wsExpectClose = undefined;
    });
    w.on('error', () => {});
    await new Promise<void>((resolve) => {
      w.once('open', () => resolve());
      w.once('close', () => resolve());
    });
    ws = w;
    return w;
  };

  // Value streams.
  const nextBody = PLUGINS.map((p, i) => stream(body(p), SEED + i));
  const nextJsep = stream(jsep, SEED + 11);
  const nextCandidate = stream(fc.oneof(candidateObj, oddCandidate.map((candidate) => ({ candidate, sdpMid: '0', sdpMLineIndex: 0 }))), SEED + 12);
  const nextLeaf = stream(fc.jsonValue({ maxDepth: 3 }), SEED + 13);
  const nextText = stream(fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom('{', '{"janus":', '{"janus":"create"', '[]', 'null', '"x"', '{"janus":"create","transaction":1}', '{"janus":"create","transaction":"t","id":-1}', '\u0000', '{"janus":"message"}')), SEED + 14);
  const nextDatagram = stream(datagram, SEED + 15);
  const pick = <T>(xs: readonly T[]): T | undefined => (xs.length ? xs[Math.floor(rnd() * xs.length)] : undefined);

  const checkHttp = (what: string, r: HttpResult, overLimit = false): void => {
    if (r.error) {
      findings.add(overLimit ? 'http-over-limit-no-413-reply' : 'http-transport-error', `${what}: ${r.error}`);
      return;
    }
    const m = parseJanus(r.text);
    if (!m) findings.add('http-reply-not-janus-json', `${what}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
    if (overLimit && r.status !== 413) findings.add('http-over-limit-not-413', `${what}: HTTP ${r.status}`);
    if (m && m.janus === 'success' && typeof (m.data as { id?: unknown } | undefined)?.id === 'number' && /"janus":"create"/.test(what)) sessions.add((m.data as { id: number }).id);
  };

  const actions: Array<[number, () => Promise<void>]> = [
    // Raw and malformed HTTP bodies on every path shape.
    [4, async () => {
      const s = pick([...sessions]);
      const h = pick(handles);
      const path = pick(['', `/${s ?? 1}`, h ? `/${h.session}/${h.handle}` : '/1/2', '/abc', '/0', '/-1', `/${s ?? 1}/abc`, '/99999999999999999999'])!;
      const text = rnd() < 0.5 ? nextText() : JSON.stringify(nextLeaf());
      checkHttp(`POST ${path} ${text.slice(0, 80)}`, await httpRequest(`${api}${path}`, 'POST', text));
    }],
    // Mutated plugin requests to real handles (and a few to the wrong plugin), with odd JSEPs.
    [8, async () => {
      const h = pick(handles);
      if (!h) return;
      const i = rnd() < 0.8 ? PLUGINS.indexOf(h.plugin) : Math.floor(rnd() * PLUGINS.length);
      const msg: Record<string, unknown> = { janus: 'message', transaction: `m${Math.floor(rnd() * 1e6)}`, body: rnd() < 0.9 ? nextBody[i]!() : nextLeaf() };
      if (rnd() < 0.3) msg.jsep = nextJsep();
      const text = JSON.stringify(msg);
      checkHttp(`POST message ${text.slice(0, 120)}`, await httpRequest(`${api}/${h.session}/${h.handle}`, 'POST', text));
    }],
    // Trickles with odd candidates to handles that have (or had) a PeerConnection.
    [4, async () => {
      const h = pick(handles);
      if (!h) return;
      const msg = rnd() < 0.7 ? { janus: 'trickle', transaction: 'tr', candidate: nextCandidate() } : { janus: 'trickle', transaction: 'tr', candidates: [nextCandidate(), nextCandidate()] };
      const text = JSON.stringify(msg);
      checkHttp(`POST trickle ${text.slice(0, 160)}`, await httpRequest(`${api}/${h.session}/${h.handle}`, 'POST', text));
    }],
    // Sessions and handles to aim at (bounded), sometimes with a valid EchoTest offer for new media ports.
    [3, async () => {
      if (sessions.size >= 40) return;
      if (rnd() < 0.3) {
        await echoWithOffer();
        return;
      }
      const r = await httpRequest(api, 'POST', JSON.stringify({ janus: 'create', transaction: 'c' }));
      checkHttp('POST {"janus":"create"}', r);
      const sid = ((parseJanus(r.text)?.data ?? {}) as { id?: number }).id;
      if (typeof sid !== 'number') return;
      const plugin = pick([...PLUGINS, 'janus.plugin.nope'])!;
      const a = await httpRequest(`${api}/${sid}`, 'POST', JSON.stringify({ janus: 'attach', plugin, transaction: 'a' }));
      checkHttp(`POST attach ${plugin}`, a);
      const hid = ((parseJanus(a.text)?.data ?? {}) as { id?: number }).id;
      if (typeof hid === 'number') handles.push({ session: sid, handle: hid, plugin });
    }],
    // Core requests with wrong types and unknown ids.
    [3, async () => {
      const s = pick([...sessions]);
      const msg: Record<string, unknown> = { janus: pick(['attach', 'detach', 'hangup', 'destroy', 'keepalive', 'claim', 'info', 'ping', 'trickle', 'message', 'bogus'])!, transaction: rnd() < 0.9 ? 'x' : nextLeaf() };
      if (rnd() < 0.5) msg.session_id = rnd() < 0.5 ? (s ?? 1) : nextLeaf();
      if (rnd() < 0.3) msg.handle_id = rnd() < 0.5 ? (pick(handles)?.handle ?? 2) : nextLeaf();
      if (rnd() < 0.3) msg.plugin = rnd() < 0.5 ? pick(PLUGINS) : nextLeaf();
      const text = JSON.stringify(msg);
      checkHttp(`POST ${text.slice(0, 120)}`, await httpRequest(api, 'POST', text));
    }],
    // Big bodies: just under the limit (a valid JSON string value) and over it.
    [0.3, async () => {
      const over = rnd() < 0.5;
      const n = over ? MAX_BODY + 1 + Math.floor(rnd() * 100_000) : MAX_BODY - 200 - Math.floor(rnd() * 1000);
      const text = JSON.stringify({ janus: 'create', transaction: 'big', pad: 'x'.repeat(Math.max(0, n - 60)) }).slice(0, n);
      const r = await httpRequest(api, 'POST', text);
      checkHttp(`POST ${text.length}-byte body`, r, text.length > MAX_BODY);
    }],
    // WebSocket: the same kinds of requests, plus frames the server must refuse.
    [6, async () => {
      const w = await wsOpen();
      if (w.readyState !== WebSocket.OPEN) return;
      const roll = rnd();
      if (roll < 0.05) {
        // Frames the server refuses: a text frame that is not UTF-8, one over the 1 MiB soft limit.
        // Each gets a 454 error carrying its transaction (Janus answers 454 too) and the socket stays
        // open; only the 16 MiB hard cap closes, which this bounded fuzz never sends.
        const bad = roll < 0.03 ? 'utf8' : 'big';
        const tx = `refused-${bad}-${requests}`;
        const answered = new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => { w.off('message', onMsg); resolve(false); }, 5000);
          const onMsg = (data: WebSocket.RawData): void => {
            const m = parseJanus(data.toString());
            if (m?.transaction === tx && m.janus === 'error' && (m.error as { code?: number } | undefined)?.code === 454) {
              clearTimeout(timer);
              w.off('message', onMsg);
              resolve(true);
            }
          };
          w.on('message', onMsg);
        });
        if (bad === 'utf8') w.send(Buffer.concat([Buffer.from(`{"janus":"info","transaction":"${tx}","x":"`), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]), { binary: false });
        else w.send(JSON.stringify({ janus: 'info', transaction: tx, pad: 'x'.repeat(MAX_BODY + 10) }));
        if (!(await answered)) findings.add('ws-refused-frame-not-answered', `no 454 for the ${bad} frame ${tx}`);
        if (w.readyState !== WebSocket.OPEN) findings.add('ws-closed-on-refused-frame', `the socket closed after the ${bad} frame`);
      } else if (roll < 0.07) {
        // Just under the limit: must be answered, not closed.
        w.send(JSON.stringify({ janus: 'keepalive', transaction: 'big', session_id: pick([...sessions]) ?? 1, pad: 'x'.repeat(MAX_BODY - 4096) }));
      } else if (roll < 0.4) {
        w.send(nextText());
      } else {
        const h = pick(handles);
        const msg = rnd() < 0.5 && h ? { janus: 'message', transaction: 'w', session_id: h.session, handle_id: h.handle, body: nextBody[Math.floor(rnd() * PLUGINS.length)]!(), ...(rnd() < 0.2 ? { jsep: nextJsep() } : {}) } : { janus: pick(['create', 'attach', 'keepalive', 'info', 'destroy'])!, transaction: 'w', session_id: pick([...sessions]), plugin: pick(PLUGINS) };
        w.send(JSON.stringify(msg));
      }
    }],
  ];
  const totalWeight = actions.reduce((n, [w]) => n + w, 0);
  const chooseAction = (): (() => Promise<void>) => {
    let x = rnd() * totalWeight;
    for (const [w, f] of actions) if ((x -= w) < 0) return f;
    return actions[0]![1];
  };

  // Datagrams: paced, to the advertised media ports only.
  let datagrams = 0;
  const udpTimer = setInterval(() => {
    const ports = [...mediaPorts];
    if (ports.length === 0) return;
    for (let i = 0; i < DATAGRAMS_PER_S / 20; i++) {
      let d = nextDatagram();
      if (rnd() < 0.1) d = Buffer.from(applyMutation(d, { kind: 'truncate', at: Math.floor(rnd() * 64) }));
      pick(udp)!.send(d, pick(ports)!, '127.0.0.1');
      datagrams++;
    }
  }, 50);

  let requests = 0;
  let diedAt: number | undefined;
  const t0 = Date.now();
  try {
    while (Date.now() - t0 < DURATION_MS) {
      const started = Date.now();
      await chooseAction()();
      requests++;
      if (!srv.alive()) {
        diedAt = Date.now() - t0;
        break;
      }
      const wait = 1000 / REQUESTS_PER_S - (Date.now() - started);
      if (wait > 0) await sleep(wait);
    }
  } finally {
    clearInterval(udpTimer);
  }
  t.diagnostic(`${requests} requests, ${datagrams} datagrams, ${sessions.size} sessions, ${handles.length} handles, ${mediaPorts.size} media ports`);
  assert.equal(diedAt, undefined, `the server died after ${diedAt} ms:\n${srv.log().slice(-4000)}\nfindings so far:\n${findings.report()}`);

  // Clean up: close the WebSocket and UDP sockets, destroy every session the server still has.
  wsClosingByUs = true;
  ws?.close();
  for (const s of udp) s.close();
  await sleep(500);
  const left = (await admin('list_sessions')).sessions as number[];
  for (const s of left) await admin('destroy_session', { session_id: s });
  await sleep(2000);
  agent.destroy();
  await sleep(500);

  assert.ok(srv.alive(), `the server is alive after the run:\n${srv.log().slice(-2000)}`);
  const listAfter = (await admin('list_sessions')).sessions as unknown[];
  const fd1 = fdCount(srv.pid);
  t.diagnostic(`after: ${fd1} fds (start ${fd0}), ${listAfter.length} sessions (start ${list0})`);
  const info = parseJanus((await httpRequest(`${api}/info`, 'GET', null)).text);
  assert.equal(info?.janus, 'server_info', 'the server still answers info');
  assert.equal(listAfter.length, 0, 'list_sessions is empty once every session is destroyed');
  assert.ok(fd1 <= fd0 + 8, `file descriptors back to their start (${fd0} -> ${fd1})`);
  // A normal EchoTest call still works.
  const before = mediaPorts.size;
  mediaPorts.clear();
  await echoWithOffer();
  assert.ok(mediaPorts.size > 0, `a normal EchoTest create/attach/offer still gets an answer with a candidate (${before} ports seen during the run)`);
  for (const s of sessions) await post(`/${s}`, { janus: 'destroy', transaction: 'd' });
  assert.equal(findings.byKind.size, 0, `malformed replies or transport failures:\n${findings.report()}`);
});
