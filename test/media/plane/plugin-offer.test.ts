/**
 * The plugin offers first (TextRoom style) through the Gateway: the plugin's data-channel-only offer
 * gets our ICE/DTLS attributes (actpass, candidates), the client answers, we become the DTLS server
 * and the ICE controlling agent; the plugin opens a channel from the server side and echoes messages
 * on channels the client opens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Jsep } from '../../../src/core/jsep.js';
import type { JanusMessage } from '../../../src/core/messages.js';
import { isMediaRelayHost, type Plugin, type PluginHost, type PluginInitContext, type PluginMediaHost, type PluginResult, type PluginSession } from '../../../src/core/plugin.js';
import { extractRemoteTransport } from '../../../src/media/sdp/jsep.js';
import { buildAnswer, buildOffer } from '../../../src/media/sdp/negotiate.js';
import { parseSdp } from '../../../src/media/sdp/parse.js';
import { writeSdp } from '../../../src/media/sdp/write.js';
import { makeClient, makeWorld, waitFor } from '../peer/helpers.js';

type Ev = JanusMessage & { jsep?: Jsep; plugindata?: { data: Record<string, unknown> } };

/** A minimal TextRoom-like plugin: `setup` -> data-only offer; the answer comes back with `ack`. */
class OfferingPlugin implements Plugin {
  readonly package = 'janus.plugin.offertest';
  readonly name = 'offer test';
  readonly author = 'Portunus tests';
  readonly description = 'offers a data channel';
  readonly version = 1;
  readonly versionString = '0.0.1';
  host: (PluginHost & PluginMediaHost) | null = null;
  answers: Jsep[] = [];
  ready: string[] = [];
  received: Array<{ label: string; text: string }> = [];
  up = 0;

  init(ctx: PluginInitContext): void {
    if (isMediaRelayHost(ctx.host)) this.host = ctx.host;
  }
  destroy(): void {}
  createSession(): void {}
  destroySession(): void {}
  handleMessage(session: PluginSession, transaction: string, body: Record<string, unknown>, jsep: Jsep | null): PluginResult {
    if (body.request === 'setup') {
      setImmediate(() => {
        const offer = buildOffer([{ kind: 'application', mid: 'd' }]);
        this.host!.pushEvent(session, transaction, { offertest: 'event', result: 'offer' }, { type: 'offer', sdp: writeSdp(offer) });
      });
      return { kind: 'wait' };
    }
    if (body.request === 'restart') {
      // The same offer again, asking the media plane for an ICE restart (new credentials).
      setImmediate(() => {
        const offer = buildOffer([{ kind: 'application', mid: 'd' }]);
        this.host!.pushEvent(session, transaction, { offertest: 'event', result: 'restart' }, { type: 'offer', sdp: writeSdp(offer), restart: true });
      });
      return { kind: 'wait' };
    }
    if (body.request === 'ack' && jsep?.type === 'answer') {
      this.answers.push(jsep);
      return { kind: 'ok', data: { offertest: 'event', result: 'ok' } };
    }
    return { kind: 'ok', data: { offertest: 'event', error: 'unknown request' } };
  }
  setupMedia(session: PluginSession): void {
    this.up++;
    // Server-side channel, opened before the client ever sent anything (queued until SCTP is up).
    this.host!.relayData(session, null, 'welcome');
  }
  dataReady(_session: PluginSession, label: string): void {
    this.ready.push(label);
  }
  incomingData(session: PluginSession, label: string, data: Buffer): void {
    const text = data.toString('utf8');
    this.received.push({ label, text });
    this.host!.relayData(session, label, `pong:${text}`);
  }
}

