/**
 * The light load client of the benchmarks (bench/light-client.ts, bench/light-load.ts) against the
 * real servers, Portunus and Janus 1.1.2, same code: a VideoRoom publisher sending paced VP8-like RTP
 * and subscribers (one here, one in a load process) that count per SSRC without decrypting every
 * packet. What must hold for the benchmark figures to mean anything:
 * - every subscriber counts the publisher's packets (no loss at this small rate), on one SSRC;
 * - the sampled packets authenticate and decrypt (the server sent valid SRTP), none fails;
 * - the server got our Receiver Reports: its handle_info shows an out-link-quality for the subscriber's
 *   stream (from the RR's fraction lost; 0 without RRs) and, on Portunus, an RTT (from LSR/DLSR).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateCertificate } from '../../src/media/dtls/certificate.js';
import { UdpPortAllocator } from '../../src/media/net/port-allocator.js';
import { LightClient } from '../../bench/light-client.js';
import { LoadProcesses } from '../../bench/light-load.js';
import { Signalling } from '../../bench/janus-signalling.js';
import { paceVp8 } from '../../bench/vp8-load.js';
import { postJson, type JsonObject } from '../helpers/janus-client.js';
import { makeMediaConfigsFolder, type GatewayKind } from '../helpers/media-server.js';
import { startJanusOnFolder } from '../helpers/janus-ref.js';
import { startPortunusOnFolder } from '../helpers/portunus.js';
import type { RunningServer } from '../helpers/server-process.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const cert = generateCertificate();
const allocator = new UdpPortAllocator({ range: { min: 0, max: 0 } });
const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(100);
  }
}

/** Every numeric `rtt` and `out-link-quality` under the handle_info's streams. */
function rtcpFigures(info: JsonObject): { rtt: number[]; outLink: number[] } {
  const rtt: number[] = [];
  const outLink: number[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'rtt' && typeof x === 'number') rtt.push(x);
        else if (k === 'out-link-quality' && typeof x === 'number') outLink.push(x);
        else walk(x);
      }
    }
  };
  walk(info);
  return { rtt, outLink };
}

for (const kind of ['portunus', 'janus'] as GatewayKind[]) {
  test(`light client against ${kind}: counts per SSRC, sampled SRTP decrypts, the server gets our RRs`, { timeout: 120_000 }, async () => {
    const conf = await makeMediaConfigsFolder(`light-${kind}`, ['videoroom']);
    let srv: RunningServer;
    try {
      srv = kind === 'janus' ? await startJanusOnFolder(conf.dir, conf.ports, conf.serverName, conf.adminSecret) : await startPortunusOnFolder(conf.dir, conf.ports, conf.serverName, conf.adminSecret);
    } catch (e) {
      conf.remove();
      throw e;
    }
    cleanups.push(async () => {
      await srv.stop();
      conf.remove();
    });
    const address = conf.address.address;
    const sig = await Signalling.open(srv.wsUrl);
    cleanups.push(() => sig.close().catch(() => undefined));
    const room = 1234; // the demo room of the generated videoroom jcfg

    const pubHandle = await sig.attach();
    const joined = await sig.message(pubHandle, { request: 'join', ptype: 'publisher', room, display: 'light' });
    const feed = joined.data.id as number;
    const pub = await LightClient.create(address, cert, allocator);
    cleanups.push(() => pub.close());
    const answer = await sig.message(pubHandle, { request: 'publish', videocodec: 'vp8' }, { type: 'offer', sdp: pub.publisherOffer() });
    assert.ok(answer.jsep, 'publish answered');
    pub.applyAnswer(answer.jsep.sdp);
    await until('publisher up', () => pub.up);
    const pacer = paceVp8([pub.peer], 800, 100);
    cleanups.push(() => pacer.stop());

    // One subscriber in this process (its handle_info is read below), one in a load process.
    const sub = await LightClient.create(address, cert, allocator, { decryptEvery: 10 });
    cleanups.push(() => sub.close());
    const subHandle = await sig.attach();
    // Janus lists the feed once its side of the publisher's PeerConnection is up, which can be a moment
    // after ours: retry "No such feed" (428) for a while.
    let offer: Awaited<ReturnType<Signalling['message']>> | undefined;
    for (const end = Date.now() + 15_000; offer === undefined; ) {
      try {
        offer = await sig.message(subHandle, { request: 'join', ptype: 'subscriber', room, streams: [{ feed }] });
      } catch (e) {
        if (!/"error_code":428/.test(String(e)) || Date.now() > end) throw e;
        await sleep(250);
      }
    }
    assert.ok(offer.jsep, 'subscriber offer');
    await sig.message(subHandle, { request: 'start', room }, { type: 'answer', sdp: sub.subscriberAnswer(offer.jsep.sdp) });
    const load = await LoadProcesses.start({ procs: 1, wsUrl: srv.wsUrl, address, mode: 'light', decryptEvery: 10, portBase: 46000 });
    cleanups.push(() => load.close());
    await load.subscribe(room, [feed]);
    await until('subscribers up', async () => sub.up && (await load.states())[0]!.up === 1);

    await sleep(4000); // a few RR intervals, and the server's SRs in between
    const before = { rtp: sub.rtp, sent: pacer.sent[0]!, child: LoadProcesses.received(await load.states())[0]! };
    await sleep(2000);
    const st = (await load.states())[0]!;
    const got = sub.rtp - before.rtp;
    const sent = pacer.sent[0]! - before.sent;
    const childGot = st.rtp[0]! - before.child;
    assert.ok(got >= sent * 0.95 && got <= sent * 1.05, `in-process subscriber got ${got} of ${sent}`);
    assert.ok(childGot >= sent * 0.95 && childGot <= sent * 1.05, `load-process subscriber got ${childGot} of ${sent}`);
    assert.equal(sub.bySsrc.size, 1, 'one SSRC');
    const loss = sub.lossFromSequence();
    assert.ok(loss.expected - loss.received <= loss.expected * 0.02, `sequence gaps: ${JSON.stringify(loss)}`);
    assert.ok(sub.decrypted >= sub.rtp / 10 - 1 && sub.decrypted > 20, `decrypted ${sub.decrypted} of ${sub.rtp}`);
    assert.equal(sub.authFailures, 0);
    assert.ok(st.decrypted > 20, `load process decrypted ${st.decrypted}`);
    assert.equal(st.authFailures, 0);
    assert.ok(sub.rtcpIn > 0, 'SRs from the server');
    assert.ok(sub.reportsSent >= 3, `RRs sent: ${sub.reportsSent}`);

    const hi = await postJson(`${srv.adminUrl}/${sig.session}/${subHandle}`, { janus: 'handle_info', transaction: 'hi', admin_secret: conf.adminSecret });
    assert.equal(hi.janus, 'success', JSON.stringify(hi));
    const f = rtcpFigures(hi.info as JsonObject);
    // Without our RRs out-link-quality stays 0 on both, Portunus's rtt 0 (Janus 1.1.2 reports 0 ms
    // on this machine either way).
    if (kind === 'portunus') assert.ok(f.rtt.some((x) => x > 0), `an RTT from our RRs' LSR/DLSR: ${JSON.stringify(f)}`);
    assert.ok(f.outLink.some((x) => x >= 95), `out-link-quality from our RRs: ${JSON.stringify(f)}`);
  });
}
