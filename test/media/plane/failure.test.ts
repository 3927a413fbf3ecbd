/**
 * ICE failure through the Janus API: consent loss on an established PeerConnection and checks that
 * never succeed give `ice-failed`; with hangup_on_failed the PeerConnection is hung up ("ICE failed")
 * and its port freed, without it the handle keeps its PeerConnection (an ICE restart may follow).
 * Timers are shortened through the plane's iceTiming option.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JanusMessage } from '../../../src/core/messages.js';
import { applyAnswer, clientOffer, makeClient, makeWorld, sleep, waitFor, type ClientPeer, type World } from '../peer/helpers.js';

type Ev = JanusMessage & { jsep?: { type: string; sdp: string }; plugindata?: { data: Record<string, unknown> } };

const FAST = { consentInterval: 150, consentTimeout: 1200, disconnectedTimeout: 600, checkingTimeout: 1500, rto: 100, rtoMax: 200, maxTransmits: 3 };

async function connect(w: World, c: ClientPeer): Promise<[number, number]> {
  const [s, h] = await w.attachEcho();
  await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: 'neg', body: {}, jsep: { type: 'offer', sdp: clientOffer(c) } });
  const ev = await waitFor('answer', () => (w.client.events as Ev[]).find((e) => e.transaction === 'neg' && e.jsep));
  applyAnswer(c, ev.jsep!.sdp);
  await waitFor('webrtcup', () => w.client.events.find((e) => e.janus === 'webrtcup'), 8000);
  return [s, h];
}

test('consent loss with hangup_on_failed: ice-failed, then hangup "ICE failed", the EchoTest says done, the port is freed', { timeout: 30_000 }, async () => {
  const w = await makeWorld(
    (cfg) => {
      cfg.nat.hangup_on_failed = true;
      cfg.nat.ice_consent_freshness = true;
    },
    { plane: { iceTiming: FAST } },
  );
  const c = await makeClient();
  try {
    const [, h] = await connect(w, c);
    await sleep(500);
    assert.equal(w.client.events.filter((e) => e.janus === 'ice-failed').length, 0, 'consent answered: no failure');
    // The client goes deaf: our consent checks are never answered.
    c.socket.drop = () => true;
    const failed = await waitFor('ice-failed', () => w.client.events.find((e) => e.janus === 'ice-failed' && e.sender === h), 8000);
    assert.equal(failed.sender, h);
    const hang = await waitFor('hangup', () => w.client.events.find((e) => e.janus === 'hangup' && e.sender === h), 5000);
    assert.equal(hang.reason, 'ICE failed');
    await waitFor('EchoTest done', () => (w.client.events as Ev[]).find((e) => e.plugindata?.data.result === 'done'));
    assert.equal(w.plane.peerCount, 0);
    await waitFor('port released', () => w.plane.portsInUse === 0);
  } finally {
    c.close();
    await w.stop();
  }
});

test('consent loss without hangup_on_failed: ice-failed only, the PeerConnection stays until hung up', { timeout: 30_000 }, async () => {
  const w = await makeWorld(
    (cfg) => {
      cfg.nat.hangup_on_failed = false;
      cfg.nat.ice_consent_freshness = true;
    },
    { plane: { iceTiming: FAST } },
  );
  const c = await makeClient();
  try {
    const [s, h] = await connect(w, c);
    c.socket.drop = () => true;
    await waitFor('ice-failed', () => w.client.events.find((e) => e.janus === 'ice-failed' && e.sender === h), 8000);
    await sleep(500);
    assert.equal(w.client.events.filter((e) => e.janus === 'hangup').length, 0);
    assert.equal(w.plane.peerCount, 1);
    const info = (await w.gw.admin.handle({ janus: 'handle_info', transaction: 'i', admin_secret: 'adm', session_id: s, handle_id: h })) as JanusMessage & { info: { webrtc: { ice: { state: string } } } };
    assert.equal(info.info.webrtc.ice.state, 'failed');
    await w.req({ janus: 'hangup', session_id: s, handle_id: h });
    await waitFor('port released', () => w.plane.portsInUse === 0);
  } finally {
    c.close();
    await w.stop();
  }
});

test('checks that never succeed (the client candidate is dead): ice-failed and hangup with hangup_on_failed, no webrtcup', { timeout: 30_000 }, async () => {
  const w = await makeWorld((cfg) => (cfg.nat.hangup_on_failed = true), { plane: { iceTiming: FAST } });
  const c = await makeClient();
  try {
    const [s, h] = await w.attachEcho();
    // Only a candidate nobody listens on; the client never sees the answer, so it never checks us.
    const offer = clientOffer(c, { stripCandidates: true });
    await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: 'neg', body: {}, jsep: { type: 'offer', sdp: offer } });
    await waitFor('answer', () => (w.client.events as Ev[]).find((e) => e.transaction === 'neg' && e.jsep));
    await w.req({ janus: 'trickle', session_id: s, handle_id: h, candidate: { sdpMid: '0', sdpMLineIndex: 0, candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 9 typ host' } });
    await w.req({ janus: 'trickle', session_id: s, handle_id: h, candidate: { completed: true } });
    await waitFor('ice-failed', () => w.client.events.find((e) => e.janus === 'ice-failed' && e.sender === h), 10_000);
    const hang = await waitFor('hangup', () => w.client.events.find((e) => e.janus === 'hangup' && e.sender === h), 5000);
    assert.equal(hang.reason, 'ICE failed');
    assert.equal(w.client.events.filter((e) => e.janus === 'webrtcup').length, 0);
    await waitFor('port released', () => w.plane.portsInUse === 0);
  } finally {
    c.close();
    await w.stop();
  }
});