test('plugin offers first: a data-channel-only offer, the client answers, data flows both ways on server- and client-opened channels', { timeout: 30_000 }, async () => {
  const plugin = new OfferingPlugin();
  const w = await makeWorld(undefined, { plugins: [plugin] });
  const c = await makeClient();
  try {
    const s = ((await w.req({ janus: 'create' })).data as { id: number }).id;
    const h = ((await w.req({ janus: 'attach', session_id: s, plugin: 'janus.plugin.offertest' })).data as { id: number }).id;
    await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: 'setup', body: { request: 'setup' } });
    const ev = await waitFor('the offer event', () => (w.client.events as Ev[]).find((e) => e.transaction === 'setup' && e.jsep));
    assert.equal(ev.jsep!.type, 'offer');
    const offer = parseSdp(ev.jsep!.sdp);
    assert.equal(offer.media.length, 1);
    const m = offer.media[0]!;
    assert.equal(m.kind, 'application');
    assert.equal(m.setup, 'actpass', 'we offer actpass');
    assert.ok(m.iceUfrag && m.icePwd && m.candidates.length > 0, 'ICE credentials and candidates merged into the offer');
    assert.deepEqual(offer.groups[0], { semantics: 'BUNDLE', mids: ['d'] });
    const r = w.config.media.rtp_port_range!;
    assert.ok(m.port >= r.min && m.port <= r.max);

    // The client answers (active: it will be the DTLS client).
    c.peer.setRemoteDescription(offer, extractRemoteTransport(offer, { type: 'offer' }), 'offer');
    const { description } = buildAnswer(offer, () => ({}));
    const answer = c.peer.setLocalDescription(writeSdp(description), 'answer');
    assert.equal(parseSdp(answer).media[0]!.setup, 'active');
    const ack = await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: 'ack', body: { request: 'ack' }, jsep: { type: 'answer', sdp: answer } });
    assert.equal(ack.janus, 'success', JSON.stringify(ack));
    assert.equal(plugin.answers.length, 1);

    await waitFor('webrtcup', () => w.client.events.find((e) => e.janus === 'webrtcup' && e.sender === h), 10_000);
    await waitFor('client DTLS up', () => c.up);
    const server = w.plane.peerOf(h)!;
    const dtls = (server.info().webrtc as { dtls: Record<string, unknown> }).dtls;
    assert.equal(dtls['dtls-role'], 'passive', 'DTLS server: Janus says passive');
    assert.equal(server.info()['ice-role'], 'controlling');
    assert.equal(plugin.up, 1);

    // The plugin's channel arrives at the client with its first message.
    const welcome = await waitFor('welcome on JanusDataChannel', () => c.data.find((d) => d.text === 'welcome'), 10_000);
    assert.equal(welcome.label, 'JanusDataChannel');
    // A channel the client opens: messages reach the plugin in order, answers come back on it.
    for (const t of ['one', 'two', 'three']) c.peer.sendData('chat', t);
    await waitFor('three pongs', () => (c.data.filter((d) => d.label === 'chat').length === 3 ? true : undefined), 10_000);
    assert.deepEqual(plugin.received.filter((x) => x.label === 'chat').map((x) => x.text), ['one', 'two', 'three']);
    assert.deepEqual(c.data.filter((d) => d.label === 'chat').map((d) => d.text), ['pong:one', 'pong:two', 'pong:three']);
    assert.ok(plugin.ready.includes('JanusDataChannel') && plugin.ready.includes('chat'), plugin.ready.join(','));

    // The plugin asks for an ICE restart: new credentials in its offer, none of the flag on the wire,
    // the client answers, and the same PeerConnection keeps carrying data.
    await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: 'restart', body: { request: 'restart' } });
    const rev = await waitFor('the restart offer', () => (w.client.events as Ev[]).find((e) => e.transaction === 'restart' && e.jsep));
    assert.equal(rev.jsep!.type, 'offer');
    assert.equal((rev.jsep as unknown as Record<string, unknown>).restart, undefined, 'the restart flag is not sent to the client');
    const offer2 = parseSdp(rev.jsep!.sdp);
    const m2 = offer2.media[0]!;
    assert.notEqual(m2.iceUfrag, m.iceUfrag, 'new ICE ufrag');
    assert.notEqual(m2.icePwd, m.icePwd, 'new ICE pwd');
    assert.equal(m2.port, m.port, 'same socket');
    c.peer.setRemoteDescription(offer2, extractRemoteTransport(offer2, { type: 'offer', previous: extractRemoteTransport(offer, { type: 'offer' }) }), 'offer');
    const answer2 = c.peer.setLocalDescription(writeSdp(buildAnswer(offer2, () => ({})).description), 'answer');
    assert.notEqual(parseSdp(answer2).media[0]!.iceUfrag, parseSdp(answer).media[0]!.iceUfrag, 'the client restarted too');
    const ack2 = await w.req({ janus: 'message', session_id: s, handle_id: h, transaction: 'ack2', body: { request: 'ack' }, jsep: { type: 'answer', sdp: answer2 } });
    assert.equal(ack2.janus, 'success', JSON.stringify(ack2));
    await waitFor('restarted ICE checks succeed on the new credentials', () => (server.iceAgent?.getSelectedPair() && server.iceAgent.state !== 'failed' ? true : undefined), 10_000);
    c.peer.sendData('chat', 'after-restart');
    await waitFor('pong after the restart', () => c.data.find((d) => d.text === 'pong:after-restart'), 10_000);
    assert.equal(w.client.events.filter((e) => e.janus === 'webrtcup' && e.sender === h).length, 1, 'no second webrtcup');
  } finally {
    c.close();
    await w.stop();
  }
});
