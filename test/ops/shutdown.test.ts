/**
 * Graceful shutdown of the real process: a WebSocket client with a session, an EchoTest handle with a
 * live PeerConnection and a VideoRoom handle without one gets, on SIGTERM: `hangup` for the
 * PeerConnection, `detached` for both handles, `timeout` for the session, then a 1001 close; its
 * PeerConnection is closed from the server side (DTLS close_notify); the process exits 0 within 5 s;
 * a new session asked for during the shutdown is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { applyAnswer, clientOffer, makeClient, waitFor } from '../media/peer/helpers.js';
import { startServer } from './server.js';

type Msg = Record<string, unknown> & { janus: string; transaction?: string; sender?: number; jsep?: { type: string; sdp: string } };

test('SIGTERM: hangup, detached and timeout reach the WebSocket client, the PeerConnection closes, exit 0 within the bound', { timeout: 40_000 }, async () => {
  const s = await startServer(['-d', '4']);
  const c = await makeClient();
  try {
    await s.ready();
    const ws = new WebSocket(`ws://127.0.0.1:${s.ports.ws}`, 'janus-protocol');
    const got: Msg[] = [];
    ws.on('message', (d) => got.push(JSON.parse(d.toString()) as Msg));
    const closed = new Promise<{ code: number; at: number }>((resolve) => ws.on('close', (code) => resolve({ code, at: Date.now() })));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    let n = 0;
    const req = async (body: Record<string, unknown>, want = 'success'): Promise<Msg> => {
      const transaction = `t${++n}`;
      ws.send(JSON.stringify({ ...body, transaction }));
      return waitFor(`${String(body.janus)} reply`, () => got.find((m) => m.transaction === transaction && m.janus === want));
    };
    const sid = ((await req({ janus: 'create' })).data as { id: number }).id;
    const echo = ((await req({ janus: 'attach', session_id: sid, plugin: 'janus.plugin.echotest' })).data as { id: number }).id;
    const vr = ((await req({ janus: 'attach', session_id: sid, plugin: 'janus.plugin.videoroom' })).data as { id: number }).id;
    await req({ janus: 'message', session_id: sid, handle_id: echo, body: { audio: true, video: true }, jsep: { type: 'offer', sdp: clientOffer(c) } }, 'ack');
    const answer = await waitFor('the answer', () => got.find((m) => m.janus === 'event' && m.sender === echo && m.jsep));
    applyAnswer(c, answer.jsep!.sdp);
    await waitFor('webrtcup', () => got.find((m) => m.janus === 'webrtcup' && m.sender === echo), 10_000);
    await waitFor('client DTLS up', () => c.up);

    const before = got.length;
    s.kill('SIGTERM');
    // A session asked for while shutting down is refused (or finds the listener gone). The signal is
    // handled asynchronously: ask once the shutdown has visibly begun (the core stops accepting
    // sessions before it sends the first hangup), not in the instant after kill().
    await waitFor('shutdown begun (hangup)', () => got.slice(before).find((m) => m.janus === 'hangup'), 3000);
    const late = await fetch(`${s.api}`, { method: 'POST', body: '{"janus":"create","transaction":"late"}' })
      .then((r) => r.json() as Promise<Msg>)
      .catch(() => null);
    if (late !== null) assert.equal(late.janus, 'error', `create during shutdown: ${JSON.stringify(late)}`);

    const close = await closed;
    assert.equal(close.code, 1001, 'the server closes the socket as "going away"');
    // Plugin events (the EchoTest's "done" on hangup) may come in between; the core's events, in order:
    const after = got.slice(before).filter((m) => m.janus !== 'event').map((m) => ({ janus: m.janus, sender: m.sender, reason: m.reason, session_id: m.session_id }));
    assert.deepEqual(after, [
      { janus: 'hangup', sender: echo, reason: 'Shutdown', session_id: sid },
      { janus: 'detached', sender: echo, reason: undefined, session_id: sid },
      { janus: 'detached', sender: vr, reason: undefined, session_id: sid },
      { janus: 'timeout', sender: undefined, reason: undefined, session_id: sid },
    ]);
    await waitFor('the client PeerConnection closed by the server', () => c.closedReason !== null, 3000);

    const { code, ms } = await s.exit;
    assert.equal(code, 0, `exit code; stdout:\n${s.stdout()}\nstderr:\n${s.stderr()}`);
    assert.ok(ms < 5000, `exited after ${ms} ms, bound 5000`);
    const lines = s.lines();
    assert.ok(lines.some((l) => l.msg === 'SIGTERM received, shutting down' && l.sessions === 1 && l.handles === 2));
    assert.ok(lines.some((l) => l.msg === 'bye'));
  } finally {
    c.close();
    await s.stop();
  }
});
